#!/usr/bin/env bash
# tests/fuzz/run.sh: build warren's libFuzzer targets with clang and run
# each for a bounded time (`make fuzz` calls this).
#
#   run.sh [--build-only] [TARGET...]     targets: config endpoint values socks putty x11 ppk
#
# Environment:
#   FUZZ_SECONDS  seconds per target (default 60)
#   FUZZ_CC       the compiler (default clang: Debian's clang and libclang-rt-14-dev)
#   FUZZ_OUT      where binaries, the growing corpora and crash files go
#                 (default ./fuzz-out; seeds are read from tests/fuzz/corpus/,
#                 never written)
#   FUZZ_JOBS     compile jobs (default 2)
#
# Each target is built from tests/fuzz/fuzz_TARGET.c plus the core's sources
# (and socks.c) instrumented with -fsanitize=fuzzer,address,undefined, and
# (ppk: transports/ssh/ppk.c and keyfile.c, linked with libcrypto) and
# run with -max_total_time=FUZZ_SECONDS on a working copy of its seed corpus.
# A target that crashes, leaks, trips UBSan or an invariant (FUZZ_CHECK)
# fails, and its input is kept as FUZZ_OUT/crashes/TARGET-*: copy that file
# into tests/fuzz/corpus/TARGET/ once the bug is fixed, and `make check`
# replays it from then on. Prints one line per target and an automake-style
# summary (# TOTAL / # PASS / # FAIL) that scripts/test.sh adds to its count.
# Exit status: 0 when every target passed, 1 otherwise.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-$PWD/fuzz-out}
seconds=${FUZZ_SECONDS:-60}
cc=${FUZZ_CC:-clang}
jobs=${FUZZ_JOBS:-2}
ALL_TARGETS=(config endpoint values socks putty)
X11_SOURCES=("$top/plugins/x11/display.c" "$top/plugins/x11/setup.c")
[[ -f ${X11_SOURCES[1]} ]] && ALL_TARGETS+=(x11) # the x11 plugin's parsers
# The SSH transport's .ppk reader: its own sources and libcrypto, for it alone.
PPK_SOURCES=("$top/transports/ssh/ppk.c" "$top/transports/ssh/keyfile.c")
ALL_TARGETS+=(ppk)

build_only=no
targets=()
for a in "$@"; do
	case $a in
	--build-only) build_only=yes ;;
	-h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) targets+=("$a") ;;
	esac
done
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")
[[ $seconds =~ ^[0-9]+$ ]] && ((seconds >= 1)) || { echo "fuzz: FUZZ_SECONDS must be a positive number" >&2; exit 2; }

