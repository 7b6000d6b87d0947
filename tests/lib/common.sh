# shellcheck shell=bash
# tests/lib/common.sh: sourced by every tests/integration/*.sh.
#
# Gives a test its own temp dir ($TEST_DIR) with a control socket ($SOCK) and
# a config path ($CONF); starts the daemon and loopback servers in their own
# sessions and, at exit, stops all of them: SIGTERM, 5 s, then SIGKILL. A
# process that ended by itself without the test waiting for it (wait_exit),
# ignored SIGTERM, or was left behind in a stopped one's session fails the
# test. Every loop here is bounded in count and time, a watchdog ends a test
# that runs past WARREN_TEST_TIMEOUT (180 s), and all traffic stays on
# 127.0.0.1.
#
# Environment (set by `make check`; defaults fit a build made by
# scripts/setup.sh): WARREN_BIN, WARREN_TEST_PLUGIN_DIR, WARREN_TESTS_DIR.
# WARREN_KEEP_TEST_DIR=1 keeps the temp dir for a look afterwards.
# WARREN_VALGRIND=1 runs the daemon (start_daemon) under valgrind memcheck,
# with every waiting time of the harness 5 times longer; any memcheck error
# or leak fails the test (use a build without --enable-sanitizers).
# WARREN_LOG_ARCHIVE=DIR keeps every daemon log (and the secrets the test
# used, see register_secret) in DIR after the test, for a final look over the
# whole run (integration/security_no_secrets_in_logs.sh). A daemon log that
# holds a sanitizer report (ASan, LSan, UBSan) fails the test.
#
# Exit codes follow automake: 0 pass, 1 fail, 77 skip, 99 hard error.

set -eEuo pipefail
shopt -s inherit_errexit

