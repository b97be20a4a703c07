#!/usr/bin/env bash
# Installs this build into a fresh prefix, builds a consumer against it twice (CMake package,
# pkg-config) and has each hold a conversation with the installed server.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 source=$2
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "install_test: $*" >&2; exit 1; }

prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" > "$work/install.log" || fail "cmake --install failed"
# Libraries in Debian's multiarch directory (lib/x86_64-linux-gnu), for every prefix.
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=lib/$multiarch
for file in bin/ringline-server bin/ringline-client share/man/man1/ringline-server.1.gz \
            share/man/man1/ringline-client.1.gz include/ringline/client/client.hpp \
            include/ringline/runtime/event_loop.hpp $libdir/cmake/ringline/ringline-config.cmake \
            $libdir/pkgconfig/ringline.pc $libdir/libringline_runtime.a \
            $libdir/libringline_client.a etc/ringline/ringline.conf \
            share/doc/ringline/copyright share/doc/ringline/changelog.gz \
            share/doc/ringline/operations.md share/doc/ringline-dev/copyright \
            lib/systemd/system/ringline.service lib/systemd/system/ringline.socket; do
  [ -e "$prefix/$file" ] || fail "not installed: $file"
done
[ ! -e "$prefix/lib/libringline_runtime.a" ] || fail "libraries in lib/, not $libdir"
# The installed unit runs the program of this install with this install's configuration file,
# and passes no flag that would override the file.
unit=$prefix/lib/systemd/system/ringline.service
grep -qx "ExecStart=$prefix/bin/ringline-server --config $prefix/etc/ringline/ringline.conf" "$unit" ||
  fail "the installed unit runs: $(grep ExecStart= "$unit")"
# Everything under the prefix: the configuration file's /etc rule is for the prefix /usr only.
outside=$(sed -n 's/^-- \(Installing\|Up-to-date\): //p' "$work/install.log" | grep -v "^$prefix/" || true)
[ -z "$outside" ] || fail "installed outside $prefix: $outside"
page=$(zcat "$prefix/share/man/man1/ringline-server.1.gz")
grep -q '^\.SH OPTIONS' <<< "$page" || fail "man page without options"
grep -q 'max\\-connections' <<< "$page" || fail "the man page does not list --max-connections"
# The default thread count is a rule, not the number of CPUs of the machine that built it.
threads=$(grep -A1 '^\\fB\\-\\-threads\\fR' <<< "$page")
grep -q 'default: CPUs in the affinity mask' <<< "$threads" && ! grep -q '\]=' <<< "$threads" ||
  fail "the man page's --threads: $threads"

# The log exists before the loop reads it: the background job opens it only once it runs.
: > "$work/server.log"
"$prefix/bin/ringline-server" --port 0 --sink none 2> "$work/server.log" &
server_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "the installed server did not start: $(cat "$work/server.log")"

cmake -S "$source/tests/packaging/consumer" -B "$work/consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" > "$work/consumer.log" 2>&1 ||
  fail "configuring the consumer failed: $(cat "$work/consumer.log")"
cmake --build "$work/consumer" >> "$work/consumer.log" 2>&1 ||
  fail "building the consumer failed: $(tail -20 "$work/consumer.log")"
out=$("$work/consumer/consumer" "$port") || fail "the CMake consumer failed: $out"
[ "$out" = "acked 3 of 3" ] || fail "CMake consumer said '$out'"

flags=$(PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" pkg-config --cflags --libs ringline) ||
  fail "pkg-config does not know ringline"
# shellcheck disable=SC2086 # the flags are words
c++ -o "$work/consumer_pc" "$source/tests/packaging/consumer/main.cpp" $flags ||
  fail "building with pkg-config flags ($flags) failed"
out=$("$work/consumer_pc" "$port") || fail "the pkg-config consumer failed: $out"
[ "$out" = "acked 3 of 3" ] || fail "pkg-config consumer said '$out'"
echo "install_test: installed, two consumers built and acked 3 of 3 each"
