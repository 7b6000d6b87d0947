#!/usr/bin/env bash
# ppp_ssh_host: the ppp-ssh transport on a kernel without PPP, with stand-ins
# for both pppds (tools/pppd_standin.py on the pty, with a tun interface in
# place of ppp0; tools/ppp_remote_standin.py as remote_command on a real
# sshd), inside a network namespace of the test's own:
#  - 256 KiB of all byte values pass pty -> channel -> remote and back intact;
#    the remote's stderr reaches the log and stays out of the data;
#  - the link is seen through netlink: status names the interface, the route
#    is installed through it;
#  - the local "pppd" exiting, the remote command exiting, and the SSH link
#    dying each make the tunnel retry and come back by itself, with the
#    reason in the log;
#  - `warren down` removes the route before it sends SIGTERM, and reaps pppd;
#    a pppd deaf to SIGTERM and to the hangup is SIGKILLed within the grace;
#  - 20 up/down cycles leak nothing: the daemon's fds and the ptys back to
#    their count before, no child left, zombie or not, no route, no interface;
#  - SIGTERM to the daemon stops the link in order and quickly.
# shellcheck source=../lib/ppp.sh
. "$(dirname "$0")/../lib/ppp.sh"
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

ROUTE=192.168.77.0/24
NBYTES=262144

start_sshd
ppp_standins
{
	gateway_section gw
	ppp_tunnel vpn "autostart = yes" "route = $ROUTE" \
		"pppd_options = \"standin_dir=$PPP_DIR check_route=$ROUTE bytes=$NBYTES\"" \
		"remote_command = $REMOTE_CMD"
} >"$CONF"
start_daemon "$CONF"
wait_state vpn up 30

step "status: the interface, both addresses, the route installed, the pppd and its pty"
IFACE=$(tunnel_get vpn details.interface)
assert_match "$IFACE" '^wppp[0-9]+$' "interface"
assert_eq "$(tunnel_get vpn details.local_ip)" 10.77.0.1 "local_ip"
assert_eq "$(tunnel_get vpn details.remote_ip)" 10.77.0.2 "remote_ip"
assert_eq "$(tunnel_get vpn details.routes.0.route)" "$ROUTE" "route"
assert_eq "$(tunnel_get vpn details.routes.0.installed)" true "route installed"
assert_match "$(tunnel_get vpn details.link_uptime)" '^[0-9]+$' "link_uptime"
assert_match "$(tunnel_get vpn details.pty)" '^/dev/pts/[0-9]+$' "pty"
PID1=$(tunnel_get vpn details.pppd_pid)
assert_match "$PID1" '^[0-9]+$' "pppd_pid"
assert_contains "$(ip -4 route show "$ROUTE")" "dev $IFACE" "the kernel's route"
assert_contains "$(ppp_events)" "start args=nodetach,noauth,local,nodefaultroute,ipparam,vpn" "pppd's arguments"
assert_contains "$(ppp_events)" "10.77.0.1:10.77.0.2" "pppd's addresses"

step "$NBYTES bytes of every byte value through pty and channel, both ways"
wait_for "grep -q 'echo-ok $NBYTES $PID1' '$PPP_DIR/events'" 30 ||
	fail "no intact echo: $(ppp_events)"
js=$(status_json)
(($(json_get "$js" tunnels.name=vpn.bytes_out) >= NBYTES)) || fail "bytes_out too small: $js"
(($(json_get "$js" tunnels.name=vpn.bytes_in) >= NBYTES)) || fail "bytes_in too small: $js"
assert_match "$(json_get "$js" tunnels.name=vpn.details.link_bytes_out)" '^[0-9]+$' "link_bytes_out"
wait_for "grep -q 'remote: remote standin: started' '$DAEMON_LOG'" 10 ||
	fail "the remote command's stderr is not in the log"
wait_for "grep -q 'pppd: pppd_standin: wppp' '$DAEMON_LOG'" 10 ||
	fail "pppd's stderr is not in the log"

step "the local pppd exits: the tunnel retries and comes back with a new pppd"
R0=$(tunnel_get vpn restarts)
touch "$PPP_DIR/exit-now"
wait_for "grep -q 'pppd exited with status 16 (the link was hung up)' '$DAEMON_LOG'" 15 ||
	fail "no failure for the pppd's exit in the log"
wait_for "[[ \$(tunnel_get vpn state) == up && \$(tunnel_get vpn restarts) -gt $R0 ]]" 30 ||
	fail "not back up: $(tunnel_get vpn)"
PID2=$(tunnel_get vpn details.pppd_pid)
[[ $PID2 != "$PID1" ]] || fail "the same pppd pid after a retry"
alive "$PID1" && fail "the old pppd $PID1 still exists (zombie?)"
assert_eq "$(tunnel_get vpn details.routes.0.installed)" true "route installed again"

step "the remote command exits: the tunnel retries, the reason carries its status and stderr"
R0=$(tunnel_get vpn restarts)
touch "$PPP_DIR/remote-exit-now"
wait_for "grep -q 'exited with status 3: remote standin: told to exit' '$DAEMON_LOG'" 15 ||
	fail "no failure for the remote command's exit in the log"
wait_for "[[ \$(tunnel_get vpn state) == up && \$(tunnel_get vpn restarts) -gt $R0 ]]" 30 ||
	fail "not back up: $(tunnel_get vpn)"
alive "$PID2" && fail "the pppd $PID2 of the failed round still exists"

