#!/usr/bin/env bash
# man_pages: the manual keeps up with the code. warren(1) documents every
# subcommand `warren --help` lists and every global option; warren.conf(5)
# every key of the core's [daemon], [gateway] and [tunnel] tables in
# core/config.c and of the shipped transports; all three pages render with
# groff -ww without a warning.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

command -v groff >/dev/null || skip "groff is not installed (apt-get install groff-base)"
BUILDDIR=$(cd "$(dirname "$WARREN_BIN")/.." && pwd)
SRCDIR=$(cd "$WARREN_TESTS_DIR/.." && pwd)
MAN="$BUILDDIR/man"
for page in warren.1 warren.conf.5 warren-plugin.7; do
	[[ -f $MAN/$page ]] || fail "no $MAN/$page (make builds it)"
done

# rendered PAGE: the page as a reader sees it, plain text and wide (what
# man(1) shows, without needing man-db).
rendered() { LC_ALL=C.UTF-8 groff -man -Tutf8 -P-cbou -rLL=200n "$MAN/$1" 2>/dev/null; }

step "every page renders without a warning"
for page in warren.1 warren.conf.5 warren-plugin.7; do
	W=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$MAN/$page" 2>&1)
	[[ -z $W ]] || fail "groff warns about $page: $W"
	[[ -n $(rendered "$page") ]] || fail "$page renders empty"
done

step "warren(1): subcommands and options"
PAGE=$(rendered warren.1)
SUBS=$("$WARREN_BIN" --help | sed -n '/^Subcommands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
for sub in $SUBS; do
	grep -Eq "^ {7}$sub([ ,]|$)" <<<"$PAGE" || fail "warren(1) has no entry for the subcommand $sub"
done
OPTS=$("$WARREN_BIN" --help | sed -n '/^Options/,/^$/p' | grep -oE -- '--?[a-zA-Z][a-z-]*' | sort -u)
for opt in $OPTS; do
	[[ $PAGE == *"$opt"* ]] || fail "warren(1) does not mention the option $opt"
done
echo "subcommands: $(tr '\n' ' ' <<<"$SUBS")"
echo "options: $(tr '\n' ' ' <<<"$OPTS")"

step "warren.conf(5): every key"
PAGE=$(rendered warren.conf.5)
KEYS=$(grep -oE '\[(DK|GK|TK)_[A-Z_]+\] = "[a-z_]+"' "$SRCDIR/core/config.c" | sed 's/.*"\(.*\)"/\1/' | sort -u)
[[ $(wc -l <<<"$KEYS") -ge 20 ]] || fail "found only $(wc -l <<<"$KEYS") keys in core/config.c"
for f in plugins/relay/relay.c plugins/ssh-forward/ssh-forward.c; do
	[[ -f $SRCDIR/$f ]] || continue
	KEYS+=$'\n'$(grep -oE 'strcmp\(kv->key, "[a-z_]+"\)' "$SRCDIR/$f" | sed 's/.*"\(.*\)".*/\1/' | sort -u)
done
for key in $KEYS; do
	grep -Eq "^ {7}$key = " <<<"$PAGE" || fail "warren.conf(5) does not document the key $key"
done
echo "keys: $(tr '\n' ' ' <<<"$KEYS")"

pass "the man pages render cleanly and cover every subcommand, option and key"
