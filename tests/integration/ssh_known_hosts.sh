#!/usr/bin/env bash
# ssh_known_hosts: what known_hosts says beyond plain entries.
#  - a known_hosts that exists but cannot be read (a path through a regular
#    file, a directory) is an error that names the file and the reason, not
#    an empty list (accept-new would then take any key);
#  - a key under an @revoked line is refused, even when another line lists
#    it, and accept-new does not add it;
#  - @cert-authority lines are skipped and the debug log says so; the plain
#    entries around them still work.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

start_sshd
KEYLINE=$(known_hosts_line "$SSHD_PORT")
KEYTEXT=${KEYLINE#* } # "ssh-ed25519 AAAA..."
: >"$TEST_DIR/afile"
mkdir "$TEST_DIR/khdir"
printf '@revoked [127.0.0.1]:%s %s\n%s\n' "$SSHD_PORT" "$KEYTEXT" "$KEYLINE" >"$TEST_DIR/kh_revoked"
printf '# only revoked\n@revoked * %s\n' "$KEYTEXT" >"$TEST_DIR/kh_revoked_new"
cp "$TEST_DIR/kh_revoked_new" "$TEST_DIR/kh_revoked_new.orig"
printf '@cert-authority *.example.com %s\n%s\n' "$KEYTEXT" "$KEYLINE" >"$TEST_DIR/kh_ca"
P=()
for i in 1 2 3 4 5; do
	P+=("$(free_port)")
done
tunnel() { # NAME GATEWAY PORT
	printf '[tunnel %s]\ntransport = ssh-forward\ngateway = %s\nretry_min = 1s\nretry_max = 2s\nlocal = %s:127.0.0.1:9\n\n' \
		"$1" "$2" "$3"
}
{
	gateway_section notdir "known_hosts = $TEST_DIR/afile/known_hosts"
	gateway_section isdir "known_hosts = $TEST_DIR/khdir"
	gateway_section revoked "known_hosts = $TEST_DIR/kh_revoked"
	gateway_section revnew "known_hosts = $TEST_DIR/kh_revoked_new" "host_key_check = accept-new"
	gateway_section ca "known_hosts = $TEST_DIR/kh_ca"
	tunnel notdir notdir "${P[0]}"
	tunnel isdir isdir "${P[1]}"
	tunnel revoked revoked "${P[2]}"
	tunnel revnew revnew "${P[3]}"
	tunnel ca ca "${P[4]}"
} >"$CONF"
start_daemon "$CONF"

# error_of TUNNEL: its last_error once it has one.
error_of() {
	wait_for "[[ -n \$(tunnel_get '$1' last_error) && \$(tunnel_get '$1' last_error) != null ]]" 20 ||
		fail "tunnel $1 has no error: $(tunnel_get "$1")"
	tunnel_get "$1" last_error
}

step "a known_hosts path through a regular file: cannot be read, refused"
err=$(error_of notdir)
echo "$err"
assert_match "$err" "cannot read $TEST_DIR/afile/known_hosts: Not a directory" "notdir's error"

step "a known_hosts that is a directory: cannot be read, refused"
err=$(error_of isdir)
echo "$err"
assert_match "$err" "cannot read $TEST_DIR/khdir: Is a directory" "isdir's error"

step "a key under @revoked is refused though another line lists it"
err=$(error_of revoked)
echo "$err"
assert_match "$err" "marked @revoked" "revoked's error"
[[ $(tunnel_get revoked state) != up ]] || fail "tunnel revoked is up"

step "accept-new neither takes nor records a revoked key"
err=$(error_of revnew)
echo "$err"
assert_match "$err" "marked @revoked" "revnew's error"
cmp -s "$TEST_DIR/kh_revoked_new" "$TEST_DIR/kh_revoked_new.orig" ||
	fail "accept-new changed the known_hosts file: $(cat "$TEST_DIR/kh_revoked_new")"

step "@cert-authority lines are skipped, with a debug line; the plain entry works"
wait_state ca up 20
grep -q "kh_ca:1: @cert-authority lines are not supported" "$DAEMON_LOG" ||
	fail "no debug line about the @cert-authority line"
pass "unreadable known_hosts refused with the reason; @revoked keys refused (accept-new too); @cert-authority skipped and logged"
