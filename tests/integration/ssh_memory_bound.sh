#!/usr/bin/env bash
# ssh_memory_bound: what clients that do not read can make the daemon hold.
#  - max_connections: a forward with max_connections = 3 serves 3 clients at
#    once; a 4th and 5th wait in the kernel's backlog, unanswered, and one
#    is served as soon as a served client leaves.
#  - the window budget: on a long path (80 ms round trip, a delay proxy in
#    front of sshd) the window of a channel that moves data is tuned up to
#    16 MiB, and behind a client that stops reading it fills up in the
#    daemon. 12 clients downloading 24 MiB each read 3 MiB, then stop: the
#    daemon's RSS stays within what it had before plus the budget of the
#    large windows (64 MiB), 2 MiB of window and a few buffers per
#    connection (3 MiB), and 16 MiB of slack; it grew by 16 MiB a client
#    before. Released, every byte arrives.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"
# shellcheck source=../lib/shim.sh
. "$(dirname "$0")/../lib/shim.sh"

[[ ${WARREN_VALGRIND:-} == 1 ]] && skip "measures the daemon's resident memory"
build_shim
start_sshd
# The daemon's sockets toward clients keep a small send buffer: the data
# of a stalled client then waits in the daemon, not in the kernel.
shim_daemon SHIM_SNDBUF=32768
start_echo_server echo
EPORT=$SERVER_PORT
N=12
BYTES=$((24 * 1024 * 1024))
spawn "$TEST_DIR/source.log" python3 "$TOOLS/source_server.py" --port-file "$TEST_DIR/source.port" \
	--bytes "$BYTES" --log "$TEST_DIR/source.log"
wait_for "[[ -s '$TEST_DIR/source.port' ]]" 10 || fail "source_server did not start"
SPORT=$(<"$TEST_DIR/source.port")
spawn "$TEST_DIR/proxy.log" python3 "$TOOLS/delay_proxy.py" --port-file "$TEST_DIR/proxy.port" \
	--target "$SSHD_PORT" --delay-ms 40
wait_for "[[ -s '$TEST_DIR/proxy.port' ]]" 10 || fail "delay_proxy did not start"
PPORT=$(<"$TEST_DIR/proxy.port")
known_hosts_line "$PPORT" >>"$KNOWN_HOSTS"
LE=$(free_port)
LS=$(free_port)
{
	gateway_section gw
	gateway_section far "port = $PPORT" "keepalive = 60s"
	cat <<EOF
[tunnel capped]
transport = ssh-forward
gateway = gw
max_connections = 3
local = $LE:127.0.0.1:$EPORT

[tunnel long]
transport = ssh-forward
gateway = far
local = $LS:127.0.0.1:$SPORT
EOF
} >"$CONF"
start_daemon "$CONF"
asan=no
grep -q libasan "/proc/$DAEMON_PID/maps" && asan=yes
wait_state capped up 20
wait_state long up 20

step "max_connections = 3: 5 clients, 3 served, the others wait for a place"
HOLD=()
for i in 1 2 3 4 5; do
	spawn "$TEST_DIR/hold$i.log" python3 "$TOOLS/hold_client.py" --port "$LE" --interval 0.2 \
		--stop-file "$TEST_DIR/stop$i" --count-file "$TEST_DIR/count$i" --reply-timeout 60 \
		--max-seconds 90
	HOLD+=("$SPAWNED_PID")
	sleep 0.3 # in order: the first three are served
done
served() {
	local i n=0
	for i in 1 2 3 4 5; do
		[[ -s $TEST_DIR/count$i ]] && n=$((n + 1))
	done
	echo "$n"
}
wait_for "(( \$(served) == 3 ))" 10 || fail "$(served) clients served, expected 3"
sleep 1
assert_eq "$(served)" 3 "clients served at once"
assert_eq "$(forward_get capped 0 connections)" 3 "connections in status"
touch "$TEST_DIR/stop1"
wait_exit "${HOLD[0]}" 10 || fail "client 1 did not stop"
assert_eq "$EXIT_RC" 0 "client 1's exit status"
wait_for "(( \$(served) == 4 ))" 10 || fail "no waiting client was served after one left"
assert_eq "$(forward_get capped 0 connections)" 3 "connections in status after one left"
for i in 2 3 4 5; do
	touch "$TEST_DIR/stop$i"
done
for i in 1 2 3 4; do
	wait_exit "${HOLD[i]}" 20 || fail "client $((i + 1)) did not stop"
done

step "$N clients on a long path read 3 MiB, then nothing: the daemon's memory stays bounded"
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status"; }
rss0=$(rss_kb)
spawn "$TEST_DIR/stall.log" python3 "$TOOLS/stall_clients.py" --port "$LS" --conns "$N" \
	--expect "$BYTES" --read-first 3M --rcvbuf 4096 --ready-file "$TEST_DIR/stall.ready" \
	--release-file "$TEST_DIR/stall.go" --max-seconds 150
STALL=$SPAWNED_PID
wait_for "[[ -s '$TEST_DIR/stall.ready' ]]" 60 || fail "the clients did not get going: $(cat "$TEST_DIR/stall.log")"
peak=$rss0
for ((i = 0; i < 20; i++)); do
	sleep 0.5
	r=$(rss_kb)
	((r > peak)) && peak=$r
done
bound=$((rss0 + (64 + 3 * N + 16) * 1024))
echo "RSS: $rss0 kB before, $peak kB at most with $N stalled clients (bound $bound kB)"
if [[ $asan == yes ]]; then
	# ASan keeps freed memory in quarantine and adds shadow memory.
	echo "a sanitizer build: RSS not checked"
else
	((peak > rss0 + 3 * N * 1024)) ||
		fail "RSS grew by less than 3 MiB a client: the windows did not fill, the test proves nothing"
	((peak <= bound)) || fail "RSS $peak kB is over the bound of $bound kB"
fi

step "released: every byte arrives"
touch "$TEST_DIR/stall.go"
wait_exit "$STALL" 150 || fail "the clients still read after 150 s"
cat "$TEST_DIR/stall.log"
((EXIT_RC == 0)) || fail "a client did not get all its bytes"
assert_eq "$(tunnel_get long restarts)" 0 "long tunnel restarts"
rss="RSS +$(((peak - rss0) / 1024)) MiB (bound +$(((bound - rss0) / 1024)) MiB)"
[[ $asan == no ]] || rss="RSS not checked (sanitizer build)"
pass "max_connections held clients in the backlog; $N stalled clients on an 80 ms path: $rss"
