#!/usr/bin/env bats
# tmpl: golden-file tests.  Each tests/tmpl/CASE holds t.tmpl, data.json
# (when the case reads data) and the expected stdout (out), stderr (err)
# and exit status (rc); a missing out or err means empty, a missing rc 0.
# TMPL_BLESS=1 rewrites the expected files from what tmpl does now: review
# the diff before committing.

load helper

G="$BATS_TEST_DIRNAME/tmpl"

# JQ marks, in a golden err file, the message that libjq wrote (a
# compile or runtime error, a JSON parse error): jq 1.6, 1.7 and 1.8 word
# those differently, so the test asserts the part tmpl writes around it,
# and that jq's is passed on (not empty), never jq's wording.
JQ="<jq's message>"

# same_lines GOLDEN ACTUAL: ACTUAL has GOLDEN's lines, each JQ in them
# standing for one or more characters.
same_lines() {
	local -a g a
	local i pre post
	mapfile -t g <"$1"
	mapfile -t a <"$2"
	[ "${#a[@]}" -eq "${#g[@]}" ] || { diff -u "$1" "$2"; return 1; }
	for i in "${!g[@]}"; do
		pre=${g[i]%%"$JQ"*} post=${g[i]#*"$JQ"}
		if [ "$pre" = "${g[i]}" ]; then
			[ "${a[i]}" = "${g[i]}" ] || { diff -u "$1" "$2"; return 1; }
		else
			[[ ${a[i]} == "$pre"?*"$post" ]] || { diff -u "$1" "$2"; return 1; }
		fi
	done
}

# compare NAME ACTUAL-FILE: exact bytes against the golden file NAME (a
# missing golden file means empty output, or status 0 for rc); an err
# file holding JQ is compared line by line around it.
compare() {
	local want="$dir/$1" empty=/dev/null
	[ "$1" = rc ] && empty="$BATS_TEST_TMPDIR/rc0" && echo 0 >"$empty"
	if [ -f "$want" ] && grep -qF "$JQ" "$want"; then
		same_lines "$want" "$2"
		return
	fi
	if [ -n "${TMPL_BLESS:-}" ]; then
		if cmp -s "$empty" "$2"; then rm -f "$want"; else cp "$2" "$want"; fi
		return 0
	fi
	[ -f "$want" ] || want=$empty
	diff -u "$want" "$2"
}

# golden CASE [TMPL-ARGS...]: run tmpl in the case directory and check
# exit status, stdout and stderr.  The caller sets any environment
# (env VAR=... golden ...).
golden() {
	dir="$G/$1"
	shift
	local d=() t="$BATS_TEST_TMPDIR" rc=0
	[ -f "$dir/data.json" ] && d=(-d data.json)
	(cd "$dir" && exec tmpl "${d[@]}" "$@" t.tmpl) >"$t/out" 2>"$t/err" ||
		rc=$?
	echo "$rc" >"$t/rc"
	compare rc "$t/rc"
	compare out "$t/out"
	compare err "$t/err"
}

@test "literal text passes through unchanged" { golden text; }
@test "an empty template renders nothing" { golden empty-template; }
@test "substitution: strings raw, other values compact JSON, null empty" { golden subst; }
@test "range binds . to each output" { golden range; }
@test "range else runs when the filter has no output" { golden range-else; }
@test "range as \$name is visible in nested expressions" { golden range-as; }
@test "range as takes jq destructuring patterns" { golden range-destructure; }
@test "range nests" { golden range-nested; }
@test "range patterns may span lines and hold comments" { golden range-pattern-multiline; }
@test "if / else if / else follow jq truth" { golden if-chain; }
@test "if: no output is false, the first output decides" { golden if-no-output; }
@test "an action that is a jq if-then-else-end is a substitution" { golden jq-if; }
@test "{{- and -}} trim whitespace and newlines" { golden trim; }
@test "comments render nothing, trimmed or not" { golden comment; }
@test "warn(msg) writes a warning line on stderr and renders nothing" { golden warn; }
@test "include renders a file relative to the includer with . and variables" { golden include; }
@test "\$root, \$ENV and --arg variables" {
	export TMPL_TEST_VAR=env-value
	golden vars --arg name N --arg n 7
}
@test "jq features: def, }} inside strings and objects, # comments" { golden jq-features; }
@test "unicode values and tabs pass" { golden unicode; }
@test "empty data is null" { golden empty-data; }

@test "helper ls lists direct children, sorted, deduplicated" { golden helper-ls; }
@test "helper lsdir lists child directories only" { golden helper-lsdir; }
@test "helper getv fails on a missing key, with its location" { golden helper-getv; }
@test "helper getv with a default" { golden helper-getv-default; }
@test "helper exists" { golden helper-exists; }
@test "helper gets matches globs segment by segment" { golden helper-gets; }
@test "helper getvs" { golden helper-getvs; }
@test "helper base" { golden helper-base; }
@test "helper dir" { golden helper-dir; }
@test "helper getenv with and without a default" {
	export TMPL_TEST_VAR=v TMPL_TEST_EMPTY=
	unset TMPL_TEST_UNSET
	golden helper-getenv
}
@test "helper under gives the keys below a directory with their values" { golden helper-under; }
@test "memo(k; f): the outputs of f, once per distinct key, warnings again on reuse" { golden memo-value; }
@test "{{ memo KEY }} blocks: the body rendered once per distinct key, nested, per output of KEY" { golden memo-block; }
@test "syntax error: unclosed memo" { golden err-memo-unclosed; }
@test "syntax error: else in memo" { golden err-memo-else; }
@test "syntax error: memo without a key" { golden err-memo-nokey; }
@test "dirmap(dir; f): f's first output per directory, in order, none left out, warnings kept" { golden dirmap; }
@test "dirmap right after an object key's colon is a call of dirmap" {
	printf '{{ {svc:dirmap("/s"; .)} | tojson }}\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	run_split tmpl "$BATS_TEST_TMPDIR/t.tmpl" <<<'{"/s/a/k":"v"}'
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = '{"svc":{"a":"a"}}' ]
}
@test "{{ each DIR as \$s }}: the body per directory, as range lsdir, nested, with a KEY" { golden each; }
@test "syntax error: each without as" { golden err-each-noas; }
@test "syntax error: unclosed each" { golden err-each-unclosed; }
@test "haproxy_name, haproxy_path, haproxy_servers and haproxy_backend: the values haproxy accepts, the others skipped with a warning" { golden helper-haproxy; }
@test "easylb_service: a service's hosts, location, servers and backend lines by the key schema; left out with a warning naming the key, or silently without upstreams" { golden helper-easylb-service; }
@test "haproxy_routes: the routes in the order the shipped template worked out in jq, on 300 random sets of services" {
	local g=$G/helper-haproxy-routes
	python3 "$g/gen.py" 1 300 >"$BATS_TEST_TMPDIR/d.json"
	run_split tmpl -d "$BATS_TEST_TMPDIR/d.json" "$g/t.tmpl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(grep -c '^case[0-9]* same$' <<<"$output")" -eq 300 ]
	[ "$(grep -vc '^$' <<<"$output")" -eq 300 ]
}
@test "haproxy_routes worked out from the last call's: 400 sets, each a few services changed from the one before, as [hosts, location] or {hosts, loc, ...}" {
	local g=$G/helper-haproxy-routes
	python3 "$g/gen.py" 2 400 chain >"$BATS_TEST_TMPDIR/d.json"
	run_split tmpl -d "$BATS_TEST_TMPDIR/d.json" "$g/t.tmpl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(grep -c '^case[0-9]* same$' <<<"$output")" -eq 400 ]
	[ "$(grep -vc '^$' <<<"$output")" -eq 400 ]
}
@test "helpers given the wrong kind of input: an error naming the helper" {
	local t=$BATS_TEST_TMPDIR/t.tmpl in
	for in in '[1] | haproxy_routes @ haproxy_routes: the input is not an object' \
		'{"s": [null, 5]} | haproxy_routes @ haproxy_routes: s: not [hosts, location] nor {hosts, loc}' \
		'{"s": [[1], "/"]} | haproxy_routes @ haproxy_routes: s: not [hosts, location] nor {hosts, loc}' \
		'{"s": {"hosts": null}} | haproxy_routes @ haproxy_routes: s: not [hosts, location] nor {hosts, loc}' \
		'{"s": [null, "/a\nb"]} | haproxy_routes @ haproxy_routes: s: control character U+000A in its name, hosts or location' \
		'{"s\r": [null, "/"]} | haproxy_routes @ haproxy_routes: a service: control character U+000D in its name, hosts or location' \
		'{"s": [["a.b\u0085"], "/"]} | haproxy_routes @ haproxy_routes: s: control character U+0085 in its name, hosts or location' \
		'ls(1) @ ls: the directory is not a string' \
		'lsdir(null) @ lsdir: the directory is not a string' \
		'under({}) @ under: the directory is not a string' \
		'haproxy_servers(["/s"]) @ haproxy_servers: the directory is not a string' \
		'haproxy_backend(true) @ haproxy_backend: the directory is not a string' \
		'easylb_service(5) @ easylb_service: the directory is not a string'; do
		printf '{{ %s }}\n' "${in%% @ *}" >"$t"
		run_split tmpl "$t" <<<'{}'
		[ "$status" -eq 1 ]
		[ -z "$output" ]
		[ "$stderr" = "tmpl: $t:1:4: runtime error: ${in#* @ }" ]
	done
}
@test "helper tree nests the data by path segment" { golden helper-tree; }
@test "helper tree: a key that is also a directory keeps its value under \"\"" { golden helper-tree-conflict; }
@test "helpers on data that is not an object" { golden helper-tree-notobject; }

