#!/usr/bin/env bash
# ssh_failover: what goes wrong on the way. A local port already in use makes
# that forward `failed` with the reason while the tunnel is degraded and the
# other forward works; sshd killed and started again: the tunnel retries and
# comes back by itself, new connections work; a stalled sshd (SIGSTOP) is
# detected within keepalive x keepalive_max plus a few seconds, and after
# SIGCONT the tunnel comes back.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

start_sshd
start_xfer_server sink
LPORT=$(free_port)
BUSY=$(free_port)
spawn "$TEST_DIR/holder.log" python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
open(sys.argv[2], "w").write("ready")
time.sleep(600)' "$BUSY" "$TEST_DIR/holder.ready"
wait_for "[[ -s '$TEST_DIR/holder.ready' ]]" 10 || fail "port holder did not start"
KA=2
KA_MAX=3
{
	gateway_section gw "keepalive = ${KA}s" "keepalive_max = $KA_MAX"
	cat <<EOF
[tunnel fwd]
transport = ssh-forward
gateway = gw
autostart = yes
retry_min = 1s
retry_max = 2s
local = $LPORT:127.0.0.1:$SERVER_PORT
local = $BUSY:127.0.0.1:$SERVER_PORT
EOF
} >"$CONF"
start_daemon "$CONF"

step "a local port in use: that forward failed, the tunnel degraded, the other works"
wait_state fwd degraded 20
assert_eq "$(forward_get fwd 1 state)" failed "forward 1 state"
assert_contains "$(forward_get fwd 1 last_error)" "bind 127.0.0.1:$BUSY: Address already in use" "forward 1 error"
assert_contains "$(tunnel_get fwd last_error)" "Address already in use" "tunnel last_error"
assert_eq "$(forward_get fwd 0 state)" listening "forward 0 state"
xfer "$LPORT" --bytes 1M --mode duplex --conns 1 --timeout 30 --max-seconds 60

step "sshd killed: the tunnel retries"
stop_sshd
wait_state fwd retrying 15
assert_contains "$(tunnel_get fwd last_error)" "127.0.0.1:$SSHD_PORT" "error names the gateway"

step "sshd started again on its port: the tunnel comes back by itself"
start_sshd
wait_for "[[ \$(tunnel_get fwd state) == degraded ]]" 30 ||
	fail "tunnel not back: $(tunnel_get fwd)"
xfer "$LPORT" --bytes 1M --mode duplex --conns 1 --timeout 30 --max-seconds 60

step "sshd stalled (SIGSTOP): detected within keepalive x keepalive_max + 5 s"
pids=$(sshd_tree)
# shellcheck disable=SC2086 # a list of pids
kill -STOP $pids
start=$SECONDS
limit=$((KA * KA_MAX + 5))
wait_for "[[ \$(tunnel_get fwd state) == retrying ]]" "$((limit + 5))" ||
	{ kill -CONT $pids; fail "stalled sshd not detected within $((limit + 5)) s: $(tunnel_get fwd)"; }
took=$((SECONDS - start))
err=$(tunnel_get fwd last_error)
# shellcheck disable=SC2086
kill -CONT $pids
((took <= limit)) || fail "stall detected after $took s, more than $limit s"
assert_contains "$err" "not responding" "stall reason"
echo "stall detected after ~$took s (keepalive ${KA}s x $KA_MAX)"

step "after SIGCONT the tunnel comes back"
wait_for "[[ \$(tunnel_get fwd state) == degraded ]]" 30 ||
	fail "tunnel not back after SIGCONT: $(tunnel_get fwd)"
xfer "$LPORT" --bytes 1M --mode duplex --conns 1 --timeout 30 --max-seconds 60
pass "port in use -> failed forward, sshd restart -> back, SIGSTOP detected in ${took}s"
