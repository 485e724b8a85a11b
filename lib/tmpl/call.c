/* Compilation, and the callbacks of libjq: the error messages of the
 * compile, the warnings and debug messages of a render, and the calls
 * from the program to the helpers written in C: the engine's own (the
 * table below, answered by keys.c, memo.c and inc.c) and those of the
 * sets that tmpl_parse was given (tmpl.h).
 *
 * libjq has no public way to register a C function (its C builtins are a
 * static table inside the library, in jq 1.6, 1.7 and 1.8 alike), yet
 * ls, lsdir, under and gets want the keys sorted once per render, in C,
 * and memo() and {{ memo }} a store that outlives the render.  So each
 * helper is defined in jq as a request, [tag, args...], that __ccall
 * hands out through debug, whose callback (jq_debug_cb, then ccall) puts
 * the answer in the reply slot t->call.reply, and reads the answer back
 * through input, whose callback (ccall_input_cb) hands the slot over.
 * jq_next calls the two callbacks one right after the other, so the
 * answer is ready when input asks for it.  A request that wants no answer
 * (warn, memo()'s put) goes out through debug alone; any other debug
 * message is the template's own.  A request's tag is "__tmpl_" and the
 * helper's name: a template's own debug message hardly looks like one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl/int.h"

/* libjq reports compile errors through this callback; keep the first. */
static void
jq_err_cb(void *data, jv msg)
{
	struct tmpl *t = data;

	if (t->call.jqerr.len == 0) {
		if (jv_get_kind(msg) == JV_KIND_STRING)
			buf_puts(&t->call.jqerr, jv_string_value(msg));
		else
			buf_puts(&t->call.jqerr, "unknown jq error");
	}
	jv_free(msg);
}

/* A helper in the program: its row, its set (-1: the engine's own), how
 * many arguments its request carries, and its tag. */
struct call {
	const struct tmpl_helper *h;
	long set;
	int nargs;
	char *tag;
};

#define TAG "__tmpl_"
#define MAX_ARGS 8

enum dir_helper { LS, LSDIR, UNDER };

/* ls, lsdir and under take a directory in any form. */
static jv
dir_answer(struct tmpl *t, jv a, enum dir_helper what)
{
	static const char *const names[] = {"ls", "lsdir", "under"};
	jv d = tmpl_dir(jv_copy(a), names[what]), r;
	const char *s;
	size_t n;

	if (!jv_is_valid(d))
		return d;
	s = jv_string_value(d);
	n = (size_t)jv_string_length_bytes(jv_copy(d));
	r = what == UNDER ? keys_under(t, s, n)
			  : keys_ls(t, s, n, what == LSDIR);
	jv_free(d);
	return r;
}

static jv
h_ls(struct tmpl *t, void *st, jv *a)
{
	(void)st;
	return dir_answer(t, a[0], LS);
}

static jv
h_lsdir(struct tmpl *t, void *st, jv *a)
{
	(void)st;
	return dir_answer(t, a[0], LSDIR);
}

static jv
h_under(struct tmpl *t, void *st, jv *a)
{
	(void)st;
	return dir_answer(t, a[0], UNDER);
}

static jv
h_scan(struct tmpl *t, void *st, jv *a)
{
	(void)st;
	if (jv_get_kind(a[0]) != JV_KIND_STRING)
		return keys_scan(t, "", 0);
	return keys_scan(t, jv_string_value(a[0]),
			 (size_t)jv_string_length_bytes(jv_copy(a[0])));
}

static jv
h_warn(struct tmpl *t, void *st, jv *a)
{
	(void)st;
	if (jv_get_kind(a[0]) == JV_KIND_STRING)
		tmpl_warn(t, jv_string_value(a[0]),
			  (size_t)jv_string_length_bytes(jv_copy(a[0])));
	return jv_invalid();
}

static jv
h_memo(struct tmpl *t, void *st, jv *a)
{
	(void)st;
	return memo_get(t, jv_copy(a[0]));
}

static jv
h_memo_put(struct tmpl *t, void *st, jv *a)
{
	(void)st;
	memo_put(t, jv_copy(a[0]), jv_copy(a[1]));
	return jv_invalid();
}

static jv
h_block(struct tmpl *t, void *st, jv *a)
{
	double d =
	    jv_get_kind(a[0]) == JV_KIND_NUMBER ? jv_number_value(a[0]) : -1;

	(void)st;
	/* (a template could forge one: only a block of its own) */
	if (d < 0 || d >= (double)t->nmemos || d != (size_t)d ||
	    t->is_each[(size_t)d])
		return jv_invalid_with_msg(jv_string("__block: no such block"));
	return memo_block_get(t, jv_copy(a[0]), jv_copy(a[1]));
}

/* The engine's helpers: those a template calls, and those the program
 * is made of (their names begin with "__"). */
