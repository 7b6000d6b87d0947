#!/usr/bin/env bash
# tests/vm/guest_ppp.sh: runs INSIDE warren's test VM (tests/vm/ppp_vm.sh
# boots it), as root on a kernel with PPP. Two network namespaces joined by
# a veth pair stand for a client and a gateway host; a dummy interface in the
# gateway is the network behind it; sshd runs in the gateway; `warren run`
# runs in the client with a real ppp-ssh tunnel and real pppd on both ends:
#  - the link comes up, on a pppN interface with 10.77.0.1 peer 10.77.0.2;
#  - warren's route (installed through libnl) leads to the gateway's network;
#  - ping answers across the link and through the route;
#  - the remote pppd killed: the link comes back by itself, ping answers again;
#  - warren run stopped (SIGINT, as Ctrl-C): the route is gone, no pppd left.
# Every address lives in a namespace this script made. Every wait is
# bounded. Needs WARREN_BIN and WARREN_PLUGIN_DIR.
# shellcheck disable=SC2016 # wait_for's commands are evaluated later, on purpose
set -euo pipefail

: "${WARREN_BIN:?}" "${WARREN_PLUGIN_DIR:?}"
W=$(mktemp -d "${TMPDIR:-/run}/ppp.XXXXXX")
NET=10.202.0.0/24
WPID=""
SSHD=""

step() { printf '== %s\n' "$*"; }

