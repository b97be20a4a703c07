#!/usr/bin/env bash
# Fails when a tracked C++ file is not clang-format clean.
set -u
cd "$1" || exit 2
files=$(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find . -name '*.[ch]pp' -not -path './build*')
[ -z "$files" ] && exit 0
# shellcheck disable=SC2086
clang-format --dry-run -Werror $files
