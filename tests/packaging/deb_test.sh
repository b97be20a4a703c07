#!/usr/bin/env bash
# Builds the Debian packages with cpack, checks the server package's dependencies are Debian
# runtime libraries, unpacks it into a fresh root and holds a conversation with the server
# installed there, with the packaged configuration file (a conffile in /etc).
#   deb_test.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "deb_test: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$work/packages" > "$work/cpack.log" 2>&1) ||
  fail "cpack failed: $(tail -20 "$work/cpack.log")"
deb=$(ls "$work"/packages/ringline_*.deb 2>/dev/null | head -1)
dev=$(ls "$work"/packages/ringline-dev_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no ringline_*.deb in $(ls "$work/packages")"
[ -n "$dev" ] || fail "no ringline-dev_*.deb"
depends=$(dpkg-deb -f "$deb" Depends)
for library in liburing2 libfmt9 libstdc++6 libc6; do
  grep -q "$library" <<< "$depends" || fail "Depends lacks $library: $depends"
done
dpkg-deb -c "$deb" | grep -q './usr/share/man/man1/ringline-server.1.gz' || fail "no man page"
dpkg-deb -c "$deb" | grep -q '\.hpp$' && fail "headers in the server package"
# The configuration file in /etc (not /usr/etc), and a conffile, so dpkg keeps local edits.
# (The listing in a variable: grep -q closing a pipe early fails the pipeline under pipefail.)
contents=$(dpkg-deb -c "$deb")
grep -q ' \./etc/ringline/ringline\.conf$' <<< "$contents" ||
  fail "no etc/ringline/ringline.conf: $(grep -i conf <<< "$contents")"
grep -q ' \./usr/etc/' <<< "$contents" && fail "files under /usr/etc"
conffiles=$(dpkg-deb -I "$deb" conffiles) || fail "no DEBIAN/conffiles"
[ "$conffiles" = /etc/ringline/ringline.conf ] || fail "conffiles lists: $conffiles"
# The maintainer scripts of a systemd service (as dh_installsystemd writes them): systemd
# rereads its units after install and removal, and the units stop before removal.
for script in postinst prerm postrm; do
  dpkg-deb -I "$deb" "$script" > "$work/$script" || fail "no $script"
  sh -n "$work/$script" || fail "$script is not valid sh"
done
grep -q 'daemon-reload' "$work/postinst" || fail "postinst does not reload systemd"
grep -q 'daemon-reload' "$work/postrm" || fail "postrm does not reload systemd"
grep -q 'stop ringline.socket ringline.service' "$work/prerm" || fail "prerm does not stop the units"
# The packaged unit reads the conffile and passes no flag that would override it.
unit=$(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/lib/systemd/system/ringline.service)
grep -qx 'ExecStart=/usr/bin/ringline-server --config /etc/ringline/ringline.conf' <<< "$unit" ||
  fail "the packaged unit runs: $(grep ExecStart= <<< "$unit")"

root=$work/root
dpkg-deb -x "$deb" "$root"
# The changelog's newest entry is this version (packaging/debian/changelog follows the project).
version=$(dpkg-deb -f "$deb" Version)
newest=$(zcat "$root/usr/share/doc/ringline/changelog.gz" | sed -n 1p)
[[ "$newest" == "ringline ($version) "* ]] || fail "the changelog's newest entry: $newest"
# With the packaged configuration file, as the unit runs it, but the sink (the service's state
# directory there) in the test's own directory.
# The log exists before the loop reads it: the background job opens it only once it runs.
: > "$work/server.log"
"$root/usr/bin/ringline-server" --config "$root/etc/ringline/ringline.conf" --port 0 \
  --sink "$work/lines.log" 2> "$work/server.log" &
server_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || fail "the packaged server did not start: $(cat "$work/server.log")"
out=$("$root/usr/bin/ringline-client" --port "$port" --message hello --message world)
expected=$'connect\nThank you client , you data is Received success \nThank you client , you data is Received success '
[ "$out" = "$expected" ] || fail "unexpected conversation: $out"
# The file's service settings hold: durable acks.
grep -q ' durable=yes ' "$work/server.log" || fail "not durable: $(cat "$work/server.log")"
[ "$(cat "$work/lines.log")" = $'hello\nworld' ] || fail "the sink holds: $(cat "$work/lines.log")"
echo "deb_test: $(basename "$deb") depends on $depends; its server acked 2 lines"
