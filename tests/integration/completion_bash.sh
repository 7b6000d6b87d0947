#!/usr/bin/env bash
# completion_bash: the bash completion (completions/warren) offers every
# subcommand `warren --help` lists and nothing else, the global options
# before and after the subcommand, each subcommand's own options, and tunnel
# names: the running daemon's (found through -S on the line) when it
# answers, else the [tunnel NAME] lines of the config file (-c on the line),
# never the names inside a transport's details; PuTTY session names after
# `run --putty` and `import-putty`.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

BASH_COMPLETION=/usr/share/bash-completion/bash_completion
[[ -r $BASH_COMPLETION ]] || skip "bash-completion is not installed (apt-get install bash-completion)"
COMPLETION="$WARREN_TESTS_DIR/../completions/warren"

# complete WORD...: what the completion offers for the line (the last word
# is the one being completed), sorted, on one line.
complete() {
	bash -c '
		. "$1"
		. "$2"
		shift 2
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		_warren
		printf "%s\n" "${COMPREPLY[@]}" | sort | paste -sd " "
	' complete "$BASH_COMPLETION" "$COMPLETION" "$@"
}

# check EXPECTED WORD...: the completion of WORD... is EXPECTED (sorted).
check() {
	local want=$1 got
	shift
	want=$(tr ' ' '\n' <<<"$want" | sed '/^$/d' | sort | paste -sd " ")
	got=$(PATH="$(dirname "$WARREN_BIN"):$PATH" complete "$@")
	echo "warren ${*:2} -> $got"
	assert_eq "$got" "$want" "completion of '${*}'"
}

step "subcommands are the ones warren --help lists"
SUBS=$("$WARREN_BIN" --help | sed -n '/^Subcommands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }' | paste -sd " ")
[[ -n $SUBS ]] || fail "no subcommands found in warren --help"
check "$SUBS" warren ""
check "status" warren st
check "restart reload" warren help re

step "options"
check "-c --config -S --socket --plugin-dir -v --verbose -q --quiet --syslog -h --help --version" warren -
check "--json" warren status --j
check "--wait" warren up --w
check "--watch" warren -S "$SOCK" status --wa
check "--plugin-dir" warren up --pl

step "names inside a transport's details are not tunnels"
NAMES=$(bash -c '. "$1"; _warren_json_names' names "$COMPLETION" <<<'{"tunnels": [{"name": "a", "details": {"name": "inner", "peers": [{"name": "deeper"}]}, "state": "up"}, {"state": "up", "name": "b\"q"}]}' | paste -sd " ")
assert_eq "$NAMES" 'a b"q' "names from a JSON document with nested names"

step "tunnel names from the running daemon"
start_echo_server echo
P1=$(free_port)
P2=$(free_port)
{
	relay_tunnel web "$P1" "$SERVER_PORT"
	relay_tunnel db.main "$P2" "$SERVER_PORT"
} >"$CONF"
start_daemon "$CONF"
wait_state web up
# A name in the file but not yet in the daemon: the daemon's list wins.
relay_tunnel later "$(free_port)" "$SERVER_PORT" >>"$CONF"
check "web db.main" warren -S "$SOCK" up ""
check "db.main" warren down -S "$SOCK" d
check "web db.main" warren -S "$SOCK" status ""
check "web db.main" warren run -S "$SOCK" ""

step "gateway names for x11, from the config file"
printf '[gateway office]\nhost = gw\n[gateway lab.2]\nhost = lab\n' >"$TEST_DIR/gw.conf"
check "office lab.2" warren -c "$TEST_DIR/gw.conf" x11 ""
check "" warren -c "$TEST_DIR/gw.conf" x11 office ""

step "tunnel names from the config file when no daemon answers"
check "web db.main later" warren -S "$TEST_DIR/nobody.sock" -c "$CONF" restart ""
WARREN_CONFIG=$CONF check "web db.main later" warren -S "$TEST_DIR/nobody.sock" up ""
check "" warren -S "$TEST_DIR/nobody.sock" -c "$TEST_DIR/missing.conf" up ""

step "PuTTY session names, decoded and quoted for the shell"
export PUTTYSESSIONS="$TEST_DIR/putty"
mkdir -p "$PUTTYSESSIONS"
: >"$PUTTYSESSIONS/My%20Tunnel"
: >"$PUTTYSESSIONS/office"
: >"$PUTTYSESSIONS/Default%20Settings"
check 'My\ Tunnel office' warren run --putty ""
check 'My\ Tunnel' warren import-putty M
check "--putty" warren run --pu

pass "subcommands, options and tunnel names (daemon first, then the file) complete"
