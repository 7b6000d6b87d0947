#!/usr/bin/env bash
# scripts/test.sh: build warren (scripts/setup.sh) and run every test:
# `make check` in build/, i.e. the cmocka unit tests and the integration
# scripts in tests/integration/ that drive the real binary on loopback.
#
# Keeps going when tests fail, prints the logs of the failing ones, and ends
# with one line "N passed, N failed" (ERROR and XPASS count as failed; SKIP is
# shown apart). Exits non-zero when any test failed or when no test ran.
# Environment: JOBS (make -j for the build; tests run one at a time unless
# CHECK_JOBS says otherwise), WARREN_CONFIGURE_FLAGS (see setup.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
build="$top/build"

setup_rc=0
"$here/setup.sh" || setup_rc=$?

out=$(mktemp "${TMPDIR:-/tmp}/warren-check.XXXXXX")
trap 'rm -f "$out"' EXIT

check_rc=0
if ((setup_rc == 0)); then
	echo "test: make -C build check"
	# AM_COLOR_TESTS=no keeps the summary lines plain for the parsing below.
	make -C "$build" -j"${CHECK_JOBS:-1}" check AM_COLOR_TESTS=no 2>&1 | tee "$out" || check_rc=$?
else
	echo "test: setup/build failed (status $setup_rc); no test ran"
fi

# Sum the automake summaries (one per directory that has TESTS).
count() {
	awk -v key="# $1:" '$1 " " $2 == key { n += $3 } END { print n + 0 }' "$out"
}
pass=$(count PASS)
fail=$(($(count FAIL) + $(count ERROR) + $(count XPASS)))
skip=$(count SKIP)
total=$(count TOTAL)

if ((fail > 0)); then
	echo
	echo "==================== logs of the failing tests ===================="
	found=no
	while IFS= read -r -d '' log; do
		found=yes
		echo "---- $log"
		cat "$log"
	done < <(find "$build" -name test-suite.log -print0)
	[[ $found == yes ]] || echo "(no test-suite.log found under $build)"
fi

echo
if ((check_rc != 0 && fail == 0)); then
	echo "test: make check failed (status $check_rc) without a failing test: see the output above"
fi
if ((total == 0)); then
	echo "test: no test ran"
fi
if ((skip > 0)); then
	echo "test: $skip skipped"
fi
echo "$pass passed, $fail failed"

if ((setup_rc != 0 || check_rc != 0 || fail > 0 || total == 0)); then
	exit 1
fi
