#!/usr/bin/env bash
# ssh_small_packets: libssh2 1.10 builds a few small packets on its own
# stack (the EOF of channel_send_eof and channel_free, the CHANNEL_FAILURE
# it answers sshd's keepalive@openssh.com channel requests with from inside
# reads). When the socket cannot take one at once, libssh2 could only
# finish it from the very same stack depth: any later call failed (BAD_USE,
# reported as "Unable to send EOF" or "Unable to send transfer-window
# adjustment packet") and the session was lost. The daemon here runs with
# a shim that refuses every other 48-byte send to sshd with EAGAIN (48
# bytes: such a packet with aes128-ctr and hmac-sha2-256), as a full send
# buffer would at that moment:
#  - transfers that end with EOFs both ways all complete, and the tunnel
#    never restarts;
#  - connections whose clients stall while sshd asks every second whether
#    the client lives (ClientAliveInterval 1, a channel request that wants
#    a CHANNEL_FAILURE back) get all their bytes once released, on the same
#    session.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"
# shellcheck source=../lib/shim.sh
. "$(dirname "$0")/../lib/shim.sh"

build_shim
start_sshd "ClientAliveInterval 1" "ClientAliveCountMax 3"
shim_daemon SHIM_EAGAIN_LEN=48 SHIM_PORT="$SSHD_PORT" SHIM_LOG="$TEST_DIR/shim.log"
start_xfer_server sink
XPORT=$SERVER_PORT
SRC_BYTES=$((6 * 1024 * 1024))
spawn "$TEST_DIR/source.log" python3 "$TOOLS/source_server.py" --port-file "$TEST_DIR/source.port" \
	--bytes "$SRC_BYTES" --log "$TEST_DIR/source.log"
wait_for "[[ -s '$TEST_DIR/source.port' ]]" 10 || fail "source_server did not start"
SPORT=$(<"$TEST_DIR/source.port")
LX=$(free_port)
LS=$(free_port)
{
	gateway_section gw "ciphers = aes128-ctr" "macs = hmac-sha2-256" "keepalive = 60s"
	cat <<EOF
[tunnel fwd]
transport = ssh-forward
gateway = gw
local = $LX:127.0.0.1:$XPORT
local = $LS:127.0.0.1:$SPORT
EOF
} >"$CONF"
start_daemon "$CONF"
wait_state fwd up 20

step "transfers ending with EOF both ways, every other EOF refused by the socket at first"
for i in 1 2 3 4 5; do
	xfer "$LX" --up 1M --down 16M --mode duplex --conns 2 --timeout 20 --max-seconds 60 ||
		fail "transfer $i failed: $(grep -E 'lost|stuck' "$DAEMON_LOG" | head -n 3)"
done
refused=$(wc -l <"$TEST_DIR/shim.log" 2>/dev/null || echo 0)
((refused > 0)) || fail "the shim refused no 48-byte send: the test proves nothing"
echo "48-byte sends refused at first: $refused"
assert_eq "$(tunnel_get fwd restarts)" 0 "tunnel restarts after the transfers"

step "4 clients stalled for 4 s while sshd sends a keepalive request every second"
: >"$TEST_DIR/shim.log"
spawn "$TEST_DIR/stall.log" python3 "$TOOLS/stall_clients.py" --port "$LS" --conns 4 \
	--expect "$SRC_BYTES" --ready-file "$TEST_DIR/stall.ready" --release-file "$TEST_DIR/stall.go" \
	--max-seconds $((60 * SLOW))
STALL=$SPAWNED_PID
wait_for "[[ -s '$TEST_DIR/stall.ready' ]]" 10 || fail "the stalled clients did not connect"
sleep 4
touch "$TEST_DIR/stall.go"
wait_exit "$STALL" $((60 * SLOW)) || fail "the stalled clients still read after 60 s"
cat "$TEST_DIR/stall.log"
((EXIT_RC == 0)) || fail "a stalled client did not get all its bytes: $(grep -E 'lost|stuck' "$DAEMON_LOG" | head -n 3)"
refused=$(wc -l <"$TEST_DIR/shim.log")
((refused > 0)) || fail "no keepalive reply was refused: the test proves nothing"
echo "48-byte sends refused at first during the stall: $refused"
assert_eq "$(tunnel_get fwd restarts)" 0 "tunnel restarts after the stall"
assert_eq "$(tunnel_get fwd state)" up "tunnel state"
pass "EOFs and keepalive replies that the socket refused at first: every transfer complete, one session throughout"
