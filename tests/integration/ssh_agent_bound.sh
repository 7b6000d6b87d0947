#!/usr/bin/env bash
# ssh_agent_bound: libssh2 talks to ssh-agent blocking, inside the daemon's
# one event loop; an agent that does not answer (one that waits for the
# user to confirm a key added with ssh-add -c, or a hung one) held the whole
# daemon: no tunnel moved and `warren status` hung. With agent = auto and
# SSH_AUTH_SOCK set:
#  - an agent that accepts and never answers is given up after 1 s: the
#    tunnel comes up with its key file, and the daemon answers throughout;
#  - an agent that hangs up in the middle of a request is given up at once
#    (its EOF made libssh2 poll the dead socket for ever);
#  - an agent whose socket cannot even accept (its backlog full) is skipped
#    at once, the same way.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

start_sshd
LPORT=$(free_port)
{
	gateway_section gw "agent = auto"
	cat <<EOF
[tunnel fwd]
transport = ssh-forward
gateway = gw
local = $LPORT:127.0.0.1:9
EOF
} >"$CONF"

declare -A what=([silent]='never answers' [hangup]='hangs up mid-request' [full]='cannot accept')
for mode in silent hangup full; do
	step "an agent that ${what[$mode]}: the key file is used, the daemon answers"
	sock="$TEST_DIR/agent-$mode.sock"
	spawn "$TEST_DIR/agent-$mode.log" python3 "$TOOLS/bad_agent.py" --socket "$sock" --mode "$mode" \
		--ready-file "$TEST_DIR/agent-$mode.ready"
	wait_for "[[ -s '$TEST_DIR/agent-$mode.ready' ]]" 10 || fail "bad_agent ($mode) did not start"
	export SSH_AUTH_SOCK=$sock
	start_daemon "$CONF"
	start=$SECONDS
	WARREN_CLI_TIMEOUT=5 wait_state fwd up 15
	echo "up after $((SECONDS - start)) s"
	for i in 1 2 3; do
		WARREN_CLI_TIMEOUT=3 warren_cli status >/dev/null || fail "warren status did not answer"
	done
	stop_daemon
	unset SSH_AUTH_SOCK
done
pass "an agent that never answers, hangs up or cannot accept is given up: tunnel up on the key file, daemon responsive"
