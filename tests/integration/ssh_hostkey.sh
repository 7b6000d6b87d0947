#!/usr/bin/env bash
# ssh_hostkey: the gateway's host key under each policy. strict: an unknown
# key and a changed key are refused with the SHA256 fingerprints (the one
# sent, and for a change the one expected), the tunnel retries and never
# comes up. accept-new: an unknown key is recorded and the tunnel comes up
# (and matches next time); a changed key is still refused. off: up, with a
# warning in the log. Hashed known_hosts entries match.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

start_sshd
start_echo_server echo
SEEN=$(ssh-keygen -lf "$HOST_KEY.pub" | awk '{print $2}')
ssh-keygen -q -t ed25519 -N '' -f "$SSH_DIR/other_host"
OTHER=$(ssh-keygen -lf "$SSH_DIR/other_host.pub" | awk '{print $2}')

: >"$SSH_DIR/kh_empty"
: >"$SSH_DIR/kh_new"
known_hosts_line "$SSHD_PORT" "$SSH_DIR/other_host" >"$SSH_DIR/kh_changed"
known_hosts_line "$SSHD_PORT" "$SSH_DIR/other_host" >"$SSH_DIR/kh_changed_new"
known_hosts_line "$SSHD_PORT" >"$SSH_DIR/kh_hashed"
ssh-keygen -q -H -f "$SSH_DIR/kh_hashed" 2>/dev/null
grep -q '^|1|' "$SSH_DIR/kh_hashed" || fail "ssh-keygen -H did not hash the entry"

tunnel() { # NAME GATEWAY
	local p
	p=$(free_port)
	printf '[tunnel %s]\ntransport = ssh-forward\ngateway = %s\nautostart = yes\nretry_min = 1s\nretry_max = 2s\nlocal = %s:127.0.0.1:%s\n\n' \
		"$1" "$2" "$p" "$SERVER_PORT"
	eval "PORT_$1=$p"
}
{
	gateway_section unknown_strict "known_hosts = $SSH_DIR/kh_empty"
	gateway_section unknown_new "known_hosts = $SSH_DIR/kh_new" "host_key_check = accept-new"
	gateway_section changed_strict "known_hosts = $SSH_DIR/kh_changed"
	gateway_section changed_new "known_hosts = $SSH_DIR/kh_changed_new" "host_key_check = accept-new"
	gateway_section off "known_hosts = $SSH_DIR/kh_empty" "host_key_check = off"
	gateway_section hashed "known_hosts = $SSH_DIR/kh_hashed"
	tunnel t_unknown_strict unknown_strict
	tunnel t_unknown_new unknown_new
	tunnel t_changed_strict changed_strict
	tunnel t_changed_new changed_new
	tunnel t_off off
	tunnel t_hashed hashed
} >"$CONF"
start_daemon "$CONF"

step "strict + unknown key: refused with the fingerprint sent"
wait_for "[[ \$(tunnel_get t_unknown_strict last_error) == *unknown* ]]" 20 ||
	fail "no unknown-key error: $(tunnel_get t_unknown_strict)"
err=$(tunnel_get t_unknown_strict last_error)
assert_contains "$err" "host key for [127.0.0.1]:$SSHD_PORT unknown" "unknown key error"
assert_contains "$err" "$SEEN" "fingerprint sent"
assert_match "$(tunnel_get t_unknown_strict state)" '^(retrying|connecting)$' "t_unknown_strict state"

step "strict + changed key: refused with both fingerprints"
wait_for "[[ \$(tunnel_get t_changed_strict last_error) == *changed* ]]" 20 ||
	fail "no changed-key error: $(tunnel_get t_changed_strict)"
err=$(tunnel_get t_changed_strict last_error)
assert_contains "$err" "host key for [127.0.0.1]:$SSHD_PORT changed" "changed key error"
assert_contains "$err" "REMOTE HOST IDENTIFICATION HAS CHANGED" "OpenSSH wording"
assert_contains "$err" "$SEEN" "fingerprint sent"
assert_contains "$err" "$OTHER" "fingerprint expected"

step "accept-new + changed key: still refused"
wait_for "[[ \$(tunnel_get t_changed_new last_error) == *changed* ]]" 20 ||
	fail "no changed-key error under accept-new: $(tunnel_get t_changed_new)"

step "accept-new + unknown key: recorded, up, and it works"
wait_state t_unknown_new up 20
grep -q "^\[127.0.0.1\]:$SSHD_PORT ssh-ed25519 " "$SSH_DIR/kh_new" || fail "key not recorded: $(cat "$SSH_DIR/kh_new")"
assert_eq "$(ssh-keygen -lf "$SSH_DIR/kh_new" | awk '{print $2}')" "$SEEN" "recorded key"
echo_check "$PORT_t_unknown_new"

step "off: up with a warning; hashed entry: up"
wait_state t_off up 20
grep -q "NOT checked" "$DAEMON_LOG" || fail "no warning for host_key_check = off"
wait_state t_hashed up 20
echo_check "$PORT_t_hashed"

step "the refused tunnels never came up"
for t in t_unknown_strict t_changed_strict t_changed_new; do
	st=$(tunnel_get $t state)
	[[ $st != up && $st != degraded ]] || fail "$t is $st"
	port_open "$(eval echo "\$PORT_$t")" && fail "$t listens although refused"
done
! grep -q "added by warren" "$SSH_DIR/kh_changed_new" || fail "accept-new rewrote a changed key"

step "restart of the accept-new tunnel matches the recorded key"
warren_cli restart t_unknown_new
wait_state t_unknown_new up 20
[[ $(wc -l <"$SSH_DIR/kh_new") == 1 ]] || fail "key recorded twice"
pass "host keys: unknown/changed refused under strict with fingerprints, accept-new records, off warns, hashed match"
