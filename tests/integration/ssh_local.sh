#!/usr/bin/env bash
# ssh_local: a local forward (-L) through a real sshd carries data intact:
# 10 MB each way at once on one connection, a half-close in each direction,
# 200 concurrent connections, every byte checked with sha256 at both ends; an
# IPv6 bind works; status shows the forward listening with its connections
# back to 0 afterwards.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

start_sshd
start_xfer_server sink
LPORT=$(free_port)
L6PORT=$(free_port)
{
	gateway_section gw
	cat <<EOF
[tunnel fwd]
transport = ssh-forward
gateway = gw
autostart = yes
local = $LPORT:127.0.0.1:$SERVER_PORT
local = [::1]:$L6PORT:127.0.0.1:$SERVER_PORT
EOF
} >"$CONF"
start_daemon "$CONF"
wait_state fwd up 20
assert_eq "$(forward_get fwd 0 state)" listening "forward 0 state"
assert_eq "$(forward_get fwd 0 bound)" "127.0.0.1:$LPORT" "forward 0 bound"
assert_eq "$(forward_get fwd 1 bound)" "[::1]:$L6PORT" "forward 1 bound"

step "10 MB each way, both directions at once, one connection"
xfer "$LPORT" --bytes 10M --mode duplex --conns 1 --timeout 60 --max-seconds 120

step "half-close: the reply comes after the client's EOF; the server closes first"
xfer "$LPORT" --bytes 1M --mode after-eof --conns 1 --timeout 30 --max-seconds 60
xfer "$LPORT" --bytes 1M --mode server-first --conns 1 --timeout 30 --max-seconds 60

step "200 concurrent connections, 64 KB each way"
xfer "$LPORT" --bytes 64K --mode duplex --conns 200 --timeout 60 --max-seconds 120

step "IPv6 bind [::1]"
xfer "$L6PORT" --host ::1 --bytes 1M --mode duplex --conns 1 --timeout 30 --max-seconds 60

step "the server saw every connection intact"
if grep -q FAIL "$TEST_DIR/sink.log"; then
	fail "the server saw a failure: $(grep FAIL "$TEST_DIR/sink.log" | head -5)"
fi
wait_for "[[ \$(forward_get fwd 0 connections) == 0 ]]" 10 ||
	fail "connections still counted: $(tunnel_get fwd details)"
pass "-L: 10 MB each way, half-close both ways, 200 concurrent connections, IPv6"
