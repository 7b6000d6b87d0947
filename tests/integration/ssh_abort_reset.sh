#!/usr/bin/env bash
# ssh_abort_reset: when the SSH session dies under them, the clients of a
# forward are reset (RST), not closed with a FIN: a FIN told a client whose
# download was cut that it had it all. 6 clients in the middle of large
# transfers and 4 idle ones; sshd's session processes are killed: every
# client sees a reset, and every byte it got is the server's byte at that
# offset. A transfer that ends by itself still ends with a FIN, and so do
# the clients of a tunnel stopped on purpose (ssh_sigterm_transfers).
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
[tunnel fwd]
transport = ssh-forward
gateway = gw
retry_min = 1s
local = $LX:127.0.0.1:$XPORT
local = $LE:127.0.0.1:$EPORT
EOF
} >"$CONF"
start_daemon "$CONF"
wait_state fwd up 20

step "a transfer that ends by itself ends with its FIN"
xfer "$LX" --bytes 4M --mode duplex --conns 2 --timeout 20 --max-seconds 60

step "6 transfers in flight and 4 idle clients; the gateway's session dies"
spawn "$TEST_DIR/cut.log" python3 "$TOOLS/cut_clients.py" --xfer-port "$LX" --echo-port "$LE" \
	--transfers 6 --idle 4 --ready-file "$TEST_DIR/cut.ready" --end-timeout $((15 * SLOW)) \
	--setup-timeout $((30 * SLOW))
CUT=$SPAWNED_PID
wait_for "[[ -s '$TEST_DIR/cut.ready' ]]" $((30 * SLOW)) || fail "the clients did not get going: $(cat "$TEST_DIR/cut.log")"
sessions=$(sshd_tree | grep -vx "$SSHD_PID" || true)
[[ -n $sessions ]] || fail "no sshd session process to kill"
# shellcheck disable=SC2086 # a list of pids
kill -KILL $sessions
wait_exit "$CUT" $((40 * SLOW)) || fail "the clients still wait 40 s after the session died"
cat "$TEST_DIR/cut.log"
((EXIT_RC == 0)) || fail "a client hung or got corrupt data"
summary=$(tail -n 1 "$TEST_DIR/cut.log")
assert_eq "$(json_get "$summary" corrupt)" 0 "corrupt connections"
assert_eq "$(json_get "$summary" ends)" '{"idle:rst": 4, "transfer:rst": 6}' "how the connections ended"
grep -qE 'closed by the gateway|lost' "$DAEMON_LOG" || fail "the daemon did not see the session die"

step "the tunnel comes back"
wait_state fwd up 20
xfer "$LX" --bytes 1M --mode duplex --conns 1 --timeout 20 --max-seconds 60
pass "session lost mid-transfer: 10 clients reset, $(json_get "$summary" bytes) bytes all correct; orderly ends keep their FIN"
