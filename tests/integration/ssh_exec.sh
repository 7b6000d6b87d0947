#!/usr/bin/env bash
# ssh_exec: the SSH layer's exec sessions (transports/ssh/exec.c) against a
# real sshd, through their user ppp-ssh (stand-in pppd, network namespace of
# the test's own; see lib/ppp.sh). Each tunnel runs another remote_command
# with restart = never, so its last_error keeps what the exit callback said:
#  - an exit status and the command's last stderr line (stderr bridged to an
#    fd), told before the channel's closed callback (else the reason would be
#    "the SSH channel ... closed");
#  - a death by signal (exit-signal TERM);
#  - a command the gateway cannot find (127, with the shell's complaint);
#  - 4 MB of stderr, twice the channel's window, with 1 MB of stdout at the
#    same time: every line drained in order (the last one makes the reason),
#    the log bounded, and the exit status after all of it;
#  - a clean exit 0;
#  - and a command that runs: the data stream holds stdout only, never stderr.
# shellcheck source=../lib/ppp.sh
. "$(dirname "$0")/../lib/ppp.sh"
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

start_sshd
ppp_standins
FLOOD="head -c 4000000 /dev/zero | tr '\\000' x | fold -w 100 >&2; echo >&2; head -c 1000000 /dev/zero; echo LAST-LINE >&2; exit 9"
{
	gateway_section gw
	n=0
	for spec in \
		"status7|echo 'oops: no pppd here' >&2; exit 7" \
		"signal|kill -TERM \$\$" \
		"missing|/nonexistent/pppd nodetach notty" \
		"flood|$FLOOD" \
		"clean|exit 0" \
		"runs|$REMOTE_CMD"; do
		n=$((n + 1))
		ppp_tunnel "${spec%%|*}" "autostart = yes" "restart = never" \
			"local_ip = 10.78.$n.1" "remote_ip = 10.78.$n.2" \
			"pppd_options = \"standin_dir=$PPP_DIR bytes=4096\"" \
			"remote_command = ${spec#*|}"
	done
} >"$CONF"
start_daemon "$CONF"

step "exit status 7 and the last stderr line, before the channel closed"
wait_state status7 failed 30
assert_contains "$(tunnel_get status7 last_error)" "exited with status 7: oops: no pppd here" "status7"

step "killed by a signal"
wait_state signal failed 30
assert_contains "$(tunnel_get signal last_error)" "was killed by signal TERM" "signal"

step "not found on the gateway"
wait_state missing failed 30
err=$(tunnel_get missing last_error)
assert_contains "$err" "exited with status 127" "missing: status"
assert_contains "$err" "/nonexistent/pppd" "missing: the shell's complaint"

step "4 MB of stderr and 1 MB of stdout: drained in order, the exit after all of it"
wait_state flood failed 60
assert_contains "$(tunnel_get flood last_error)" "exited with status 9: LAST-LINE" "flood"
grep -q "flood: remote: (further lines are not logged)" "$DAEMON_LOG" ||
	fail "the stderr flood was not cut in the log"
lines=$(grep -c "flood: remote: x" "$DAEMON_LOG" || true)
((lines == 200)) || fail "$lines stderr lines of the flood logged, expected 200"

step "a clean exit"
wait_state clean failed 30
assert_contains "$(tunnel_get clean last_error)" "exited with status 0" "clean"

step "a command that runs: stdout only in the data, stderr in the log"
wait_state runs up 30
wait_for "grep -q 'echo-ok 4096' '$PPP_DIR/events'" 30 || fail "no intact echo: $(ppp_events)"
grep -q "runs: remote: remote standin: started" "$DAEMON_LOG" || fail "stderr not logged"

step "nothing of the failed rounds is left running"
for t in status7 signal missing flood clean; do
	assert_eq "$(tunnel_get "$t" details.pppd_pid)" null "$t: pppd_pid"
done
kids=$(daemon_children | grep -vc pppd_standin || true)
((kids == 0)) || fail "children left: $(daemon_children)"
pass "exit status with stderr, exit signal, 127, 4 MB stderr drained in order, exit 0, stdout/stderr kept apart"
