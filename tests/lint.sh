#!/bin/sh
# shellcheck disable=SC2317,SC2329 # (the checks are called by name)
# tests/lint.sh (make lint): the house rules that a reader can check by
# grep, each a CHECK of its own; with no CHECK, all of them.  Prints what
# breaks a rule, FILE:LINE: what, and exits 1 when something does.
# tests/lint.bats runs each check as a test of make check.
#
#   format     C sources are as clang-format (.clang-format) writes them
#   dialect    one dialect: sizeof(x), declarations at the top of blocks
#              (for-loop heads included), no message split across string
#              literals (grep finds every message whole)
#   lib        lib/ never exits nor prints: its objects call neither exit
#              nor stdio output nor the tools' die/warn/x-allocators
#   files      no C file in lib/ or tools/ over 1,000 lines; each opens
#              with a comment saying its job
#   parts      lib/ is a folder per part, and a part includes only util
#              and the parts it stands on: etcd, tmpl and haproxy on
#              none of the others (the template engine knows nothing of
#              easy-lb), easylb on tmpl; within a part, no file calls
#              into a file that calls back into it, even by a detour
#              (by the objects' symbols: no circle)
#   schema     the README's key table is the table of lib/easylb/schema.c
#              (tests/schema/keys.c prints it), and easy-lb(1)'s KEYS
#              has an entry for each of its keys, in its order
#   bats       checks in a test's body that cannot fail: a '!' command
#              (bats' set -e ignores it: use refute), a line that chains
#              assertions with && (only the last counts), an assertion
#              that falls back to a looser one on a line of its own; and a
#              wait_until whose test holds a $(...) (worked out once,
#              before the wait: it waits for nothing)
#   shell      shellcheck on every shell script; share/ is POSIX sh
#              without FIFOs (but boot.sh's event pipe) or fractional
#              sleeps
set -u
cd "$(dirname "$0")/.." || exit 111
bad=0

# say FILE:LINE: WHAT: a rule broke (whatever a check prints is a fault).
say() {
	echo "$*"
}

csrc() {
	ls lib/*/*.c lib/*/*.h tools/*.c tools/common/*.c tools/common/*.h \
		tests/fuzz/*.c tests/hap/*.c tests/chaos/*.c tests/engine/*.c \
		tests/schema/*.c 2>/dev/null
}

check_format() {
	command -v clang-format >/dev/null || {
		say "clang-format is not installed (make deps)"
		return
	}
	for f in $(csrc); do
		clang-format --dry-run -Werror "$f" >/dev/null 2>&1 ||
			say "$f: not as clang-format writes it (clang-format -i $f)"
	done
}

check_dialect() {
	# shellcheck disable=SC2046 # one word per file
	grep -nE 'sizeof [^(]' $(csrc) | sed 's/$/: sizeof without parentheses/' |
		while IFS= read -r l; do say "$l"; done
	# shellcheck disable=SC2046
	grep -nE 'for \((const )?(unsigned |signed )?(size_t|int|long|char|short|unsigned|double|jv|struct [a-z_]+) \**[a-z_]' $(csrc) |
		sed 's/$/: a declaration in a for head/' |
		while IFS= read -r l; do say "$l"; done
	# A string literal that ends a line, not with \n, and another that
	# starts the next: one message in two pieces.
	for f in $(csrc); do
		awk -v f="$f" '
			prev && /^[ \t]*"/ { print f ":" FNR ": a string literal split from the line before" }
			{ prev = ($0 ~ /"[ \t]*$/ && $0 !~ /\\n"[ \t]*$/ && $0 !~ /^[ \t]*#/ && $0 !~ /^[ \t]*\/?\*/) }
		' "$f"
	done | while IFS= read -r l; do say "$l"; done
	# (the compiler checks mid-block declarations: the Makefile's
	# -Wdeclaration-after-statement)
}

