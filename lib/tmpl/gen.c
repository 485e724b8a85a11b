/* The code generator: the tree of nodes into one jq program, after the
 * helpers written in jq.
 *
 * Every user expression runs inside "try ... catch __te(e)", which tags
 * the error with the expression number; an already tagged error passes
 * through unchanged, so the innermost expression wins even though jq 1.6's
 * try also sees errors raised further down the pipeline.  The try is
 * written once, in __x(e; f) (and in __if(e; f), which gives the first
 * output of an {{ if }}'s condition, false when none: on jq 1.6
 * "[first(f)] | .[0] // false" cost four times "first(f, false)"): jq 1.6
 * compiles a try written out in place at some 0.3 ms each, which was a
 * third of compiling the shipped template. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl/int.h"
#include "tmpl/marks.h"

/* The helpers written in jq.  Those that C answers (calls_defs) go
 * between the two parts: after __norm, which they use, and before gets,
 * which uses __scan.  The data comes in as [data, tree or null]; see
 * render. */
/* clang-format off */
static const char prelude_head[] =
	".[0] as $root | .[1] as $__tree | ($root | type == \"object\") as $__obj |\n"
	"def __te($n): if type == \"object\" and (has(\"__tmpl\") or has(\"__jq\")) then error(.) else error({__tmpl: $n, msg: .}) end;\n"
	"def __x(n; f): try f catch __te(n);\n"
	"def __if(n; f): try first(f, false) catch __te(n);\n"
	"def __segs: split(\"/\") | map(select(. != \"\"));\n"
	"def __norm: if startswith(\"/\") and (endswith(\"/\") | not) and (contains(\"//\") | not) then . else \"/\" + (__segs | join(\"/\")) end;\n";
static const char prelude_tail[] =
	"def exists($k): $__obj and ($root | has($k));\n"
	"def getv($k): if exists($k) then $root[$k] else error(\"getv: no such key: \\($k)\") end;\n"
	"def getv($k; $d): if exists($k) then $root[$k] else $d end;\n"
	"def base: if endswith(\"/\") | not then split(\"/\")[-1] // \".\" else __segs as $s | if $s == [] then \"/\" else $s[-1] end end;\n"
	"def __clean: startswith(\"/\") as $abs | reduce (split(\"/\")[] | select(. != \"\" and . != \".\")) as $s ([]; if $s == \"..\" then (if length > 0 and .[-1] != \"..\" then .[:-1] elif $abs then . else . + [$s] end) else . + [$s] end) | (if $abs then \"/\" else \"\" end) + join(\"/\") | if . == \"\" then \".\" else . end;\n"
	"def dir: if startswith(\"/\") and (endswith(\"/\") or contains(\"//\") or contains(\"/.\") | not) then split(\"/\") | .[:-1] | join(\"/\") | if . == \"\" then \"/\" else . end elif contains(\"/\") then split(\"/\") | .[:-1] | join(\"/\") + \"/\" | __clean else \".\" end;\n"
	"def getenv($n): $ENV[$n] // \"\";\n"
	"def getenv($n; $d): ($ENV[$n] // \"\") | if . == \"\" then $d else . end;\n"
	"def tree: $__tree;\n"
	"def __globre: reduce (explode[] | [.] | implode) as $c ({s: \"\", cls: false, esc: false}; if .esc then .s += \"\\\\\" + $c | .esc = false elif $c == \"\\\\\" then .esc = true elif .cls then (if $c == \"]\" then .cls = false | .s += \"]\" elif $c == \"[\" then .s += \"\\\\[\" else .s += $c end) elif $c == \"[\" then .cls = true | .s += \"[\" elif $c == \"*\" then .s += \"[^/]*\" elif $c == \"?\" then .s += \"[^/]\" elif (\"\\\\^$.|+()]{}\" | index($c)) then .s += \"\\\\\" + $c else .s += $c end) | if .cls or .esc then error(\"gets: bad glob pattern\") else \"^\" + .s + \"$\" end;\n"
	"def __upto($c): (split($c) | .[0]) // \"\";\n"
	"def __globpfx: __upto(\"*\") | __upto(\"?\") | __upto(\"[\") | __upto(\"\\\\\");\n"
	"def gets($g): ($g | __globpfx) as $pfx | if $pfx == $g then (if exists($g) then $g else empty end) elif $g == $pfx + \"*\" then __scan($pfx) | select(ltrimstr($pfx) | contains(\"/\") | not) else ($g | __globre) as $re | __scan($pfx) | select(test($re)) end | {key: ., value: $root[.]};\n"
	"def getvs($g): gets($g) | .value;\n"
	"$root | (\n";
