# shellcheck shell=bash
# tests/lib/shim.sh: the socket shim of the SSH tests (tests/tools/sockshim.c,
# an LD_PRELOAD library; what it does is described there), sourced after
# common.sh. Only the daemon runs with it.

# build_shim: compile the shim into $TEST_DIR; sets SHIM_SO. Skips the test
# when there is no C compiler.
build_shim() {
	local cc=${CC:-cc}
	command -v "$cc" >/dev/null || skip "no C compiler ($cc) for tests/tools/sockshim.c"
	SHIM_SO="$TEST_DIR/sockshim.so"
	"$cc" -shared -fPIC -O2 -Wall -o "$SHIM_SO" "$TOOLS/sockshim.c" -ldl ||
		fail "cannot build tests/tools/sockshim.c"
}

# shim_daemon VAR=VALUE...: start_daemon runs the daemon with the shim
# preloaded and these variables set (a sanitizer build needs its runtime
# first in the list otherwise).
shim_daemon() {
	DAEMON_WRAP=(env LD_PRELOAD="$SHIM_SO"
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
		"${DAEMON_WRAP[@]}")
}
