#!/usr/bin/env bash
# Install h5div from BUILD into a fresh prefix, build a separate project that
# finds it with find_package(h5div CONFIG), and run it on the repository's data/
# with no LD_LIBRARY_PATH: the program finds libh5div through its RUNPATH.
set -euo pipefail
build=$1 source=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
cmake -S "$source" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log"
cmake --build "$work/build" > "$work/build.log"
env -u LD_LIBRARY_PATH "$work/build/app" "$source/../../data"
