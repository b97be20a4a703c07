#!/usr/bin/env bash
# Fails when a file includes a layer above its own (runtime <- protocol <- service, client;
# service and client never see each other), or when liburing or <sys/epoll.h> leaks out of its
# backend's folder (runtime/uring/, runtime/epoll/).
set -u
root=$1
status=0

check() {
  local layer=$1 forbidden=$2
  local hits
  hits=$(grep -nE "#include \"(${forbidden})/" -r "${root}/${layer}" --include='*.hpp' --include='*.cpp' || true)
  if [ -n "$hits" ]; then
    echo "layer violation: ${layer}/ includes from ${forbidden}:"
    echo "$hits"
    status=1
  fi
}

check runtime 'protocol|service|client'
check protocol 'service|client'
check service 'client'
check client 'service'

# Each backend's kernel interface stays in its own folder: liburing in runtime/uring/,
# <sys/epoll.h> in runtime/epoll/. The event loop's public header exposes neither.
only_in() {
  local pattern=$1 folder=$2 found
  found=$(grep -rlE "$pattern" "${root}"/runtime "${root}"/protocol "${root}"/service "${root}"/client \
    | grep -v '^'"${root}/runtime/${folder}"'/[a-z_]*\.[ch]pp$' || true)
  if [ -n "$found" ]; then
    echo "$pattern may only be included in runtime/${folder}/:"
    echo "$found"
    status=1
  fi
}
only_in '#include <liburing' uring
only_in '#include <sys/epoll\.h>' epoll
exit $status
