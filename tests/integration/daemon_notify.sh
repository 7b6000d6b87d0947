#!/usr/bin/env bash
# daemon_notify: under a service manager ($NOTIFY_SOCKET) the daemon speaks
# systemd's notification protocol: READY=1 with a STATUS= summary once its
# tunnels have had their first try; RELOADING=1 with MONOTONIC_USEC and then
# READY=1 around `warren reload` (a refused reload too); a new STATUS= when a
# tunnel changes state; WATCHDOG=1 at half $WATCHDOG_USEC; STOPPING=1 on
# SIGTERM.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

# The service manager's end: every datagram on one line ('\n' shown as '|').
cat >"$TEST_DIR/receiver.py" <<'PY'
import socket, sys, time
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(1.0)
end = time.monotonic() + 150
with open(log, "a", buffering=1) as out:
    while time.monotonic() < end:
        try:
            data = s.recv(4096)
        except socket.timeout:
            continue
        out.write(data.decode().replace("\n", "|") + "\n")
PY
NOTIFY_LOG="$TEST_DIR/notify.log"
: >"$NOTIFY_LOG"
spawn "$TEST_DIR/receiver.log" python3 "$TEST_DIR/receiver.py" "$TEST_DIR/notify.sock" "$NOTIFY_LOG"
wait_for "[[ -S '$TEST_DIR/notify.sock' ]]" 10 || fail "the notify receiver did not start"

start_echo_server echo
P1=$(free_port)
P2=$(free_port)
{
	relay_tunnel web "$P1" "$SERVER_PORT"
	relay_tunnel other "$P2" "$SERVER_PORT"
} >"$CONF"

# notified REGEX [TIMEOUT]: some datagram matches REGEX (grep -E).
notified() {
	wait_for "grep -Eq '$1' '$NOTIFY_LOG'" "${2:-10}" ||
		fail "no notification matching /$1/; got:
$(cat "$NOTIFY_LOG")"
}

step "start-up: READY=1 with the status"
NOTIFY_SOCKET="$TEST_DIR/notify.sock" WATCHDOG_USEC=400000 start_daemon "$CONF"
notified '^READY=1\|STATUS=2 tunnels: 2 up$'
[[ $(grep -c '^READY=1' "$NOTIFY_LOG") == 1 ]] || fail "READY=1 sent more than once at start-up"

step "WATCHDOG=1 every 200 ms"
before=$(grep -c '^WATCHDOG=1$' "$NOTIFY_LOG" || true)
sleep 1.1
after=$(grep -c '^WATCHDOG=1$' "$NOTIFY_LOG" || true)
echo "watchdog pings in 1.1 s: $((after - before))"
((after - before >= 3 && after - before <= 7)) || fail "expected about 5 WATCHDOG=1 in 1.1 s, got $((after - before))"

step "a state change updates STATUS="
expect_rc 0 warren_cli down other
notified '^STATUS=2 tunnels: 1 up, 1 down$'
expect_rc 0 warren_cli up other
notified '^STATUS=2 tunnels: 2 up$'

step "a flapping tunnel does not flood the manager: one STATUS= a second at most"
: >"$NOTIFY_LOG"
start=$(date +%s%N)
for _ in 1 2 3 4 5 6; do
	warren_cli down other >/dev/null
	warren_cli up other >/dev/null
done
warren_cli down other >/dev/null
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
sleep 1.2 # the last update, held back by the rate limit, goes out
{ grep -v '^WATCHDOG' "$NOTIFY_LOG" || true; } >"$TEST_DIR/flap.log"
cat "$TEST_DIR/flap.log"
updates=$(grep -c '^STATUS=' "$TEST_DIR/flap.log" || true)
echo "$updates STATUS= updates for 25 state changes in $elapsed_ms ms"
((updates <= elapsed_ms / 1000 + 2)) || fail "$updates STATUS= updates in $elapsed_ms ms: not rate-limited"
assert_eq "$(tail -n 1 "$TEST_DIR/flap.log")" "STATUS=2 tunnels: 1 up, 1 down" "the last STATUS= after flapping"

step "reload: RELOADING=1 with MONOTONIC_USEC, then READY=1"
: >"$NOTIFY_LOG"
P3=$(free_port)
relay_tunnel third "$P3" "$SERVER_PORT" >>"$CONF"
expect_rc 0 warren_cli reload
wait_state third up
notified '^READY=1\|STATUS='
grep -v '^WATCHDOG' "$NOTIFY_LOG" >"$TEST_DIR/reload.log"
cat "$TEST_DIR/reload.log"
assert_match "$(head -n 1 "$TEST_DIR/reload.log")" '^RELOADING=1\|MONOTONIC_USEC=[0-9]+$' "the first message of a reload"
assert_match "$(sed -n 2p "$TEST_DIR/reload.log")" '^READY=1\|STATUS=' "the message that ends a reload"

step "a refused reload still ends with READY=1"
: >"$NOTIFY_LOG"
cp "$CONF" "$TEST_DIR/good.conf"
echo "this is not a config line" >>"$CONF"
expect_rc 2 warren_cli reload
notified '^READY=1'
grep -v '^WATCHDOG' "$NOTIFY_LOG" >"$TEST_DIR/refused.log"
assert_match "$(head -n 1 "$TEST_DIR/refused.log")" '^RELOADING=1\|MONOTONIC_USEC=[0-9]+$' "the first message of a refused reload"
cp "$TEST_DIR/good.conf" "$CONF"

step "SIGTERM: STOPPING=1"
stop_daemon
assert_eq "$EXIT_RC" 0 "the daemon's exit status"
notified '^STOPPING=1'

pass "READY, RELOADING/READY, STATUS, WATCHDOG and STOPPING reach \$NOTIFY_SOCKET when they should"
