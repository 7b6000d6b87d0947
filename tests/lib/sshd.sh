# shellcheck shell=bash
# tests/lib/sshd.sh: a private OpenSSH sshd for the SSH tests, sourced after
# common.sh.
#
# start_sshd starts /usr/sbin/sshd in the foreground (-D -e) on 127.0.0.1 and
# a free port, with its own config, a throwaway ed25519 host key and a
# throwaway ed25519 user key in $TEST_DIR/ssh, for the user running the test
# (root logs in too: PermitRootLogin prohibit-password). Nothing outside
# $TEST_DIR is touched, except /run/sshd, the privilege separation directory
# sshd demands when run as root. The sshd is stopped by common.sh's cleanup.
#
# Sets: SSHD_PORT, SSHD_PID, SSH_DIR, USER_KEY (private key file),
# KNOWN_HOSTS (a known_hosts file holding the host key as [127.0.0.1]:PORT),
# HOST_KEY.

SSHD_BIN=${SSHD_BIN:-/usr/sbin/sshd}
SSH_DIR="$TEST_DIR/ssh"

command -v ssh-keygen >/dev/null || skip "ssh-keygen is not installed (openssh-client)"
[[ -x $SSHD_BIN ]] || skip "no sshd at $SSHD_BIN (openssh-server)"

# sshd_keys: host key, user key, authorized_keys, known_hosts (once).
sshd_keys() {
	mkdir -p "$SSH_DIR"
	chmod 700 "$SSH_DIR"
	HOST_KEY="$SSH_DIR/host_ed25519"
	USER_KEY="$SSH_DIR/id_ed25519"
	[[ -f $HOST_KEY ]] || ssh-keygen -q -t ed25519 -N '' -C warren-test-host -f "$HOST_KEY"
	[[ -f $USER_KEY ]] || ssh-keygen -q -t ed25519 -N '' -C warren-test-user -f "$USER_KEY"
	cp "$USER_KEY.pub" "$SSH_DIR/authorized_keys"
	chmod 600 "$SSH_DIR/authorized_keys"
}

# sshd_config [EXTRA LINES...]: write $SSH_DIR/sshd_config for $SSHD_PORT.
sshd_config() {
	{
		cat <<EOF
ListenAddress 127.0.0.1:$SSHD_PORT
HostKey $HOST_KEY
PidFile none
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile $SSH_DIR/authorized_keys
PermitRootLogin prohibit-password
AllowTcpForwarding yes
GatewayPorts no
MaxStartups 100:30:200
MaxSessions 50
LogLevel VERBOSE
EOF
		local line
		for line in "$@"; do
			echo "$line"
		done
	} >"$SSH_DIR/sshd_config"
}

# known_hosts_for PORT [KEYFILE]: the known_hosts line of the host key.
known_hosts_line() {
	local port=$1 key=${2:-$HOST_KEY}
	printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$key.pub")"
}

# start_sshd [--x11] [EXTRA CONFIG LINES...]: start sshd; waits until it
# accepts. Reuses SSHD_PORT when set (a restart on the same port). --x11
# turns X11 forwarding on (displays on 127.0.0.1:6010 and up, xauth run for
# each session) with SSHD_XAUTHORITY ($TEST_DIR/gateway.xauth) as every
# session's XAUTHORITY, so that the cookies sshd adds stay out of ~.
start_sshd() {
	local x11=()
	if [[ ${1:-} == --x11 ]]; then
		shift
		[[ -x /usr/bin/xauth ]] || skip "no /usr/bin/xauth (package xauth)"
		SSHD_XAUTHORITY="$TEST_DIR/gateway.xauth"
		: >"$SSHD_XAUTHORITY" # else xauth says it creates it, on stderr
		x11=("X11Forwarding yes" "X11UseLocalhost yes" "XAuthLocation /usr/bin/xauth"
			"SetEnv XAUTHORITY=$SSHD_XAUTHORITY")
	fi
	sshd_keys
	SSHD_PORT=${SSHD_PORT:-$(free_port)}
	sshd_config "${x11[@]}" "$@"
	if [[ $(id -u) == 0 ]]; then
		mkdir -p /run/sshd
		chmod 755 /run/sshd
	fi
	"$SSHD_BIN" -t -f "$SSH_DIR/sshd_config" || fail "sshd rejects its config"
	spawn "$TEST_DIR/sshd.log" "$SSHD_BIN" -D -e -f "$SSH_DIR/sshd_config"
	SSHD_PID=$SPAWNED_PID
	wait_for "port_open $SSHD_PORT" 10 || fail "sshd did not listen on 127.0.0.1:$SSHD_PORT"
	KNOWN_HOSTS="$SSH_DIR/known_hosts"
	[[ -f $KNOWN_HOSTS ]] || known_hosts_line "$SSHD_PORT" >"$KNOWN_HOSTS"
}

# sshd_tree: the listening sshd and every process it forked (one per
# connection, which may have left its session), one pid a line.
sshd_tree() {
	local todo=("$SSHD_PID") pid kids i=0
	while ((i < ${#todo[@]} && i < 200)); do
		pid=${todo[i]}
		echo "$pid"
		kids=$(pgrep -P "$pid" 2>/dev/null || true)
		# shellcheck disable=SC2206 # pids
		[[ -z $kids ]] || todo+=($kids)
		i=$((i + 1))
	done
}

# stop_sshd: SIGTERM the sshd and its connection processes (a server that
# goes away, not just its listener) and wait.
stop_sshd() {
	local pids
	pids=$(sshd_tree)
	# shellcheck disable=SC2086 # a list of pids
	kill -TERM $pids 2>/dev/null || true
	wait_exit "$SSHD_PID" 5 || fail "sshd still running 5 s after SIGTERM"
	wait_for "! kill -0 $(echo $pids | tr ' ' ' ') 2>/dev/null" 5 || true
}

# gateway_section NAME [KEY = VALUE...]: a [gateway] for the test sshd; a
# line given replaces the default of its key.
gateway_section() {
	local name=$1
	shift
	config_section "gateway $name" "$@" <<EOF
host = 127.0.0.1
port = $SSHD_PORT
user = $(id -un)
identity = $USER_KEY
agent = no
known_hosts = $KNOWN_HOSTS
host_key_check = strict
keepalive = 5s
keepalive_max = 3
connect_timeout = 5s
EOF
}

# forward_get TUNNEL INDEX FIELD: a field of forwards[INDEX] in status.
forward_get() {
	tunnel_get "$1" "details.forwards.$2.$3"
}