/* clang-format on */

#define MAX_NEST 200 /* as the parser's (parse.c) */
/* A range rendered as one array holds this many outputs at most. */
#define LIST_MAX 65536

/* Number each call of dirmap in code: "dirmap(" becomes "__dirmap(N; ",
 * N counting the calls of the program, so that each call keeps its own
 * results (inc.c).  The code has passed the lexer: strings (their
 * interpolations included) and comments are skipped here by a simpler
 * scan.  -1 when out of memory. */
static int
number_dirmaps(struct tmpl *t, char **code)
{
	const char *s = *code;
	struct buf b = {0};
	size_t i = 0, from = 0, n = strlen(s), j;
	int paren[MAX_NEST + 2], lvl = 0, instr = 0;

	paren[0] = 0;
	while (i < n) {
		char c = s[i];

		if (instr) {
			if (c == '\\' && i + 1 < n && s[i + 1] == '(' &&
			    lvl <= MAX_NEST) {
				paren[++lvl] = 0;
				instr = 0;
				i += 2;
			} else if (c == '\\') {
				i += 2;
			} else {
				instr = c != '"';
				i++;
			}
		} else if (c == '"') {
			instr = 1;
			i++;
		} else if (c == '#') {
			while (i < n && s[i] != '\n')
				i++;
		} else if (c == '(') {
			paren[lvl]++;
			i++;
		} else if (c == ')') {
			if (lvl > 0 && paren[lvl] == 0) {
				lvl--;
				instr = 1;
			} else {
				paren[lvl]--;
			}
			i++;
		} else if (isidstart(c) &&
			   (i == 0 ||
			    (!isid(s[i - 1]) && s[i - 1] != '$' &&
			     s[i - 1] != '.' &&
			     /* (not mod::dirmap; {k:dirmap(..)} is ours) */
			     !(i > 1 && s[i - 1] == ':' && s[i - 2] == ':')))) {
			for (j = i; j < n && isid(s[j]); j++)
				;
			if (j - i == 6 && !memcmp(s + i, "dirmap", 6)) {
				size_t k = j;

				while (k < n && strchr(" \t\r\n", s[k]))
					k++;

				if (k < n && s[k] == '(') {
					buf_add(&b, s + from, i - from);
					buf_printf(&b, "__dirmap(%zu; ",
						   t->ndirmaps++);
					from = k + 1;
				}
			}
			i = j;
		} else {
			i++;
		}
	}
	if (!from)
		return 0;
	buf_add(&b, s + from, n - from);
	if (!b.p)
		return -1;
	free(*code);
	*code = b.p;
	return 0;
}