@test "syntax error: unclosed action" { golden err-unclosed-action; }
@test "syntax error: unclosed range" { golden err-unclosed-range; }
@test "syntax error: end without range or if" { golden err-end-alone; }
@test "syntax error: else without range or if" { golden err-else-alone; }
@test "syntax error: else after else" { golden err-else-after-else; }
@test "syntax error: empty action" { golden err-empty-action; }
@test "syntax error: unterminated string" { golden err-unterminated-string; }
@test "syntax error: unbalanced brackets" { golden err-unbalanced; }
@test "syntax error: unclosed comment" { golden err-unclosed-comment; }
@test "jq syntax error names the expression" { golden err-jq-syntax; }
@test "a variable used outside its range is a compile error" { golden err-undefined-var; }
@test "a compile error in a multi-line expression names its line" { golden err-jq-multiline; }
@test "a bad range pattern is a compile error" { golden err-jq-pattern; }
@test "compile errors after a multi-line pattern keep their line" { golden err-line-after-pattern; }
@test "an unknown function is a compile error" { golden err-undefined-func; }
@test "runtime error from a helper names the innermost expression" { golden err-runtime-getv; }
@test "runtime error() in nested blocks" { golden err-runtime-error; }
@test "runtime type error" { golden err-runtime-type; }
@test "runtime error in a range filter" { golden err-runtime-range-filter; }
@test "runtime error in an if condition" { golden err-runtime-if-cond; }
@test "columns count characters, not bytes" { golden err-unicode-column; }
@test "nesting deeper than 200 is a syntax error, not a crash" {
	local t="$BATS_TEST_TMPDIR/deep.tmpl" i
	for i in $(seq 201); do printf '{{ if true }}'; done >"$t"
	for i in $(seq 201); do printf '{{ end }}'; done >>"$t"
	run_split tmpl -d /dev/null "$t"
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[ "$stderr" = "tmpl: $t:1:2601: syntax error: actions nested too deeply" ]
	printf '{{ %s1%s }}' "$(printf '(%.0s' $(seq 201))" \
		"$(printf ')%.0s' $(seq 201))" >"$t"
	run_split tmpl -d /dev/null "$t"
	[ "$status" -eq 100 ]
	[ "$stderr" = "tmpl: $t:1:204: syntax error: nested too deeply" ]
}
@test "nesting up to 200 works" {
	local t="$BATS_TEST_TMPDIR/deep.tmpl" i
	for i in $(seq 199); do printf '{{ range . }}'; done >"$t"
	printf 'x' >>"$t"
	for i in $(seq 199); do printf '{{ end }}'; done >>"$t"
	run_split tmpl -d /dev/null "$t"
	[ "$status" -eq 0 ]
	[ "$output" = "x" ]
	[ "$stderr" = "" ]
}
@test "halt and halt_error end the render as an error" { golden err-halt; }
@test "data that is not JSON: exit 100 naming the file" { golden err-bad-json; }
@test "data with two documents is refused" { golden err-two-docs; }
@test "data that is not JSON on stdin is named stdin" {
	cd "$G/err-bad-json"
	run_split sh -c 'printf "{nope" | tmpl t.tmpl'
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[[ $stderr == "tmpl: stdin: invalid JSON: "?* ]]
	[[ $stderr != *$'\n'* ]]
}
@test "include of a missing file: exit 111 at the include" { golden err-include-missing; }
@test "include loop" { golden err-include-loop; }
@test "syntax error inside an included file names that file" { golden err-include-syntax; }
@test "include wants a string literal" { golden err-include-notstring; }

