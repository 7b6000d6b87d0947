#!/usr/bin/env bash
# security_no_secrets_in_logs: no secret a test handed the daemon (key
# passphrases, X11 cookies) is in any daemon log. First on its own run: a
# passphrase-protected key used at log level debug, once with the right
# passphrase (up, data through it) and once with a wrong one (refused):
# neither passphrase is in the log. Then over the whole test run: every
# daemon log that tests/lib/common.sh kept in $WARREN_LOG_ARCHIVE is grepped
# for every secret any test registered (register_secret) or gave the daemon
# as a passphrase_file; `make check` runs this test last
# (tests/hardening.am) so that the archive holds every other test's logs.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

GOOD="warren-good-passphrase-$RANDOM$RANDOM"
BAD="warren-bad-passphrase-$RANDOM$RANDOM"
register_secret "$GOOD"
register_secret "$BAD"
ssh-keygen -q -t ed25519 -N "$GOOD" -C locked -f "$TEST_DIR/locked"
printf '%s\n' "$GOOD" >"$TEST_DIR/pass_good"
printf '%s\n' "$BAD" >"$TEST_DIR/pass_bad"
chmod 600 "$TEST_DIR/pass_good" "$TEST_DIR/pass_bad"
start_sshd
cat "$TEST_DIR/locked.pub" >>"$SSH_DIR/authorized_keys"
start_xfer_server sink
LG=$(free_port)
LB=$(free_port)
{
	printf '[daemon]\nlog_level = debug\n\n'
	gateway_section good "identity = $TEST_DIR/locked" "passphrase_file = $TEST_DIR/pass_good"
	gateway_section bad "identity = $TEST_DIR/locked" "passphrase_file = $TEST_DIR/pass_bad"
	printf '[tunnel good]\ntransport = ssh-forward\ngateway = good\nretry_min = 1s\nretry_max = 2s\nlocal = %s:127.0.0.1:%s\n\n' "$LG" "$SERVER_PORT"
	printf '[tunnel bad]\ntransport = ssh-forward\ngateway = bad\nretry_min = 1s\nretry_max = 2s\nlocal = %s:127.0.0.1:%s\n\n' "$LB" "$SERVER_PORT"
} >"$CONF"
start_daemon "$CONF"

step "the right passphrase: up; the wrong one: refused"
wait_state good up 20
xfer "$LG" --bytes 64K --mode duplex --conns 1 --timeout 20 --max-seconds 60
wait_state bad retrying 20
echo "bad: $(tunnel_get bad last_error)"
warren_cli status >/dev/null
warren_cli status --json >"$TEST_DIR/status.json"
stop_daemon

step "neither passphrase is in this run's daemon log or status"
for s in "$GOOD" "$BAD"; do
	! grep -qF -- "$s" "$DAEMON_LOG" || fail "a passphrase is in the daemon log: $(grep -nF -- "$s" "$DAEMON_LOG" | head -3)"
	! grep -qF -- "$s" "$TEST_DIR/status.json" || fail "a passphrase is in warren status --json"
done

step "every secret of the test run against every daemon log kept"
ARCHIVE=${WARREN_LOG_ARCHIVE:-}
if [[ -z $ARCHIVE || ! -d $ARCHIVE ]]; then
	pass "passphrases kept out of the log (no WARREN_LOG_ARCHIVE: this run only)"
fi
mapfile -t LOGS < <(find "$ARCHIVE" -type f ! -name '*.secrets' | sort)
mapfile -t SECRETS < <(find "$ARCHIVE" -type f -name '*.secrets' -exec cat {} + | sort -u)
SECRETS+=("$GOOD" "$BAD")
checked=0
for s in "${SECRETS[@]}"; do
	# Too short to mean anything (and to search for without false hits).
	((${#s} >= 6)) || continue
	checked=$((checked + 1))
	if ((${#LOGS[@]})); then
		hits=$(grep -lF -- "$s" "${LOGS[@]}" || true)
		[[ -z $hits ]] || fail "secret #$checked (${#s} characters) found in: $hits"
	fi
done
echo "${#LOGS[@]} logs from the run, $checked secrets, none found"
((${#LOGS[@]} > 0)) || echo "(the archive has no logs yet: run under make check for the whole run)"
pass "no passphrase or cookie in $((${#LOGS[@]} + 1)) daemon logs ($checked secrets)"
