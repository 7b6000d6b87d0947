#!/usr/bin/env bash
# ssh_sigterm_transfers: SIGTERM to the daemon while 8 clients are in the
# middle of large transfers through a -L forward and 8 more sit idle on
# another: the daemon exits 0 within 5 s; every client's connection ends
# promptly, in order, with the bytes it got an exact prefix of what the
# server sent; nothing of the daemon's session survives and the gateway's
# session processes end (the SSH connections were closed, not dropped).
#
# What "orderly" means here, and why: a stop cuts transfers that cannot
# finish, so a client must (1) learn that its connection is over at once,
# not hang until a timeout, (2) never receive a byte that is not the
# sender's byte at that offset, and (3) be told that it was cut rather than
# finished when that matters. An idle client gets EOF (FIN): nothing was
# lost, the close is like the server's own. A client cut in the middle of a
# transfer gets either EOF or a reset: the SSH side can only say "channel
# closed" and OpenSSH's ssh -L gives its clients the same, so the transfer's
# own framing (xfer's trailer, HTTP lengths, TLS close_notify) is what tells
# a cut from an end. What is never acceptable: a hang, a corrupt byte, a
# survivor.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

start_sshd
start_xfer_server sink
XPORT=$SERVER_PORT
start_echo_server echo
EPORT=$SERVER_PORT
LX=$(free_port)
LE=$(free_port)
{
	gateway_section gw
	cat <<EOF
[tunnel big]
transport = ssh-forward
gateway = gw
local = $LX:127.0.0.1:$XPORT

[tunnel quiet]
transport = ssh-forward
gateway = gw
local = $LE:127.0.0.1:$EPORT
EOF
} >"$CONF"
start_daemon "$CONF"
wait_state big up 20
wait_state quiet up 20
GW_BEFORE=$(sshd_tree | wc -l)

step "8 transfers in flight and 8 idle connections"
spawn "$TEST_DIR/cut.log" python3 "$TOOLS/cut_clients.py" --xfer-port "$LX" --echo-port "$LE" \
	--transfers 8 --idle 8 --ready-file "$TEST_DIR/cut.ready" --end-timeout $((15 * SLOW)) \
	--setup-timeout $((30 * SLOW))
CUT=$SPAWNED_PID
wait_for "[[ -s '$TEST_DIR/cut.ready' ]]" $((30 * SLOW)) || fail "the clients did not get going: $(cat "$TEST_DIR/cut.log")"
echo "connections: $(tunnel_get big details.forwards.0.connections) transferring, $(tunnel_get quiet details.forwards.0.connections) idle"

step "SIGTERM: the daemon stops within 5 s with status 0"
start=$SECONDS
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" $((5 * SLOW)) || fail "the daemon still runs $((5 * SLOW)) s after SIGTERM"
assert_eq "$EXIT_RC" 0 "daemon exit status"
echo "stopped in $((SECONDS - start)) s"
left=$(session_procs "$DAEMON_PID")
[[ -z $left ]] || fail "processes of the daemon's session survived: $(ps -o pid,args -p "$(paste -sd, <<<"$left")")"

step "every client saw its connection end, no byte wrong"
wait_exit "$CUT" $((40 * SLOW)) || fail "the clients still wait 40 s after the stop"
cat "$TEST_DIR/cut.log"
((EXIT_RC == 0)) || fail "a client hung or got corrupt data"
summary=$(tail -n 1 "$TEST_DIR/cut.log")
assert_eq "$(json_get "$summary" connections)" 16 "connections followed"
assert_eq "$(json_get "$summary" corrupt)" 0 "corrupt connections"
assert_eq "$(json_get "$summary" ends.idle:eof)" 8 "idle connections ended by EOF"
transfers_ended=$(python3 -c '
import json, sys
e = json.loads(sys.argv[1])["ends"]
print(e.get("transfer:eof", 0) + e.get("transfer:rst", 0))' "$summary")
assert_eq "$transfers_ended" 8 "transfers ended by EOF or reset"

step "the gateway's session processes ended: warren closed its SSH connections"
wait_for "(( \$(sshd_tree | wc -l) == 1 ))" 10 ||
	fail "sshd still has $(($(sshd_tree | wc -l) - 1)) session process(es) (there were $((GW_BEFORE - 1)))"
grep -q 'Received disconnect from .*warren' "$TEST_DIR/sshd.log" ||
	fail "sshd logged no disconnect from warren"
pass "SIGTERM mid-transfer: exit 0, 16 clients closed in order ($(json_get "$summary" ends)), $(json_get "$summary" bytes) bytes all correct, no survivor"
