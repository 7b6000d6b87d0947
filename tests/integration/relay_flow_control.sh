#!/usr/bin/env bash
# relay_flow_control: a slow reader slows the writer instead of growing the
# daemon. A client pushes 64 MiB through a relay to a server that reads
# nothing: the client must block (the relay stops reading when its 64 KiB
# buffer is full, so TCP pushes back), and the daemon's RSS must not grow by
# more than a few MiB while it does. Released, the server gets every byte,
# sha256 intact.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

BYTES=$((64 * 1024 * 1024))
spawn "$TEST_DIR/stall.log" python3 "$TOOLS/stall_pair.py" \
	--listen-port-file "$TEST_DIR/server.port" --port-file "$TEST_DIR/tunnel.port" \
	--sent-file "$TEST_DIR/sent" --release "$TEST_DIR/release" --bytes "$BYTES" --max-seconds 100
STALL_PID=$SPAWNED_PID
wait_for "[[ -s '$TEST_DIR/server.port' ]]" 10 || fail "stall_pair did not start"
LPORT=$(free_port)
relay_tunnel slow "$LPORT" "$(<"$TEST_DIR/server.port")" >"$CONF"
start_daemon "$CONF"
wait_state slow up
BASE_RSS=$(rss_kib "$DAEMON_PID")

step "the client pushes into a reader that does not read"
# Written whole, then renamed: the client must never read a half-written file.
echo "$LPORT" >"$TEST_DIR/tunnel.port.tmp"
mv "$TEST_DIR/tunnel.port.tmp" "$TEST_DIR/tunnel.port"
wait_for "[[ -s '$TEST_DIR/sent' ]]" 30 || fail "the client never blocked: $(cat "$TEST_DIR/stall.log")"
SENT=$(<"$TEST_DIR/sent")
STALLED_RSS=$(rss_kib "$DAEMON_PID")
echo "client blocked after $SENT of $BYTES bytes; daemon RSS ${BASE_RSS} KiB -> ${STALLED_RSS} KiB"
((SENT < BYTES / 2)) || fail "$SENT of $BYTES bytes went into a reader that reads nothing"
# The relay's own buffering is 64 KiB a direction; the rest sits in kernel
# socket buffers, which RSS does not count. 4 MiB leaves room for allocator
# noise, and is still far below what unbounded buffering of $SENT bytes
# would show.
((STALLED_RSS - BASE_RSS < 4096)) || fail "daemon RSS grew by $((STALLED_RSS - BASE_RSS)) KiB while stalled"

step "released, the server reads every byte"
touch "$TEST_DIR/release"
wait_exit "$STALL_PID" 100 || fail "the transfer did not finish"
[[ $EXIT_RC == 0 ]] || fail "transfer failed: $(cat "$TEST_DIR/stall.log")"
cat "$TEST_DIR/stall.log"
pass "a stalled reader blocked the writer after $SENT bytes with the daemon's RSS +$((STALLED_RSS - BASE_RSS)) KiB; 64 MiB then arrived intact"
