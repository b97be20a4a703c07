#!/usr/bin/env bash
# Fails when a file includes a layer above its own (runtime <- protocol <- service, client;
# service and client never see each other), or when liburing leaks out of runtime/*.cpp.
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

liburing=$(grep -rln '<liburing' "${root}"/runtime "${root}"/protocol "${root}"/service "${root}"/client \
  | grep -v '^'"${root}"'/runtime/[a-z_]*\.cpp$' || true)
if [ -n "$liburing" ]; then
  echo "liburing.h may only be included by runtime/*.cpp:"
  echo "$liburing"
  status=1
fi
exit $status
