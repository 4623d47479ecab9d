#!/usr/bin/env bash
# The installed bash completion of h5div: commands, each command's options, option values, files
# and FILE:/dataset paths inside an HDF5 file (with h5ls). Runs the completion function as bash
# would after a <TAB>, in a work directory holding a copy of data/example.h5.
#
#   completion.sh BUILD DATA_DIR WORKDIR
set -euo pipefail
build=$1 data=$2 work=$3
rm -rf "$work"
mkdir -p "$work/d"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
comp=$work/prefix/share/bash-completion/completions/h5div
[[ -f "$comp" ]] || { echo "FAIL: no $comp" >&2; exit 1; }
cp "$data/example.h5" "$work/d/example.h5"
touch "$work/d/other.txt"
cd "$work"
export PATH="$work/prefix/bin:$PATH"
# shellcheck source=packaging/bash-completion/h5div
source "$comp"
[[ "$(complete -p h5div)" == *"-F _h5div"* ]] || { echo "FAIL: complete -p h5div: $(complete -p h5div)" >&2; exit 1; }

failures=0
# expect LINE WANT...: the sorted replies to <TAB> at the end of LINE are exactly WANT.
expect() {
    local line=$1
    shift
    COMP_LINE=$line COMP_POINT=${#line} COMPREPLY=()
    _h5div 2>/dev/null || true
    local got want
    got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
    want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    [[ $# -gt 0 ]] || want=$(printf '\n' | tr '\n' ' ')
    if [[ "$got" == "$want" ]]; then
        echo "ok: '$line' -> $got"
    else
        echo "FAIL: '$line' -> '$got', want '$want'" >&2
        failures=$((failures + 1))
    fi
}
# contains LINE WORD...: the replies include every WORD.
contains() {
    local line=$1 w
    shift
    COMP_LINE=$line COMP_POINT=${#line} COMPREPLY=()
    _h5div 2>/dev/null || true
    # grep without -q reads to the end: with pipefail, grep -q leaving at
    # the first match would fail the pipeline whenever printf is still
    # writing (SIGPIPE).
    for w in "$@"; do
        if ! printf '%s\n' "${COMPREPLY[@]}" | grep -xF -- "$w" >/dev/null; then
            echo "FAIL: '$line' -> '${COMPREPLY[*]}' lacks $w" >&2
            failures=$((failures + 1))
            return
        fi
    done
    echo "ok: '$line' -> ${#COMPREPLY[@]} replies including $*"
}

expect "h5div " compare entropy joint surprisal history histogram --help --version
expect "h5div e" entropy
expect "h5div compare --me" --measures --memory-per-rank
expect "h5div history --c" --check --csv
expect "h5div histogram --out" --outside --output
expect "h5div histogram --nan " error skip
expect "h5div compare --c" --ci
expect "h5div compare --nu" --null
expect "h5div compare --null "
expect "h5div entropy --c" --ci
expect "h5div joint --k" --keep-replicates
expect "h5div entropy --bootstrap "
expect "h5div entropy --est" --estimator
expect "h5div entropy --estimator ch" chao-shen
expect "h5div compare -b " 2 e 10
expect "h5div compare --measures kl_pq,js_d" kl_pq,js_divergence kl_pq,js_distance
expect "h5div compare --measures sep" separation_power
expect "h5div compare --measures renyi_q" renyi_qp:
expect "h5div compare --measures kl_pq,b" kl_pq,bhattacharyya
expect "h5div compare --measures hel" hellinger
expect "h5div compare --measures kl_pq,g_" kl_pq,g_test
expect "h5div compare d/ex" d/example.h5
expect "h5div compare d/" d/example.h5 d/other.txt
if command -v h5ls >/dev/null 2>&1; then
    expect "h5div compare d/example.h5:/r" /reference
    expect "h5div compare d/example.h5:/" /reference /generated
    expect "h5div compare d/example.h5:/reference d/example.h5:/g" /generated
else
    echo "note: no h5ls (hdf5-tools): dataset completion not checked"
fi
expect "h5div history -o d/ex" d/example.h5
# Every option of each command's --help is offered, and only that command's.
for cmd in compare entropy joint surprisal history histogram; do
    mapfile -t opts < <(h5div "$cmd" --help 2>/dev/null | sed -n -E 's/^ {2,6}(-[a-zA-Z], )?(--[a-z0-9-]+).*/\2/p')
    ((${#opts[@]} >= 5)) || { echo "FAIL: $cmd --help lists ${#opts[@]} options" >&2; failures=$((failures + 1)); }
    contains "h5div $cmd --" "${opts[@]}"
done
((failures == 0)) || { echo "$failures completion checks failed" >&2; exit 1; }
echo "all completion checks passed"