@test "injection: newline in a value is refused" { golden inject-newline; }
@test "injection: carriage return" { golden inject-cr; }
@test "injection: NUL" { golden inject-nul; }
@test "injection: DEL" { golden inject-del; }
@test "injection: U+0085 NEL" { golden inject-nel; }
@test "injection: U+2028 line separator" { golden inject-u2028; }
@test "injection: a long value is shown shortened around the culprit" { golden inject-long; }
@test "injection: checked in JSON output too" { golden inject-in-json; }
@test "raw opts one expression out of the check" { golden inject-raw; }
@test "--max-output bounds the output" { golden max-output --max-output 999; }
@test "--max-output stops a runaway range whose body is only {{ . }}, before memory does" {
	printf '{{ range range(10000000000) }}{{ . }}\n{{ end }}' >"$BATS_TEST_TMPDIR/t.tmpl"
	run_split tmpl --max-output 65536 -d /dev/null -o "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/t.tmpl"
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "tmpl: $BATS_TEST_TMPDIR/t.tmpl:1:34: output larger than 65536 bytes" ]
	[ ! -e "$BATS_TEST_TMPDIR/out" ]
}

@test "a range of more outputs than one array holds, its body only {{ . }}, renders them all in order" {
	printf '{{ range range(70000) }}<{{ . }}>{{ else }}none{{ end }}\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	run_split tmpl -d /dev/null "$BATS_TEST_TMPDIR/t.tmpl"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "$(seq 0 69999 | sed 's/.*/<&>/' | tr -d '\n')" ]
}

@test "--max-output exactly reached is fine" {
	cd "$G/max-output"
	run_split tmpl -d data.json --max-output 1000 t.tmpl
	[ "$status" -eq 0 ]
	[ "${#output}" -eq 1000 ]
	[ "$stderr" = "" ]
}

@test "-h prints usage on stdout" {
	run_split tmpl -h
	[ "$status" -eq 0 ]
	[ "$output" = "usage: tmpl [-d DATA] [-o OUT] [--arg NAME VALUE]... [--max-output BYTES] [--timings] [--follow [--debounce MS] [--status FILE] [--no-sync]] TEMPLATE" ]
	[ "$stderr" = "" ]
}
@test "the usage line is the man page's SYNOPSIS" {
	local syn
	# (groff 1.23 and later colour their output unless told not to)
	syn=$(GROFF_NO_SGR=1 nroff -man -Tascii -rLL=1000n "$REPO/share/man/tmpl.1" |
		col -b | sed -n '/^SYNOPSIS/{n;s/^ *//;p;}')
	run_split tmpl --help
	[ "$status" -eq 0 ]
	[ "$output" = "usage: $syn" ]
	[ "$stderr" = "" ]
}
@test "--version" {
	run_split tmpl --version
	[ "$status" -eq 0 ]
	[ "$output" = "tmpl 0.1.0" ]
	[ "$stderr" = "" ]
}
@test "no template: usage on stderr, exit 100" {
	run_split tmpl
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[ "$stderr" = "usage: tmpl [-d DATA] [-o OUT] [--arg NAME VALUE]... [--max-output BYTES] [--timings] [--follow [--debounce MS] [--status FILE] [--no-sync]] TEMPLATE" ]
}
@test "unknown option: exit 100" {
	run_split tmpl --nope t
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"unrecognized option '--nope'"*"usage: tmpl "* ]]
}
@test "--arg wants a name and a value" {
	run_split tmpl --arg x
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[[ "$stderr" == "usage: tmpl "* ]]
}
@test "--arg refuses names that are not identifiers or are reserved" {
	run_split tmpl --arg root x t
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[ "$stderr" = "tmpl: --arg: bad variable name: root" ]
}
@test "--max-output must be a positive number" {
	run_split tmpl --max-output 0 t
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[ "$stderr" = "tmpl: --max-output: 0: too small" ]
}
@test "a missing template: exit 111" {
	run_split tmpl -d /dev/null "$BATS_TEST_TMPDIR/nope.tmpl"
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[ "$stderr" = "tmpl: $BATS_TEST_TMPDIR/nope.tmpl: No such file or directory" ]
}
@test "template and data cannot both be stdin" {
	run_split tmpl -
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[ "$stderr" = "tmpl: template and data cannot both be stdin" ]
}
@test "-d - reads the data from stdin" {
	run_split sh -c 'tmpl -d - "$1" <"$2"' sh "$G/range/t.tmpl" "$G/range/data.json"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat "$G/range/out")" ]
	[ "$stderr" = "" ]
}
@test "--timings reports each phase on stderr" {
	cd "$G/range"
	run_split tmpl --timings -d data.json t.tmpl
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat out)" ]
	[[ "$stderr" =~ ^"tmpl: timings: parse "[0-9.]+" ms, compile "[0-9.]+" ms, data "[0-9.]+" ms, render "[0-9.]+" ms, output "[0-9.]+" ms"$ ]]
}
@test "template from stdin with -d" {
	run_split sh -c 'echo "{{ .a }}" | tmpl -d "$1" -' sh "$G/range/data.json"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	run_split sh -c 'echo "{{ .items[0].name }}" | tmpl -d "$1" -' sh "$G/range/data.json"
	[ "$status" -eq 0 ]
	[ "$output" = "a" ]
	[ "$stderr" = "" ]
}

