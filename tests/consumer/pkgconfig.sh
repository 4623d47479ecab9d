#!/usr/bin/env bash
# Install h5div from BUILD into a fresh prefix, compile tests/consumer/app.c with
# nothing but `pkg-config --cflags --libs h5div` (and an rpath to the library
# directory pkg-config names), and run it on the repository's data/.
#
#   pkgconfig.sh BUILD CONSUMER_DIR WORKDIR CC
set -euo pipefail
build=$1 source=$2 work=$3 cc=$4
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
pc=$(find "$work/prefix" -name h5div.pc)
[[ -n "$pc" ]] || { echo "FAIL: no h5div.pc installed" >&2; exit 1; }
cmakedir=$(find "$work/prefix" -name h5divConfig.cmake -printf '%h\n')
[[ "$(dirname "$pc")" == "$(dirname "$(dirname "$cmakedir")")/pkgconfig" ]] ||
    { echo "FAIL: $pc is not beside the CMake package $cmakedir" >&2; exit 1; }
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
# The prefix in the .pc file is relative to the file: moving the tree keeps it right.
mv "$work/prefix" "$work/moved"
PKG_CONFIG_PATH=${PKG_CONFIG_PATH/$work\/prefix/$work/moved}
flags=$(pkg-config --cflags --libs h5div)
libdir=$(pkg-config --variable=libdir h5div)
echo "pkg-config --cflags --libs h5div: $flags"
[[ "$(pkg-config --modversion h5div)" == "$(sed -n 's/^#define H5DIV_VERSION_STRING "\(.*\)"/\1/p' "$work/moved/include/h5div_types.h")" ]] ||
    { echo "FAIL: pkg-config --modversion differs from H5DIV_VERSION_STRING" >&2; exit 1; }
[[ -e "$libdir/libh5div.so" ]] || { echo "FAIL: libdir $libdir has no libh5div.so" >&2; exit 1; }
# shellcheck disable=SC2086 # the flags are words
"$cc" -std=c11 -o "$work/app" "$source/app.c" $flags -Wl,-rpath,"$libdir" -lm
env -u LD_LIBRARY_PATH "$work/app" "$source/../../data"
