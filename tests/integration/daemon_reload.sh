#!/usr/bin/env bash
# daemon_reload: `warren reload` applies a new config without disturbing what
# did not change: an added tunnel starts, a removed one stops (its port
# closes), a changed one restarts with its new settings, while one long-lived
# connection through an untouched tunnel keeps exchanging data across every
# reload (the same connection: the backend sees a single accept). A reload
# with a syntax error exits 2, prints FILE:LINE:, and changes nothing. SIGHUP
# reloads too.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

start_echo_server held # only the long-lived connection goes here
HELD=$SERVER_PORT
start_echo_server echo
ECHO=$SERVER_PORT
# Ports are picked just before the config that binds them, so that no
# connection made meanwhile takes one as its source port.
P_KEEP=$(free_port)
P_GONE=$(free_port)
P_CHG=$(free_port)

relay_tunnel keep "$P_KEEP" "$HELD" >"$TEST_DIR/keep.conf"
{
	cat "$TEST_DIR/keep.conf"
	relay_tunnel gone "$P_GONE" "$ECHO"
	relay_tunnel change "$P_CHG" "$ECHO"
} >"$CONF"
start_daemon "$CONF"
for t in keep gone change; do wait_state "$t" up; done
KEEP_SINCE=$(tunnel_get keep since)

# snapshot: every tunnel's name, state and since, to compare before/after.
snapshot() {
	python3 -c 'import json,sys; print(sorted((t["name"], t["state"], t["since"]) for t in json.loads(sys.argv[1])["tunnels"]))' "$(status_json)"
}
held_count() { cut -d' ' -f1 "$TEST_DIR/held.count" 2>/dev/null || echo 0; }
# wait_held_progress N: the held connection echoes N more lines from now.
wait_held_progress() {
	local from
	from=$(held_count)
	wait_for "(( \$(held_count) >= $from + $1 ))" 10 ||
		fail "the held connection stopped exchanging data (at $(cat "$TEST_DIR/held.count" 2>/dev/null))"
}

step "a long-lived connection through 'keep'"
spawn "$TEST_DIR/hold.log" python3 "$TOOLS/hold_client.py" --port "$P_KEEP" --interval 0.2 \
	--stop-file "$TEST_DIR/held.stop" --count-file "$TEST_DIR/held.count" --max-seconds 150
HOLD_PID=$SPAWNED_PID
wait_held_progress 3

step "reload: add 'added', remove 'gone', change 'change' (new listen port)"
P_CHG2=$(free_port)
P_ADD=$(free_port)
{
	cat "$TEST_DIR/keep.conf"
	relay_tunnel change "$P_CHG2" "$ECHO"
	relay_tunnel added "$P_ADD" "$ECHO"
} >"$CONF"
expect_rc 0 warren_cli reload
wait_state added up
echo_check "$P_ADD"
wait_for "! tunnel_get gone" 10 || fail "'gone' still in the status after reload: $(status_json)"
wait_for "! port_open $P_GONE" 5 || fail "port $P_GONE of the removed tunnel still open"
wait_state change up
wait_for "echo_check $P_CHG2" 10 || fail "the changed tunnel does not work on its new port $P_CHG2"
wait_for "! port_open $P_CHG" 5 || fail "the changed tunnel's old port $P_CHG still open"
wait_held_progress 3
assert_eq "$(tunnel_get keep since)" "$KEEP_SINCE" "since of the untouched tunnel"
assert_eq "$(tunnel_get keep state)" up "state of the untouched tunnel"

step "a broken config: reload exits 2 with FILE:LINE: and changes nothing"
cp "$CONF" "$TEST_DIR/good.conf"
BAD_LINE=$(($(wc -l <"$CONF") + 1))
{
	cat "$TEST_DIR/good.conf"
	echo "this line is not valid"
	relay_tunnel never "$(free_port)" "$ECHO"
} >"$CONF"
BEFORE=$(snapshot)
expect_rc 2 warren_cli reload
assert_contains "$OUT$ERR" "$CONF:$BAD_LINE:" "reload's report of the broken line"
sleep 0.5
AFTER=$(snapshot)
assert_eq "$AFTER" "$BEFORE" "tunnels after a failed reload"
alive "$DAEMON_PID" || fail "the daemon died on a broken reload"
wait_held_progress 2

step "SIGHUP reloads: add 'hup'"
P_HUP=$(free_port)
{
	cat "$TEST_DIR/good.conf"
	relay_tunnel hup "$P_HUP" "$ECHO"
} >"$CONF"
kill -HUP "$DAEMON_PID"
wait_state hup up
echo_check "$P_HUP"
wait_held_progress 3
assert_eq "$(tunnel_get keep since)" "$KEEP_SINCE" "since of the untouched tunnel after SIGHUP"

step "the held connection was never broken"
touch "$TEST_DIR/held.stop"
wait_exit "$HOLD_PID" 10 || fail "hold_client did not stop"
cat "$TEST_DIR/hold.log"
assert_eq "$EXIT_RC" 0 "hold_client's exit status"
ACCEPTS=$(grep -c '^accept ' "$TEST_DIR/held.log" || true)
assert_eq "$ACCEPTS" 1 "connections the held backend accepted"

pass "reload added, removed and changed tunnels; the untouched one kept its connection"