/* clang-format off */
static const struct tmpl_helper engine[] = {
	{"ls",         "$d",         TMPL_EACH,    h_ls},
	{"lsdir",      "$d",         TMPL_EACH,    h_lsdir},
	{"under",      "$d",         TMPL_ANSWER,  h_under},
	{"__scan",     "$pfx",       TMPL_EACH,    h_scan},
	{"__warn",     "$m",         TMPL_NOTHING, h_warn},
	{"__memo",     "$k",         TMPL_ANSWER,  h_memo},
	{"__memo_put", "$k; $o",     TMPL_NOTHING, h_memo_put},
	{"__block",    "$b; $k",     TMPL_ANSWER,  h_block},
	{"__dm",       "$s; $d",     TMPL_ANSWER,  inc_dm},
	{"__dm_put",   "$s; $n; $o", TMPL_NOTHING, inc_dm_put},
	{"__dm_end",   "$s",         TMPL_ANSWER,  inc_dm_end},
	{"__each",     "$b; $d; $k", TMPL_ANSWER,  inc_each},
};

/* The helpers written in jq on those: warn, memo and dirmap (numbered
 * by gen.c: __dirmap(N; ...)). */
static const char jq_defs[] =
	"def warn($m): __warn($m | tostring);\n"
	"def memo(k; f): k as $__mk | __memo($__mk) as $__mv | if $__mv != null then $__mv[] else [f] as $__mo | __memo_put($__mk; $__mo), $__mo[] end;\n"
	"def __dirmap($s; $d; f): __dm($s; $d | __norm) as $__t | ($__t[1][] as $__n | __dm_put($__t[0]; $__n; [$__n | f])), __dm_end($__t[0]);\n";
/* clang-format on */

/* How many parameters params declares ("$a; $b"), or -1 when it is not
 * such a list. */
static int
count_params(const char *params)
{
	const char *p = params;
	int n = 0;

	if (!params)
		return 1;
	for (;;) {
		if (*p++ != '$' || !isidstart((unsigned char)*p))
			return -1;
		while (isid((unsigned char)*p))
			p++;
		n++;
		if (!*p)
			return n;
		if (p[0] != ';' || p[1] != ' ')
			return -1;
		p += 2;
	}
}

static int
by_tag(const void *a, const void *b)
{
	return strcmp(((const struct call *)a)->tag,
		      ((const struct call *)b)->tag);
}

static int
add_call(struct tmpl *t, const struct tmpl_helper *h, long set,
	 struct tmpl_err *err)
{
	struct call *c = &t->call.list[t->call.n];
	const char *p;

	for (p = h->name; *p && isid((unsigned char)*p); p++)
		;
	c->h = h;
	c->set = set;
	c->nargs = count_params(h->params);
	if (!isidstart((unsigned char)h->name[0]) || *p || c->nargs < 0 ||
	    c->nargs > MAX_ARGS) {
		err->kind = TMPL_ECOMPILE;
		snprintf(err->msg, sizeof(err->msg),
			 "helper %s: not a name and a list of parameters",
			 h->name);
		return -1;
	}
	if (!(c->tag = malloc(strlen(TAG) + strlen(h->name) + 1)))
		return nomem(err);
	strcpy(c->tag, TAG);
	strcat(c->tag, h->name);
	t->call.n++;
	return 0;
}

int
calls_init(struct tmpl *t, const struct tmpl_helpers *const *sets,
	   struct tmpl_err *err)
{
	size_t i, j, n = sizeof(engine) / sizeof(engine[0]);

	t->call.reply = jv_invalid();
	for (t->call.nsets = 0; sets && sets[t->call.nsets]; t->call.nsets++)
		n += sets[t->call.nsets]->n;
	t->call.list = calloc(n + 1, sizeof(*t->call.list));
	t->call.sets = calloc(t->call.nsets + 1, sizeof(*t->call.sets));
	t->call.states = calloc(t->call.nsets + 1, sizeof(*t->call.states));
	if (!t->call.list || !t->call.sets || !t->call.states)
		return nomem(err);
	for (i = 0; i < sizeof(engine) / sizeof(engine[0]); i++)
		if (add_call(t, &engine[i], -1, err) < 0)
			return -1;
	for (j = 0; j < t->call.nsets; j++) {
		t->call.sets[j] = sets[j];
		if (sets[j]->init && !(t->call.states[j] = sets[j]->init()))
			return nomem(err);
		for (i = 0; i < sets[j]->n; i++)
			if (add_call(t, &sets[j]->list[i], (long)j, err) < 0)
				return -1;
	}
	qsort(t->call.list, t->call.n, sizeof(*t->call.list), by_tag);
	for (i = 1; i < t->call.n; i++)
		if (!strcmp(t->call.list[i - 1].tag, t->call.list[i].tag)) {
			err->kind = TMPL_ECOMPILE;
			snprintf(err->msg, sizeof(err->msg),
				 "two helpers named %s",
				 t->call.list[i].h->name);
			return -1;
		}
	return 0;
}

