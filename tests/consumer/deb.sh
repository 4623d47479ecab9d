#!/usr/bin/env bash
# The Debian package: `cpack -G DEB` on BUILD gives h5div_VERSION_ARCH.deb; its Depends names the
# package of every shared library the installed binaries need (found with dpkg -S, independently
# of dpkg-shlibdeps); it holds the command, library, headers, CMake and pkg-config files, man pages
# and bash completion; and the command unpacked from it (dpkg -x) compares data/example.h5 with an
# empty environment.
#
#   deb.sh BUILD DATA_DIR WORKDIR
set -euo pipefail
build=$1 data=$2 work=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v dpkg-deb >/dev/null || { echo "SKIP: not a Debian system (no dpkg-deb)" >&2; exit 77; }
rm -rf "$work"
mkdir -p "$work"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work" >"$work/cpack.log" 2>&1 ||
    { cat "$work/cpack.log" >&2; fail "cpack -G DEB failed"; }
version=$(sed -n 's/^#define H5DIV_VERSION_STRING "\(.*\)"/\1/p' "$data/../include/h5div_types.h")
deb=$work/h5div_${version}_$(dpkg --print-architecture).deb
[[ -f "$deb" ]] || fail "no $deb; cpack made: $(ls "$work"/*.deb 2>/dev/null)"
echo "built $(basename "$deb") ($(stat -c %s "$deb") bytes)"
dpkg-deb -f "$deb" Package Version Architecture Depends
depends=$(dpkg-deb -f "$deb" Depends)
[[ "$(dpkg-deb -f "$deb" Version)" == "$version" ]] || fail "Version is not $version"

# Contents.
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
want=(./usr/bin/h5div ./usr/include/h5div.h ./usr/include/h5div_types.h
    ./usr/share/bash-completion/completions/h5div)
# Man pages when the build made them (help2man installed).
[[ -f "$build/man/h5div.1" ]] && want+=(./usr/share/man/man1/h5div.1
    ./usr/share/man/man1/h5div-compare.1 ./usr/share/man/man1/h5div-history.1)
for f in "${want[@]}"; do
    grep -qxF "$f" <<<"$contents" || fail "the package has no $f"
done
for f in 'libh5div\.so\.[0-9]+$' 'pkgconfig/h5div\.pc$' 'cmake/h5div/h5divConfig\.cmake$'; do
    grep -qE "^\./usr/lib.*/$f" <<<"$contents" || fail "the package has no usr/lib*/.../$f"
done

# Depends: the package owning each library the binaries need directly (NEEDED), with the
# versions dpkg-shlibdeps adds stripped.
root=$work/root
# ldconfig lives in /sbin, which an ordinary user's PATH lacks. awk reads all of its output
# (no early exit): under pipefail a SIGPIPE of ldconfig would end the script without a word.
ldconfig=$(PATH="$PATH:/usr/sbin:/sbin" command -v ldconfig) || fail "no ldconfig"
dpkg -x "$deb" "$root"
lib=$(find "$root/usr" -name 'libh5div.so.*' -type f -print -quit)
declare -A owners=()
for bin in "$root/usr/bin/h5div" "$lib"; do
    while IFS= read -r soname; do
        [[ "$soname" == libh5div.so* ]] && continue
        path=$("$ldconfig" -p | awk -v s="$soname" '!f && $1 == s && /x86-64|x86_64|64bit/ {print $NF; f = 1}')
        [[ -n "$path" ]] || path=$("$ldconfig" -p | awk -v s="$soname" '!f && $1 == s {print $NF; f = 1}')
        [[ -n "$path" ]] || fail "$soname (needed by $bin) is not in the ld.so cache"
        pkg=""
        for cand in "$path" "$(readlink -f "$path")" "/usr${path#/usr}" "${path#/usr}"; do
            pkg=$(dpkg -S "$cand" 2>/dev/null | head -n 1 | cut -d: -f1) && [[ -n "$pkg" ]] && break
        done
        [[ -n "$pkg" ]] || fail "no package owns $path ($soname)"
        owners[$pkg]=$soname
    done < <(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done
names=$(tr ',' '\n' <<<"$depends" | sed -E 's/\(.*\)//; s/:[a-z0-9]+//; s/[[:space:]]//g')
for pkg in "${!owners[@]}" openmpi-bin; do
    grep -qxF "$pkg" <<<"$names" || fail "Depends lacks $pkg (owner of ${owners[$pkg]:-mpirun/orted}): $depends"
    echo "Depends has $pkg (${owners[$pkg]:-orted, which starts Open MPI even on one rank})"
done

# The unpacked command runs as is.
# PATH for Open MPI's singleton start (orted), as long as the command initialises MPI.
cmd=(env -i PATH=/usr/bin:/bin)
[[ "$(id -u)" == 0 ]] && cmd+=(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)
out=$("${cmd[@]}" "$root/usr/bin/h5div" compare "$data/example.h5:/reference" \
    "$data/example.h5:/generated" --json 2>&1) || fail "h5div from the package: $out"
grep -q '"kl_pq": [0-9]' <<<"$out" || fail "h5div from the package printed no kl_pq: $out"
echo "usr/bin/h5div from the package: compare data/example.h5 ok"