static int emit(struct tmpl *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
emit(struct tmpl *t, const char *fmt, ...)
{
	size_t from = t->prog.len;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(&t->prog, fmt, ap);
	va_end(ap);
	if (r < 0)
		return t->nomem = -1;
	for (; from < t->prog.len; from++)
		t->plines += t->prog.p[from] == '\n';
	return 0;
}

/* Emit user code on lines of its own so that jq's "line N" maps back to
 * it and a "#" comment in it cannot swallow what follows, inside fn(e; ...),
 * which tags its errors with the expression's number e. */
static int
emit_code_in(struct tmpl *t, const char *fn, size_t e)
{
	struct expr *x = &t->exprs[e];
	const char *c;

	emit(t, "%s(%zu; (\n", fn, e);
	x->pline0 = t->plines + 1;
	if (buf_puts(&t->prog, x->code) < 0)
		return t->nomem = -1;
	for (c = x->code; *c; c++)
		t->plines += *c == '\n';
	x->pline1 = t->plines + 1;
	return emit(t, "\n))");
}

static int
emit_code(struct tmpl *t, size_t e)
{
	return emit_code_in(t, "__x", e);
}

/* Bind a range's "as" pattern, when it has one, to each output.  The
 * pattern is user text: count its lines, and end it with a newline in
 * case it ends in a "#" comment. */
static int
emit_pat(struct tmpl *t, const char *pat)
{
	if (!pat)
		return 0;
	emit(t, ". as ");
	if (buf_puts(&t->prog, pat) < 0)
		return t->nomem = -1;
	for (; *pat; pat++)
		t->plines += *pat == '\n';
	return emit(t, "\n| ");
}

static int gen_list(struct tmpl *t, struct node *n);

/* Is the body of range node n only the expression "." between two
 * optional texts?  Then its list (see struct list) in *l. */
static int
is_list(struct tmpl *t, const struct node *n, struct list *l)
{
	const struct node *b = n->body;
	const char *c;

	if (n->pat || !b)
		return 0;
	l->before = l->after = (size_t)-1;
	if (b->type == N_TEXT) {
		l->before = b->lit;
		b = b->next;
	}
	if (!b || b->type != N_EXPR)
		return 0;
	for (c = t->exprs[b->expr].code; *c == ' ' || *c == '\t'; c++)
		;
	if (*c != '.' || c[1 + strspn(c + 1, " \t\r\n")])
		return 0;
	l->expr = b->expr;
	b = b->next;
	if (b && b->type == N_TEXT) {
		l->after = b->lit;
		b = b->next;
	}
	return !b;
}

/* Is code a path into data that ends in [] (".servers[]", "$m.a[].b[]"):
 * as many outputs as arrays and objects already built hold, never a
 * runaway generator? */
static int
data_path(const char *code)
{
	size_t n;

	code += strspn(code, " \t\r\n");
	if (*code != '.' && *code != '$')
		return 0;
	for (n = 0; code[n] && (isid(code[n]) || strchr(".$[]", code[n])); n++)
		;
	if (code[n + strspn(code + n, " \t\r\n")])
		return 0;
	return n >= 2 && code[n - 2] == '[' && code[n - 1] == ']';
}

/* A new list block for l; (size_t)-1 when out of memory. */
static size_t
new_list(struct tmpl *t, const struct list *l)
{
	char *a = array_grow(t->is_each, t->nmemos, sizeof(*a));
	struct list *ls;

	if (a)
		t->is_each = a;
	if (!a || !(ls = realloc(t->lists, (t->nmemos + 1) * sizeof(*ls)))) {
		t->nomem = -1;
		return (size_t)-1;
	}
	t->lists = ls;
	t->is_each[t->nmemos] = 2;
	t->lists[t->nmemos] = *l;
	return t->nmemos++;
}

static int
gen_if(struct tmpl *t, struct node *n)
{
	emit(t, "if ");
	emit_code_in(t, "__if", n->expr);
	emit(t, " then (");
	gen_list(t, n->body);
	if (n->alt && n->alt->type == N_IF && !n->alt->next &&
	    t->exprs[n->alt->expr].line) {
		emit(t, ") else (");
		gen_if(t, n->alt);
		return emit(t, ") end");
	}
	emit(t, ") else (");
	gen_list(t, n->alt);
	return emit(t, ") end");
}

/* A range's body for each output of its expression, as they come. */
static int
gen_stream(struct tmpl *t, struct node *n)
{
	emit(t, "((");
	emit_code(t, n->expr);
	emit(t, ") | ");
	emit_pat(t, n->pat);
	emit(t, "(");
	gen_list(t, n->body);
	return emit(t, "))");
}

static int
gen_node(struct tmpl *t, struct node *n)
{
	struct list l;
	size_t b;
	int bounded;

	switch (n->type) {
	case N_TEXT:
		return emit(t, "%lld", mark_lit(n->lit));
	case N_EXPR:
		emit(t, "((");
		emit_code(t, n->expr);
		return emit(t, ") | (%lld, .))", mark_value(n->expr));
	case N_RANGE:
		if (is_list(t, n, &l)) {
			/* The outputs as one array, rendered in C.  Unless
			 * the range walks data already built, past LIST_MAX
			 * outputs they are streamed again from the start, so
			 * that a runaway range meets --max-output instead of
			 * filling memory. */
			if ((b = new_list(t, &l)) == (size_t)-1)
				return -1;
			bounded = data_path(t->exprs[n->expr].code);
			if (bounded)
				emit(t, "([");
			else
				emit(t, "([limit(%d; ", LIST_MAX + 1);
			emit_code(t, n->expr);
			if (bounded) {
				emit(t, "] as $__r | if false then empty");
			} else {
				emit(
				    t,
				    ")] as $__r | if ($__r | length) > %d then ",
				    LIST_MAX);
				gen_stream(t, n);
			}
			emit(t,
			     " elif ($__r | length) > 0 then %lld, $__r else (",
			     mark_block(b, MARK_LIST));
			gen_list(t, n->alt);
			return emit(t, ") end)");
		}
		if (!n->alt)
			return gen_stream(t, n);
		emit(t, "([");
		emit_code(t, n->expr);
		emit(t, "] as $__r | if ($__r | length) > 0 then $__r[] | ");
		emit_pat(t, n->pat);
		emit(t, "(");
		gen_list(t, n->body);
		emit(t, ") else (");
		gen_list(t, n->alt);
		return emit(t, ") end)");
	case N_IF:
		emit(t, "(");
		gen_if(t, n);
		return emit(t, ")");
	case N_INCLUDE:
		emit(t, "(");
		gen_list(t, n->body);
		return emit(t, ")");
	case N_MEMO:
		/* Ask whether a text is kept for the block's key: if so
		 * the renderer copies it, else the body comes between two
		 * marks, for the renderer to keep. */
		emit(t, "(. as $__md | ((");
		emit_code(t, n->expr);
		emit(
		    t,
		    ")) as $__mk | __block(%zu; $__mk) as $__mh | if $__mh then %lld else (%lld, ($__md | (",
		    n->memo, mark_block(n->memo, MARK_BLOCK_KEPT),
		    mark_block(n->memo, MARK_BLOCK_BEGIN));
		gen_list(t, n->body);
		return emit(t, ")), %lld) end)",
			    mark_block(n->memo, MARK_BLOCK_END));
	case N_EACH:
		/* Ask which directories to render again; each body comes
		 * after its directory's name, between two marks, for the
		 * renderer to keep; the last mark puts all texts in place. */
		emit(t, "((");
		emit_code(t, n->expr);
		emit(t, ") as $__eD | (");
		if (n->key != (size_t)-1)
			emit_code(t, n->key);
		else
			emit(t, "null");
		emit(
		    t,
		    ") as $__ek | __each(%zu; $__eD | __norm; $__ek) as $__et | %lld, ($__et[] as $__en | %lld, $__en, ($__en | ",
		    n->memo, mark_block(n->memo, MARK_EACH_BEGIN),
		    mark_block(n->memo, MARK_EACH_DIR));
		emit_pat(t, n->pat);
		emit(t, "(");
		gen_list(t, n->body);
		return emit(t, ")), %lld), %lld)",
			    mark_block(n->memo, MARK_EACH_DIR_END),
			    mark_block(n->memo, MARK_EACH_END));
	}
	return 0;
}

static int
gen_list(struct tmpl *t, struct node *n)
{
	if (!n)
		return emit(t, "empty");
	for (; n; n = n->next) {
		gen_node(t, n);
		if (n->next)
			emit(t, ",\n");
	}
	return t->nomem;
}

int
gen_program(struct tmpl *t)
{
	struct buf defs = {0};
	size_t i;

	for (i = 0; i < t->nexprs; i++)
		if (number_dirmaps(t, &t->exprs[i].code) < 0)
			return t->nomem = -1;
	if (calls_defs(t, &defs) < 0) {
		buf_free(&defs);
		return t->nomem = -1;
	}
	emit(t, "%s%s%s", prelude_head, defs.p, prelude_tail);
	buf_free(&defs);
	gen_list(t, t->root);
	emit(t, "\n)\n");
	return t->nomem;
}

const char *
tmpl_program(const struct tmpl *t)
{
	return t->prog.p;
}
