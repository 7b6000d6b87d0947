#!/usr/bin/env bash
# ssh_soak_restart: sshd killed (it and every connection process, SIGTERM)
# and started again 50 times while clients keep connecting through a -L
# forward. Every time the tunnel notices (its restart count goes up) and
# comes back `up` by itself, and a checked transfer (4 connections, 64 KB
# each way, sha256) goes through it. Afterwards the daemon's open fds
# (/proc/PID/fd) are back to the baseline taken after the 5th cycle,
# exactly, and its anonymous RSS (RssAnon) within 1 MiB of it.
#
# Why those tolerances: the fd set of an idle daemon with one tunnel up is
# fixed (listeners, control socket, the SSH socket, libevent's and the
# resolver's pipes), so one fd more is a leak. RSS is not exact: glibc's
# malloc keeps freed memory in its arenas and fragmentation moves a little;
# a baseline after 5 cycles has the one-time allocations (OpenSSL and
# libssh2 initialisation, libevent's tables) in it. What a leak per cycle
# would add over the 45 cycles after it is far more than 1 MiB: a lost
# libssh2 session is ~45 KB (its transport buffers alone are 2 x 16 KB+),
# so even one lost session per cycle gives ~2 MB. Under AddressSanitizer
# RSS says nothing (freed memory sits in its quarantine): the RSS check is
# skipped there and LeakSanitizer, at the daemon's exit, takes its place.
# WARREN_SOAK_CYCLES overrides the count (for a quick look).
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

CYCLES=${WARREN_SOAK_CYCLES:-50}
WARM=5
RSS_TOLERANCE_KB=1024

start_sshd
start_xfer_server sink
LPORT=$(free_port)
{
	gateway_section gw
	cat <<EOF
[tunnel soak]
transport = ssh-forward
gateway = gw
retry_min = 1s
retry_max = 1s
local = $LPORT:127.0.0.1:$SERVER_PORT
EOF
} >"$CONF"
start_daemon "$CONF"
wait_state soak up 20

fd_count() { find "/proc/$DAEMON_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
rss_kb() { awk '/^RssAnon:/ { print $2 }' "/proc/$DAEMON_PID/status"; }
asan=no
sanitized_build && asan=yes

# The clients that keep connecting: one transfer after another (16 KB each
# way, 2 connections), failures expected while sshd is down. Bounded by
# time and by a stop file; a pause file lets the test measure a quiet daemon.
spawn "$TEST_DIR/prober.log" bash -c '
	tools=$1 port=$2 dir=$3 limit=$4
	ok=0 bad=0 end=$((SECONDS + limit))
	while ((SECONDS < end)) && [[ ! -e $dir/stop ]]; do
		if [[ -e $dir/pause ]]; then
			echo paused >"$dir/prober.state"
			sleep 0.1
			continue
		fi
		echo running >"$dir/prober.state"
		if python3 "$tools/xfer_client.py" --port "$port" --bytes 16K --conns 2 \
			--timeout 5 --max-seconds 10 >/dev/null 2>&1; then
			ok=$((ok + 1))
		else
			bad=$((bad + 1))
			sleep 0.1
		fi
		echo "$ok $bad" >"$dir/prober.count"
	done
	echo done >"$dir/prober.state"
	exec sleep 600 # the test stops it
' prober "$TOOLS" "$LPORT" "$TEST_DIR" 900
PROBER=$SPAWNED_PID

# quiet: the prober paused and the forward without connections.
quiet() {
	touch "$TEST_DIR/pause"
	wait_for "[[ \$(cat '$TEST_DIR/prober.state' 2>/dev/null) == paused ]]" 20 || fail "the prober does not pause"
	wait_for "[[ \$(forward_get soak 0 connections) == 0 ]]" 10 || fail "connections left open: $(tunnel_get soak)"
}

# came_back N: the tunnel restarted more than N times and is up.
came_back() {
	local js
	js=$(status_json) || return 1
	(($(json_get "$js" tunnels.name=soak.restarts) > $1)) &&
		[[ $(json_get "$js" tunnels.name=soak.state) == up ]]
}

step "$CYCLES cycles: sshd killed, the tunnel retries; sshd back, the tunnel up and a checked transfer"
start=$SECONDS
for ((c = 1; c <= CYCLES; c++)); do
	prev=$(tunnel_get soak restarts)
	stop_sshd
	start_sshd
	# Back: restarted at least once more since the kill (it noticed) and up.
	wait_for "came_back $prev" 30 ||
		fail "cycle $c: the tunnel did not come back: $(tunnel_get soak)"
	xfer "$LPORT" --bytes 64K --mode duplex --conns 4 --timeout 20 --max-seconds 60 >/dev/null ||
		fail "cycle $c: the transfer after the comeback failed"
	if ((c == WARM)); then
		quiet
		BASE_FD=$(fd_count)
		BASE_RSS=$(rss_kb)
		echo "baseline after cycle $c: $BASE_FD fds, RssAnon $BASE_RSS kB"
		rm -f "$TEST_DIR/pause"
	fi
	((c % 10 == 0)) && echo "cycle $c done ($((SECONDS - start)) s)"
done
RESTARTS=$(tunnel_get soak restarts)
((RESTARTS >= CYCLES)) || fail "$RESTARTS restarts counted for $CYCLES cycles"

step "the clients kept connecting; the daemon is back to its baseline"
quiet
touch "$TEST_DIR/stop"
read -r OK BAD <"$TEST_DIR/prober.count"
echo "prober: $OK transfers through the tunnel, $BAD failed while sshd was down"
((OK >= CYCLES)) || fail "only $OK transfers by the clients that kept connecting"
wait_for "(( \$(fd_count) == $BASE_FD ))" 10 || fail "fd leak: $(fd_count) open, $BASE_FD at the baseline: $(ls -l /proc/$DAEMON_PID/fd)"
FD=$(fd_count)
RSS=$(rss_kb)
echo "after $CYCLES cycles: $FD fds (baseline $BASE_FD), RssAnon $RSS kB (baseline $BASE_RSS kB, $((RSS - BASE_RSS)) kB more)"
if [[ $asan == no ]]; then
	((RSS - BASE_RSS <= RSS_TOLERANCE_KB)) ||
		fail "RSS grew by $((RSS - BASE_RSS)) kB over $((CYCLES - WARM)) cycles (tolerance $RSS_TOLERANCE_KB kB)"
else
	echo "AddressSanitizer build: RSS not compared (LeakSanitizer checks at exit)"
fi
kill -TERM "$PROBER"
wait_exit "$PROBER" 10 || fail "the prober did not stop"
pass "$CYCLES sshd restarts ($RESTARTS reconnect attempts): back every time, $OK client transfers, fds $BASE_FD -> $FD, RssAnon +$((RSS - BASE_RSS)) kB"
