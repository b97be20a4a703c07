#!/usr/bin/env bash
# The README's quick start and its "Install and package" commands, run as written, in their
# order, on what a fresh clone holds: `./scripts/serve` builds the tree (here with --version,
# so the server it runs exits at once), then every command of the README's install block runs
# in the clone. The block is read from README.md, so the README cannot drift from what works.
# Its installs go to /usr/local, as the README says, inside a private mount namespace whose
# /usr/local is an empty tmpfs, so this machine's own /usr/local is never touched (root). The
# tools (cmake, cpack, the compiler) must then not live in /usr/local: Debian's do not.
#   readme_install_test.sh SOURCE_DIR
set -euo pipefail
source=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "readme_install_test: $*" >&2; exit 1; }

# What a clone holds: the sources without build trees, caches or git's own files.
clone=$work/ringline
mkdir "$clone"
tar -C "$source" --exclude=./.git --exclude='./build*' --exclude=./.cache -cf - . |
  tar -C "$clone" -xf -

# The commands of the README's first ```sh block after "## Install and package".
commands=$(awk '/^## Install and package/ { section = 1; next }
                /^## / { section = 0 }
                section && /^```sh$/ { block = 1; next }
                block && /^```$/ { exit }
                block { print }' "$source/README.md")
[ -n "$commands" ] || fail "no sh block under '## Install and package' in README.md"
grep -q 'cmake --install build/release' <<< "$commands" || fail "no install command: $commands"

# At most two compile jobs (the machine is shared with the rest of the suite), and the
# compiler cache, when there is one, for the Release build that scripts/serve makes.
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
if command -v ccache > /dev/null; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_BASEDIR=$clone CCACHE_NOHASHDIR=true
fi

cat > "$work/steps.sh" << EOF
set -euo pipefail
mount -t tmpfs tmpfs /usr/local
cd "$clone"
./scripts/serve --version > "$work/serve.out" 2> "$work/serve.log" ||
  { echo "./scripts/serve failed: \$(tail -20 "$work/serve.log")" >&2; exit 1; }
while IFS= read -r command; do
  echo "\$ \$command" >> "$work/commands.log"
  bash -c "\$command" < /dev/null >> "$work/commands.log" 2>&1 ||
    { echo "README command failed: \$command" >&2; tail -20 "$work/commands.log" >&2; exit 1; }
done <<'COMMANDS'
$commands
COMMANDS
cp -a /usr/local "$work/usr-local"
EOF
unshare --mount --propagation private bash "$work/steps.sh" || fail "see above"

grep -q "^ringline-server " "$work/serve.out" || fail "serve --version printed: $(cat "$work/serve.out")"
installed=$work/usr-local
for file in bin/ringline-server bin/ringline-client share/man/man1/ringline-server.1.gz \
            share/man/man1/ringline-client.1.gz etc/ringline/ringline.conf \
            lib/systemd/system/ringline.service lib/systemd/system/ringline.socket; do
  [ -e "$installed/$file" ] || fail "not installed in /usr/local: $file"
done
# The unit installed under /usr/local runs the program installed there, with its file.
grep -qx 'ExecStart=/usr/local/bin/ringline-server --config /usr/local/etc/ringline/ringline.conf' \
  "$installed/lib/systemd/system/ringline.service" ||
  fail "the /usr/local unit runs: $(grep ExecStart= "$installed/lib/systemd/system/ringline.service")"
# The packages the README names, in the build tree.
for deb in $(grep -o 'ringline[a-z-]*_[^ ]*\.deb' <<< "$commands"); do
  [ -f "$clone/build/release/$deb" ] || fail "no $deb: $(ls "$clone/build/release")"
done
echo "readme_install_test: serve built the tree; $(grep -c . <<< "$commands") README commands ran"