check_lib() {
	# (the objects of the flavour bin/ points at: build or build-san)
	b=$(readlink bin/etcd-get 2>/dev/null)
	b=${b#../}
	b=${b%/etcd-get}
	if [ -z "$b" ] || [ ! -d "$b/lib" ]; then
		say "bin/: nothing built (make first)"
		return
	fi
	for o in "$b"/lib/*/*.o; do
		nm -u "$o" | awk '{ print $NF }' |
			grep -xE 'exit|_exit|abort|die|dieerr|warnmsg|warnerr|xmalloc|xrealloc|xstrdup|printf|fprintf|vfprintf|puts|fputs|putchar|fputc|perror|fwrite' |
			sed "s|^|$o: lib calls |"
	done | while IFS= read -r l; do say "$l"; done
}

check_files() {
	for f in lib/*/*.c lib/*/*.h tools/*.c tools/common/*.c tools/common/*.h; do
		n=$(wc -l <"$f")
		[ "$n" -le 1000 ] || say "$f: $n lines (at most 1,000)"
		head -n 1 "$f" | grep -q '^/\*' || say "$f:1: does not open with a comment saying its job"
	done
}

check_parts() {
	b=$(readlink bin/etcd-get 2>/dev/null)
	b=${b#../}
	b=${b%/etcd-get}
	for d in "$b"/lib/*/; do
		if [ -z "$b" ] || [ ! -d "$d" ]; then
			continue
		fi
		for o in $(circles "${d%/}"); do
			say "lib/$(basename "$d")/${o%.o}.c: in a circle of calls within its part"
		done
	done
	for f in lib/*; do
		[ -d "$f" ] || say "$f: lib/ holds folders, a part each"
	done
	for f in lib/*/*.c lib/*/*.h; do
		[ -f "$f" ] || continue
		part=${f#lib/}
		part=${part%%/*}
		case $part in
		util) ok=util ;;
		etcd | tmpl | haproxy) ok="util $part" ;;
		easylb) ok="util tmpl easylb" ;;
		*) say "$f: lib/$part is no part (Makefile's PARTS)"; continue ;;
		esac
		grep -n '^#include "' "$f" | while IFS= read -r l; do
			inc=${l#*\"}
			case " $ok " in
			*" ${inc%%/*} "*) ;;
			*) say "$f:${l%%:*}: lib/$part includes ${inc%\"}" ;;
			esac
		done
	done
}

# circles DIR: the objects of DIR whose calls lead back to themselves.
circles() {
	for o in "$1"/*.o; do
		[ -f "$o" ] || continue
		nm "$o" | awk -v f="${o##*/}" '
			NF == 3 && $2 ~ /^[TDBR]$/ { print "D", f, $3 }
			NF == 2 && $1 == "U" { print "U", f, $2 }'
	done | awk '
		$1 == "D" { def[$3] = $2; next }
		{ use[++n] = $2; sym[n] = $3 }
		END {
			for (i = 1; i <= n; i++)
				if ((sym[i] in def) && def[sym[i]] != use[i])
					edge[use[i], def[sym[i]]] = 1
			for (k in edge) { split(k, ab, SUBSEP); node[ab[1]]; node[ab[2]] }
			# reach[a, b]: a leads to b (a closure by rounds)
			for (k in edge) reach[k] = 1
			do {
				grew = 0
				for (k in reach) {
					split(k, ab, SUBSEP)
					for (c in node)
						if (((ab[2], c) in edge) && !((ab[1], c) in reach)) {
							reach[ab[1], c] = 1
							grew = 1
						}
				}
			} while (grew)
			for (a in node) if ((a, a) in reach) print a
		}' | sort
}

