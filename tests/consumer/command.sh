#!/usr/bin/env bash
# The installed command as a user meets it: `cmake --install BUILD --prefix P`, then P/bin/h5div
# runs with an empty environment (no PATH, no LD_LIBRARY_PATH), compares data/example.h5, and
# `man` shows h5div(1) and one page per command from P/share/man.
#
#   command.sh BUILD DATA_DIR WORKDIR
set -euo pipefail
build=$1 data=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
p=$work/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }

runpath=$(readelf -d "$p/bin/h5div" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
echo "RUNPATH of bin/h5div: $runpath"
[[ "$runpath" == *"\$ORIGIN/../"* ]] || fail "bin/h5div has no \$ORIGIN RUNPATH: '$runpath'"
if [[ -e "$p/lib/libh5div.so" ]]; then lib=$p/lib/libh5div.so; else lib=$(find "$p" -name libh5div.so); fi
[[ -e "$lib" ]] || fail "no libh5div.so installed"

# `env -i h5div --version` needs no environment at all once --version starts no MPI. While the
# command still initialises MPI first, Open MPI's singleton start needs PATH (it runs orted) and,
# as root, its two variables; LD_LIBRARY_PATH is never set.
empty=(env -i)
if ! out=$(env -i "$p/bin/h5div" --version 2>&1); then
    echo "note: env -i h5div --version failed (MPI started before parsing); retrying with PATH only"
    empty=(env -i PATH=/usr/bin:/bin)
    [[ "$(id -u)" == 0 ]] && empty+=(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)
    out=$("${empty[@]}" "$p/bin/h5div" --version 2>&1) || fail "${empty[*]} h5div --version: $out"
fi
want=$(sed -n 's/^#define H5DIV_VERSION_STRING "\(.*\)"/\1/p' "$p/include/h5div_types.h")
[[ "$out" == "h5div $want" ]] || fail "h5div --version printed '$out', want 'h5div $want'"
echo "env -i P/bin/h5div --version: $out"

# compare starts MPI: a singleton needs PATH to find orted.
run=(env -i PATH=/usr/bin:/bin)
[[ "$(id -u)" == 0 ]] && run+=(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)
out=$("${run[@]}" "$p/bin/h5div" compare "$data/example.h5:/reference" "$data/example.h5:/generated" \
    --json 2>&1) || fail "installed h5div compare failed: $out"
grep -q '"kl_pq": [0-9]' <<<"$out" || fail "installed h5div compare printed no kl_pq: $out"
echo "${run[*]} P/bin/h5div compare data/example.h5: ok"

# man: h5div(1) through MANPATH, and every command's page by file.
page=$(MANPATH=$p/share/man man -w h5div) || fail "man -w h5div finds no page under $p/share/man"
[[ "$page" == "$p/share/man/man1/h5div.1"* ]] || fail "man -w h5div gave $page"
for cmd in "" compare entropy joint surprisal history histogram; do
    name=h5div${cmd:+-$cmd}
    f=$p/share/man/man1/$name.1
    [[ -f "$f" ]] || fail "no man page $f"
    text=$(MANWIDTH=100 man -l "$f" 2>&1) || fail "man -l $f: $text"
    grep -qE "^ +$name - " <<<"$text" || fail "$name(1) has no NAME line '$name - ...': $(head -8 <<<"$text")"
    grep -qF -- "--version" <<<"$text" || fail "$name(1) lacks the options of --help"
    if [[ -n "$cmd" ]]; then
        grep -qiF "h5div $cmd " <<<"$text" || fail "$name(1) never names 'h5div $cmd'"
    fi
    echo "man -l $name.1: ok ($(wc -l <<<"$text") lines)"
done
# grep without -q reads to the end: with pipefail, grep -q leaving early
# would fail the pipeline whenever man is still writing (SIGPIPE).
MANWIDTH=100 man -l "$p/share/man/man1/h5div-compare.1" | grep -- '--memory-per-rank' >/dev/null ||
    fail "h5div-compare(1) lacks --memory-per-rank"
