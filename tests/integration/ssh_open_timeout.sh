#!/usr/bin/env bash
# ssh_open_timeout: a client of a -L forward whose target drops SYNs. sshd
# answers that channel open only once its own connect gives up (~127 s),
# and libssh2 opens one channel at a time, so the liveness probe waits
# behind it and nothing comes from the gateway: with keepalive = 2s and
# keepalive_max = 2 the tunnel was declared dead after 4 s. Now:
#  - silence while an open waits for its answer is not counted: the tunnel
#    stays up, on its first session, for 20 s;
#  - the client is closed once its open has waited 30 s;
#  - the SSH socket has TCP keepalive on (it is what catches a dead link
#    while the probe cannot go out).
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

start_sshd
start_echo_server echo
EPORT=$SERVER_PORT
spawn "$TEST_DIR/blackhole.log" python3 "$TOOLS/blackhole.py" --port-file "$TEST_DIR/blackhole.port"
wait_for "[[ -s '$TEST_DIR/blackhole.port' ]]" 15 || fail "blackhole did not start: $(cat "$TEST_DIR/blackhole.log")"
BPORT=$(<"$TEST_DIR/blackhole.port")
LB=$(free_port)
LE=$(free_port)
{
	gateway_section gw "keepalive = 2s" "keepalive_max = 2"
	cat <<EOF
[tunnel fwd]
transport = ssh-forward
gateway = gw
local = $LB:127.0.0.1:$BPORT
local = $LE:127.0.0.1:$EPORT
EOF
} >"$CONF"
start_daemon "$CONF"
wait_state fwd up 20
echo_check "$LE" || fail "the echo forward does not work"

step "TCP keepalive on the SSH socket"
# ss shows one timer at a time: the keepalive one once nothing is in flight.
ssh_socket() { ss -Htno state established "( dport = :$SSHD_PORT )" 2>/dev/null; }
wait_for "ssh_socket | grep -q 'timer:(keepalive'" 10 ||
	fail "no keepalive timer on the daemon's SSH socket: $(ssh_socket)"
ssh_socket

step "a client of the black-holed target: the tunnel stays up for 20 s"
spawn "$TEST_DIR/watch.log" python3 "$TOOLS/close_watch.py" --port "$LB" --max-seconds 60
WATCH=$SPAWNED_PID
for ((i = 0; i < 20; i++)); do
	sleep 1
	state=$(tunnel_get fwd state)
	[[ $state == up ]] || fail "tunnel $state after $((i + 1)) s: $(tunnel_get fwd last_error)"
done
assert_eq "$(tunnel_get fwd restarts)" 0 "tunnel restarts"
! grep -q 'not responding' "$DAEMON_LOG" || fail "the gateway was declared not responding"

step "the client is closed once its open has waited 30 s"
wait_exit "$WATCH" 30 || fail "the client is still open 50 s after its connect"
end=$(<"$TEST_DIR/watch.log")
echo "client: $end"
read -r how secs <<<"$end"
[[ $how == eof || $how == rst ]] || fail "the client's connection ended by '$how'"
python3 -c 'import sys; t = float(sys.argv[1]); sys.exit(0 if 28 <= t <= 40 else 1)' "$secs" ||
	fail "the client was closed after $secs s, not about 30 s"
grep -q 'did not answer the channel open within 30s' "$DAEMON_LOG" || fail "no log line says why"
assert_eq "$(tunnel_get fwd state)" up "tunnel state"
assert_eq "$(tunnel_get fwd restarts)" 0 "tunnel restarts"
pass "an open sshd could not answer for long: the tunnel stayed up, its client closed after $secs s"