dump() {
	local f
	for f in "$W"/*.log; do
		echo "---- $f"
		tail -n 60 "$f"
	done
	echo "---- client routes"
	ip -n wcli route 2>&1 || true
	echo "---- client links"
	ip -n wcli -br addr 2>&1 || true
}

fail() {
	echo "WVM-RESULT: FAIL: $*"
	dump
	exit 1
}

# wait_for CMD SECONDS: until the shell command CMD succeeds.
wait_for() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		eval "$1" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

cleanup() {
	[[ -z $WPID ]] || kill -KILL "$WPID" 2>/dev/null || true
	[[ -z $SSHD ]] || kill -TERM "$SSHD" 2>/dev/null || true
}
trap cleanup EXIT

# pids_in NS COMM: processes named COMM in namespace NS.
pids_in() {
	local p
	for p in $(ip netns pids "$1" 2>/dev/null); do
		[[ $(cat "/proc/$p/comm" 2>/dev/null) == "$2" ]] && echo "$p"
	done
	return 0
}

route_dev() {
	ip -n wcli -4 route show "$NET" 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p'
}

cping() {
	ip netns exec wcli busybox ping -c "$2" -W 5 "$1"
}

step "two hosts: client and gateway namespaces joined by veth, a network behind the gateway"
ip netns add wcli
ip netns add wgw
ip link add wv0 type veth peer name wv1
ip link set wv0 netns wcli
ip link set wv1 netns wgw
ip -n wcli addr add 10.201.0.1/24 dev wv0
ip -n wgw addr add 10.201.0.2/24 dev wv1
for ns in wcli wgw; do
	ip -n "$ns" link set lo up
done
ip -n wcli link set wv0 up
ip -n wgw link set wv1 up
ip -n wgw link add wdum0 type dummy
ip -n wgw addr add 10.202.0.1/24 dev wdum0
ip -n wgw link set wdum0 up
cping 10.201.0.2 1 >/dev/null || fail "the veth link does not work"
cping 10.202.0.1 1 >/dev/null 2>&1 && fail "the gateway's network is reachable without the VPN"

step "sshd in the gateway"
mkdir -m 700 "$W/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$W/ssh/host"
ssh-keygen -q -t ed25519 -N '' -f "$W/ssh/id"
cp "$W/ssh/id.pub" "$W/ssh/authorized_keys"
printf '10.201.0.2 %s\n' "$(cut -d' ' -f1,2 "$W/ssh/host.pub")" >"$W/ssh/known_hosts"
cat >"$W/ssh/sshd_config" <<EOF
ListenAddress 10.201.0.2:22
HostKey $W/ssh/host
PidFile none
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile $W/ssh/authorized_keys
PermitRootLogin prohibit-password
EOF
ip netns exec wgw /usr/sbin/sshd -D -e -f "$W/ssh/sshd_config" >"$W/sshd.log" 2>&1 &
SSHD=$!
wait_for "ip netns exec wcli bash -c 'exec 3<>/dev/tcp/10.201.0.2/22'" 30 || fail "sshd does not listen"

step "warren run in the client"
cat >"$W/warren.conf" <<EOF
[gateway gw]
host = 10.201.0.2
user = root
identity = $W/ssh/id
agent = no
known_hosts = $W/ssh/known_hosts
host_key_check = strict
keepalive = 5s
connect_timeout = 20s

[tunnel vpn]
transport = ppp-ssh
gateway = gw
retry_min = 1s
retry_max = 2s
local_ip = 10.77.0.1
remote_ip = 10.77.0.2
route = $NET
mtu = 1400
pppd = /usr/sbin/pppd
remote_command = /usr/sbin/pppd nodetach notty noauth
EOF
"$WARREN_BIN" check -c "$W/warren.conf" --plugin-dir "$WARREN_PLUGIN_DIR" || fail "warren check"
ip netns exec wcli "$WARREN_BIN" run -c "$W/warren.conf" --plugin-dir "$WARREN_PLUGIN_DIR" -v vpn \
	>"$W/warren.log" 2>&1 &
WPID=$!
start=$SECONDS

step "the PPP link comes up and the route goes through it"
wait_for '[[ $(route_dev) == ppp* ]]' 120 || fail "no route through a ppp interface"
dev=$(route_dev)
echo "link up on $dev after $((SECONDS - start)) s"
ip -n wcli -4 addr show dev "$dev" | grep -q 'inet 10.77.0.1 peer 10.77.0.2' ||
	fail "$dev does not carry 10.77.0.1 peer 10.77.0.2"
grep -q "route $NET dev $dev installed" "$W/warren.log" || fail "warren did not log the route"

step "ping across the link, and through the route to the gateway's network"
cping 10.77.0.2 3 || fail "no answer across the PPP link"
cping 10.202.0.1 3 || fail "no answer through the route"

step "the remote pppd killed: the link comes back by itself"
rpid=$(pids_in wgw pppd)
lpid=$(pids_in wcli pppd)
[[ -n $rpid && -n $lpid ]] || fail "pppd not running on both ends (remote '$rpid', local '$lpid')"
# shellcheck disable=SC2086 # one pid a word
kill -KILL $rpid
wait_for "[[ -z \$(pids_in wcli pppd | grep -x '$lpid') ]]" 30 ||
	fail "the local pppd $lpid outlived the link"
start=$SECONDS
wait_for '[[ -n $(pids_in wcli pppd) && $(route_dev) == ppp* ]]' 120 ||
	fail "the link did not come back"
echo "link back on $(route_dev) after $((SECONDS - start)) s"
wait_for "cping 10.202.0.1 1" 30 || fail "no answer through the route after the link came back"
cping 10.202.0.1 3 || fail "no answer through the route after the link came back"

step "warren run stopped with SIGINT: orderly stop, the route is gone, no pppd left"
kill -INT "$WPID"
wait_for "! kill -0 $WPID" 20 || fail "warren run still running 20 s after SIGINT"
rc=0
wait "$WPID" || rc=$?
WPID=""
[[ $rc == 0 ]] || fail "warren run exited with status $rc"
[[ -z $(ip -n wcli -4 route show "$NET") ]] || fail "the route is still there"
wait_for '[[ -z $(pids_in wcli pppd) ]]' 10 || fail "a pppd is left in the client"
grep -q "route $NET dev ppp[0-9]* removed" "$W/warren.log" || fail "warren did not remove the route itself"
cping 10.202.0.1 1 >/dev/null 2>&1 && fail "the gateway's network is still reachable"

echo "---- warren.log (end)"
tail -n 15 "$W/warren.log"
echo "WVM-RESULT: PASS"