step "the SSH link dies (sshd stopped): pppd ended, the route gone, retrying; sshd back: up again"
PIDS=$(tunnel_get vpn details.pppd_pid)
stop_sshd
wait_state vpn retrying 15
wait_for "! alive $PIDS" 6 || fail "pppd $PIDS outlived the SSH link"
[[ -z $(ip -4 route show "$ROUTE") ]] || fail "route left after the SSH link died"
start_sshd
wait_state vpn up 30
assert_eq "$(tunnel_get vpn details.routes.0.installed)" true "route installed again"

step "warren down: the route goes first, then SIGTERM; pppd reaped"
PID3=$(tunnel_get vpn details.pppd_pid)
IFACE=$(tunnel_get vpn details.interface)
expect_rc 0 warren_cli down vpn
wait_state vpn down 10
wait_for "grep -q 'term route_present=no $PID3' '$PPP_DIR/events'" 10 ||
	fail "pppd did not get SIGTERM after the route was removed: $(ppp_events)"
wait_for "! alive $PID3" 5 || fail "pppd $PID3 still there"
[[ -z $(daemon_children) ]] || fail "children left: $(daemon_children)"
[[ -z $(ip -4 route show "$ROUTE") ]] || fail "route left: $(ip -4 route show "$ROUTE")"
[[ -z $(ip -o link show "$IFACE" 2>/dev/null) ]] || fail "interface $IFACE left"
assert_eq "$(tunnel_get vpn details.pppd_pid)" null "pppd_pid when down"

step "a pppd deaf to SIGTERM and to the hangup: SIGKILL within the grace"
touch "$PPP_DIR/ignore-term"
expect_rc 0 warren_cli up vpn --wait 30
PID4=$(tunnel_get vpn details.pppd_pid)
start=$SECONDS
expect_rc 0 warren_cli down vpn
wait_for "[[ \$(tunnel_get vpn state) == down ]]" 10 || fail "not down: $(tunnel_get vpn)"
wait_for "! alive $PID4" 5 || fail "pppd $PID4 survived"
((SECONDS - start <= 6)) || fail "stopping took $((SECONDS - start)) s"
grep -q "term-ignored $PID4" "$PPP_DIR/events" || fail "the stand-in did not ignore SIGTERM"
grep -q "SIGKILL" "$DAEMON_LOG" || fail "no SIGKILL logged"
grep -q "did not finish stopping" "$DAEMON_LOG" && fail "the core had to cut the stop short"
[[ -z $(daemon_children) ]] || fail "children left: $(daemon_children)"
rm -f "$PPP_DIR/ignore-term"

step "20 up/down cycles leak nothing"
# The ptys the daemon holds (masters are /dev/ptmx fds): /dev/pts itself is
# the whole machine's, and other programs open and close ptys meanwhile.
pts_count() { find "/proc/$DAEMON_PID/fd" -mindepth 1 -maxdepth 1 -lname '/dev/ptmx' -o -lname '/dev/pts/*' 2>/dev/null | wc -l; }
fd_count() { find "/proc/$DAEMON_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
expect_rc 0 warren_cli up vpn --wait 30
expect_rc 0 warren_cli down vpn
wait_state vpn down 10
wait_for "[[ -z \$(daemon_children) ]]" 5 || fail "children left: $(daemon_children)"
FD0=$(fd_count)
PTS0=$(pts_count)
for ((i = 1; i <= 20; i++)); do
	expect_rc 0 warren_cli up vpn --wait 30
	[[ $(tunnel_get vpn details.routes.0.installed) == true ]] || fail "cycle $i: route not installed"
	expect_rc 0 warren_cli down vpn
	wait_state vpn down 10
	wait_for "[[ -z \$(daemon_children) ]]" 5 || fail "cycle $i: children left: $(daemon_children)"
done
FD1=$(fd_count)
PTS1=$(pts_count)
assert_eq "$FD1" "$FD0" "daemon fds after 20 cycles"
assert_eq "$PTS1" "$PTS0" "ptys after 20 cycles"
[[ -z $(ip -4 route show "$ROUTE") ]] || fail "route left after the cycles"
[[ -z $(ip -o link show | grep wppp || true) ]] || fail "interfaces left: $(ip -o link show | grep wppp)"
starts=$(ppp_event_count '^start ')
((starts >= 24)) || fail "only $starts pppd starts seen"
step "SIGTERM to the daemon with the link up: an orderly stop within 2 s, pppd reaped"
expect_rc 0 warren_cli up vpn --wait 30
PID5=$(tunnel_get vpn details.pppd_pid)
start=$SECONDS
stop_daemon
((SECONDS - start <= 2)) || fail "the daemon took $((SECONDS - start)) s to stop"
assert_eq "$EXIT_RC" 0 "daemon exit status"
alive "$PID5" && fail "pppd $PID5 outlived the daemon"
grep -q "did not finish stopping" "$DAEMON_LOG" && fail "the core had to cut the stop short"
grep -q "term route_present=no $PID5" "$PPP_DIR/events" || fail "no orderly SIGTERM: $(ppp_events)"
[[ -z $(ip -4 route show "$ROUTE") ]] || fail "route left after the daemon stopped"
pass "bytes both ways intact, routes via netlink, retry on pppd exit, remote exit and SSH death, SIGTERM/SIGKILL, 20 cycles: fds $FD0 -> $FD1, ptys $PTS0 -> $PTS1"
