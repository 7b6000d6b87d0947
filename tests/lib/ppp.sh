# shellcheck shell=bash
# tests/lib/ppp.sh: ppp-ssh on a host whose kernel has no PPP, sourced FIRST
# (before common.sh): it runs the test again in a network namespace of its
# own, so that the interfaces the pppd stand-in makes and the routes warren
# installs never touch the host's. Needs root, unshare and /dev/net/tun;
# skips without them.
#
# After common.sh and sshd.sh: ppp_standins sets PPP_DIR (the stand-ins'
# events and control files) and PPPD (an executable that runs
# tools/pppd_standin.py), REMOTE_CMD (tools/ppp_remote_standin.py as the
# gateway's remote_command); ppp_tunnel writes a [tunnel] section.

if [[ -z ${WARREN_PPP_NETNS:-} ]]; then
	if [[ $(id -u) != 0 ]]; then
		echo "SKIP: $(basename "$0" .sh): needs root (a network namespace, tun, routes)"
		exit 77
	fi
	if ! command -v unshare >/dev/null || ! unshare --net true 2>/dev/null; then
		echo "SKIP: $(basename "$0" .sh): cannot make a network namespace (unshare --net)"
		exit 77
	fi
	if [[ ! -c /dev/net/tun ]]; then
		echo "SKIP: $(basename "$0" .sh): no /dev/net/tun"
		exit 77
	fi
	WARREN_PPP_NETNS=1 exec unshare --net -- bash "$0" "$@"
fi
ip link set lo up

# ppp_standins: the stand-ins for the local and the remote pppd.
# shellcheck disable=SC2034 # PPP_DIR, PPPD and REMOTE_CMD are for the tests
ppp_standins() {
	PPP_DIR="$TEST_DIR/ppp"
	mkdir -p "$PPP_DIR"
	PPPD="$TEST_DIR/pppd"
	printf '#!/bin/sh\nexec python3 %q "$@"\n' "$TOOLS/pppd_standin.py" >"$PPPD"
	chmod 755 "$PPPD"
	REMOTE_CMD=$(printf 'python3 %q %q' "$TOOLS/ppp_remote_standin.py" "$PPP_DIR")
}

# ppp_tunnel NAME [KEY = VALUE...]: a ppp-ssh [tunnel] through gateway gw
# with the stand-ins; a line given replaces the default of its key.
ppp_tunnel() {
	local name=$1
	shift
	config_section "tunnel $name" "$@" <<EOF
transport = ppp-ssh
gateway = gw
retry_min = 1s
retry_max = 2s
local_ip = 10.77.0.1
remote_ip = 10.77.0.2
pppd = $PPPD
EOF
}

# ppp_events: the stand-ins' event log.
ppp_events() {
	cat "$PPP_DIR/events" 2>/dev/null || true
}

# ppp_event_count REGEX: how many events match.
ppp_event_count() {
	grep -cE "$1" "$PPP_DIR/events" 2>/dev/null || true
}

# daemon_children: the daemon's child processes (zombies included).
daemon_children() {
	ps -o pid=,stat=,args= --ppid "$DAEMON_PID" 2>/dev/null || true
}