check_schema() {
	d=$(mktemp -d "${TMPDIR:-/tmp}/easylb-lint.XXXXXX") || return
	if ! cc -Ilib -D_GNU_SOURCE -o "$d/keys" tests/schema/keys.c \
		lib/easylb/*.c lib/tmpl/*.c lib/util/*.c -ljq -lm 2>"$d/err"; then
		say "tests/schema/keys.c: does not build: $(head -n 1 "$d/err")"
		rm -rf "$d"
		return
	fi
	"$d/keys" >"$d/table"
	grep '^| `/services/<svc>' README.md >"$d/readme"
	cmp -s "$d/table" "$d/readme" ||
		say "README.md: its key table is not lib/easylb/schema.c's: $(diff "$d/table" "$d/readme" | grep -m 1 '^[<>]')"
	# the man page: ".IB prefix / svc /upstream/ instance" for
	# "upstream/<instance>", in the table's order
	# shellcheck disable=SC2016 # (backquotes of markdown, not of sh)
	sed -n 's/^| `\/services\/<svc>\/\([^`]*\)`.*/.IB prefix \/ svc \/\1/p' "$d/table" |
		sed 's/<\([^>]*\)>/ \1/g' >"$d/man-want"
	sed -n '/^\.SH KEYS/,/^\.SH /p' share/man/easy-lb.1 |
		grep '^\.IB prefix / svc /' >"$d/man" || :
	cmp -s "$d/man-want" "$d/man" ||
		say "share/man/easy-lb.1: KEYS is not lib/easylb/schema.c's keys in order: $(diff "$d/man-want" "$d/man" | grep -m 1 '^[<>]')"
	rm -rf "$d"
}

check_bats() {
	for f in tests/*.bats tests/chaos/*.bats; do
		[ -f "$f" ] || continue
		awk -v f="$f" '
			/^@test / { intest = 1; prev = ""; next }
			/^}/ { intest = 0 }
			!intest { next }
			# a "! cmd" line that continues no condition
			/^[ \t]+! / && prev !~ /(\|\||&&|\||\\|then|if|while|until|do)[ \t]*$/ {
				print f ":" FNR ": a mid-test \"!\" cannot fail: use refute"
			}
			# assertions chained with &&: only the last counts
			/^[ \t]+\[\[? .*\]?\] && (\[|grep -q|test )/ {
				print f ":" FNR ": assertions chained with &&: one a line"
			}
			# a wait that waits for nothing
			/^[ \t]+wait_until [0-9]+ (test|\[\[?) [^|]*[^\\]\$\(/ {
				print f ":" FNR ": wait_until of a test whose $(...) is worked out once: wrap it in a function"
			}
			# an assertion with a fallback on the next line
			/^[ \t]+\[\[? .*\]\]? \|\|[ \t]*$/ {
				print f ":" FNR ": an assertion that falls back to another: assert one"
			}
			{ prev = $0 }
		' "$f"
	done | while IFS= read -r l; do say "$l"; done
}

check_shell() {
	command -v shellcheck >/dev/null || {
		say "shellcheck is not installed (make deps)"
		return
	}
	shellcheck -x -s sh share/easy-lb/boot.sh share/easy-lb/watcher.sh \
		share/easy-lb/demo.sh >/dev/null || say "share/easy-lb: shellcheck -x -s sh finds faults"
	for f in contrib/*.sh contrib/easy-lb-sync tests/*.sh tests/matrix/*.sh tests/fuzz/*.sh .ci/run; do
		shellcheck -x "$f" >/dev/null || say "$f: shellcheck finds faults"
	done
	# (data flows through pipes; the one FIFO is boot.sh's event pipe,
	# unlinked as soon as it is open)
	# shellcheck disable=SC2016 # boot.sh's own text, not to expand
	grep -n 'mkfifo' share/easy-lb/*.sh | grep -v '^share/easy-lb/boot.sh:[0-9]*:mkfifo -m 600 "$events"' |
		sed 's/$/: a FIFO in share\//' |
		while IFS= read -r l; do say "$l"; done
	grep -nE 'sleep [0-9]*\.' share/easy-lb/*.sh | sed 's/$/: a fractional sleep is not POSIX/' |
		while IFS= read -r l; do say "$l"; done
}

checks=${*:-format dialect lib files parts schema bats shell}
for c in $checks; do
	case $c in
	format | dialect | lib | files | parts | schema | bats | shell) ;;
	*) echo "lint: no check '$c' (format dialect lib files parts schema bats shell)" >&2; exit 100 ;;
	esac
	out=$("check_$c")
	[ -z "$out" ] || {
		printf '%s\n' "$out"
		bad=1
	}
done
exit "$bad"
