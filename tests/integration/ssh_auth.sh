#!/usr/bin/env bash
# ssh_auth: user authentication against a real sshd. A key the server does
# not know is refused with the keys tried; a private key readable by others
# is ignored with OpenSSH's UNPROTECTED PRIVATE KEY FILE message; an RSA key
# is refused with the reason (libssh2 1.10 has no rsa-sha2); a passphrase
# protected key works with a passphrase_file of mode 0600 and is refused
# when that file is readable by others; compression = yes negotiates zlib
# and carries data intact. The refused tunnels retry and never listen.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

sshd_keys
ssh-keygen -q -t ed25519 -N '' -f "$SSH_DIR/wrong"
cp "$USER_KEY" "$SSH_DIR/loose"
chmod 644 "$SSH_DIR/loose"
ssh-keygen -q -t rsa -b 2048 -N '' -f "$SSH_DIR/rsa"
ssh-keygen -q -t ed25519 -N 'open sesame' -f "$SSH_DIR/locked"
printf 'open sesame\n' >"$SSH_DIR/pass_ok"
chmod 600 "$SSH_DIR/pass_ok"
printf 'open sesame\n' >"$SSH_DIR/pass_loose"
chmod 644 "$SSH_DIR/pass_loose"
start_sshd
cat "$SSH_DIR/rsa.pub" "$SSH_DIR/locked.pub" >>"$SSH_DIR/authorized_keys"
start_xfer_server sink

declare -A PORTS
tunnel() { # NAME GATEWAY
	PORTS[$1]=$(free_port)
	printf '[tunnel %s]\ntransport = ssh-forward\ngateway = %s\nautostart = yes\nretry_min = 1s\nretry_max = 2s\nlocal = %s:127.0.0.1:%s\n\n' \
		"$1" "$2" "${PORTS[$1]}" "$SERVER_PORT"
}
{
	gateway_section wrong "identity = $SSH_DIR/wrong"
	gateway_section loose "identity = $SSH_DIR/loose"
	gateway_section rsa "identity = $SSH_DIR/rsa"
	gateway_section locked "identity = $SSH_DIR/locked" "passphrase_file = $SSH_DIR/pass_ok"
	gateway_section locked_loose "identity = $SSH_DIR/locked" "passphrase_file = $SSH_DIR/pass_loose"
	gateway_section zip "compression = yes"
	tunnel t_wrong wrong
	tunnel t_loose loose
	tunnel t_rsa rsa
	tunnel t_locked locked
	tunnel t_locked_loose locked_loose
	tunnel t_zip zip
} >"$CONF"
start_daemon "$CONF"

error_of() { # TUNNEL SUBSTRING: wait until last_error has SUBSTRING
	wait_for "[[ \$(tunnel_get $1 last_error) == *'$2'* ]]" 20 ||
		fail "$1: no '$2' in last_error: $(tunnel_get "$1" last_error)"
}

step "a key the server does not know: refused, with what was tried"
error_of t_wrong "authentication refused for user $(id -un) (tried: "
assert_contains "$(tunnel_get t_wrong last_error)" "$SSH_DIR/wrong" "the key tried"

step "a private key readable by others: ignored, in OpenSSH's words"
error_of t_loose "UNPROTECTED PRIVATE KEY FILE"
assert_contains "$(tunnel_get t_loose last_error)" "0644" "mode in the message"

step "an RSA key: refused, and the error says why"
error_of t_rsa "RSA keys cannot work"

step "a passphrase file readable by others: refused"
error_of t_locked_loose "UNPROTECTED PASSPHRASE FILE"

step "a passphrase-protected key with a 0600 passphrase_file works"
wait_state t_locked up 20
xfer "${PORTS[t_locked]}" --bytes 1M --mode duplex --conns 1 --timeout 30 --max-seconds 60

step "compression = yes: zlib negotiated, 10 MB each way intact"
wait_state t_zip up 20
grep -q "zip: connected to .*compression zlib" "$DAEMON_LOG" ||
	fail "compression not negotiated: $(grep 'zip: connected' "$DAEMON_LOG")"
xfer "${PORTS[t_zip]}" --bytes 10M --mode duplex --conns 1 --timeout 60 --max-seconds 120

step "the refused tunnels retry and never listen"
for t in t_wrong t_loose t_rsa t_locked_loose; do
	st=$(tunnel_get $t state)
	[[ $st != up && $st != degraded ]] || fail "$t is $st"
	port_open "${PORTS[$t]}" && fail "$t listens although refused"
done
pass "auth: wrong key, loose key, RSA and loose passphrase file refused with reasons; passphrase and compression work"
