#!/usr/bin/env bash
# x11_command: remote X programs run with the forwarded display.
# `warren x11 gw -- xdpyinfo` prints Xvfb's 1234x567 screen and exits 0 with
# nothing else on stderr; the command's stdout, stderr and exit status pass
# through (3 stays 3, a signal is 255); an unknown gateway is a usage error
# (2); a missing display is a clear error (255). In the daemon, a tunnel's
# command runs with the display (its output in the log), its exit 0 ends
# the tunnel (restart = on-failure: down), a non-zero exit is a failure that
# restarts it, with the status in last_error.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"
# shellcheck source=../lib/x11.sh
. "$(dirname "$0")/../lib/x11.sh"

start_sshd --x11
start_xvfb
gateway_section gw >"$CONF"

# wx11 ARGS...: warren x11 with the test's config, display and plugins.
wx11() {
	DISPLAY=$XVFB_DISPLAY XAUTHORITY=$XVFB_AUTH timeout -k 5 60 \
		"$WARREN_BIN" -c "$CONF" --plugin-dir "$WARREN_TEST_PLUGIN_DIR" x11 "$@"
}

step "warren x11 gw -- xdpyinfo: Xvfb's screen, exit 0, a clean stderr"
expect_rc 0 wx11 gw -- xdpyinfo
assert_eq "$(screen_size "$OUT")" "$XVFB_SIZE" "xdpyinfo's screen through warren x11"
assert_eq "$ERR" "" "stderr of warren x11 gw -- xdpyinfo"

step "stdout, stderr and the exit status pass through"
expect_rc 3 wx11 gw -- 'echo to-stdout; echo to-stderr >&2; exit 3'
assert_eq "$OUT" "to-stdout" "stdout"
assert_eq "$ERR" "to-stderr" "stderr"
expect_rc 0 wx11 gw -- 'head -c 300000 /dev/zero | tr "\0" x'
assert_eq "${#OUT}" 300000 "bytes of a 300 kB stdout"
expect_rc 42 wx11 gw -- xdpyinfo '>/dev/null;' exit 42
step "a reader that goes away ends an endless command, as with ssh"
SECONDS=0
OUT=$( (wx11 gw -- yes 2>"$TEST_DIR/yes.err" || echo "$?" >"$TEST_DIR/yes.rc") | head -c 10)
assert_eq "$OUT" "$(yes | head -c 10)" "the first bytes of yes"
((SECONDS < 30)) || fail "warren x11 gw -- yes | head took ${SECONDS}s"
assert_eq "$(<"$TEST_DIR/yes.err")" "" "stderr of warren x11 gw -- yes | head"
expect_rc 255 wx11 gw -- 'kill -TERM $$'
assert_contains "$ERR" "killed by signal TERM" "stderr for a command killed by a signal"

step "usage and runtime errors"
expect_rc 2 wx11 nosuchgw -- true
assert_contains "$ERR" "no [gateway nosuchgw]" "unknown gateway"
expect_rc 2 wx11 gw
FREE=$(free_display_number 400 999) || fail "no free display number"
RC=0
DISPLAY=:$FREE XAUTHORITY=$XVFB_AUTH timeout -k 5 60 "$WARREN_BIN" -c "$CONF" \
	--plugin-dir "$WARREN_TEST_PLUGIN_DIR" x11 gw -- true >"$TEST_DIR/nodisp.out" 2>&1 || RC=$?
assert_eq "$RC" 255 "exit status with a display that does not exist"
assert_contains "$(<"$TEST_DIR/nodisp.out")" "cannot connect to the local X display :$FREE" "error for a missing display"

step "a tunnel's command: exit 0 ends it, exit 4 fails and restarts it"
{
	gateway_section gw
	x11_tunnel once "command = xdpyinfo | grep dimensions" "restart = on-failure"
	x11_tunnel fails "command = exit 4" "restart = on-failure"
} >"$CONF"
start_daemon "$CONF"
wait_state once down 30
wait_for "grep -q 'once: remote stdout: *dimensions: *$XVFB_SIZE pixels' '$DAEMON_LOG'" 10 ||
	fail "xdpyinfo's output with $XVFB_SIZE is not in the log"
wait_for "(( \$(tunnel_get fails restarts) >= 2 ))" 30 ||
	fail "the failing command was not restarted: $(tunnel_get fails)"
# last_error is cleared while the tunnel is up: look between the tries.
wait_for "[[ \$(tunnel_get fails last_error) == 'the remote command exited with status 4' ]]" 10 ||
	fail "last_error of the failing command: $(tunnel_get fails)"
pass "warren x11 passes screen $XVFB_SIZE, stdout, stderr, status 3/42/255; a tunnel's command ends or restarts it"
