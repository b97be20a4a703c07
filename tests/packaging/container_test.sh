#!/usr/bin/env bash
# The container image (packaging/container/Containerfile) built with Debian's podman and runc
# on a Debian 12 base imported from a debootstrap root, then run twice:
#   - with podman's default seccomp profile, which answers ENOSYS to io_uring_setup: the server
#     says why it cannot have io_uring, runs on epoll, and holds a conversation with a client
#     outside the container;
#   - with --security-opt seccomp=unconfined: the server runs on io_uring.
# Each run's sink is a host directory mounted as the image's volume (the acknowledged line is
# in the file on the host), and `podman stop` ends it with exit code 0 after its normal
# shutdown lines.
#   container_test.sh BUILD_DIR SOURCE_DIR CLIENT
#
# The base root is made once (`debootstrap --variant=minbase bookworm` from the mirror apt
# uses, as scripts/fresh-root does) and kept as a tarball in BUILD_DIR/container (or
# RINGLINE_CONTAINER_CACHE); delete it to make a new one. Images and containers live in a
# podman storage of the test's own, in a temporary directory, removed at the end, also on
# failure. The test runs in a mount namespace of its own, so every mount podman makes ends
# with it; where /sys/fs/cgroup has no cgroup mounted (a chroot such as scripts/fresh-root's
# mounts a bare sysfs), it mounts the hierarchies the kernel has there, which runc needs.
set -euo pipefail
build=$1 source=$2 client=$3
fail() { echo "container_test: $*" >&2; exit 1; }
log() { echo "container_test: $*"; }

if [ "$(id -u)" -ne 0 ]; then
  fail "must run as root (debootstrap, podman with runc)"
fi
for tool in podman runc debootstrap unshare; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (scripts/install-deps --test)"
done

if [ "${RINGLINE_CONTAINER_TEST_NAMESPACE:-}" != 1 ]; then
  exec env RINGLINE_CONTAINER_TEST_NAMESPACE=1 unshare --mount --propagation private "$0" "$@"
fi

