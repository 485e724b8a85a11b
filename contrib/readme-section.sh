#!/bin/sh
# readme-section.sh NAME FILE: replace the block of README.md between the
# lines "<!-- NAME:begin -->" and "<!-- NAME:end -->" with the lines of
# FILE (markers included: FILE holds them).  The generated sections
# (bench, matrix) are never edited by hand.
set -u
cd "$(dirname "$0")/.." || exit 111
if [ $# -ne 2 ] || [ ! -f "$2" ]; then
	echo "usage: readme-section.sh NAME FILE" >&2
	exit 100
fi
if ! grep -qx "<!-- $1:begin -->" README.md || ! grep -qx "<!-- $1:end -->" README.md; then
	echo "readme-section.sh: README.md lacks the $1:begin/$1:end markers" >&2
	exit 100
fi
awk -v blk="$2" -v b="<!-- $1:begin -->" -v e="<!-- $1:end -->" '
	$0 == b { while ((getline l < blk) > 0) print l; skip = 1; next }
	$0 == e { skip = 0; next }
	!skip
' README.md >README.md.tmp && mv -f README.md.tmp README.md
