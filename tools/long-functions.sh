#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The C functions of src/ longer than a limit (lines from the signature to the closing brace),
# longest first, from Universal Ctags' line and end fields.
#
# Usage: bash tools/long-functions.sh [LIMIT [FILE...]]   (default: 60, src/*/*.c)
# Exit status 1 when a function is over the limit, 0 otherwise; 2 without ctags.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-60}
shift || true
[ $# -gt 0 ] || set -- src/*/*.c
command -v ctags >/dev/null || { echo "$0: needs Universal Ctags (ctags --fields=+ne)" >&2; exit 2; }
ctags --fields=+ne --c-kinds=f -u -o - "$@" | awk -F'\t' -v limit="$limit" '
    {
        line = end = 0
        for (i = 4; i <= NF; i++) {
            if ($i ~ /^line:/) line = substr($i, 6)
            if ($i ~ /^end:/) end = substr($i, 5)
        }
        n = end - line + 1
        if (end && n > limit) { printf "%5d %s:%d %s\n", n, $2, line, $1; over = 1 }
    }
    END { exit over }' | sort -rn
