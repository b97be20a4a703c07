#!/usr/bin/env bash
# The shipped systemd units pass `systemd-analyze verify`, run against an install of this
# build (man pages on MANPATH, since verify checks that Documentation= exists). The installed
# service runs the installed program with the installed configuration file and no other flag,
# so the file decides every setting.
#   systemd_units_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 source=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "systemd_units_test: $*" >&2; exit 1; }

prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" --component server > /dev/null ||
  fail "cmake --install failed"
for unit in ringline.socket ringline.service; do
  [ -f "$prefix/lib/systemd/system/$unit" ] || fail "$unit not installed"
  cp "$prefix/lib/systemd/system/$unit" "$work/$unit"
done
grep -qx "ExecStart=$prefix/bin/ringline-server --config $prefix/etc/ringline/ringline.conf" \
  "$work/ringline.service" || fail "ExecStart= is not the installed program with its file: \
$(grep ExecStart= "$work/ringline.service")"
[ -f "$prefix/etc/ringline/ringline.conf" ] || fail "the unit's configuration file is not installed"
grep -q '^Type=notify$' "$work/ringline.service" || fail "not Type=notify"
grep -q '^SystemCallFilter=@system-service$' "$work/ringline.service" || fail "no syscall filter"
# @system-service must still allow io_uring, or the hardened server could not start.
# (It lists its groups by name; io_uring's calls are in @aio.)
systemd-analyze syscall-filter @system-service | grep -qx '    @aio' ||
  fail "@system-service does not include @aio on this systemd"
systemd-analyze syscall-filter @aio | grep -qw io_uring_setup ||
  fail "@aio does not hold io_uring_setup on this systemd"
MANPATH=$prefix/share/man systemd-analyze verify "$work/ringline.socket" \
  "$work/ringline.service" > "$work/verify.log" 2>&1 ||
  fail "systemd-analyze verify: $(cat "$work/verify.log")"
[ ! -s "$work/verify.log" ] || fail "systemd-analyze verify warned: $(cat "$work/verify.log")"
echo "systemd_units_test: both units verified"
