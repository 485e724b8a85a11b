/* Compilation, and the callbacks of libjq: the error messages of the
 * compile, the warnings and debug messages of a render, and the calls
 * from the program to the helpers that C answers (with tmpl_keys.c and
 * tmpl_memo.c).
 *
 * libjq has no public way to register a C function (its C builtins are a
 * static table inside the library, in jq 1.6, 1.7 and 1.8 alike), yet
 * ls, lsdir, under and gets want the keys sorted once per render, in C,
 * and memo() and {{ memo }} a store that outlives the render.  So the
 * helpers of ccall_defs call C through the two callbacks that libjq does
 * offer: __ccall hands its input, a request [tag, arg] or [tag, arg,
 * arg], out through debug, whose callback (jq_debug_cb, then ccall) puts
 * the answer in the reply slot t->ccall_reply, and reads the answer back
 * through input, whose callback (ccall_input_cb) hands the slot over.
 * jq_next calls the two callbacks one right after the other, so the
 * answer is ready when input asks for it.  A request that wants no answer
 * (warn, memo()'s put) goes out through debug alone; any other debug
 * message is the template's own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl_int.h"

/* libjq reports compile errors through this callback; keep the first. */
static void
jq_err_cb(void *data, jv msg)
{
	struct tmpl *t = data;

	if (t->jqerr.len == 0) {
		if (jv_get_kind(msg) == JV_KIND_STRING)
			buf_puts(&t->jqerr, jv_string_value(msg));
		else
			buf_puts(&t->jqerr, "unknown jq error");
	}
	jv_free(msg);
}

/* The helpers that C answers, in jq: each sends a request with the tag
 * that ccall below knows it by.  The program defines them after __norm,
 * which __dirmap uses, and before gets, which uses __scan. */
/* clang-format off */
const char ccall_defs[] =
	"def __ccall: debug | input;\n"
	"def ls($d): ([\"__tmpl_ls\", $d] | __ccall)[];\n"
	"def lsdir($d): ([\"__tmpl_lsdir\", $d] | __ccall)[];\n"
	"def under($d): [\"__tmpl_under\", $d] | __ccall;\n"
	"def __scan($pfx): ([\"__tmpl_scan\", $pfx] | __ccall)[];\n"
	"def warn($m): [\"__tmpl_warn\", ($m | tostring)] | debug | empty;\n"
	"def memo(k; f): k as $__mk | ([\"__tmpl_memo\", $__mk] | __ccall) as $__mv | if $__mv != null then $__mv[] else [f] as $__mo | ([\"__tmpl_memo_put\", $__mk, $__mo] | debug | empty), $__mo[] end;\n"
	"def __block_kept($b; $k): [\"__tmpl_block\", $b, $k] | __ccall;\n"
	"def __dirmap($s; $d; f): ([\"__tmpl_dm\", $s, ($d | __norm)] | __ccall) as $__t | ($__t[1][] as $__n | [\"__tmpl_dm_put\", $__t[0], $__n, ($__n | f)] | debug | empty), ([\"__tmpl_dm_end\", $__t[0]] | __ccall);\n"
	"def haproxy_name: [\"__tmpl_hap_name\", .] | __ccall;\n"
	"def haproxy_path: [\"__tmpl_hap_path\", .] | __ccall;\n"
	"def haproxy_servers($d): [\"__tmpl_hap_servers\", $d] | __ccall;\n"
	"def haproxy_backend($d): [\"__tmpl_hap_backend\", $d] | __ccall;\n"
	"def haproxy_routes: [\"__tmpl_hap_routes\", .] | __ccall;\n";
/* clang-format on */

/* input, in __ccall: the answer to the request just made. */
static jv
ccall_input_cb(jq_state *jq, void *data)
{
	struct tmpl *t = data;
	jv r = t->ccall_reply;

	(void)jq;
	t->ccall_reply = jv_invalid();
	return r;
}

