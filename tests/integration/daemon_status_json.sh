#!/usr/bin/env bash
# daemon_status_json: `warren status` reports tunnels as interface.md says:
# --json has name, transport, state "up", since (ISO 8601, UTC, Z), restarts,
# last_error, bytes_in/bytes_out (non-zero after traffic) and the relay's
# details.forwards[0].bound; the table lists the tunnel under the documented
# columns; `warren status NAME` shows only NAME; an unknown NAME exits 1.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

start_xfer_server sink
P1=$(free_port)
P2=$(free_port)
{
	relay_tunnel web "$P1" "$SERVER_PORT"
	relay_tunnel other "$P2" "$SERVER_PORT"
} >"$CONF"
start_daemon "$CONF"
wait_state web up
wait_state other up

step "the JSON document before traffic"
JS=$(status_json)
echo "$JS"
python3 - "$JS" "$P1" <<'PY' || fail "status --json does not follow interface.md (see above)"
import json, re, sys
doc, port = json.loads(sys.argv[1]), sys.argv[2]
problems = []
def check(cond, what):
    if not cond:
        problems.append(what)
check(isinstance(doc, dict) and isinstance(doc.get("tunnels"), list), "top level is {\"tunnels\": [...]}")
tunnels = {t.get("name"): t for t in doc.get("tunnels", [])}
check(set(tunnels) == {"web", "other"}, "tunnels are web and other, got %s" % sorted(map(str, tunnels)))
t = tunnels.get("web", {})
for key, kind in (("name", str), ("transport", str), ("state", str), ("since", str),
                  ("restarts", int), ("bytes_in", int), ("bytes_out", int), ("details", dict)):
    check(isinstance(t.get(key), kind) and not isinstance(t.get(key), bool), "%s is a %s: %r" % (key, kind.__name__, t.get(key)))
check("last_error" in t and t["last_error"] is None, "last_error is null: %r" % t.get("last_error"))
check(t.get("transport") == "relay", "transport is relay")
check(t.get("state") == "up", "state is up")
check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", str(t.get("since"))), "since is ISO 8601 UTC with Z: %r" % t.get("since"))
check(t.get("restarts") == 0, "restarts is 0")
fwd = (t.get("details") or {}).get("forwards") or [{}]
check(fwd[0].get("bound") == "127.0.0.1:%s" % port, "details.forwards[0].bound is 127.0.0.1:%s: %r" % (port, fwd[0].get("bound")))
check(fwd[0].get("state") == "listening", "details.forwards[0].state is listening")
for p in problems:
    print("status --json:", p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY

step "traffic moves the byte counters"
xfer "$P1" --up 300K --down 200K --mode duplex --timeout 10 --max-seconds 60
# 300K up plus the header; 200K down plus the trailer. Counters may lag a moment.
wait_for "(( \$(tunnel_get web bytes_in) > 0 && \$(tunnel_get web bytes_out) > 0 ))" 5 ||
	fail "bytes_in/bytes_out still zero after traffic: $(tunnel_get web)"
IN=$(tunnel_get web bytes_in)
OUT_B=$(tunnel_get web bytes_out)
echo "web: bytes_in=$IN bytes_out=$OUT_B"
((IN >= 200 * 1024 && OUT_B >= 200 * 1024 && IN + OUT_B >= 500 * 1024)) ||
	fail "byte counters do not add up to 300K one way and 200K the other: in=$IN out=$OUT_B"
assert_eq "$(tunnel_get other bytes_in)" 0 "the idle tunnel's bytes_in"
wait_for "(( \$(tunnel_get web details.forwards.0.total_connections) >= 1 ))" 5 ||
	fail "forwards[0].total_connections did not count the connection: $(tunnel_get web details)"

step "the table"
expect_rc 0 warren_cli status
echo "$OUT"
HEADER=$(head -n 1 <<<"$OUT")
assert_match "$HEADER" '^NAME +TRANSPORT +STATE +SINCE +RESTARTS +IN +OUT +LAST-ERROR *$' "the table header"
assert_match "$OUT" $'(^|\n)web +relay +up ' "the table row for web"
assert_match "$OUT" $'(^|\n)other +relay +up ' "the table row for other"

step "status NAME shows just that tunnel"
expect_rc 0 warren_cli status web
assert_match "$OUT" $'(^|\n)web +relay +up ' "status web"
[[ $OUT != *other* ]] || fail "status web also lists other:
$OUT"
expect_rc 0 warren_cli status --json web
NAMES=$(python3 -c 'import json,sys; print(" ".join(t["name"] for t in json.loads(sys.argv[1])["tunnels"]))' "$OUT")
assert_eq "$NAMES" "web" "tunnels in status --json web"

step "status of an unknown tunnel"
expect_rc 1 warren_cli status nosuch
assert_contains "$ERR$OUT" nosuch "the message for an unknown tunnel"
expect_rc 1 warren_cli status --json nosuch

pass "status, status --json and status NAME report what interface.md promises"