@test "-o writes the file and keeps its mode" {
	local f="$BATS_TEST_TMPDIR/out.cfg"
	echo old >"$f"
	chmod 640 "$f"
	run_split tmpl -d "$G/range/data.json" -o "$f" "$G/range/t.tmpl"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	diff -u "$G/range/out" "$f"
	[ "$(stat -c %a "$f")" = 640 ]
}
@test "-o leaves an unchanged file untouched" {
	local f="$BATS_TEST_TMPDIR/out.cfg"
	cp "$G/range/out" "$f"
	local before
	before=$(stat -c '%i %Y.%y' "$f")
	run_split tmpl -d "$G/range/data.json" -o "$f" "$G/range/t.tmpl"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	[ "$(stat -c '%i %Y.%y' "$f")" = "$before" ]
}
@test "-o: a failed render leaves the old file and writes nothing" {
	local f="$BATS_TEST_TMPDIR/out.cfg"
	echo old >"$f"
	cd "$G/err-runtime-error"
	run_split tmpl -d data.json -o "$f" t.tmpl
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "$(cat err)" ]
	[ "$(cat "$f")" = old ]
	[ "$(ls -A "$BATS_TEST_TMPDIR" | grep -c out.cfg)" -eq 1 ]
}
@test "a failed render prints no partial document on stdout" {
	cd "$G/err-runtime-error"
	run_split tmpl -d data.json t.tmpl
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "$(cat err)" ]
}
@test "a write error on stdout: exit 111" {
	cd "$G/range"
	run_split sh -c 'tmpl -d data.json t.tmpl >/dev/full'
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[ "$stderr" = "tmpl: write error on stdout: No space left on device" ]
}
@test "-o into a missing directory: exit 111" {
	run_split tmpl -d "$G/range/data.json" -o /nonexistent/dir/x "$G/range/t.tmpl"
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[[ "$stderr" == "tmpl: /nonexistent/dir/x: cannot create temporary file: No such file or directory" ]]
}

@test "a 120k-key input (10,000 services x 10 upstreams) renders the expected document" {
	local d="$BATS_TEST_TMPDIR/data.json"
	sh "$REPO/bench/gen-data.sh" 10000 10 >"$d"
	local start=$(date +%s%N)
	run_split tmpl -d "$d" -o "$BATS_TEST_TMPDIR/out" "$REPO/bench/tmpl-bench/paths.cfg.tmpl"
	local ms=$(( ($(date +%s%N) - start) / 1000000 ))
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -eq 150011 ]
	[ "$(sha256sum <"$BATS_TEST_TMPDIR/out")" = "$(cat "$G/big.sha256")" ]
	# Generous for loaded CI machines and sanitizer builds; bench/ has
	# the real figures.
	[ "$ms" -lt 30000 ]
}

@test "the template parser survives 10 s of libFuzzer" {
	run_split sh "$REPO/tests/fuzz/run.sh" 10 tmpl_parse
	if [ "$status" -eq 77 ]; then
		skip "clang cannot build libFuzzer programs: $stderr"
	fi
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[[ "$stderr" == *"Done "*" runs in "* ]]
}

# follow_start ARGS...: tmpl --follow reading the fifo $F (held open on fd
# 4 by the test) into $OUT (default $BATS_TEST_TMPDIR/out.txt); its revision lines in
# $R, its stderr in $R.err.
follow_start() {
	F=$BATS_TEST_TMPDIR/records R=$BATS_TEST_TMPDIR/revs
	mkfifo "$F"
	tmpl --follow -d "$F" -o "${OUT:-$BATS_TEST_TMPDIR/out.txt}" "$@" >"$R" 2>"$R.err" &
	FPID=$!
	# (read and write: an open that does not wait for a reader, so that a
	# tmpl that died at start fails the test rather than hanging it)
	exec 4<>"$F"
}
# rec LINE...: one batch of records, in one write as etcd-watch writes it.
rec() {
	local IFS=$'\n'
	printf '%s\n' "$*" >&4
}
revs() { [ "$(wc -l <"$R")" -ge "$1" ]; }
# follow_end: close the input; tmpl's exit status in $status.
follow_end() {
	exec 4>&-
	status=0
	wait "$FPID" || status=$?
	FPID=
}

