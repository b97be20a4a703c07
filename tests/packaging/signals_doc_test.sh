#!/usr/bin/env bash
# SIGHUP is described once: docs/operations.md's table of signals says what it does, the man
# page's SIGNALS section is generated from that table, and README.md says the same words.
#   signals_doc_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 source=$2
fail() { echo "signals_doc_test: $*" >&2; exit 1; }
# One line, backticks gone, runs of blanks as one space.
normalise() { tr '\n' ' ' | tr -d '`' | tr -s ' \t' '  ' | sed 's/^ //; s/ $//'; }

documented=$(sed -n '/^## Signals$/,/^## /s/^| SIGHUP | \(.*\) |$/\1/p' "$source/docs/operations.md" |
  normalise)
[ -n "$documented" ] || fail "no SIGHUP row in docs/operations.md's table under '## Signals'"

page=$build/man/ringline-server.1.gz
[ -f "$page" ] || fail "no $page (the man target builds it)"
in_man=$(zcat "$page" | sed -n '/^\.B SIGHUP$/{n;p}' |
  sed 's/\\f[BIR]//g; s/\\-/-/g; s/\\e/\\/g' | normalise)
[ "$in_man" = "$documented" ] ||
  fail "the man page says SIGHUP: '$in_man'; docs/operations.md says: '$documented'"

readme=$(normalise < "$source/README.md")
grep -qF "SIGHUP $documented" <<< "$readme" ||
  fail "README.md does not say 'SIGHUP $documented'"
# And says nothing else about it: every sentence or clause that starts with SIGHUP starts so.
while IFS= read -r clause; do
  [[ "SIGHUP $documented" == "${clause}"* ]] ||
    fail "README.md says: '$clause'; docs/operations.md says: 'SIGHUP $documented'"
done < <(grep -o '\(^\|[.;] \)SIGHUP [^.;]*' <<< "$readme" | sed 's/^[.;] //')
echo "signals_doc_test: README.md, the man page and docs/operations.md say SIGHUP $documented"
