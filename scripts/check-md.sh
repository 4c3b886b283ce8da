#!/usr/bin/env bash
# Lists every line of a tracked Markdown file longer than the limit, as `path:line: N characters`,
# and exits 1 if there is one. Characters, not bytes: UTF-8 continuation bytes are not counted.
#
# Usage: scripts/check-md.sh [MAX]      (MAX defaults to 120; run from anywhere in the repository)
set -euo pipefail

max=${1:-120}
case $max in '' | *[!0-9]*) echo "check-md.sh: MAX must be a number, not '$max'" >&2; exit 2 ;; esac
cd "$(git rev-parse --show-toplevel)"

# xargs exits 123 when awk fails; say 1, as the usage promises.
git ls-files -z -- '*.md' | xargs -0 -r env LC_ALL=C awk -v max="$max" '
    FNR == 1 { sub(/^\357\273\277/, "") }   # a byte-order mark is not a character of the line
    {
        line = $0
        sub(/\r$/, "", line)
        gsub(/[\200-\277]/, "", line)
        if (length(line) > max) {
            printf "%s:%d: %d characters\n", FILENAME, FNR, length(line)
            bad++
        }
    }
    END {
        if (bad) {
            printf "%d line(s) over %d characters\n", bad, max > "/dev/stderr"
            exit 1
        }
    }' || exit 1
