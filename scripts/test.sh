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
#   WARREN_SANITIZE=1     the sanitizer pass: build in build-asan/ with
#                         --enable-sanitizers (ASan + UBSan; CC from
#                         WARREN_SANITIZE_CC, default the configure default)
#                         and run the same `make check` there
#   WARREN_FUZZ_SECONDS=N after make check, `make fuzz` with N seconds per
#                         libFuzzer target; each target counts as a test
#   WARREN_SKIP_VM=1      skip `make check-vm` (real PPP in a qemu VM, ~90 s;
#                         it runs by default after make check)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
build="$top/build"
if [[ ${WARREN_SANITIZE:-} == 1 ]]; then
	build="$top/build-asan"
	export WARREN_CONFIGURE_FLAGS="--enable-sanitizers ${WARREN_CONFIGURE_FLAGS:-}"
	[[ -z ${WARREN_SANITIZE_CC:-} ]] || export CC="$WARREN_SANITIZE_CC"
fi
export WARREN_BUILD_DIR="$build"

setup_rc=0
"$here/setup.sh" || setup_rc=$?

out=$(mktemp "${TMPDIR:-/tmp}/warren-check.XXXXXX")
trap 'rm -f "$out"' EXIT

check_rc=0
if ((setup_rc == 0)); then
	echo "test: make -C build check"
	# AM_COLOR_TESTS=no keeps the summary lines plain for the parsing below.
	# A fresh log archive: the secrets check reads this run's logs only.
	rm -rf "$build/tests/log-archive"
	make -C "$build" -j"${CHECK_JOBS:-1}" check AM_COLOR_TESTS=no 2>&1 | tee "$out" || check_rc=$?
	if [[ ${WARREN_SKIP_VM:-} != 1 ]]; then
		# Real PPP in a VM (tests/vm/ppp_vm.sh): its own summary is summed below.
		echo "test: make -C build check-vm"
		make -C "$build" check-vm AM_COLOR_TESTS=no 2>&1 | tee -a "$out" || check_rc=$?
	fi
	if [[ -n ${WARREN_FUZZ_SECONDS:-} ]]; then
		echo "test: make -C $build fuzz FUZZ_SECONDS=$WARREN_FUZZ_SECONDS"
		# Its "# TOTAL/PASS/FAIL" lines are summed with make check's below.
		make -C "$build" fuzz FUZZ_SECONDS="$WARREN_FUZZ_SECONDS" 2>&1 | tee -a "$out" || check_rc=$?
	fi
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
