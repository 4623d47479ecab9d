#!/usr/bin/env bash
# libh5div exports exactly the public API: every dynamic symbol it defines is a
# function declared in include/, and every function declared there is exported.
#
#   symbols.sh LIBH5DIV INCLUDE_DIR
set -euo pipefail
lib=$1 inc=$2
exported=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort -u)
# Every function the public headers declare (comments removed; independent of H5DIV_API).
declared=$(cat "$inc"/*.h | sed -e 's|/\*.*\*/||g' -e '/\/\*/,/\*\//d' |
    grep -oE '\bh5div_[a-z0-9_]+ *\(' | tr -d ' (' | sort -u)
n_exp=$(wc -l <<<"$exported") n_dec=$(wc -l <<<"$declared")
echo "libh5div exports $n_exp symbols; include/ declares $n_dec functions"
status=0
while IFS= read -r s; do
    if ! grep -qxF "$s" <<<"$declared"; then
        echo "FAIL: $s is exported but not declared in $inc" >&2
        status=1
    fi
done <<<"$exported"
while IFS= read -r s; do
    if ! grep -qxF "$s" <<<"$exported"; then
        echo "FAIL: $s is declared in $inc but not exported" >&2
        status=1
    fi
done <<<"$declared"
((n_dec >= 20)) || { echo "FAIL: only $n_dec declarations found in $inc: the parser is broken" >&2; status=1; }
exit "$status"
