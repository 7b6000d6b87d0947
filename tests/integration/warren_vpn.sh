#!/usr/bin/env bash
# warren_vpn: scripts/warren-vpn against a running daemon and a real sshd,
# with the ppp-ssh stand-ins of lib/ppp.sh (in a network namespace):
#  - up through a [gateway] of the config writes a managed block, has the
#    daemon reload, returns 0 once the link is up (route installed);
#  - the same up again reuses the block without rewriting the file;
#  - status exits 0 while up, 1 once down; down waits for the link to close;
#  - up USER@HOST:PORT writes a gateway section of its own;
#  - a gateway whose sudo wants a password: exit 1, the reason and the
#    sudoers rule to add, nothing left retrying;
#  - pppd missing, no root, a bad route: exit 2 with the reason, the config
#    file untouched; a daemon that is not running: exit 1 and how to start it.
# shellcheck source=../lib/ppp.sh
. "$(dirname "$0")/../lib/ppp.sh"
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

VPN="$WARREN_TESTS_DIR/../scripts/warren-vpn"
[[ -f $VPN ]] || fail "no $VPN"
export WARREN="$WARREN_BIN"
start_sshd
ppp_standins
gateway_section gw >"$CONF"
start_daemon "$CONF"

vpn() { bash "$VPN" -c "$CONF" "$@"; }
STANDINS=(--pppd "$PPPD" --pppd-options "standin_dir=$PPP_DIR" --remote-pppd "$REMOTE_CMD")
sum() { sha256sum "$CONF" | cut -d' ' -f1; }

step "up through a [gateway] section: the block is written, the VPN comes up"
expect_rc 0 vpn up gw --name office --local-ip 10.79.0.1 --remote-ip 10.79.0.2 \
	--route 192.168.79.0/24 "${STANDINS[@]}" --wait 30
assert_contains "$OUT" "wrote tunnel office to $CONF" "up output"
assert_match "$OUT" "office is up: interface wppp[0-9]+, 10.79.0.1 -> 10.79.0.2, routes 192.168.79.0/24" "up output"
grep -q '^# BEGIN warren-vpn office' "$CONF" || fail "no managed block in $CONF"
grep -q '^# END warren-vpn office' "$CONF" || fail "the managed block is not closed"
assert_contains "$(ip -4 route show 192.168.79.0/24)" "dev wppp" "route"
assert_eq "$(tunnel_get office state)" up "state"

step "the same up again: the definition is reused, the file not rewritten"
before=$(sum)
expect_rc 0 vpn up gw --name office --local-ip 10.79.0.1 --remote-ip 10.79.0.2 \
	--route 192.168.79.0/24 "${STANDINS[@]}" --wait 30
assert_contains "$OUT" "reusing the definition of office" "second up"
assert_eq "$(sum)" "$before" "config file after a second up"

step "status: 0 while up; down; status: 1"
expect_rc 0 vpn status office
assert_contains "$OUT" "office" "status output"
expect_rc 0 vpn down office
assert_contains "$OUT" "office is down" "down output"
expect_rc 1 vpn status office
[[ -z $(ip -4 route show 192.168.79.0/24) ]] || fail "route left after down"

step "up USER@HOST:PORT: a gateway section is written too"
target="$(id -un)@127.0.0.1:$SSHD_PORT"
expect_rc 0 vpn up "$target" --identity "$USER_KEY" --known-hosts "$KNOWN_HOSTS" \
	--local-ip 10.79.1.1 --remote-ip 10.79.1.2 "${STANDINS[@]}" --wait 30
assert_contains "$OUT" "vpn-127.0.0.1 is up" "up output"
grep -q '^\[gateway vpn-127.0.0.1-gw\]' "$CONF" || fail "no gateway section written"
expect_rc 0 vpn down "$target"

step "the gateway's sudo wants a password: exit 1, the reason, the rule to add"
printf '#!/bin/sh\necho "sudo: a password is required" >&2\nexit 1\n' >"$TEST_DIR/fake-sudo"
chmod 755 "$TEST_DIR/fake-sudo"
expect_rc 1 vpn up gw --name nosudo --local-ip 10.79.2.1 --remote-ip 10.79.2.2 \
	--pppd "$PPPD" --pppd-options "standin_dir=$PPP_DIR" --remote-pppd "$TEST_DIR/fake-sudo" --wait 30
assert_contains "$ERR" "nosudo did not come up" "sudo failure"
assert_contains "$ERR" "sudo: a password is required" "sudo failure"
assert_contains "$ERR" "NOPASSWD: $TEST_DIR/fake-sudo" "sudo hint"
wait_state nosudo down 10

step "pppd missing, no root, a bad route: exit 2, the config untouched"
before=$(sum)
expect_rc 2 vpn up gw --name x1 --pppd /nonexistent/pppd
assert_contains "$ERR" "install the ppp package" "no pppd"
expect_rc 2 setpriv --reuid=65534 --regid=65534 --clear-groups bash "$VPN" -c "$CONF" up gw --name x2
assert_contains "$ERR" "up needs root" "not root"
expect_rc 2 vpn up gw --name x3 --route 10.1.2.3/40 "${STANDINS[@]}"
assert_contains "$ERR" "route: '10.1.2.3/40' is not an IPv4 CIDR network" "bad route"
assert_contains "$ERR" "$CONF is unchanged" "bad route"
expect_rc 2 vpn up gw --name x4 --local-ip 10.79.3.1 --remote-ip 10.79.3.1 "${STANDINS[@]}"
assert_contains "$ERR" "remote_ip is the same as local_ip" "same addresses"
expect_rc 2 vpn frobnicate gw
assert_eq "$(sum)" "$before" "config file after refused ups"

step "the daemon not running: exit 1 and how to start it"
stop_daemon
expect_rc 1 vpn status office
assert_contains "$ERR" "daemon is not reachable" "no daemon"
pass "up (section and USER@HOST:PORT), reuse, status, down, sudo hint, exit 2 for pppd/root/route, exit 1 without daemon"