int
ccall_answer(struct tmpl *t, jv r)
{
	jv_free(t->ccall_reply);
	t->ccall_reply = r;
	return 1;
}

/* Answer the request msg (borrowed) whose tag is tg and length n; 0 when
 * msg is none of those of ccall_defs. */
static int
ccall(struct tmpl *t, const char *tg, int n, jv msg)
{
	jv a, b, r = jv_invalid();
	const char *as;
	size_t an;
	enum { DIR_NONE, DIR_LS, DIR_LSDIR, DIR_UNDER } dir;

	if (!strncmp(tg, "__tmpl_hap_", 11))
		return hap_request(t, tg, n, msg);
	if (!strncmp(tg, "__tmpl_dm", 9) || !strcmp(tg, "__tmpl_each"))
		return inc_request(t, tg, n, msg);
	a = jv_array_get(jv_copy(msg), 1);
	b = n == 3 ? jv_array_get(jv_copy(msg), 2) : jv_invalid();

	if (n == 2 && !strcmp(tg, "__tmpl_memo"))
		return ccall_answer(t, memo_get(t, a));
	if (n == 3 && !strcmp(tg, "__tmpl_memo_put")) {
		memo_put(t, a, b);
		return 1;
	}
	if (n == 3 && !strcmp(tg, "__tmpl_block")) {
		/* (a template could forge one: only a block of its own) */
		double d =
		    jv_get_kind(a) == JV_KIND_NUMBER ? jv_number_value(a) : -1;

		if (d < 0 || d >= (double)t->nmemos || d != (size_t)d ||
		    t->is_each[(size_t)d]) {
			jv_free(a);
			jv_free(b);
			return ccall_answer(
			    t, jv_invalid_with_msg(
				   jv_string("__tmpl_block: no such block")));
		}
		return ccall_answer(t, memo_block_get(t, a, b));
	}
	jv_free(b);
	if (n != 2) {
		jv_free(a);
		return 0;
	}
	/* (ls, lsdir and under take a directory in any form) */
	dir = !strcmp(tg, "__tmpl_ls")	    ? DIR_LS
	      : !strcmp(tg, "__tmpl_lsdir") ? DIR_LSDIR
	      : !strcmp(tg, "__tmpl_under") ? DIR_UNDER
					    : DIR_NONE;
	if (dir != DIR_NONE && !jv_is_valid(a = keys_dir(a, tg + 7)))
		return ccall_answer(t, a);
	as = jv_get_kind(a) == JV_KIND_STRING ? jv_string_value(a) : "";
	an = jv_get_kind(a) == JV_KIND_STRING
		 ? (size_t)jv_string_length_bytes(jv_copy(a))
		 : 0;
	if (dir == DIR_UNDER)
		r = keys_under(t, as, an);
	else if (dir != DIR_NONE)
		r = keys_ls(t, as, an, dir == DIR_LSDIR);
	else if (!strcmp(tg, "__tmpl_scan"))
		r = keys_scan(t, as, an);
	jv_free(a);
	return jv_is_valid(r) ? ccall_answer(t, r) : 0;
}

/* debug: the requests of ccall_defs; warn(msg) and the template's own
 * debug messages, kept one line each for the caller to show (this
 * library prints nothing). */
static void
jq_debug_cb(void *data, jv msg)
{
	struct tmpl *t = data;
	int n = jv_get_kind(msg) == JV_KIND_ARRAY
		    ? jv_array_length(jv_copy(msg))
		    : 0;
	jv tag = n >= 2 ? jv_array_get(jv_copy(msg), 0) : jv_null();
	const char *tg =
	    jv_get_kind(tag) == JV_KIND_STRING ? jv_string_value(tag) : "";

	if (n >= 2 && ccall(t, tg, n, msg)) {
		jv_free(tag);
		jv_free(msg);
		return;
	}
	if (n == 2 && !strcmp(tg, "__tmpl_warn")) {
		jv m = jv_array_get(jv_copy(msg), 1);

		warn_line(t, jv_string_value(m),
			  (size_t)jv_string_length_bytes(jv_copy(m)));
		jv_free(m);
	} else {
		jv d = jv_dump_string(jv_copy(msg), 0);

		buf_puts(&t->warns, "debug: ");
		buf_puts(&t->warns, jv_string_value(d));
		buf_add(&t->warns, "\n", 1);
		jv_free(d);
	}
	jv_free(tag);
	jv_free(msg);
}

