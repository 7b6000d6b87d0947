#!/usr/bin/env bash
# ssh_eof_reader: the pump's reader must read whenever the SSH socket is
# readable. Two clients download 1 MiB each and read nothing: the whole
# stream and the server's EOF fit in the channel window, so libssh2 holds
# the EOF while the daemon still holds data for the client
# (libssh2_channel_wait_eof then returns at once without reading). sshd
# asks every second whether the client lives (ClientAliveInterval 1), which
# makes the socket readable: the daemon must read and answer, not spin on
# the level-triggered socket (it used a whole core until sshd gave up on
# the unanswered requests and dropped the session). With the stall over,
# every byte arrives and the tunnel never restarted.
#
# The daemon's sockets toward clients get a small fixed SO_SNDBUF (the
# socket shim), and the clients a small receive buffer, so that what waits
# in the kernel stays far below 1 MiB whatever the kernel's autotuning.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"
# shellcheck source=../lib/shim.sh
. "$(dirname "$0")/../lib/shim.sh"

[[ ${WARREN_VALGRIND:-} == 1 ]] && skip "measures the daemon's CPU time"
build_shim
start_sshd "ClientAliveInterval 1" "ClientAliveCountMax 3"
shim_daemon SHIM_SNDBUF=32768
BYTES=$((1024 * 1024))
spawn "$TEST_DIR/source.log" python3 "$TOOLS/source_server.py" --port-file "$TEST_DIR/source.port" \
	--bytes "$BYTES" --log "$TEST_DIR/source.log"
wait_for "[[ -s '$TEST_DIR/source.port' ]]" 10 || fail "source_server did not start"
SPORT=$(<"$TEST_DIR/source.port")
LPORT=$(free_port)
{
	gateway_section gw "keepalive = 60s"
	cat <<EOF
[tunnel fwd]
transport = ssh-forward
gateway = gw
local = $LPORT:127.0.0.1:$SPORT
EOF
} >"$CONF"
start_daemon "$CONF"
wait_state fwd up 20

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; }

step "2 clients read nothing for 6 s; the server's EOF is already in"
spawn "$TEST_DIR/stall.log" python3 "$TOOLS/stall_clients.py" --port "$LPORT" --conns 2 \
	--expect "$BYTES" --rcvbuf 4096 --ready-file "$TEST_DIR/stall.ready" \
	--release-file "$TEST_DIR/stall.go" --max-seconds 60
STALL=$SPAWNED_PID
wait_for "[[ -s '$TEST_DIR/stall.ready' ]]" 10 || fail "the clients did not connect"
wait_for "(( \$(grep -c 'sent $BYTES' '$TEST_DIR/source.log') == 2 ))" 10 ||
	fail "the source did not send everything: $(cat "$TEST_DIR/source.log")"
sleep 2
hz=$(getconf CLK_TCK)
t0=$(cpu_ticks)
sleep 4
used=$(($(cpu_ticks) - t0))
echo "daemon CPU while the clients stall, with sshd's keepalives coming in: $used ticks in 4 s ($hz a second)"
((used * 10 < 4 * hz)) || fail "the daemon used $used ticks of CPU in 4 s (more than 10%): it spins"
assert_eq "$(tunnel_get fwd restarts)" 0 "tunnel restarts during the stall"

step "released: every byte and the EOF arrive"
touch "$TEST_DIR/stall.go"
wait_exit "$STALL" 60 || fail "the clients still read after 60 s"
cat "$TEST_DIR/stall.log"
((EXIT_RC == 0)) || fail "a client did not get all its bytes"
assert_eq "$(tunnel_get fwd restarts)" 0 "tunnel restarts"
pass "$used CPU ticks in 4 s with the EOF held behind stalled clients and sshd asking; all bytes arrived"
