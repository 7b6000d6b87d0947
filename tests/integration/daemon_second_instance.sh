#!/usr/bin/env bash
# daemon_second_instance: a second `warren daemon` on a socket where a daemon
# answers refuses to start (exit 1, naming the socket) and leaves the first
# one and its socket alone; a stale socket whose daemon is gone (killed with
# SIGKILL) does not stop a new daemon from starting.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

start_echo_server echo
P1=$(free_port)
relay_tunnel web "$P1" "$SERVER_PORT" >"$CONF"
start_daemon "$CONF"
wait_state web up
FIRST=$DAEMON_PID

step "a second daemon on the same socket"
P2=$(free_port)
relay_tunnel web2 "$P2" "$SERVER_PORT" >"$TEST_DIR/second.conf"
expect_rc 1 timeout -k 2 10 "$WARREN_BIN" daemon -c "$TEST_DIR/second.conf" -S "$SOCK" \
	--plugin-dir "$WARREN_TEST_PLUGIN_DIR"
echo "second daemon said: $ERR"
assert_contains "$ERR" "$SOCK" "the second daemon's message"
port_open "$P2" && fail "the refused daemon opened its tunnel's port $P2"

step "the first daemon is untouched"
[[ -S $SOCK ]] || fail "the control socket $SOCK was removed by the second daemon"
alive "$FIRST" || fail "the first daemon died"
expect_rc 0 warren_cli status web
echo_check "$P1"

step "a stale socket (daemon killed with SIGKILL) is taken over"
kill -KILL "$FIRST"
wait_exit "$FIRST" 5 || fail "SIGKILL did not end the daemon"
[[ -S $SOCK ]] || fail "the socket file vanished with SIGKILL?"
wait_for "! port_open $P1" 5 || fail "port $P1 still open after the daemon was killed"
: >"$DAEMON_LOG"
start_daemon "$CONF"
wait_state web up
echo_check "$P1"

pass "a live daemon's socket is refused with a message naming it; a stale one is taken over"
