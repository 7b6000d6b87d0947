#!/usr/bin/env bash
# daemon_run: `warren run -c FILE NAME` runs just the named tunnels in the
# foreground, without a control socket (the others in the file stay down),
# and SIGINT (Ctrl-C) stops it cleanly: exit 0 within 5 s, its port closed.
# A name that is not in the file is refused with a message naming it.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

start_echo_server echo
P1=$(free_port)
P2=$(free_port)
{
	relay_tunnel web "$P1" "$SERVER_PORT"
	relay_tunnel other "$P2" "$SERVER_PORT"
} >"$CONF"

step "warren run web"
spawn "$DAEMON_LOG" "$WARREN_BIN" run -c "$CONF" --plugin-dir "$WARREN_TEST_PLUGIN_DIR" -v web
RUN_PID=$SPAWNED_PID
wait_for "port_open $P1" 10 || fail "warren run did not open port $P1"
echo_check "$P1"
port_open "$P2" && fail "warren run web also started 'other' (port $P2 open)"
[[ ! -e $SOCK ]] || fail "warren run created a control socket at $SOCK"
alive "$RUN_PID" || fail "warren run is not running"

step "SIGINT (Ctrl-C)"
kill -INT "$RUN_PID"
wait_exit "$RUN_PID" 5 || fail "warren run still running 5 s after SIGINT"
assert_eq "$EXIT_RC" 0 "warren run's exit status on SIGINT"
port_listening "$P1" && fail "port $P1 still listening after warren run exited"

step "warren run with a name not in the file"
run timeout -k 2 10 "$WARREN_BIN" run -c "$CONF" --plugin-dir "$WARREN_TEST_PLUGIN_DIR" nosuch
echo "exit $RC: $ERR"
[[ $RC != 0 && $RC != 124 ]] || fail "warren run nosuch exited $RC"
assert_contains "$ERR" nosuch "warren run's message for an unknown tunnel"

pass "warren run ran only the named tunnel and stopped cleanly on SIGINT"