teardown() {
	[ -z "${FPID:-}" ] || { kill "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null; } || true
}

@test "--follow renders the snapshot, then each batch that changes OUT, printing its revision" {
	printf '{{ range $root | to_entries[] }}{{ .key }}={{ .value }}\n{{ end }}' >"$BATS_TEST_TMPDIR/t.tmpl"
	follow_start "$BATS_TEST_TMPDIR/t.tmpl"
	rec '{"type":"resync","revision":5,"kvs":{"/a":"1","/b":"2"}}'
	wait_until 5 revs 1
	[ "$(cat "$R")" = 5 ]
	[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = "/a=1
/b=2" ]
	rec '{"type":"put","key":"/c","value":"3","revision":6}' \
		'{"type":"delete","key":"/a","revision":6}' \
		'{"type":"progress","revision":6}'
	wait_until 5 revs 2
	[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = "/b=2
/c=3" ]
	# the same value again: OUT does not change, no line
	rec '{"type":"put","key":"/c","value":"3","revision":7}' '{"type":"progress","revision":7}'
	rec '{"type":"put","key":"/d","value":"4","revision":8}' '{"type":"progress","revision":8}'
	wait_until 5 revs 3
	follow_end
	[ "$status" -eq 0 ]
	[ "$(cat "$R")" = "5
6
8" ]
	[ "$(cat "$R.err")" = "" ]
}

@test "--follow: dirmap keeps its names in order as they come and go, as a render from scratch has them" {
	printf '{{ dirmap("/s"; .) | keys_unsorted | join(",") }}\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	follow_start "$BATS_TEST_TMPDIR/t.tmpl"
	rec '{"type":"resync","revision":5,"kvs":{"/s/c/k":"1","/s/e/k":"1"}}'
	wait_until 5 revs 1
	[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = "c,e" ]
	# after the last, then before the first and between, then all of them
	local step rev=6
	for step in "f:c,e,f" "a:a,c,e,f" "d:a,c,d,e,f" "b:a,b,c,d,e,f"; do
		rec "{\"type\":\"put\",\"key\":\"/s/${step%%:*}/k\",\"value\":\"1\",\"revision\":$rev}" \
			"{\"type\":\"progress\",\"revision\":$rev}"
		wait_until 5 revs $((rev - 4))
		[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = "${step#*:}" ]
		rev=$((rev + 1))
	done
	# one gone and another come in one batch; then the gone one back and
	# another before the first
	rec '{"type":"delete","key":"/s/c/k","revision":10}' \
		'{"type":"put","key":"/s/bb/k","value":"1","revision":10}' \
		'{"type":"progress","revision":10}'
	wait_until 5 revs 6
	[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = "a,b,bb,d,e,f" ]
	rec '{"type":"put","key":"/s/c/k","value":"1","revision":11}' \
		'{"type":"put","key":"/s/0/k","value":"1","revision":11}' \
		'{"type":"progress","revision":11}'
	wait_until 5 revs 7
	[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = "0,a,b,bb,c,d,e,f" ]
	follow_end
	[ "$status" -eq 0 ]
	[ "$(cat "$R.err")" = "" ]
}

@test "--follow --no-sync: OUT is replaced after each render, not synced; without it a failing fsync fails the render" {
	local so="$BATS_TEST_TMPDIR/enospc.so" mode
	# (an ASan build, make check SANITIZE=1, takes a library loaded
	# before its runtime)
	local asan=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
	cc -shared -fPIC -O2 -o "$so" "$REPO/tests/chaos/enospc.c" -ldl
	printf '{{ getv("/a") }}\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	for mode in --no-sync ""; do
		rm -f "$BATS_TEST_TMPDIR/out.txt" "$BATS_TEST_TMPDIR/fsync"
		# (every fsync of a file beside OUT fails, once armed)
		LD_PRELOAD=$so ASAN_OPTIONS=$asan ENOSPC_FLAG=$BATS_TEST_TMPDIR/fsync \
			ENOSPC_MATCH="$BATS_TEST_TMPDIR/.out.txt*" \
			follow_start ${mode:+"$mode"} "$BATS_TEST_TMPDIR/t.tmpl"
		rec '{"type":"resync","revision":5,"kvs":{"/a":"1"}}' '{"type":"progress","revision":5}'
		wait_until 5 revs 1
		echo fsync >"$BATS_TEST_TMPDIR/fsync"
		rec '{"type":"put","key":"/a","value":"2","revision":6}' '{"type":"progress","revision":6}'
		if [ -n "$mode" ]; then
			wait_until 5 revs 2
			[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = 2 ]
		else
			wait_until 5 grep -q "cannot sync" "$R.err"
			[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = 1 ]
		fi
		rm -f "$BATS_TEST_TMPDIR/fsync"
		follow_end
		[ "$status" -eq 0 ]
		rm -f "$F"
		if [ -n "$mode" ]; then
			[ "$(cat "$R")" = "5
6" ]
			[ "$(cat "$R.err")" = "" ]
		else
			[ "$(cat "$R")" = "5
6" ]
			[[ "$(sed -n 1p "$R.err")" == "tmpl: $BATS_TEST_TMPDIR/out.txt: cannot sync $BATS_TEST_TMPDIR/.out.txt."*": No space left on device"* ]]
		fi
	done
}

@test "--follow writes OUT again when something else changed or removed it, even for the same render" {
	printf '{{ getv("/a") }}\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	follow_start "$BATS_TEST_TMPDIR/t.tmpl"
	rec '{"type":"resync","revision":5,"kvs":{"/a":"1","/b":"1"}}' '{"type":"progress","revision":5}'
	wait_until 5 revs 1
	# (the same size, in place)
	printf 'x\n' >"$BATS_TEST_TMPDIR/out.txt"
	rec '{"type":"put","key":"/b","value":"2","revision":6}' '{"type":"progress","revision":6}'
	wait_until 5 revs 2
	[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = 1 ]
	rm "$BATS_TEST_TMPDIR/out.txt"
	rec '{"type":"put","key":"/b","value":"3","revision":7}' '{"type":"progress","revision":7}'
	wait_until 5 revs 3
	[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = 1 ]
	# left as written: the same render writes nothing, prints nothing
	rec '{"type":"put","key":"/b","value":"4","revision":8}' '{"type":"progress","revision":8}'
	rec '{"type":"put","key":"/a","value":"2","revision":9}' '{"type":"progress","revision":9}'
	wait_until 5 revs 4
	follow_end
	[ "$status" -eq 0 ]
	[ "$(cat "$R")" = "5
6
7
9" ]
	[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = 2 ]
	[ "$(cat "$R.err")" = "" ]
}

@test "--follow renders only states closed by a progress record" {
	printf '{{ $root | keys | join(",") }}\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	follow_start "$BATS_TEST_TMPDIR/t.tmpl"
	rec '{"type":"resync","revision":5,"kvs":{"/a":"1"}}' '{"type":"progress","revision":5}'
	wait_until 5 revs 1
	# half of a transaction: not rendered until its progress record
	rec '{"type":"put","key":"/b","value":"2","revision":6}'
	sleep 0.3
	[ "$(cat "$R")" = 5 ]
	rec '{"type":"put","key":"/c","value":"3","revision":6}' '{"type":"progress","revision":6}'
	wait_until 5 revs 2
	[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = "/a,/b,/c" ]
	follow_end
	[ "$status" -eq 0 ]
	[ "$(cat "$R.err")" = "" ]
}

@test "--follow: a failed render keeps the last good OUT and the next batch renders again" {
	printf '{{ getv("/must") }}\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	follow_start "$BATS_TEST_TMPDIR/t.tmpl"
	rec '{"type":"resync","revision":5,"kvs":{"/must":"here"}}'
	wait_until 5 revs 1
	rec '{"type":"delete","key":"/must","revision":6}' '{"type":"progress","revision":6}'
	wait_until 5 grep -q 'left as it was' "$R.err"
	[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = here ]
	rec '{"type":"put","key":"/must","value":"back","revision":7}' '{"type":"progress","revision":7}'
	wait_until 5 revs 2
	[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = back ]
	follow_end
	[ "$status" -eq 0 ]
	[ "$(cat "$R")" = "5
7" ]
	[ "$(cat "$R.err")" = "tmpl: $BATS_TEST_TMPDIR/t.tmpl:1:4: runtime error: getv: no such key: /must (revision 6); $BATS_TEST_TMPDIR/out.txt left as it was" ]
}

# stat_lines: the status file's lines, times replaced by T.
stat_lines() {
	sed -E 's/[0-9]{10}\.[0-9]{3}/T/g' "$BATS_TEST_TMPDIR/status"
}

@test "--follow --status says what was seen, rendered and written, what waits, the warnings, a lost watch" {
	printf '{{ getv("/must") }}{{ if exists("/bad") }}{{ warn("/bad: skipped") }}{{ end }}\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	follow_start --status "$BATS_TEST_TMPDIR/status" "$BATS_TEST_TMPDIR/t.tmpl"
	rec '{"type":"resync","revision":5,"kvs":{"/must":"here"}}'
	wait_until 5 revs 1
	wait_until 5 grep -q "^rendered 5 " "$BATS_TEST_TMPDIR/status"
	[ "$(stat_lines)" = "seen 5 T
progress -
rendered 5 T
out 5 T T
resyncs 0
reconnects 0" ]
	# a progress record of a later revision, nothing waiting: what went
	# out is current to it
	rec '{"type":"progress","revision":9}'
	wait_until 5 grep -q "^rendered 9 " "$BATS_TEST_TMPDIR/status"
	rec '{"type":"put","key":"/bad","value":"x","revision":10}' '{"type":"progress","revision":10}'
	wait_until 5 grep -q "^warning " "$BATS_TEST_TMPDIR/status"
	[ "$(stat_lines)" = "seen 10 T
progress T
rendered 10 T
out 5 T T
resyncs 0
reconnects 0
warning /bad: skipped" ]
	rec '{"type":"lost","revision":10,"reason":"http://etcd:2379: connection refused"}'
	wait_until 5 grep -q "^lost " "$BATS_TEST_TMPDIR/status"
	[ "$(stat_lines | grep ^lost)" = "lost T http://etcd:2379: connection refused" ]
	rec '{"type":"watching","revision":10}'
	wait_until 5 grep -q "^reconnects 1$" "$BATS_TEST_TMPDIR/status"
	refute grep -q "^lost " "$BATS_TEST_TMPDIR/status"
	# a failed render: the error, and OUT as it was
	rec '{"type":"delete","key":"/must","revision":11}' '{"type":"progress","revision":11}'
	wait_until 5 grep -q "^error " "$BATS_TEST_TMPDIR/status"
	[[ "$(stat_lines | grep ^error)" == "error T $BATS_TEST_TMPDIR/t.tmpl:1:4: runtime error: getv: no such key: /must" ]]
	grep -q "^rendered 10 " "$BATS_TEST_TMPDIR/status"
	follow_end
	[ "$status" -eq 0 ]
	[ "$(cat "$R")" = 5 ]
	[ "$(cat "$R.err")" = "tmpl: warning: /bad: skipped
tmpl: $BATS_TEST_TMPDIR/t.tmpl:1:4: runtime error: getv: no such key: /must (revision 11); $BATS_TEST_TMPDIR/out.txt left as it was" ]
}

@test "--status goes with --follow" {
	printf 'x\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	run_split tmpl --status "$BATS_TEST_TMPDIR/s" -d /dev/null "$BATS_TEST_TMPDIR/t.tmpl"
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[ "$stderr" = "tmpl: --status goes with --follow" ]
	[ ! -e "$BATS_TEST_TMPDIR/s" ]
}

@test "--follow leaves out keys that are not UTF-8 and says each warning once" {
	printf '{{ range ls("/s") }}{{ if . == "bad" }}{{ warn("bad is here") }}{{ end }}{{ . }} {{ end }}\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	follow_start "$BATS_TEST_TMPDIR/t.tmpl"
	rec '{"type":"resync","revision":5,"kvs":{"/s/bad":"1","/s/ok":"2"},"binary":[{"key":"/s/bin","value_base64":"/g=="}]}'
	wait_until 5 revs 1
	rec '{"type":"put","key":"/s/x","value":"3","revision":6}' '{"type":"progress","revision":6}'
	wait_until 5 revs 2
	rec '{"type":"put","key":"/s/x","value_base64":"/g==","revision":7}' '{"type":"progress","revision":7}'
	wait_until 5 revs 3
	[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = "bad ok " ]
	follow_end
	[ "$status" -eq 0 ]
	[ "$(cat "$R.err")" = "tmpl: /s/bin: value is not valid UTF-8; key left out
tmpl: warning: bad is here
tmpl: /s/x: value is not valid UTF-8; key left out" ]
}

@test "--follow --debounce renders the first batch after a quiet spell at once, then merges a burst" {
	printf '{{ $root | length }}\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	follow_start --debounce 2000 "$BATS_TEST_TMPDIR/t.tmpl"
	rec '{"type":"resync","revision":5,"kvs":{}}'
	wait_until 5 revs 1
	# a quiet spell longer than the debounce time, then one batch: it
	# is rendered well before the debounce time
	sleep 2.1
	rec '{"type":"put","key":"/k6","value":"v","revision":6}' '{"type":"progress","revision":6}'
	wait_until 1 revs 2
	# a burst right after it: merged into one render
	local i
	for i in $(seq 7 16); do
		rec "{\"type\":\"put\",\"key\":\"/k$i\",\"value\":\"v\",\"revision\":$i}" "{\"type\":\"progress\",\"revision\":$i}"
		sleep 0.05
	done
	wait_until 5 revs 3
	follow_end
	[ "$status" -eq 0 ]
	[ "$(cat "$R")" = "5
6
16" ]
	[ "$(cat "$BATS_TEST_TMPDIR/out.txt")" = 11 ]
	[ "$(cat "$R.err")" = "" ]
}

@test "--follow: bad records and usage exit 100" {
	printf 'x\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	run_split tmpl --follow "$BATS_TEST_TMPDIR/t.tmpl"
	[ "$status" -eq 100 ]
	[ "$stderr" = "tmpl: --follow needs -o OUT" ]
	run_split tmpl --debounce 5 "$BATS_TEST_TMPDIR/t.tmpl"
	[ "$status" -eq 100 ]
	[ "$stderr" = "tmpl: --debounce goes with --follow" ]
	run_split bash -c "printf '%s\n' '{\"type\":\"progress\",\"revision\":1}' '[1]' | tmpl --follow -o '$BATS_TEST_TMPDIR/o' '$BATS_TEST_TMPDIR/t.tmpl'"
	[ "$status" -eq 100 ]
	[ "$output" = "" ]
	[ "$stderr" = "tmpl: stdin:2: not an etcd-watch record (no \"type\")" ]
	run_split bash -c "printf '{\"type\":\n' | tmpl --follow -o '$BATS_TEST_TMPDIR/o' '$BATS_TEST_TMPDIR/t.tmpl'"
	[ "$status" -eq 100 ]
	[[ "$stderr" == "tmpl: stdin:1: invalid JSON: "* ]]
	# a revision no int64 holds, or a negative one (the fuzzer's find)
	for r in 4444444444444444444444444444445 -1; do
		run_split bash -c "printf '%s\n' '{\"type\":\"put\",\"key\":\"/a\",\"value\":\"1\",\"revision\":$r}' | tmpl --follow -o '$BATS_TEST_TMPDIR/o' '$BATS_TEST_TMPDIR/t.tmpl'"
		[ "$status" -eq 100 ]
		[ "$output" = "" ]
		[[ "$stderr" == "tmpl: stdin:1: revision "*" out of range" ]]
	done
	[ ! -e "$BATS_TEST_TMPDIR/o" ]
}

@test "--follow ends when the reader of its output goes away" {
	printf 'x\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	F=$BATS_TEST_TMPDIR/records
	mkfifo "$F"
	( tmpl --follow -d "$F" -o "$BATS_TEST_TMPDIR/o" "$BATS_TEST_TMPDIR/t.tmpl" | head -n 1 >"$BATS_TEST_TMPDIR/first" ) &
	local p=$!
	exec 4>"$F"
	rec '{"type":"resync","revision":5,"kvs":{}}'
	wait_until 5 bash -c "! kill -0 $p 2>/dev/null"
	[ "$(cat "$BATS_TEST_TMPDIR/first")" = 5 ]
	refute pgrep -f "tmpl --follow -d $F"
	exec 4>&-
}

@test "--follow keeps memo(k; f) results and {{ memo }} blocks from one render to the next while used" {
	# now differs from one computation to the next: a value that stays
	# is one that was kept
	printf '{{ range ls("/k") }}{{ memo(.; now) }} {{ memo . }}{{ now }}{{ end }} {{ end }}\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	follow_start "$BATS_TEST_TMPDIR/t.tmpl"
	rec '{"type":"resync","revision":5,"kvs":{"/k/a":"1","/k/b":"2"}}'
	wait_until 5 revs 1
	cp "$BATS_TEST_TMPDIR/out.txt" "$BATS_TEST_TMPDIR/first"
	rec '{"type":"put","key":"/k/c","value":"3","revision":6}' '{"type":"progress","revision":6}'
	wait_until 5 revs 2
	# a and b kept, c new
	local a1 b1 a2 b2 c2
	read -r a1 _ b1 _ <"$BATS_TEST_TMPDIR/first"
	read -r a2 _ b2 _ c2 _ <"$BATS_TEST_TMPDIR/out.txt"
	[ "$a1" = "$a2" ]
	[ "$b1" = "$b2" ]
	[ -n "$c2" ]
	[ "$c2" != "$b2" ]
	# b unused by one render: computed again when it comes back
	rec '{"type":"delete","key":"/k/b","revision":7}' '{"type":"progress","revision":7}'
	wait_until 5 revs 3
	rec '{"type":"put","key":"/k/b","value":"2","revision":8}' '{"type":"progress","revision":8}'
	wait_until 5 revs 4
	local b3
	read -r _ _ b3 _ <"$BATS_TEST_TMPDIR/out.txt"
	[ "$b3" != "$b1" ]
	follow_end
	[ "$status" -eq 0 ]
	[ "$(cat "$R.err")" = "" ]
}

@test "--follow: dirmap and {{ each }} work out again only the directories whose keys changed" {
	# now differs from one computation to the next: a value that stays
	# is one that was kept
	printf '{{ range dirmap("/k"; now) as $m }}{{ each "/k" as $s }}{{ $s }} {{ $m[$s] }} {{ now }} {{ end }}{{ end }}\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	follow_start "$BATS_TEST_TMPDIR/t.tmpl"
	rec '{"type":"resync","revision":5,"kvs":{"/k/a/x":"1","/k/b/x":"2"}}'
	wait_until 5 revs 1
	local a1 am1 b1 bm1 a2 am2 b2 bm2 c2 n2
	read -r _ am1 a1 _ bm1 b1 <"$BATS_TEST_TMPDIR/out.txt"
	rec '{"type":"put","key":"/k/b/y","value":"3","revision":6}' \
		'{"type":"put","key":"/k/c/x","value":"4","revision":6}' '{"type":"progress","revision":6}'
	wait_until 5 revs 2
	read -r n2 am2 a2 _ bm2 b2 _ _ c2 <"$BATS_TEST_TMPDIR/out.txt"
	[ "$n2" = a ]
	[ "$am2" = "$am1" ]
	[ "$a2" = "$a1" ]
	[ "$bm2" != "$bm1" ]
	[ "$b2" != "$b1" ]
	[ -n "$c2" ]
	# a directory gone is dropped
	rec '{"type":"delete","key":"/k/a/x","revision":7}' '{"type":"progress","revision":7}'
	wait_until 5 revs 3
	read -r n2 _ <"$BATS_TEST_TMPDIR/out.txt"
	[ "$n2" = b ]
	follow_end
	[ "$status" -eq 0 ]
	[ "$(cat "$R.err")" = "" ]
}

@test "--follow: OUT that cannot be written is tried again, without new input" {
	printf '{{ $root | length }}\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	OUT=$BATS_TEST_TMPDIR/later/out.txt follow_start "$BATS_TEST_TMPDIR/t.tmpl"
	rec '{"type":"resync","revision":5,"kvs":{"/a":"1"}}'
	wait_until 5 test -s "$R.err"
	mkdir "$BATS_TEST_TMPDIR/later"
	wait_until 5 revs 1
	[ "$(cat "$BATS_TEST_TMPDIR/later/out.txt")" = 1 ]
	follow_end
	[ "$status" -eq 0 ]
	[ "$(cat "$R")" = 5 ]
	# said once, not at each try, and its end
	[ "$(cat "$R.err")" = "tmpl: $BATS_TEST_TMPDIR/later/out.txt: cannot create temporary file: No such file or directory
tmpl: $BATS_TEST_TMPDIR/later/out.txt: up to date again (revision 5)" ]
}

@test "--follow: what the input held at its end is rendered at once; 111 when it cannot be written" {
	printf '{{ $root | length }}\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	run_split bash -c "printf '%s\n' '{\"type\":\"resync\",\"revision\":5,\"kvs\":{\"/a\":\"1\"}}' | tmpl --follow --debounce 60000 -o '$BATS_TEST_TMPDIR/o' '$BATS_TEST_TMPDIR/t.tmpl'"
	[ "$status" -eq 0 ]
	[ "$output" = 5 ]
	[ "$stderr" = "" ]
	[ "$(cat "$BATS_TEST_TMPDIR/o")" = 1 ]
	run_split bash -c "printf '%s\n' '{\"type\":\"resync\",\"revision\":5,\"kvs\":{}}' | tmpl --follow -o '$BATS_TEST_TMPDIR/none/o' '$BATS_TEST_TMPDIR/t.tmpl'"
	[ "$status" -eq 111 ]
	[ "$output" = "" ]
	[ "$stderr" = "tmpl: $BATS_TEST_TMPDIR/none/o: cannot create temporary file: No such file or directory" ]
}

@test "--follow: a write that failed before the input ended is said as when the end came first" {
	printf '{{ $root | length }}\n' >"$BATS_TEST_TMPDIR/t.tmpl"
	OUT=$BATS_TEST_TMPDIR/none/o follow_start "$BATS_TEST_TMPDIR/t.tmpl"
	rec '{"type":"resync","revision":5,"kvs":{}}'
	wait_until 5 test -s "$R.err"
	follow_end
	[ "$status" -eq 111 ]
	[ "$(cat "$R")" = "" ]
	[ "$(cat "$R.err")" = "tmpl: $BATS_TEST_TMPDIR/none/o: cannot create temporary file: No such file or directory" ]
}