# runc creates each container's cgroups under /sys/fs/cgroup (podman's cgroupfs manager).
# (The list in a variable: grep -q closing a pipe early fails the pipeline under pipefail.)
cgroup_mounts=$(findmnt -rn -t cgroup,cgroup2 -o TARGET || true)
if ! grep -q '^/sys/fs/cgroup' <<<"$cgroup_mounts"; then
  log "no cgroup mounted under /sys/fs/cgroup; mounting the kernel's hierarchies in this namespace"
  mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
  # Version 1 hierarchies: the controllers /proc/cgroups puts in each (hierarchy 0: none).
  v1=$(awk '!/^#/ && $2 != 0 && $4 == 1 {h[$2] = h[$2] (h[$2] ? "," : "") $1}
            END {for (i in h) print h[i]}' /proc/cgroups)
  if [ -n "$v1" ]; then
    while read -r controllers; do
      mkdir -p "/sys/fs/cgroup/$controllers"
      mount -t cgroup -o "$controllers" cgroup "/sys/fs/cgroup/$controllers"
    done <<<"$v1"
  else
    umount /sys/fs/cgroup
    mount -t cgroup2 cgroup2 /sys/fs/cgroup
  fi
fi

started=$(date +%s)
elapsed() { echo "$(($(date +%s) - started)) s"; }

# --- The base: a minbase bookworm root, made once.
cache=${RINGLINE_CONTAINER_CACHE:-$build/container}
base_tar=$cache/bookworm-minbase.tar
mkdir -p "$cache"
if [ ! -f "$base_tar" ]; then
  mirror=$(
    {
      awk '/^URIs:/{for (i = 2; i <= NF; i++) print $i}' /etc/apt/sources.list.d/*.sources 2>/dev/null
      awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; break}}' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
    } | grep -v -e security -e updates | head -n 1 || true
  )
  mirror=${mirror:-http://deb.debian.org/debian}
  log "debootstrap --variant=minbase bookworm from $mirror (cached as $base_tar)"
  root_build=$(mktemp -d "$cache/root.XXXXXX")
  # Removed on failure too; nothing is mounted in it once debootstrap has returned.
  trap 'rm -rf --one-file-system "$root_build"' EXIT
  if ! timeout 600 debootstrap --variant=minbase bookworm "$root_build/root" "$mirror" \
    >"$root_build/debootstrap.log" 2>&1; then
    tail -n 30 "$root_build/debootstrap.log" >&2
    fail "debootstrap failed"
  fi
  # The downloaded packages are not part of the system (a container base has none); the
  # package lists stay, so the image build's apt-get update has little to fetch.
  rm -f "$root_build"/root/var/cache/apt/archives/*.deb
  tar -C "$root_build/root" -cf "$base_tar.partial" .
  mv "$base_tar.partial" "$base_tar"
  rm -rf --one-file-system "$root_build"
  trap - EXIT
  log "base root made in $(elapsed)"
fi

# --- A podman of the test's own: storage, run state and events in the work directory.
work=$(mktemp -d)
storage_driver=overlay
# overlayfs cannot be stacked on overlayfs (a root that is itself a container's).
if [ "$(stat -f -c %T "$work")" = overlayfs ]; then
  storage_driver=vfs
fi
podman=(podman --root "$work/storage" --runroot "$work/run" --tmpdir "$work/tmp"
  --storage-driver "$storage_driver" --events-backend file
  --runtime runc --cgroup-manager=cgroupfs)
containers=()
cleanup() {
  local status=$?
  set +e
  for container in "${containers[@]}"; do
    timeout 60 "${podman[@]}" rm -f -t 0 "$container" >/dev/null 2>&1
  done
  timeout 60 "${podman[@]}" rmi -a -f >/dev/null 2>&1
  # Whatever podman left mounted (this namespace's mounts only) goes before the directory.
  findmnt -rn -o TARGET | grep "^$work/" | sort -r | xargs -r -n 1 umount -l 2>/dev/null
  rm -rf --one-file-system "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "podman import $(basename "$base_tar") as localhost/debian:bookworm"
timeout 300 "${podman[@]}" import "$base_tar" localhost/debian:bookworm >"$work/import.log" 2>&1 ||
  fail "podman import failed: $(tail -n 20 "$work/import.log")"

# --- The image: the Containerfile with the server package cpack makes from this build.
context=$work/context
(cd "$build" && timeout 300 cpack -G DEB -D CPACK_COMPONENTS_ALL=server -B "$work/packages") \
  >"$work/cpack.log" 2>&1 || fail "cpack failed: $(tail -n 20 "$work/cpack.log")"
deb=$(find "$work/packages" -maxdepth 1 -name 'ringline_*.deb' | head -n 1)
[ -n "$deb" ] || fail "cpack made no ringline_*.deb: $(ls "$work/packages")"
mkdir -p "$context"
cp "$deb" "$source/packaging/container/Containerfile" "$context/"
log "podman build (base localhost/debian:bookworm, $(basename "$deb")) after $(elapsed)"
# The image's RUN steps fetch the package's dependencies from the base's apt sources: the
# host's network, since no bridge is needed for that.
timeout 600 "${podman[@]}" build --network host -t localhost/ringline:test -f "$context/Containerfile" \
  "$context" >"$work/build.log" 2>&1 || fail "podman build failed: $(tail -n 30 "$work/build.log")"

# --- Runs. These machines need explicit limits (podman's own default, 1048576, is above what
# may be set here) and the host's network: the server listens on the host's loopback, on a
# port the kernel picks (--port 0), read from its start-up line.
nofile=$(ulimit -Hn)
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; then
  nofile=65536
fi
expected_conversation=$'connect\nThank you client , you data is Received success '
# run NAME [PODMAN_OPTION...]: starts the image, converses, stops it; checks the sink and the
# exit; leaves the log in $work/NAME.log.
run() {
  local name=$1
  shift
  local volume=$work/$name-volume
  mkdir -p "$volume"
  # The image's user (uid 999) writes the sink.
  chown 999:999 "$volume"
  containers+=("ringline-test-$name-$$")
  local container=${containers[-1]}
  timeout 60 "${podman[@]}" run -d --name "$container" --network host \
    --ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096 \
    -v "$volume:/var/lib/ringline" "$@" \
    localhost/ringline:test --host 127.0.0.1 --port 0 --threads 1 >/dev/null 2>"$work/$name.run.log" ||
    fail "$name: podman run failed: $(cat "$work/$name.run.log")"
  local port='' state='' deadline=$(($(date +%s) + 30))
  while (($(date +%s) < deadline)); do
    timeout 30 "${podman[@]}" logs "$container" >"$work/$name.log" 2>&1 || true
    port=$(sed -n 's/.* listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/$name.log")
    [ -n "$port" ] && break
    state=$(timeout 30 "${podman[@]}" inspect --format '{{.State.Status}}' "$container")
    [ "$state" = running ] || [ "$state" = created ] ||
      fail "$name: the server exited before listening ($state): $(cat "$work/$name.log")"
    sleep 0.1
  done
  [ -n "$port" ] || fail "$name: no start-up line after 30 s: $(cat "$work/$name.log")"

  # A client outside the container: the greeting, one line, its ack.
  local line="a line through $name to the host's volume"
  local out
  out=$(timeout 30 "$client" --host 127.0.0.1 --port "$port" --message "$line" 2>&1) ||
    fail "$name: the client failed: $out; server: $(cat "$work/$name.log")"
  [ "$out" = "$expected_conversation" ] || fail "$name: unexpected conversation: $out"
  # Acknowledged, so on disk (the packaged configuration is durable) in the host's directory.
  [ "$(cat "$volume/lines.log" 2>/dev/null)" = "$line" ] ||
    fail "$name: the volume's lines.log holds: $(cat "$volume/lines.log" 2>&1)"
  # Written by the image's own user, not root.
  [ "$(stat -c %u:%g "$volume/lines.log")" = 999:999 ] ||
    fail "$name: lines.log is owned by $(stat -c %u:%g "$volume/lines.log"), not ringline (999:999)"

  # podman stop sends the image's STOPSIGNAL (SIGTERM): a drain and exit 0, well before the
  # 10 s after which podman would kill it.
  timeout 60 "${podman[@]}" stop -t 10 "$container" >/dev/null || fail "$name: podman stop failed"
  local code
  code=$(timeout 60 "${podman[@]}" wait "$container") || fail "$name: podman wait failed"
  timeout 30 "${podman[@]}" logs "$container" >"$work/$name.log" 2>&1
  [ "$code" = 0 ] || fail "$name: exit code $code after podman stop: $(cat "$work/$name.log")"
  grep -q ' info signal 15: shutting down' "$work/$name.log" ||
    fail "$name: no shutdown line: $(cat "$work/$name.log")"
  grep -q ' info stats: accepted=1 .* lines=1 ' "$work/$name.log" ||
    fail "$name: no final counters with the one connection and line: $(cat "$work/$name.log")"
  timeout 60 "${podman[@]}" rm "$container" >/dev/null || fail "$name: podman rm failed"
  log "$name: port $port, conversation, sink in the volume, exit 0 on podman stop ($(elapsed))"
}

# Podman's default seccomp profile: io_uring_setup fails with ENOSYS, the server says so
# once and runs on epoll.
run default-seccomp
startup=$(grep ' listening on ' "$work/default-seccomp.log")
fallback=$(grep 'io_uring is not available' "$work/default-seccomp.log" || true)
if [ "$(grep -c . <<<"$fallback")" != 1 ] ||
  ! grep -q ' warn .*io_uring is not available (io_uring_setup: Function not implemented).*; using epoll$' \
    <<<"$fallback"; then
  fail "default seccomp: not one warn line naming ENOSYS and epoll: $(cat "$work/default-seccomp.log")"
fi
[[ "$startup" == *" backend=epoll "* ]] ||
  fail "default seccomp: the server does not run on epoll: $startup"

# Without a seccomp profile io_uring is there, and the server uses it, without a fallback line.
run unconfined --security-opt seccomp=unconfined
startup=$(grep ' listening on ' "$work/unconfined.log")
[[ "$startup" == *" backend=io_uring "* ]] ||
  fail "unconfined: the server does not run on io_uring: $startup"
if grep -q 'io_uring is not available' "$work/unconfined.log"; then
  fail "unconfined: a fallback line: $(cat "$work/unconfined.log")"
fi

log "default seccomp: $fallback"
log "unconfined: $startup"
log "passed in $(elapsed) ($storage_driver storage)"
