#!/usr/bin/env bash
# status_watch: `warren status` for people. On a terminal (a pty from
# script(1)) states are coloured and SINCE is an age; NO_COLOR and a pipe get
# plain text with the timestamp. `warren status --watch SECONDS` redraws the
# table (home + clear on a terminal), shows a state change on a later
# frame, exits 0 on SIGINT and 1 soon after the daemon goes away; bad
# --watch values and --watch with --json are usage errors.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

command -v script >/dev/null || skip "script(1) is not installed (util-linux)"

start_echo_server echo
P1=$(free_port)
P2=$(free_port)
{
	relay_tunnel web "$P1" "$SERVER_PORT"
	relay_tunnel other "$P2" "$SERVER_PORT"
} >"$CONF"
start_daemon "$CONF"
wait_state web up
wait_state other up

# on_tty CMD: run CMD on a pseudo-terminal; its output in $TTY_OUT.
on_tty() {
	TTY_OUT=$(timeout 20 script -qfec "$1" /dev/null </dev/null)
}
W="$WARREN_BIN -S $SOCK"

step "a terminal gets colours and ages"
on_tty "$W status"
printf '%s\n' "$TTY_OUT" | cat -v
assert_contains "$TTY_OUT" $'\033[32mup\033[0m' "the colour of an up state on a terminal"
assert_match "$TTY_OUT" 'web +relay +.*up.* [0-9]+s ago ' "the age in SINCE on a terminal"

step "NO_COLOR and pipes get plain text"
on_tty "NO_COLOR=1 $W status"
[[ $TTY_OUT != *$'\033'* ]] || fail "NO_COLOR=1 still coloured: $(cat -v <<<"$TTY_OUT")"
expect_rc 0 warren_cli status
[[ $OUT != *$'\033'* ]] || fail "a pipe got colour codes"
assert_match "$OUT" $'(^|\n)web +relay +up +[0-9]{4}-[0-9]{2}-[0-9]{2}T' "the timestamp in SINCE for scripts"

step "usage errors"
expect_rc 2 warren_cli status --watch=0
expect_rc 2 warren_cli status --watch=soon
expect_rc 2 warren_cli status --watch --json

step "--watch redraws, and a later frame shows a change"
spawn "$TEST_DIR/watch.log" "$WARREN_BIN" -S "$SOCK" status --watch 0.2
WATCH_PID=$SPAWNED_PID
wait_for "(( \$(grep -c '^NAME ' '$TEST_DIR/watch.log') >= 3 ))" 10 ||
	fail "fewer than 3 frames in 10 s: $(cat "$TEST_DIR/watch.log")"
expect_rc 0 warren_cli down other
wait_for "grep -Eq '^other +relay +down ' '$TEST_DIR/watch.log'" 10 ||
	fail "the watch never showed other down: $(tail -n 20 "$TEST_DIR/watch.log")"
grep -q '^every 0.2s' "$TEST_DIR/watch.log" || fail "no frame title in the watch output"

step "SIGINT ends the watch with status 0"
kill -INT "$WATCH_PID"
wait_exit "$WATCH_PID" 5 || fail "the watch still runs 5 s after SIGINT"
assert_eq "$EXIT_RC" 0 "the watch's exit status after SIGINT"

step "on a terminal the watch homes and clears"
on_tty "timeout --preserve-status -s INT 1 $W status --watch 0.3; echo rc=\$?"
assert_contains "$TTY_OUT" $'\033[H\033[2J' "home and clear on a terminal"
assert_contains "$TTY_OUT" "rc=0" "the watch on a terminal after SIGINT"

step "the watch exits 1 when the daemon goes away"
spawn "$TEST_DIR/watch2.log" "$WARREN_BIN" -S "$SOCK" status --watch 0.2
WATCH_PID=$SPAWNED_PID
wait_for "grep -q '^NAME ' '$TEST_DIR/watch2.log'" 10 || fail "the second watch drew nothing"
stop_daemon
wait_exit "$WATCH_PID" 5 || fail "the watch still runs 5 s after the daemon stopped"
assert_eq "$EXIT_RC" 1 "the watch's exit status once the daemon is gone"
assert_contains "$(cat "$TEST_DIR/watch2.log")" "$SOCK" "the watch's message naming the socket"

pass "status is coloured and aged on a terminal, plain for scripts; --watch redraws and ends as documented"