command -v "$cc" >/dev/null || { echo "fuzz: $cc not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
mkdir -p "$out/obj" "$out/bin" "$out/corpus" "$out/crashes" "$out/logs"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-g -O1 -D_GNU_SOURCE $SAN -I$top/core -I$top/plugins -I$top/plugins/ssh-forward -I$top/plugins/x11"
CFLAGS+=" -DPACKAGE_VERSION=\"fuzz\" -DVERSION=\"fuzz\" -DWARREN_PLUGIN_DIR=\"/nonexistent\" -DWARREN_BUILD_PLUGIN_DIR=\"/nonexistent\" -DWARREN_BUILD_BINARY=\"/nonexistent\""
# shellcheck disable=SC2207 # pkg-config prints words
EVENT_CFLAGS=($(pkg-config --cflags libevent 2>/dev/null || true))
# shellcheck disable=SC2207
EVENT_LIBS=($(pkg-config --libs libevent 2>/dev/null || echo -levent))
# shellcheck disable=SC2207
PPK_CFLAGS=(-I"$top/transports/ssh" $(pkg-config --cflags libssh2 libcrypto 2>/dev/null || true))
# shellcheck disable=SC2207
PPK_LIBS=($(pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto))

# --- build -------------------------------------------------------------------
# The code under test gets coverage (fuzzer-no-link); the driver links libFuzzer.
build() {
	local srcs=() s o objs=() pids=() rc=0
	for s in "$top"/core/*.c "$top/plugins/ssh-forward/socks.c" "${X11_SOURCES[@]}"; do
		[[ $(basename "$s") == main.c || ! -f $s ]] && continue
		srcs+=("$s")
	done
	for s in "${srcs[@]}"; do
		o="$out/obj/$(basename "$(dirname "$s")")-$(basename "$s" .c).o"
		objs+=("$o")
		if [[ ! -f $o || $s -nt $o || $top/core/config.h -nt $o || $here/run.sh -nt $o ]]; then
			# shellcheck disable=SC2086 # CFLAGS is a list of words
			"$cc" $CFLAGS -fsanitize=fuzzer-no-link "${EVENT_CFLAGS[@]}" -c "$s" -o "$o" &
			pids+=($!)
			if ((${#pids[@]} >= jobs)); then
				wait "${pids[0]}" || rc=1
				pids=("${pids[@]:1}")
			fi
		fi
	done
	for s in "${pids[@]}"; do wait "$s" || rc=1; done
	((rc == 0)) || { echo "fuzz: compiling the core with $cc failed" >&2; return 1; }
	for t in "${targets[@]}"; do
		[[ -f $here/fuzz_$t.c ]] || { echo "fuzz: no target '$t' ($here/fuzz_$t.c)" >&2; return 1; }
		local xcflags=() xobjs=() xlibs=()
		if [[ $t == ppk ]]; then
			xcflags=("${PPK_CFLAGS[@]}")
			xlibs=("${PPK_LIBS[@]}")
			for s in "${PPK_SOURCES[@]}"; do
				o="$out/obj/ssh-$(basename "$s" .c).o"
				xobjs+=("$o")
				if [[ ! -f $o || $s -nt $o || $top/transports/ssh/internal.h -nt $o || $here/run.sh -nt $o ]]; then
					# shellcheck disable=SC2086
					"$cc" $CFLAGS -fsanitize=fuzzer-no-link "${xcflags[@]}" -c "$s" -o "$o" || return 1
				fi
			done
		fi
		# shellcheck disable=SC2086
		"$cc" $CFLAGS -fsanitize=fuzzer "${EVENT_CFLAGS[@]}" "${xcflags[@]}" "$here/fuzz_$t.c" \
			"${objs[@]}" "${xobjs[@]}" "${EVENT_LIBS[@]}" "${xlibs[@]}" -ldl -o "$out/bin/fuzz_$t" || return 1
	done
}

echo "fuzz: building ${targets[*]} with $cc into $out/bin"
build || exit 1
[[ $build_only == yes ]] && exit 0

# --- run ---------------------------------------------------------------------
pass=0
fail=0
for t in "${targets[@]}"; do
	work="$out/corpus/$t"
	mkdir -p "$work"
	log="$out/logs/$t.log"
	rc=0
	# Bounded twice: libFuzzer's own total time, and a hard stop 60 s later.
	ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		timeout -k 10 $((seconds + 60)) "$out/bin/fuzz_$t" \
		-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
		-print_final_stats=1 -artifact_prefix="$out/crashes/$t-" \
		"$work" "$here/corpus/$t" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	corpus=$(find "$work" -type f | wc -l)
	if ((rc == 0)); then
		pass=$((pass + 1))
		echo "PASS: fuzz/$t: ${execs:-?} executions in ${seconds} s, working corpus $corpus input(s)"
	else
		fail=$((fail + 1))
		echo "FAIL: fuzz/$t: exit $rc after ${execs:-?} executions; input kept in $out/crashes/"
		grep -E 'ERROR:|runtime error|invariant broken|SUMMARY|Test unit written' "$log" | head -n 8 | sed 's/^/    /'
	fi
done
echo "# TOTAL: $((pass + fail))"
echo "# PASS:  $pass"
echo "# FAIL:  $fail"
((fail == 0))