void
calls_free(struct tmpl *t)
{
	size_t i;

	for (i = 0; t->call.sets && t->call.states && i < t->call.nsets; i++)
		if (t->call.sets[i] && t->call.sets[i]->free &&
		    t->call.states[i])
			t->call.sets[i]->free(t->call.states[i]);
	if (t->call.jq)
		jq_teardown(&t->call.jq);
	buf_free(&t->call.jqerr);
	jv_free(t->call.reply);
	for (i = 0; i < t->call.n; i++)
		free(t->call.list[i].tag);
	free(t->call.list);
	free(t->call.sets);
	free(t->call.states);
}

int
calls_defs(struct tmpl *t, struct buf *out)
{
	static const char *const shape[][2] = {
	    [TMPL_ANSWER] = {"", " | __ccall"},
	    [TMPL_EACH] = {"(", " | __ccall)[]"},
	    [TMPL_NOTHING] = {"", " | debug | empty"},
	};
	size_t i;
	const char *p;
	int r = buf_puts(out, "def __ccall: debug | input;\n");

	for (i = 0; i < t->call.n && r >= 0; i++) {
		const struct tmpl_helper *h = t->call.list[i].h;

		r = h->params
			? buf_printf(out, "def %s(%s): %s[\"%s\"", h->name,
				     h->params, shape[h->gives][0],
				     t->call.list[i].tag)
			: buf_printf(out, "def %s: %s[\"%s\", .", h->name,
				     shape[h->gives][0], t->call.list[i].tag);
		/* the parameters, "$a; $b", as the request's ", $a, $b" */
		for (p = h->params; r >= 0 && p && *p; p++)
			r = *p == '$'		     ? buf_puts(out, ", $")
			    : *p == ';' || *p == ' ' ? 0
						     : buf_add(out, p, 1);
		if (r >= 0)
			r = buf_printf(out, "]%s;\n", shape[h->gives][1]);
	}
	return r < 0 || buf_puts(out, jq_defs) < 0 ? -1 : 0;
}

/* input, in __ccall: the answer to the request just made. */
static jv
ccall_input_cb(jq_state *jq, void *data)
{
	struct tmpl *t = data;
	jv r = t->call.reply;

	(void)jq;
	t->call.reply = jv_invalid();
	return r;
}

/* Answer the request msg (borrowed) whose tag is tg and length n; 0 when
 * msg is no helper's request. */
static int
ccall(struct tmpl *t, const char *tg, int n, jv msg)
{
	struct call key, *c;
	jv a[MAX_ARGS], r;
	int i;

	key.tag = (char *)tg;
	if (strncmp(tg, TAG, strlen(TAG)) ||
	    !(c = bsearch(&key, t->call.list, t->call.n, sizeof(*c), by_tag)) ||
	    n != c->nargs + 1)
		return 0;
	for (i = 0; i < c->nargs; i++)
		a[i] = jv_array_get(jv_copy(msg), i + 1);
	r = c->h->fn(t, c->set < 0 ? NULL : t->call.states[c->set], a);
	for (i = 0; i < c->nargs; i++)
		jv_free(a[i]);
	if (c->h->gives == TMPL_NOTHING) {
		jv_free(r);
	} else {
		jv_free(t->call.reply);
		t->call.reply = r;
	}
	return 1;
}

/* debug: the helpers' requests; the template's own debug messages, kept
 * one line each for the caller to show (this library prints nothing). */
static void
jq_debug_cb(void *data, jv msg)
{
	struct tmpl *t = data;
	int n = jv_get_kind(msg) == JV_KIND_ARRAY
		    ? jv_array_length(jv_copy(msg))
		    : 0;
	jv tag = n >= 1 ? jv_array_get(jv_copy(msg), 0) : jv_null();

	if (jv_get_kind(tag) != JV_KIND_STRING ||
	    !ccall(t, jv_string_value(tag), n, msg)) {
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
tmpl_warn(struct tmpl *t, const char *p, size_t len)
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
	const char *m = t->call.jqerr.p ? t->call.jqerr.p : "compile error";
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
	if (!(t->call.jq = jq_init())) {
		jv_free(args);
		return nomem(err);
	}
	jq_set_error_cb(t->call.jq, jq_err_cb, t);
	jq_set_debug_cb(t->call.jq, jq_debug_cb, t);
	jq_set_input_cb(t->call.jq, ccall_input_cb, t);
	if (!jq_compile_args(t->call.jq, t->prog.p, args)) {
		compile_error(t, err);
		jq_teardown(&t->call.jq);
		return -1;
	}
	return 0;
}