void
warn_line(struct tmpl *t, const char *p, size_t len)
{
	size_t i, from = 0;
	char esc[8];

	/* One line per warning, whatever the message holds (NULs
	 * included). */
	for (i = 0; i < len; i++) {
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
			buf_add(&t->warns, p + from, i - from);
			snprintf(esc, sizeof(esc), "\\x%02x",
				 (unsigned char)p[i]);
			buf_puts(&t->warns, esc);
			from = i + 1;
		}
	}
	buf_add(&t->warns, p + from, len - from);
	buf_add(&t->warns, "\n", 1);
}

const char *
tmpl_warnings(const struct tmpl *t)
{
	return t->warns.p ? t->warns.p : "";
}

/* Turn "jq: error: WHAT at <top-level>, line N:\n..." into a message at
 * the template position of line N.  The code of each expression sits on
 * lines of its own in the program, in the same line breaks as in the
 * template, so the line is exact; jq gives no column, so the column is
 * the expression's own on its first line and 1 on the others. */
static void
compile_error(struct tmpl *t, struct tmpl_err *err)
{
	const char *m = t->jqerr.p ? t->jqerr.p : "compile error";
	const char *at, *nl, *hint;
	int len, line = -1, tl, tc;
	size_t i, best = (size_t)-1;

	if (!strncmp(m, "jq: error: ", 11))
		m += 11;
	at = strstr(m, " at <top-level>, line ");
	if (at)
		line = atoi(at + 22);
	nl = strchr(m, '\n');
	len = at ? (int)(at - m) : nl ? (int)(nl - m) : (int)strlen(m);
	/* A hint meant for jq's command line, not for templates. */
	hint = strstr(m, " (Unix shell quoting issues?)");
	if (hint && hint - m < len)
		len = (int)(hint - m);
	for (i = 0; i < t->nexprs; i++)
		if (line >= t->exprs[i].pline0 && line <= t->exprs[i].pline1)
			best = i;
	/* jq reports an unexpected end of an expression (or an error in a
	 * range's "as" pattern) on the line after it. */
	if (best == (size_t)-1)
		for (i = 0; i < t->nexprs; i++)
			if (line == t->exprs[i].pline1 + 1) {
				best = i;
				line--;
			}
	err->kind = TMPL_ECOMPILE;
	if (best == (size_t)-1) {
		snprintf(err->msg, sizeof(err->msg),
			 "%s: jq compile error: %.*s", t->files[0], len, m);
		return;
	}
	tl = t->exprs[best].line + (line - t->exprs[best].pline0);
	tc = line == t->exprs[best].pline0 ? t->exprs[best].col : 1;
	snprintf(err->msg, sizeof(err->msg), "%s:%d:%d: jq compile error: %.*s",
		 t->files[t->exprs[best].file], tl, tc, len, m);
}

int
tmpl_compile(struct tmpl *t, jv args, struct tmpl_err *err)
{
	memset(err, 0, sizeof(*err));
	if (!(t->jq = jq_init())) {
		jv_free(args);
		return nomem(err);
	}
	jq_set_error_cb(t->jq, jq_err_cb, t);
	jq_set_debug_cb(t->jq, jq_debug_cb, t);
	jq_set_input_cb(t->jq, ccall_input_cb, t);
	if (!jq_compile_args(t->jq, t->prog.p, args)) {
		compile_error(t, err);
		jq_teardown(&t->jq);
		return -1;
	}
	return 0;
}
