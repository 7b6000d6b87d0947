#!/usr/bin/env bash
# daemon_check: `warren check` validates a config: a good file exits 0; a
# file with two errors exits 2 and prints both as FILE:LINE: message; a
# tunnel whose transport has no plugin is reported. `warren daemon` with such
# a tunnel still starts the others, and that one is `failed` with a reason
# naming the transport.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

start_echo_server echo
P1=$(free_port)
P2=$(free_port)

NL=$'\n'

step "a good file"
{
	echo "[daemon]"
	echo "log_level = info"
	echo
	relay_tunnel web "$P1" "$SERVER_PORT"
} >"$TEST_DIR/good.conf"
expect_rc 0 warren_cli check -c "$TEST_DIR/good.conf"

step "a file with two errors (lines 3 and 8)"
cat >"$TEST_DIR/two.conf" <<EOF2
[daemon]
log_level = info
colour = blue

[tunnel web]
transport = relay
listen = 127.0.0.1:$P1
autostart = maybe
connect = 127.0.0.1:$SERVER_PORT
EOF2
expect_rc 2 warren_cli check -c "$TEST_DIR/two.conf"
echo "$OUT$ERR"
assert_match "$OUT$ERR" "(^|$NL)$TEST_DIR/two.conf:3: [^$NL]*colour" "the unknown key on line 3"
assert_match "$OUT$ERR" "(^|$NL)$TEST_DIR/two.conf:8: [^$NL]*(autostart|maybe)" "the bad boolean on line 8"

step "a tunnel whose transport has no plugin"
{
	relay_tunnel web "$P1" "$SERVER_PORT"
	cat <<EOF2
[tunnel ghost]
transport = nosuch
autostart = yes

EOF2
	relay_tunnel web2 "$P2" "$SERVER_PORT"
} >"$TEST_DIR/ghost.conf"
GHOST_LINE=$(grep -n '^\[tunnel ghost\]' "$TEST_DIR/ghost.conf" | cut -d: -f1)
expect_rc 2 warren_cli check -c "$TEST_DIR/ghost.conf"
echo "$OUT$ERR"
assert_match "$OUT$ERR" "$TEST_DIR/ghost.conf:($GHOST_LINE|$((GHOST_LINE + 1))): [^$NL]*nosuch" "check's report of the missing transport"

step "the daemon starts the others and fails just that one"
start_daemon "$TEST_DIR/ghost.conf"
wait_state web up
wait_state web2 up
wait_state ghost failed
assert_contains "$(tunnel_get ghost last_error)" nosuch "ghost's last_error"
echo_check "$P1"
echo_check "$P2"

pass "check reports every problem with FILE:LINE; a missing plugin fails only its tunnels"