TEST_NAME=$(basename "$0" .sh)
WARREN_TESTS_DIR=${WARREN_TESTS_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
WARREN_BIN=${WARREN_BIN:-$WARREN_TESTS_DIR/../build/core/warren}
WARREN_TEST_PLUGIN_DIR=${WARREN_TEST_PLUGIN_DIR:-$WARREN_TESTS_DIR/../build/plugins/lib}
TOOLS="$WARREN_TESTS_DIR/tools"

TEST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/warren-$TEST_NAME.XXXXXX")
SOCK="$TEST_DIR/warren.sock"
CONF="$TEST_DIR/warren.conf"
DAEMON_LOG="$TEST_DIR/daemon.log"
DAEMON_PID=""

# WARREN_VALGRIND=1: the command start_daemon puts before the daemon, and a
# factor for the harness's waits (valgrind slows the daemon down ~20x).
DAEMON_WRAP=()
SLOW=1
if [[ ${WARREN_VALGRIND:-} == 1 ]]; then
	command -v valgrind >/dev/null || {
		echo "ERROR: WARREN_VALGRIND=1 but valgrind is not installed" >&2
		exit 99
	}
	DAEMON_WRAP=(valgrind --tool=memcheck --leak-check=full
		--show-leak-kinds=definite,indirect,possible
		--errors-for-leak-kinds=definite,indirect,possible
		--num-callers=30 --error-exitcode=99
		--suppressions="$WARREN_TESTS_DIR/valgrind.supp"
		--log-file="$TEST_DIR/valgrind.%p.log")
	SLOW=5
fi

# Keep the user's own config, socket and plugins out of the tests.
export WARREN_CONFIG="$CONF" WARREN_SOCKET="$SOCK" WARREN_PLUGIN_DIR="$WARREN_TEST_PLUGIN_DIR"
export XDG_RUNTIME_DIR="$TEST_DIR"

_SPAWNED=()  # pids we started, each the leader of its own session
declare -A _SPAWN_CMD=() # pid -> command line, for messages
_SKIPPED=no
_PASS_MSG=""
_WATCHDOG=""

# --- reporting ---------------------------------------------------------------

step() { printf '== %s\n' "$*"; }

# pass [WHAT]: end the test; PASS is printed once cleanup found nothing wrong.
pass() {
	_PASS_MSG="PASS: $TEST_NAME${1:+: $*}"
	exit 0
}

fail() {
	printf 'FAIL: %s: %s\n' "$TEST_NAME" "$*" >&2
	exit 1
}

skip() {
	printf 'SKIP: %s: %s\n' "$TEST_NAME" "$*"
	_SKIPPED=yes
	exit 77
}

_on_err() {
	local rc=$1 line=$2
	# The trap is inherited by subshells (set -E); report once, from the test itself.
	[[ $BASHPID == "$$" ]] || return 0
	# Where: the failing line, then the calls that led to it.
	local where i
	where="${BASH_SOURCE[1]##*/}:$line"
	for ((i = 2; i < ${#BASH_SOURCE[@]}; i++)); do
		where+=" <- ${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]}"
	done
	# shellcheck disable=SC2016 # the backquotes are literal
	printf 'FAIL: %s: %s: `%s` exited %s\n' "$TEST_NAME" "$where" "$BASH_COMMAND" "$rc" >&2
}
trap '_on_err $? $LINENO' ERR
trap 'exit 1' INT TERM HUP

_dump_logs() {
	local f
	echo "---- what the test left in $TEST_DIR" >&2
	for f in "$TEST_DIR"/daemon*.log; do
		[[ -f $f ]] || continue
		echo "---- $f" >&2
		cat "$f" >&2
	done
	for f in "$TEST_DIR"/*.log; do
		[[ -f $f && $f != "$TEST_DIR"/daemon*.log ]] || continue
		echo "---- $f (last 30 lines)" >&2
		tail -n 30 "$f" >&2
	done
}

# --- processes -----------------------------------------------------------------

# alive PID: true while PID runs (a zombie counts as gone).
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat:0:1} != Z ]]
}

# session_procs SID: the pids still in session SID, one a line.
session_procs() {
	pgrep -s "$1" 2>/dev/null || true
}

# spawn LOG CMD...: run CMD in the background in its own session (so that all
# it starts can be found and stopped), stdout and stderr to LOG. Sets
# SPAWNED_PID.
spawn() {
	local log=$1
	shift
	setsid "$@" >>"$log" 2>&1 </dev/null &
	SPAWNED_PID=$!
	_SPAWNED+=("$SPAWNED_PID")
	_SPAWN_CMD[$SPAWNED_PID]="$*"
}

# forget PID: stop tracking PID (after the test waited for it itself).
forget() {
	local keep=() p
	for p in "${_SPAWNED[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	_SPAWNED=("${keep[@]}")
}

# wait_exit PID TIMEOUT: wait up to TIMEOUT seconds for PID (our child) to
# end; sets EXIT_RC to its exit status. Returns 1 if it is still running.
wait_exit() {
	local pid=$1 timeout=$2 i
	for ((i = 0; i < timeout * 20; i++)); do
		alive "$pid" || break
		sleep 0.05
	done
	alive "$pid" && return 1
	EXIT_RC=0
	wait "$pid" 2>/dev/null || EXIT_RC=$?
	forget "$pid"
	return 0
}

_start_watchdog() {
	local limit=${WARREN_TEST_TIMEOUT:-180} main=$$
	(
		trap - ERR
		set +e
		sleep "$limit" &
		sp=$!
		trap 'kill $sp 2>/dev/null; exit 0' TERM
		wait "$sp"
		echo "FAIL: $TEST_NAME: still running after $limit s (WARREN_TEST_TIMEOUT); stopping it" >&2
		kill -TERM "$main" 2>/dev/null
		pkill -TERM -P "$main" 2>/dev/null
	) &
	_WATCHDOG=$!
}

# register_secret VALUE: VALUE (a passphrase, a cookie) must never reach a
# daemon log. Passphrase files named in a config given to start_daemon are
# registered by themselves. With WARREN_LOG_ARCHIVE set, the secrets are kept
# beside the logs for integration/security_no_secrets_in_logs.sh.
register_secret() {
	[[ -n $1 ]] && printf '%s\n' "$1" >>"$TEST_DIR/secrets"
	return 0
}

# archive_log FILE: keep FILE (warren's own output, e.g. of `warren run`)
# with the daemon logs when WARREN_LOG_ARCHIVE is set.
archive_log() {
	printf '%s\n' "$1" >>"$TEST_DIR/archive.list"
}

# Sanitizer reports in the daemon's logs and memcheck errors (valgrind) fail
# the test even when everything else passed: a daemon that leaks or reads
# out of bounds at exit still exits after SIGTERM.
_check_reports() {
	local f bad=0 n=0
	for f in "$TEST_DIR"/daemon*.log; do
		[[ -f $f ]] || continue
		if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$f"; then
			echo "FAIL: $TEST_NAME: sanitizer report in $f:" >&2
			grep -E -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" | head -n 40 >&2
			bad=1
		fi
	done
	for f in "$TEST_DIR"/valgrind.*.log; do
		[[ -f $f ]] || continue
		n=$((n + 1))
		if ! grep -q 'ERROR SUMMARY: 0 errors' "$f"; then
			echo "FAIL: $TEST_NAME: valgrind found errors ($f):" >&2
			grep -vE '^==[0-9]+== *$' "$f" | sed -n '/Command:/,$p' | head -n 80 >&2
			bad=1
		fi
	done
	if [[ ${WARREN_VALGRIND:-} == 1 ]] && ((n > 0)) && ((bad == 0)); then
		echo "valgrind: $n daemon process(es) checked, 0 errors, no leak"
	fi
	return "$bad"
}

_archive_logs() {
	local dir=${WARREN_LOG_ARCHIVE:-} f tag p
	[[ -n $dir ]] || return 0
	mkdir -p "$dir" || return 0
	tag="$dir/$TEST_NAME.$$"
	for f in "$TEST_DIR"/daemon*.log "$TEST_DIR"/valgrind.*.log; do
		[[ -f $f ]] && cp "$f" "$tag.${f##*/}"
	done
	if [[ -f $TEST_DIR/archive.list ]]; then
		while IFS= read -r f; do
			[[ -f $f ]] && cp "$f" "$tag.extra.${f##*/}"
		done <"$TEST_DIR/archive.list"
	fi
	# The passphrase files the daemon was given are secrets too.
	for f in "$TEST_DIR"/daemon*.log; do
		[[ -f $f ]] || continue
		while IFS= read -r p; do
			[[ -f $p ]] && head -n 1 "$p" >>"$TEST_DIR/secrets"
		done < <(sed -n 's/^[[:space:]]*passphrase_file[[:space:]]*=[[:space:]]*//p' "$f" | sort -u)
	done
	# So are the X11 cookies in any Xauthority file the test made (the
	# real ones and the fake ones sshd stored), in xauth's hex.
	if command -v xauth >/dev/null; then
		while IFS= read -r -d '' f; do
			xauth -q -f "$f" list 2>/dev/null | awk 'NF >= 3 { print $3 }' >>"$TEST_DIR/secrets"
		done < <(find "$TEST_DIR" -maxdepth 3 -type f \( -iname '*xauth*' -o -iname '*Xauthority*' \) -print0 2>/dev/null)
	fi
	[[ -s $TEST_DIR/secrets ]] && sort -u "$TEST_DIR/secrets" >"$tag.secrets"
	return 0
}

# Stop everything the test started. Anything that ignores SIGTERM for 5 s or
# outlives its session leader makes the test fail.
_cleanup() {
	local rc=$? pid p i left bad=no
	trap - ERR INT TERM HUP
	trap '' PIPE # a reader gone (| head) must not cut the cleanup short
	set +eE
	if [[ -n $_WATCHDOG ]]; then
		kill -TERM "$_WATCHDOG" 2>/dev/null
		wait "$_WATCHDOG" 2>/dev/null
	fi
	# A process the test did not wait for must still be running: one that
	# ended by itself (a crashed daemon, a server that died) is a failure.
	for pid in "${_SPAWNED[@]}"; do
		if ! alive "$pid"; then
			wait "$pid" 2>/dev/null
			echo "FAIL: $TEST_NAME: '${_SPAWN_CMD[$pid]:-pid $pid}' ended by itself with status $?" >&2
			bad=yes
		fi
	done
	for pid in "${_SPAWNED[@]}"; do
		alive "$pid" && kill -TERM "$pid" 2>/dev/null
	done
	for ((i = 0; i < 100 * SLOW; i++)); do
		left=no
		for pid in "${_SPAWNED[@]}"; do
			alive "$pid" && left=yes
		done
		[[ $left == no ]] && break
		sleep 0.05
	done
	for pid in "${_SPAWNED[@]}"; do
		if alive "$pid"; then
			echo "FAIL: $TEST_NAME: '${_SPAWN_CMD[$pid]:-pid $pid}' ignored SIGTERM for $((5 * SLOW)) s; killing it" >&2
			bad=yes
			kill -KILL "$pid" 2>/dev/null
		fi
		wait "$pid" 2>/dev/null
		left=$(session_procs "$pid")
		if [[ -n $left ]]; then
			echo "FAIL: $TEST_NAME: processes left behind by pid $pid's session:" >&2
			ps -o pid,ppid,stat,args -p "$(paste -sd, <<<"$left")" >&2
			bad=yes
			for p in $left; do kill -KILL "$p" 2>/dev/null; done
		fi
	done
	for pid in "${_SPAWNED[@]}"; do
		for ((i = 0; i < 40; i++)); do
			[[ -z $(session_procs "$pid") ]] && break
			sleep 0.05
		done
		if [[ -n $(session_procs "$pid") ]]; then
			echo "FAIL: $TEST_NAME: processes of session $pid survived SIGKILL: $(session_procs "$pid" | tr '\n' ' ')" >&2
			bad=yes
		fi
	done
	_check_reports || bad=yes
	_archive_logs
	if ((rc == 77)) && [[ $_SKIPPED != yes ]]; then
		rc=1 # a stray 77 from a command is not a skip
	fi
	if ((rc != 0 && rc != 77 && rc != 99)); then
		rc=1
	fi
	if [[ $bad == yes ]] && ((rc == 0 || rc == 77)); then
		rc=1
	fi
	if ((rc != 0 && rc != 77)); then
		_dump_logs
	elif ((rc == 0)); then
		echo "${_PASS_MSG:-PASS: $TEST_NAME}"
	fi
	if [[ ${WARREN_KEEP_TEST_DIR:-} == 1 ]]; then
		echo "kept $TEST_DIR" >&2
	else
		rm -rf "$TEST_DIR"
	fi
	exit "$rc"
}
trap _cleanup EXIT

# --- waiting -------------------------------------------------------------------

# wait_for CMD [TIMEOUT]: run the shell command CMD (a string) every 0.1 s
# until it succeeds (return 0) or TIMEOUT seconds (default 10) pass (return 1).
wait_for() {
	local cmd=$1 timeout=${2:-10} i start=$SECONDS
	for ((i = 0; i < timeout * 10; i++)); do
		if eval "$cmd" >/dev/null 2>&1; then
			return 0
		fi
		((SECONDS - start <= timeout)) || break
		sleep 0.1
	done
	return 1
}

# --- the daemon and its CLI ----------------------------------------------------

# warren_cli ARGS...: the CLI on this test's socket and plugins. A hang is a
# bug: it is cut after 30 s (exit 124, with a message).
warren_cli() {
	local rc=0
	timeout -k 5 "${WARREN_CLI_TIMEOUT:-30}" \
		"$WARREN_BIN" -S "$SOCK" --plugin-dir "$WARREN_TEST_PLUGIN_DIR" "$@" || rc=$?
	if ((rc == 124)); then
		echo "warren_cli: 'warren $*' still running after ${WARREN_CLI_TIMEOUT:-30} s; killed" >&2
	fi
	return "$rc"
}

# start_daemon CONF [ARGS...]: start `warren daemon` on $SOCK with the
# build's plugins, stderr to $DAEMON_LOG; wait up to 10 s until `warren
# status` answers. Sets DAEMON_PID.
start_daemon() {
	local conf=$1 i
	shift
	[[ -x $WARREN_BIN ]] || fail "no warren binary at $WARREN_BIN (build first: scripts/setup.sh)"
	{
		echo "---- config $conf"
		cat "$conf"
		echo "---- warren daemon"
	} >>"$DAEMON_LOG"
	spawn "$DAEMON_LOG" "${DAEMON_WRAP[@]}" "$WARREN_BIN" daemon -c "$conf" -S "$SOCK" \
		--plugin-dir "$WARREN_TEST_PLUGIN_DIR" -v "$@"
	DAEMON_PID=$SPAWNED_PID
	for ((i = 0; i < 100 * SLOW; i++)); do
		if ! alive "$DAEMON_PID"; then
			wait_exit "$DAEMON_PID" 1 || true
			fail "warren daemon exited at start (status $EXIT_RC)"
		fi
		if WARREN_CLI_TIMEOUT=2 warren_cli status >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	fail "warren daemon did not answer 'warren status' within $((10 * SLOW)) s"
}

# stop_daemon: SIGTERM, wait up to 5 s; sets EXIT_RC (fails if it hangs).
stop_daemon() {
	kill -TERM "$DAEMON_PID"
	wait_exit "$DAEMON_PID" $((5 * SLOW)) || fail "warren daemon still running $((5 * SLOW)) s after SIGTERM"
}

status_json() { warren_cli status --json; }

# sanitized_build: the binary under test was built with --enable-sanitizers
# (ASan). Its RSS then says nothing (freed memory sits in ASan's quarantine),
# and an LD_PRELOAD shim must come after libasan (or set
# ASAN_OPTIONS=verify_asan_link_order=0).
sanitized_build() {
	grep -qa __asan_init "$WARREN_BIN" # linked to libasan (gcc) or with it (clang)
}

# json_get JSON PATH: print the value at PATH, a dot-separated path where a
# number indexes a list and KEY=VALUE picks the list item whose KEY is VALUE:
#   json_get "$js" tunnels.name=web.details.forwards.0.bound
# Strings print raw, null/true/false as such, objects and lists as JSON.
# Returns 1 (with a message) when the path is not there.
json_get() {
	python3 -c '
import json, sys
doc, path = json.loads(sys.argv[1]), sys.argv[2]
cur = doc
for part in path.split(".") if path else []:
    if isinstance(cur, list) and "=" in part:
        key, want = part.split("=", 1)
        found = [x for x in cur if isinstance(x, dict) and str(x.get(key)) == want]
        if not found:
            sys.exit("json_get: no item with %s=%s at %r" % (key, want, path))
        cur = found[0]
    elif isinstance(cur, list) and part.lstrip("-").isdigit() and -len(cur) <= int(part) < len(cur):
        cur = cur[int(part)]
    elif isinstance(cur, dict) and part in cur:
        cur = cur[part]
    else:
        sys.exit("json_get: no %r in %r (at %r)" % (part, path, json.dumps(cur)[:200]))
if isinstance(cur, str):
    print(cur)
elif cur is None or isinstance(cur, (bool, int, float)):
    print(json.dumps(cur))
else:
    print(json.dumps(cur, sort_keys=True))
' "$1" "$2"
}

# tunnel_get NAME PATH: json_get on tunnel NAME of `warren status --json`.
tunnel_get() {
	local js
	js=$(status_json)
	json_get "$js" "tunnels.name=$1${2:+.$2}"
}

# wait_state NAME STATE [TIMEOUT]: wait until tunnel NAME is in STATE.
wait_state() {
	local name=$1 state=$2 timeout=${3:-10}
	if ! wait_for "[[ \$(tunnel_get '$name' state) == '$state' ]]" "$timeout"; then
		fail "tunnel $name not '$state' within $timeout s; status: $(status_json 2>&1)"
	fi
}

# --- ports and servers -----------------------------------------------------------

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# port_open PORT: something accepts connections on 127.0.0.1:PORT.
port_open() {
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()' "$1" 2>/dev/null
}

# port_listening PORT: a socket listens on PORT on any address (ss -ltn).
port_listening() {
	[[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
}

# shellcheck disable=SC2034 # SERVER_PID and SERVER_PORT are for the tests
_start_server() {
	local tool=$1 name=$2 portfile="$TEST_DIR/$2.port"
	spawn "$TEST_DIR/$name.log" python3 "$TOOLS/$tool" --port-file "$portfile" --log "$TEST_DIR/$name.log"
	SERVER_PID=$SPAWNED_PID
	wait_for "[[ -s '$portfile' ]]" 10 || fail "$tool ($name) did not start"
	SERVER_PORT=$(<"$portfile")
}

# start_echo_server NAME / start_xfer_server NAME: a loopback server (see
# tests/tools/) logging to $TEST_DIR/NAME.log; sets SERVER_PORT, SERVER_PID.
start_echo_server() { _start_server echo_server.py "$1"; }
start_xfer_server() { _start_server xfer_server.py "$1"; }

# xfer PORT ARGS...: tests/tools/xfer_client.py against 127.0.0.1:PORT.
xfer() {
	local port=$1
	shift
	python3 "$TOOLS/xfer_client.py" --port "$port" "$@"
}

# echo_check PORT: three lines echoed intact through PORT.
echo_check() {
	python3 "$TOOLS/hold_client.py" --port "$1" --lines 3 --interval 0 --reply-timeout 5
}

# config_section HEADER [KEY = VALUE...]: print "[HEADER]", the default
# "key = value" lines read from stdin except those whose key a given line
# names, then the given lines: a test overrides one default in one place.
config_section() {
	local header=$1 line key
	shift
	local -A given=()
	for line in "$@"; do
		given[${line%%[ =]*}]=1
	done
	echo "[$header]"
	while IFS= read -r line; do
		key=${line%%[ =]*}
		[[ -n ${given[$key]:-} ]] || echo "$line"
	done
	for line in "$@"; do
		echo "$line"
	done
	echo
}

# relay_tunnel NAME LISTEN_PORT CONNECT_PORT: a [tunnel] section for relay.
relay_tunnel() {
	cat <<EOF
[tunnel $1]
transport = relay
autostart = yes
listen = 127.0.0.1:$2
connect = 127.0.0.1:$3

EOF
}

# --- assertions ------------------------------------------------------------------

# run CMD...: run CMD, keep its status in RC, stdout in OUT, stderr in ERR.
run() {
	RC=0
	"$@" >"$TEST_DIR/run.out" 2>"$TEST_DIR/run.err" || RC=$?
	OUT=$(<"$TEST_DIR/run.out")
	ERR=$(<"$TEST_DIR/run.err")
}

# expect_rc CODE CMD...: run CMD and fail unless it exits CODE.
expect_rc() {
	local want=$1
	shift
	run "$@"
	if [[ $RC != "$want" ]]; then
		fail "\`$*\` exited $RC, expected $want
stdout: $OUT
stderr: $ERR"
	fi
}

assert_eq() { # ACTUAL EXPECTED WHAT
	[[ $1 == "$2" ]] || fail "$3: got '$1', expected '$2'"
}

assert_match() { # STRING REGEX WHAT
	[[ $1 =~ $2 ]] || fail "$3: '$1' does not match /$2/"
}

assert_contains() { # HAYSTACK NEEDLE WHAT
	[[ $1 == *"$2"* ]] || fail "$3: '$2' not found in:
$1"
}

# --- start ----------------------------------------------------------------------

for _cmd in python3 ss setsid pgrep timeout; do
	command -v "$_cmd" >/dev/null || skip "$_cmd is not installed (scripts/setup.sh installs it)"
done
unset _cmd
[[ -x $WARREN_BIN ]] || {
	echo "ERROR: $TEST_NAME: no warren binary at $WARREN_BIN" >&2
	exit 99
}
_start_watchdog
