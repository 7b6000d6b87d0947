#!/usr/bin/env bash
# ssh_listener_cancel: a remote listener freed while its session lives is
# cancelled by the pump, which frees it; nothing may read it afterwards.
# No shipped transport does that yet (ssh-forward frees its listeners only
# with the session), so a test transport (tests/tools/listener_probe.c,
# built here against the build's SSH layer) requests and cancels a
# listener ten times; the daemon runs under valgrind memcheck, or in a
# sanitizer build under ASan itself, either of which reports any read of
# freed memory (common.sh fails the test on it).
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

asan=no
ldd "$WARREN_BIN" 2>/dev/null | grep -q libasan && asan=yes
[[ $asan == yes ]] || command -v valgrind >/dev/null || skip "valgrind is not installed"
cc=${CC:-cc}
command -v "$cc" >/dev/null || skip "no C compiler ($cc)"
layer="$(dirname "$WARREN_BIN")/../transports/.libs/libwarrenssh.a"
[[ -f $layer ]] || skip "no SSH layer library at $layer (a libtool build tree is needed)"
src="$WARREN_TESTS_DIR/.."
PLUGINS="$TEST_DIR/plugins"
mkdir -p "$PLUGINS"
read -ra libs <<<"$(pkg-config --libs libssh2 libcrypto 2>/dev/null || echo -lssh2 -lcrypto)"
# The layer of a sanitizer build calls ASan's runtime: so does the plugin.
[[ $asan == yes ]] && libs+=("-fsanitize=address,undefined")
"$cc" -shared -fPIC -g -O1 -D_GNU_SOURCE -Wall -I"$src/plugins" -I"$src/transports" \
	-o "$PLUGINS/lprobe.so" "$TOOLS/listener_probe.c" "$layer" "${libs[@]}" ||
	fail "cannot build the test transport"
WARREN_TEST_PLUGIN_DIR=$PLUGINS

start_sshd
{
	gateway_section gw
	cat <<EOF
[tunnel probe]
transport = lprobe
gateway = gw
EOF
} >"$CONF"
if [[ ${WARREN_VALGRIND:-} != 1 && $asan == no ]]; then
	DAEMON_WRAP=(valgrind --tool=memcheck --error-exitcode=99 --num-callers=30
		--suppressions="$WARREN_TESTS_DIR/valgrind.supp" --log-file="$TEST_DIR/valgrind.%p.log")
	SLOW=5
fi
start_daemon "$CONF"
wait_state probe up 90
rounds=$(grep -c 'listens on port' "$DAEMON_LOG" || true)
assert_eq "$rounds" 10 "listeners requested and cancelled"
stop_daemon
pass "10 remote listeners cancelled by the pump while the session lived; $([[ $asan == yes ]] && echo ASan || echo valgrind) saw no invalid read"
