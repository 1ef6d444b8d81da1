#!/bin/sh
# Compiles every ```cpp block of the given guides against the headers of this tree, so that the
# guides stay true to the API. Each block is a whole translation unit (it has its #includes).
#   usage: test/doc_samples.sh INCLUDE_DIR GUIDE.md...   (CXX: the compiler command, c++ unless set)
set -u
include=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
count=0
for guide in "$@"; do
    # One file per block: sample-<guide>-<n>.cpp, with a #line so errors point into the guide.
    awk -v dir="$work" -v name="$(basename "$guide" .md)" -v path="$guide" '
        /^```cpp$/ { n++; file = sprintf("%s/%s-%d.cpp", dir, name, n); inside = 1
                     printf "#line %d \"%s\"\n", NR + 1, path > file; next }
        /^```/ && inside { inside = 0; close(file); next }
        inside { print > file }
    ' "$guide"
done
for sample in "$work"/*.cpp; do
    [ -e "$sample" ] || continue
    count=$((count + 1))
    # shellcheck disable=SC2086 # CXX may be "ccache c++"
    if ! ${CXX:-c++} -std=c++20 -fsyntax-only -Wall -Wextra -Werror -I"$include" "$sample" \
        2>"$work/errors"; then
        echo "doc sample $(basename "$sample" .cpp) does not compile:"
        cat "$work/errors"
        failed=$((failed + 1))
    fi
done
echo "doc samples: $count compiled, $failed failed"
[ "$count" -gt 0 ] && [ "$failed" -eq 0 ]
