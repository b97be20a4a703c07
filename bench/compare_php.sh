#!/usr/bin/env bash
# Side-by-side comparison against the real peer ringline replaces: the same client
# (ringline-client --stdin, LINES lines pipelined) against ringline-server and against the
# original PHP server, alternating runs, RUNS times each; prints the median wall time of each
# and their ratio. Usage: bench/compare_php.sh BUILD_DIR [LINES] [RUNS]
set -euo pipefail
build=${1:?build dir with service/ and client/}
lines=${2:-100000}
runs=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

seq -f 'line %.0f of the comparison' 1 "$lines" >"$tmp/input"

start_server() { # name command... ; sets port
  local name=$1
  shift
  "$@" 2>"$tmp/$name.err" >/dev/null &
  for _ in $(seq 100); do
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/$name.err" 2>/dev/null || true)
    [ -n "$port" ] && return
    sleep 0.05
  done
  echo "server did not start" >&2
  exit 1
}

start_server ringline "$build/service/ringline-server" --port 0 --sink none --quiet
ringline_port=$port
start_server php php "$here/../tests/interop/php/server.php" 127.0.0.1 0
php_port=$port

time_client() { # port -> milliseconds
  local begin end
  begin=$(date +%s%N)
  "$build/client/ringline-client" --port "$1" --stdin <"$tmp/input" >/dev/null
  end=$(date +%s%N)
  echo $(((end - begin) / 1000000))
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for _ in $(seq "$runs"); do
  time_client "$ringline_port" >>"$tmp/ringline.ms"
  time_client "$php_port" >>"$tmp/php.ms"
done
r=$(median <"$tmp/ringline.ms")
p=$(median <"$tmp/php.ms")
echo "lines=$lines runs=$runs (median wall time of ringline-client --stdin)"
echo "ringline-server: ${r} ms  ($((lines * 1000 / (r > 0 ? r : 1))) lines/s)"
echo "php server.php:  ${p} ms  ($((lines * 1000 / (p > 0 ? p : 1))) lines/s)"
awk -v r="$r" -v p="$p" 'BEGIN {printf "php/ringline time ratio: %.1fx\n", p / (r > 0 ? r : 1)}'
