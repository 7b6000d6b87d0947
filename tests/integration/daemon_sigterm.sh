#!/usr/bin/env bash
# daemon_sigterm: SIGTERM while a transfer is running is an orderly stop:
# the daemon exits 0 within 5 s, no tunnel port is left listening (ss -ltn),
# no process of the daemon's is left, and the control socket is gone.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

start_xfer_server sink
P1=$(free_port)
P2=$(free_port)
{
	relay_tunnel busy "$P1" "$SERVER_PORT"
	relay_tunnel idle "$P2" "$SERVER_PORT"
} >"$CONF"
start_daemon "$CONF"
wait_state busy up
wait_state idle up

step "a transfer that would take a minute (1 MB/s)"
spawn "$TEST_DIR/client.log" python3 "$TOOLS/xfer_client.py" --port "$P1" --up 60M --down 1M \
	--mode duplex --rate 1M --timeout 20 --max-seconds 90
CLIENT_PID=$SPAWNED_PID
wait_for "(( \$(tunnel_get busy details.forwards.0.connections) >= 1 && \$(tunnel_get busy bytes_in) > 0 ))" 10 ||
	fail "the transfer did not start: $(tunnel_get busy)"
sleep 0.5
alive "$CLIENT_PID" || fail "the transfer ended too early: $(cat "$TEST_DIR/client.log")"

step "SIGTERM"
START=$EPOCHREALTIME
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 5 || fail "warren daemon still running 5 s after SIGTERM"
ELAPSED=$(python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$START" "$EPOCHREALTIME")
echo "daemon exited with status $EXIT_RC after $ELAPSED s"
assert_eq "$EXIT_RC" 0 "the daemon's exit status on SIGTERM"

step "nothing left behind"
for p in "$P1" "$P2"; do
	if port_listening "$p"; then
		fail "port $p still listening after the daemon exited: $(ss -Hltnp "sport = :$p")"
	fi
done
LEFT=$(session_procs "$DAEMON_PID")
[[ -z $LEFT ]] || fail "processes of the daemon left running: $(ps -o pid,args -p "$(echo "$LEFT" | paste -sd,)")"
[[ ! -e $SOCK ]] || fail "the control socket $SOCK is still there after an orderly stop"
expect_rc 1 warren_cli status

step "the client saw its connection end"
wait_exit "$CLIENT_PID" 30 || fail "the client still runs 30 s after the daemon exited"
[[ $EXIT_RC != 0 ]] || fail "the transfer claims to have completed through a stopped daemon"

pass "SIGTERM stopped the daemon in $ELAPSED s with status 0 and nothing left"
