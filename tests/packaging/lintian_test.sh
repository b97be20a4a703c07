#!/usr/bin/env bash
# Both Debian packages pass lintian without an error or a warning. In an optimised build the
# programs must also carry Debian's hardening (lintian reports its absence only as
# information: hardening-no-bindnow, hardening-no-fortify-functions, hardening-no-relro).
# Overrides, each with its reason, are in packaging/debian/ringline.lintian-overrides.
#   lintian_test.sh BUILD_DIR BUILD_TYPE
set -euo pipefail
build=$1 build_type=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "lintian_test: $*" >&2; exit 1; }

command -v lintian > /dev/null ||
  fail "lintian is not installed (scripts/install-deps --test installs it)"
(cd "$build" && cpack -G DEB -B "$work/packages" > "$work/cpack.log" 2>&1) ||
  fail "cpack failed: $(tail -20 "$work/cpack.log")"
debs=("$work"/packages/*.deb)
[ "${#debs[@]}" -eq 2 ] || fail "expected two packages: ${debs[*]}"
# (lintian warns on stderr that it runs as root; its findings are on stdout.)
lintian --display-info --fail-on error,warning "${debs[@]}" > "$work/lintian.txt" 2> /dev/null ||
  fail "lintian found errors or warnings:
$(grep '^[EW]:' "$work/lintian.txt" || cat "$work/lintian.txt")"
if [ "$build_type" != Debug ]; then
  ! grep 'hardening-' "$work/lintian.txt" || fail "the programs lack hardening (above)"
fi
echo "lintian_test: $(basename -a "${debs[@]}" | tr '\n' ' ')pass lintian ($(grep -c . "$work/lintian.txt") informational tags)"
