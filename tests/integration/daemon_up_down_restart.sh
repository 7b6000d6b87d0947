#!/usr/bin/env bash
# daemon_up_down_restart: `warren down NAME` stops a tunnel (state down, its
# port closed) and leaves the others alone; `warren up NAME --wait 10` brings
# it back and returns 0 once it works; `warren restart NAME` restarts it;
# `warren up` of an unknown tunnel exits 1 with a message naming it.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

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
echo_check "$P1"

step "warren down web"
expect_rc 0 warren_cli down web
wait_state web down 10
wait_for "! port_open $P1" 5 || fail "port $P1 still accepts connections after 'warren down web'"
port_listening "$P1" && fail "something still listens on $P1 after 'warren down web': $(ss -Hltn "sport = :$P1")"
assert_eq "$(tunnel_get other state)" up "the other tunnel's state"
echo_check "$P2"

step "warren up web --wait 10"
expect_rc 0 warren_cli up web --wait 10
assert_eq "$(tunnel_get web state)" up "state right after up --wait returned"
echo_check "$P1"

step "warren restart web"
SINCE=$(tunnel_get web since)
sleep 1.1 # so that a new since differs
expect_rc 0 warren_cli restart web
wait_state web up 10
echo_check "$P1"
NEW_SINCE=$(tunnel_get web since)
[[ $NEW_SINCE != "$SINCE" ]] || fail "since did not move on restart (still $SINCE)"

step "warren up nosuch"
expect_rc 1 warren_cli up nosuch
assert_contains "$ERR$OUT" nosuch "the message for an unknown tunnel"
expect_rc 1 warren_cli up nosuch --wait 2

assert_eq "$(tunnel_get other state)" up "the other tunnel's state at the end"
pass "down, up --wait and restart act on one tunnel; unknown names exit 1"
