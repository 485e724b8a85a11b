/* The tmpl template engine.
 *
 * A template and its includes are parsed into a small tree of nodes, then
 * translated into ONE jq program: literal text becomes the number 2*i (an
 * index into the literal table), and every substitution emits the marker
 * 2*e+1 (an index into the expression table) followed by each value.  The
 * renderer turns that stream back into text, checking every value against
 * the control-character rule on the way.  One program means one jq
 * compile (jq 1.6 re-parses its builtins at each compile) and lexical
 * scoping of "range ... as $x" variables for free.
 *
 * Every user expression runs inside "try ... catch __te(e)", which tags
 * the error with the expression number; an already tagged error passes
 * through unchanged, so the innermost expression wins even though jq 1.6's
 * try also sees errors raised further down the pipeline. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jq.h>

#include "jsonw.h"
#include "tmpl.h"

#define MAX_NEST 200   /* brackets and actions nested in one file */
#define MAX_INCLUDE 16 /* include depth */

enum ntype { N_TEXT, N_EXPR, N_RANGE, N_IF, N_INCLUDE, N_MEMO };

struct node {
	enum ntype type;
	size_t lit;  /* N_TEXT: literal number */
	size_t expr; /* N_EXPR, N_RANGE, N_IF, N_MEMO: expression number */
	size_t memo; /* N_MEMO: block number */
	char *pat;   /* N_RANGE: binding pattern after "as", or NULL */
	struct node *body, *alt; /* range body/else; if then/else */
	struct node *next;
};

struct expr {
	size_t file; /* index into files */
	int line, col;
	int raw;
	char *code;
	int pline0, pline1; /* lines of the code in the program */
};

struct tmpl {
	struct buf prog;
	struct buf warns; /* warn() and debug messages of the last render */
	int plines;	  /* newlines in prog so far */
	struct buf lits;
	size_t *litoff, *litlen, nlits;
	struct expr *exprs;
	size_t nexprs;
	char **files;
	size_t nfiles;
	struct node *root;
	jq_state *jq;
	struct buf jqerr; /* first message from jq's error callback */
	int need_tree;	  /* some expression says "tree" */
	int nomem;
	/* What memo() and {{ memo }} keep (a hash table of struct mentry),
	 * the memo() keys being computed in this render, and what jq's
	 * input hands back next. */
	struct mentry **mtab;
	size_t mcap, mcount;
	struct miss *miss;
	size_t nmiss, misscap;
	jv memo_reply;
	double renders;
	size_t nmemos; /* {{ memo }} blocks */
	/* The render in progress: its data, its keys in byte order and in
	 * the order of their normal form ("/a/b"), the {{ memo }} blocks
	 * open and the answer to the last block request. */
	jv data;
	struct kref *rk, *nk;
	size_t nkeys;
	struct open_block *blocks;
	size_t nblocks, blockcap;
	jv block_key, block_hit;
	size_t block_num;
};

/* An entry of the memo table: under (block, key) the outputs of memo()
 * (block -1) or the text of a {{ memo }} block, the warnings that came
 * with them, and the render that last used them. */
struct mentry {
	struct mentry *next;
	uint64_t h;
	long block;
	jv key, payload, warns;
	double used;
};

/* A memo() key whose outputs are being computed, and where its warnings
 * begin. */
struct miss {
	jv key;
	size_t warns;
};

/* A key of the data: its bytes and its normal form (the same bytes when
 * it is normal already). */
struct kref {
	jv k;
	const char *s, *ns;
	size_t n, nn;
};

struct open_block {
	jv key;
	size_t num;
	size_t out, warns; /* where its text and its warnings begin */
};

static jv keys_ls(struct tmpl *t, const char *d, size_t dn, int dirs);
static jv keys_under(struct tmpl *t, const char *d, size_t dn);
static jv keys_scan(struct tmpl *t, const char *p, size_t n);
static void memo_sweep(struct tmpl *t);

/* Per-file parser state. */
struct parser {
	struct tmpl *t;
	size_t file;
	const char *s;
	size_t len, pos;
	size_t lpos; /* position of line/lcol below */
	int line, lcol;
	int trim; /* the previous action ended with " -}}" */
	int nest;
	int incdepth;
	const char *incstack[MAX_INCLUDE + 1];
	tmpl_loader *load;
	void *ctx;
	struct tmpl_err *err;
};

/* Terminators of a node list. */
enum term { T_EOF, T_END, T_ELSE, T_ELSEIF };

static int parse_list(struct parser *p, struct node **head, enum term *term,
		      size_t cond[2]);

static void *
grow(void *ptr, size_t n, size_t size)
{
	/* Make room for element n of an array of n elements whose capacity
	 * doubles each time n reaches a power of two. */
	if (n & (n - 1))
		return ptr;
	return realloc(ptr, (n ? n * 2 : 1) * size);
}

static int
nomem(struct tmpl_err *err)
{
	err->kind = TMPL_ENOMEM;
	snprintf(err->msg, sizeof err->msg, "out of memory");
	return -1;
}

/* Advance the line/column counter to off.  Columns count characters, not
 * UTF-8 continuation bytes. */
static void
where(struct parser *p, size_t off, int *line, int *col)
{
	if (off < p->lpos) {
		p->lpos = 0;
		p->line = 1;
		p->lcol = 1;
	}
	for (; p->lpos < off && p->lpos < p->len; p->lpos++) {
		unsigned char c = p->s[p->lpos];

		if (c == '\n') {
			p->line++;
			p->lcol = 1;
		} else if ((c & 0xc0) != 0x80) {
			p->lcol++;
		}
	}
	*line = p->line;
	*col = p->lcol;
}

static int
synerr(struct parser *p, size_t off, const char *fmt, ...)
{
	va_list ap;
	int line, col, n;

	where(p, off, &line, &col);
	p->err->kind = TMPL_ESYNTAX;
	n = snprintf(p->err->msg, sizeof p->err->msg,
		     "%s:%d:%d: syntax error: ", p->t->files[p->file], line,
		     col);
	if (n < 0 || (size_t)n >= sizeof p->err->msg)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err->msg + n, sizeof p->err->msg - n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
isws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
isidstart(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int
isid(int c)
{
	return isidstart(c) || (c >= '0' && c <= '9');
}

/* A jq token, enough of one to find where an action ends and to spot the
 * words "as" and "end" at bracket depth 0. */
enum tok { K_EOF, K_IDENT, K_VAR, K_STR, K_OPEN, K_CLOSE, K_OTHER };

struct lex {
	struct parser *p;
	const char *s;
	size_t len, pos; /* s is the whole file; scan [pos, len) */
	char stack[MAX_NEST];
	int depth;
	int action; /* stop at "}}" at depth 0 */
	int level;  /* strings interpolated inside strings */
};

static int lex_string(struct lex *x, size_t start);

/* Skip blanks and comments; a comment ends at a newline, or, at depth 0
 * inside an action, just before "}}". */
static void
lex_space(struct lex *x)
{
	while (x->pos < x->len) {
		char c = x->s[x->pos];

		if (isws(c)) {
			x->pos++;
		} else if (c == '#') {
			while (x->pos < x->len && x->s[x->pos] != '\n') {
				if (x->action && x->depth == 0 &&
				    x->pos + 1 < x->len &&
				    x->s[x->pos] == '}' &&
				    x->s[x->pos + 1] == '}')
					return;
				x->pos++;
			}
		} else {
			return;
		}
	}
}

/* Read one token at x->pos into [*off, x->pos); returns its kind, or -1
 * after a syntax error. */
static int
lex_next(struct lex *x, size_t *off)
{
	const char *s = x->s;
	char c, want;

	lex_space(x);
	*off = x->pos;
	if (x->pos >= x->len)
		return K_EOF;
	c = s[x->pos];
	if (x->action && x->depth == 0 && c == '}' && x->pos + 1 < x->len &&
	    s[x->pos + 1] == '}')
		return K_EOF;
	if (c == '"')
		return lex_string(x, x->pos) < 0 ? -1 : K_STR;
	if (c == '$' && x->pos + 1 < x->len && isidstart(s[x->pos + 1])) {
		x->pos++;
		while (x->pos < x->len && isid(s[x->pos]))
			x->pos++;
		return K_VAR;
	}
	if (isidstart(c)) {
		while (x->pos < x->len &&
		       (isid(s[x->pos]) ||
			(s[x->pos] == ':' && x->pos + 2 < x->len &&
			 s[x->pos + 1] == ':' && isidstart(s[x->pos + 2]))))
			x->pos += s[x->pos] == ':' ? 2 : 1;
		return K_IDENT;
	}
	if (c == '(' || c == '[' || c == '{') {
		if (x->depth >= MAX_NEST)
			return synerr(x->p, x->pos, "nested too deeply");
		x->stack[x->depth++] = c;
		x->pos++;
		return K_OPEN;
	}
	if (c == ')' || c == ']' || c == '}') {
		want = c == ')' ? '(' : c == ']' ? '[' : '{';
		if (x->depth == 0 || x->stack[x->depth - 1] != want)
			return synerr(x->p, x->pos, "unbalanced '%c'", c);
		x->depth--;
		x->pos++;
		return K_CLOSE;
	}
	if (c == '.' && x->pos + 1 < x->len && isidstart(s[x->pos + 1])) {
		x->pos++;
		while (x->pos < x->len && isid(s[x->pos]))
			x->pos++;
		return K_OTHER;
	}
	x->pos++;
	return K_OTHER;
}

/* Skip a string literal starting at start, interpolations included. */
static int
lex_string(struct lex *x, size_t start)
{
	struct lex in;
	size_t off;
	int k;

	x->pos = start + 1;
	while (x->pos < x->len) {
		char c = x->s[x->pos];

		if (c == '"') {
			x->pos++;
			return 0;
		}
		if (c != '\\') {
			x->pos++;
			continue;
		}
		if (x->pos + 1 >= x->len)
			break;
		if (x->s[x->pos + 1] != '(') {
			x->pos += 2;
			continue;
		}
		/* "\(expr)": lex the code up to the matching ")". */
		if (x->level >= MAX_NEST)
			return synerr(x->p, x->pos, "nested too deeply");
		in = *x;
		in.action = 0;
		in.level = x->level + 1;
		in.depth = 0;
		in.pos = x->pos + 2;
		in.stack[in.depth++] = '(';
		do {
			k = lex_next(&in, &off);
			if (k < 0)
				return -1;
			if (k == K_EOF)
				return synerr(x->p, start,
					      "unterminated string");
		} while (in.depth > 0);
		x->pos = in.pos;
	}
	return synerr(x->p, start, "unterminated string");
}

/* Find the end of the action whose code starts at pos: sets *end to the
 * offset of its closing "}}". */
static int
find_close(struct parser *p, size_t open, size_t pos, size_t *end)
{
	struct lex x = {.p = p, .s = p->s, .len = p->len, .pos = pos};
	size_t off;
	int k;

	x.action = 1;
	for (;;) {
		k = lex_next(&x, &off);
		if (k < 0)
			return -1;
		if (k == K_EOF)
			break;
	}
	if (x.pos >= x.len) {
		if (x.depth > 0)
			return synerr(p, open, "unclosed '%c' in action",
				      x.stack[x.depth - 1]);
		return synerr(p, open, "unclosed action");
	}
	*end = x.pos;
	return 0;
}

static char *
dupspan(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static int
add_lit(struct parser *p, const char *s, size_t n, size_t *idx)
{
	struct tmpl *t = p->t;
	size_t *a, *b;

	if (!(a = grow(t->litoff, t->nlits, sizeof *a)))
		return nomem(p->err);
	t->litoff = a;
	if (!(b = grow(t->litlen, t->nlits, sizeof *b)))
		return nomem(p->err);
	t->litlen = b;
	t->litoff[t->nlits] = t->lits.len;
	t->litlen[t->nlits] = n;
	if (buf_add(&t->lits, s, n) < 0)
		return nomem(p->err);
	*idx = t->nlits++;
	return 0;
}

/* Record the expression code [off, off+n) of the current file. */
static int
add_expr(struct parser *p, size_t off, size_t n, int raw, size_t *idx)
{
	struct tmpl *t = p->t;
	struct expr *e;

	if (!(e = grow(t->exprs, t->nexprs, sizeof *e)))
		return nomem(p->err);
	t->exprs = e;
	e = &t->exprs[t->nexprs];
	memset(e, 0, sizeof *e);
	e->file = p->file;
	where(p, off, &e->line, &e->col);
	e->raw = raw;
	if (!(e->code = dupspan(p->s + off, n)))
		return nomem(p->err);
	/* The nested tree costs O(keys) per render: build it only for
	 * templates that may use it. */
	if (strstr(e->code, "tree"))
		t->need_tree = 1;
	*idx = t->nexprs++;
	return 0;
}

static struct node *
new_node(struct parser *p, enum ntype type)
{
	struct node *n = calloc(1, sizeof *n);

	if (!n)
		nomem(p->err);
	else
		n->type = type;
	return n;
}

static void
free_nodes(struct node *n)
{
	struct node *next;

	for (; n; n = next) {
		next = n->next;
		free_nodes(n->body);
		free_nodes(n->alt);
		free(n->pat);
		free(n);
	}
}

/* Split "FILTER as PATTERN" at the last "as" at depth 0 when all that
 * follows it is one $variable or one [...] / {...} destructuring
 * pattern.  Sets *asoff to the offset of "as", or to end if none. */
static int
split_as(struct parser *p, size_t off, size_t end, size_t *asoff,
	 size_t *patoff)
{
	struct lex x = {.p = p, .s = p->s, .len = end, .pos = off};
	size_t toff, cand = end, cpat = end;
	/* 1: just after "as", 4: inside a [...] or {...} pattern, 2: after
	 * a complete pattern, 3: something else followed. */
	int k, state = 0;

	*asoff = end;
	for (;;) {
		int d0 = x.depth;

		if ((k = lex_next(&x, &toff)) < 0)
			return -1;
		if (k == K_EOF)
			break;
		if (d0 == 0 && k == K_IDENT && x.pos - toff == 2 &&
		    !memcmp(p->s + toff, "as", 2)) {
			state = 1;
			cand = toff;
			cpat = x.pos;
			continue;
		}
		if (state == 1 && d0 == 0 && (k == K_VAR || k == K_OPEN))
			state = k == K_VAR ? 2 : 4;
		else if (state == 4 && k == K_CLOSE && x.depth == 0)
			state = 2;
		else if (state == 4)
			;
		else
			state = 3;
	}
	if (state == 2) {
		*asoff = cand;
		*patoff = cpat;
	}
	return 0;
}

/* Is there a "then" at depth 0, making the action jq's own if-then-else
 * expression rather than a template if? */
static int
has_then(struct parser *p, size_t off, size_t end, int *yes)
{
	struct lex x = {.p = p, .s = p->s, .len = end, .pos = off};
	size_t toff;
	int k;

	*yes = 0;
	for (;;) {
		int d0 = x.depth;

		if ((k = lex_next(&x, &toff)) < 0)
			return -1;
		if (k == K_EOF)
			return 0;
		if (d0 == 0 && k == K_IDENT && x.pos - toff == 4 &&
		    !memcmp(p->s + toff, "then", 4))
			*yes = 1;
	}
}

static size_t
skip_ws(const char *s, size_t i, size_t end)
{
	while (i < end && isws(s[i]))
		i++;
	return i;
}

/* Does [off, end) start with the keyword kw followed by a blank or the
 * end? */
static int
keyword(const char *s, size_t off, size_t end, const char *kw)
{
	size_t n = strlen(kw);

	return end - off >= n && !memcmp(s + off, kw, n) &&
	       (end - off == n || isws(s[off + n]));
}

static int parse_include(struct parser *p, size_t off, size_t end,
			 struct node **out);

/* Parse one action with code [off, end) (blanks trimmed).  Sets *term
 * for end/else actions, or *out to the new node. */
static int
parse_action(struct parser *p, size_t off, size_t end, struct node **out,
	     enum term *term, size_t cond[2])
{
	const char *s = p->s;
	struct node *n = NULL;
	size_t a, asoff, patoff;
	int yes;

	*out = NULL;
	*term = T_EOF;
	if (off == end)
		return synerr(p, off, "empty action");
	if (keyword(s, off, end, "end")) {
		if (end - off != 3)
			return synerr(p, off, "unexpected text after end");
		*term = T_END;
		return 0;
	}
	if (keyword(s, off, end, "else")) {
		a = skip_ws(s, off + 4, end);
		if (a == end) {
			*term = T_ELSE;
			return 0;
		}
		if (!keyword(s, a, end, "if"))
			return synerr(p, a, "expected \"if\" or }} after else");
		a = skip_ws(s, a + 2, end);
		if (a == end)
			return synerr(p, off,
				      "missing condition after else if");
		/* The caller turns this into a nested if node. */
		*term = T_ELSEIF;
		cond[0] = a;
		cond[1] = end;
		return 0;
	}
	if (keyword(s, off, end, "if")) {
		if (has_then(p, off, end, &yes) < 0)
			return -1;
		if (!yes) {
			a = skip_ws(s, off + 2, end);
			if (a == end)
				return synerr(p, off, "missing condition");
			if (!(n = new_node(p, N_IF)))
				return -1;
			*out = n;
			if (add_expr(p, a, end - a, 0, &n->expr) < 0)
				return -1;
			return 1; /* the caller parses the branches */
		}
	}
	if (keyword(s, off, end, "range")) {
		a = skip_ws(s, off + 5, end);
		if (a == end)
			return synerr(p, off, "missing filter after range");
		if (split_as(p, a, end, &asoff, &patoff) < 0)
			return -1;
		if (!(n = new_node(p, N_RANGE)))
			return -1;
		*out = n;
		if (asoff < end) {
			size_t fe = asoff;

			while (fe > a && isws(s[fe - 1]))
				fe--;
			if (fe == a)
				return synerr(p, a, "missing filter before as");
			patoff = skip_ws(s, patoff, end);
			if (!(n->pat = dupspan(s + patoff, end - patoff)))
				return nomem(p->err);
			end = fe;
		}
		if (add_expr(p, a, end - a, 0, &n->expr) < 0)
			return -1;
		return 1;
	}
	if (keyword(s, off, end, "memo")) {
		a = skip_ws(s, off + 4, end);
		if (a == end)
			return synerr(p, off, "missing key after memo");
		if (!(n = new_node(p, N_MEMO)))
			return -1;
		*out = n;
		n->memo = p->t->nmemos++;
		if (add_expr(p, a, end - a, 0, &n->expr) < 0)
			return -1;
		return 1;
	}
	if (keyword(s, off, end, "include"))
		return parse_include(p, off, end, out);
	yes = keyword(s, off, end, "raw");
	if (yes) {
		off = skip_ws(s, off + 3, end);
		if (off == end)
			return synerr(p, off, "missing filter after raw");
	}
	if (!(n = new_node(p, N_EXPR)))
		return -1;
	*out = n;
	return add_expr(p, off, end - off, yes, &n->expr);
}

/* Resolve name relative to the directory of the including file. */
static char *
relpath(const char *from, const char *name)
{
	const char *slash = strrchr(from, '/');
	size_t dl;
	char *r;

	if (name[0] == '/' || !slash)
		return strdup(name);
	dl = slash - from + 1;
	if (!(r = malloc(dl + strlen(name) + 1)))
		return NULL;
	memcpy(r, from, dl);
	strcpy(r + dl, name);
	return r;
}

static int parse_file(struct tmpl *t, size_t file, const char *text, size_t len,
		      struct parser *parent, struct node **head,
		      struct tmpl_err *err);

static int
parse_include(struct parser *p, size_t off, size_t end, struct node **out)
{
	struct tmpl *t = p->t;
	struct buf b = {0};
	char lerr[512];
	size_t a = skip_ws(p->s, off + 7, end);
	struct node *n;
	char **f;
	char *path;
	jv v;
	int i, r;

	if (a == end)
		return synerr(p, off, "missing file name after include");
	v = jv_parse_sized(p->s + a, (int)(end - a));
	if (jv_get_kind(v) != JV_KIND_STRING) {
		jv_free(v);
		return synerr(p, a, "include wants one string literal");
	}
	path = relpath(t->files[p->file], jv_string_value(v));
	jv_free(v);
	if (!path)
		return nomem(p->err);
	for (i = 0; i <= p->incdepth; i++)
		if (!strcmp(p->incstack[i], path)) {
			synerr(p, off, "include loop: %s", path);
			free(path);
			return -1;
		}
	if (p->incdepth >= MAX_INCLUDE) {
		free(path);
		return synerr(p, off, "includes nested too deeply");
	}
	if (!(f = grow(t->files, t->nfiles, sizeof *f))) {
		free(path);
		return nomem(p->err);
	}
	t->files = f;
	t->files[t->nfiles++] = path;
	if (!p->load) {
		return synerr(p, off, "%s: includes are disabled", path);
	}
	if (p->load(p->ctx, path, &b, lerr, sizeof lerr) < 0) {
		int line, col;

		where(p, off, &line, &col);
		p->err->kind = TMPL_EIO;
		snprintf(p->err->msg, sizeof p->err->msg,
			 "%s:%d:%d: include: %s", t->files[p->file], line, col,
			 lerr);
		buf_free(&b);
		return -1;
	}
	if (!(n = new_node(p, N_INCLUDE))) {
		buf_free(&b);
		return -1;
	}
	*out = n;
	r = parse_file(t, t->nfiles - 1, b.p ? b.p : "", b.len, p, &n->body,
		       p->err);
	buf_free(&b);
	return r;
}

/* Parse the branches of an if whose node is n, up to its end. */
static int
parse_if(struct parser *p, struct node *n, size_t open)
{
	enum term term;
	size_t cond[2];
	struct node *m;

	if (parse_list(p, &n->body, &term, cond) < 0)
		return -1;
	if (term == T_EOF)
		return synerr(p, open, "unclosed if (missing {{ end }})");
	if (term == T_ELSE) {
		if (parse_list(p, &n->alt, &term, cond) < 0)
			return -1;
		if (term == T_EOF)
			return synerr(p, open,
				      "unclosed if (missing {{ end }})");
		if (term != T_END)
			return synerr(p, cond[0], "else after else");
	} else if (term == T_ELSEIF) {
		/* "else if C" is an if nested in the else branch that
		 * shares the closing end. */
		if (++p->nest > MAX_NEST)
			return synerr(p, cond[0], "too many else if");
		if (!(m = new_node(p, N_IF)))
			return -1;
		n->alt = m;
		if (add_expr(p, cond[0], cond[1] - cond[0], 0, &m->expr) < 0)
			return -1;
		if (parse_if(p, m, open) < 0)
			return -1;
		p->nest--;
	}
	return 0;
}

static int
parse_range(struct parser *p, struct node *n, size_t open)
{
	enum term term;
	size_t cond[2];

	if (parse_list(p, &n->body, &term, cond) < 0)
		return -1;
	if (term == T_ELSE && parse_list(p, &n->alt, &term, cond) < 0)
		return -1;
	if (term == T_EOF)
		return synerr(p, open, "unclosed range (missing {{ end }})");
	if (term != T_END)
		return synerr(p, cond[0], "else if in range");
	return 0;
}

static int
parse_memo(struct parser *p, struct node *n, size_t open)
{
	enum term term;
	size_t cond[2];

	if (parse_list(p, &n->body, &term, cond) < 0)
		return -1;
	if (term == T_EOF)
		return synerr(p, open, "unclosed memo (missing {{ end }})");
	if (term != T_END)
		return synerr(p, cond[0], "else in memo");
	return 0;
}

/* Parse text and actions into *head until EOF or an end/else action,
 * reported in *term. */
static int
parse_list(struct parser *p, struct node **head, enum term *term,
	   size_t cond[2])
{
	const char *s = p->s;
	struct node **tail = head, *n;
	size_t open, tend, a, close, e;
	int r, trimafter;
	char *hit;

	if (++p->nest > MAX_NEST)
		return synerr(p, p->pos, "actions nested too deeply");
	for (;;) {
		hit = memmem(s + p->pos, p->len - p->pos, "{{", 2);
		open = hit ? (size_t)(hit - s) : p->len;
		tend = open;
		a = open + 2;
		if (hit && a + 1 < p->len && s[a] == '-' && isws(s[a + 1])) {
			while (tend > p->pos && isws(s[tend - 1]))
				tend--;
			a++;
		}
		if (p->trim)
			while (p->pos < tend && isws(s[p->pos]))
				p->pos++;
		p->trim = 0;
		if (tend > p->pos) {
			if (!(n = new_node(p, N_TEXT)))
				return -1;
			*tail = n;
			tail = &n->next;
			if (add_lit(p, s + p->pos, tend - p->pos, &n->lit) < 0)
				return -1;
		}
		if (!hit) {
			p->pos = p->len;
			*term = T_EOF;
			break;
		}
		a = skip_ws(s, a, p->len);
		if (a + 1 < p->len && s[a] == '/' && s[a + 1] == '*') {
			hit = memmem(s + a + 2, p->len - a - 2, "*/", 2);
			if (!hit)
				return synerr(p, open, "unclosed comment");
			e = skip_ws(s, hit - s + 2, p->len);
			trimafter = 0;
			if (e < p->len && s[e] == '-' && isws(s[e - 1])) {
				trimafter = 1;
				e++;
			}
			if (e + 1 >= p->len || s[e] != '}' || s[e + 1] != '}')
				return synerr(p, open,
					      "comment must end with */}}");
			p->pos = e + 2;
			p->trim = trimafter;
			continue;
		}
		if (find_close(p, open, a, &close) < 0)
			return -1;
		e = close;
		trimafter = 0;
		if (e > a && s[e - 1] == '-' && e - 1 > a && isws(s[e - 2])) {
			trimafter = 1;
			e--;
		}
		while (e > a && isws(s[e - 1]))
			e--;
		p->pos = close + 2;
		r = parse_action(p, a, e, &n, term, cond);
		p->trim = trimafter;
		if (r < 0) {
			free_nodes(n);
			return -1;
		}
		if (*term != T_EOF) {
			if (*term != T_ELSEIF)
				cond[0] = a;
			break;
		}
		*tail = n;
		tail = &n->next;
		if (r == 1 && n->type == N_IF && parse_if(p, n, open) < 0)
			return -1;
		if (r == 1 && n->type == N_RANGE && parse_range(p, n, open) < 0)
			return -1;
		if (r == 1 && n->type == N_MEMO && parse_memo(p, n, open) < 0)
			return -1;
	}
	p->nest--;
	return 0;
}

static int
parse_file(struct tmpl *t, size_t file, const char *text, size_t len,
	   struct parser *parent, struct node **head, struct tmpl_err *err)
{
	struct parser p = {.t = t, .file = file, .s = text, .len = len};
	enum term term;
	size_t cond[2];

	p.line = p.lcol = 1;
	p.err = err;
	if (parent) {
		p.load = parent->load;
		p.ctx = parent->ctx;
		p.incdepth = parent->incdepth + 1;
		memcpy(p.incstack, parent->incstack,
		       sizeof p.incstack[0] * p.incdepth);
	}
	p.incstack[p.incdepth] = t->files[file];
	if (parse_list(&p, head, &term, cond) < 0)
		return -1;
	if (term == T_END)
		return synerr(&p, cond[0], "end without range, if or memo");
	if (term != T_EOF)
		return synerr(&p, cond[0], "else without range or if");
	return 0;
}

/* Code generation. */

/* The helpers, written in jq (jq 1.6 cannot call C).  The data comes in
 * as [data, ls index, lsdir index, sorted keys, tree or null]; see
 * tmpl_render. */
/* clang-format off */
static const char prelude[] =
	".[0] as $root | .[1] as $__tree |\n"
	"def __c: debug | input;\n"
	"def __te($n): if type == \"object\" and (has(\"__tmpl\") or has(\"__jq\")) then error(.) else error({__tmpl: $n, msg: .}) end;\n"
	"def __segs: split(\"/\") | map(select(. != \"\"));\n"
	"def __norm: if startswith(\"/\") and (endswith(\"/\") | not) and (contains(\"//\") | not) then . else \"/\" + (__segs | join(\"/\")) end;\n"
	"def ls($d): ([\"__tmpl_ls\", ($d | __norm)] | __c)[];\n"
	"def lsdir($d): ([\"__tmpl_lsdir\", ($d | __norm)] | __c)[];\n"
	"def under($d): [\"__tmpl_under\", ($d | __norm)] | __c;\n"
	"def exists($k): $root | type == \"object\" and has($k);\n"
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
	"def __scan($pfx): ([\"__tmpl_scan\", $pfx] | __c)[];\n"
	"def gets($g): ($g | __globpfx) as $pfx | if $pfx == $g then (if exists($g) then $g else empty end) elif $g == $pfx + \"*\" then __scan($pfx) | select(ltrimstr($pfx) | contains(\"/\") | not) else ($g | __globre) as $re | __scan($pfx) | select(test($re)) end | {key: ., value: $root[.]};\n"
	"def getvs($g): gets($g) | .value;\n"
	"def warn($m): [\"__tmpl_warn\", ($m | tostring)] | debug | empty;\n"
	"def memo(k; f): k as $__mk | ([\"__tmpl_memo\", $__mk] | __c) as $__mv | if $__mv != null then $__mv[] else [f] as $__mo | ([\"__tmpl_memo_put\", $__mk, $__mo] | debug | empty), $__mo[] end;\n"
	"$root | (\n";
/* clang-format on */

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
 * it and a "#" comment in it cannot swallow what follows. */
static int
emit_code(struct tmpl *t, size_t e)
{
	struct expr *x = &t->exprs[e];
	const char *c;

	emit(t, "try (\n");
	x->pline0 = t->plines + 1;
	if (buf_puts(&t->prog, x->code) < 0)
		return t->nomem = -1;
	for (c = x->code; *c; c++)
		t->plines += *c == '\n';
	x->pline1 = t->plines + 1;
	return emit(t, "\n) catch __te(%zu)", e);
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

static int
gen_if(struct tmpl *t, struct node *n)
{
	emit(t, "if ([first(");
	emit_code(t, n->expr);
	emit(t, ")] | .[0] // false) then (");
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

static int
gen_node(struct tmpl *t, struct node *n)
{
	switch (n->type) {
	case N_TEXT:
		return emit(t, "%zu", 2 * n->lit);
	case N_EXPR:
		emit(t, "((");
		emit_code(t, n->expr);
		return emit(t, ") | (%zu, .))", 2 * n->expr + 1);
	case N_RANGE:
		if (!n->alt) {
			emit(t, "((");
			emit_code(t, n->expr);
			emit(t, ") | ");
			emit_pat(t, n->pat);
			emit(t, "(");
			gen_list(t, n->body);
			return emit(t, "))");
		}
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
		/* Ask for the block's text under its key: -(3b+1) says "the
		 * text kept", else the body comes between -(3b+2) and
		 * -(3b+3), for the renderer to keep. */
		emit(t, "(. as $__md | ((");
		emit_code(t, n->expr);
		emit(t,
		     ")) as $__mk | ([\"__tmpl_block\", %zu, $__mk] | "
		     "__c) as $__mh | if $__mh then -%zu else (-%zu, "
		     "($__md | (",
		     n->memo, 3 * n->memo + 1, 3 * n->memo + 2);
		gen_list(t, n->body);
		return emit(t, ")), -%zu) end)", 3 * n->memo + 3);
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
tmpl_load_file(void *ctx, const char *path, struct buf *out, char *err,
	       size_t errlen)
{
	(void)ctx;
	return read_file(path, out, err, errlen);
}

int
tmpl_parse(const char *name, const char *text, size_t len, tmpl_loader *load,
	   void *ctx, struct tmpl **out, struct tmpl_err *err)
{
	struct tmpl *t;
	struct parser top = {0};

	*out = NULL;
	memset(err, 0, sizeof *err);
	if (!(t = calloc(1, sizeof *t)))
		return nomem(err);
	t->memo_reply = jv_invalid();
	t->data = t->block_key = t->block_hit = jv_invalid();
	if (!(t->files = malloc(sizeof *t->files)) ||
	    !(t->files[0] = strdup(name))) {
		tmpl_free(t);
		return nomem(err);
	}
	t->nfiles = 1;
	top.load = load;
	top.ctx = ctx;
	top.incdepth = -1;
	if (parse_file(t, 0, text, len, &top, &t->root, err) < 0) {
		tmpl_free(t);
		return -1;
	}
	emit(t, "%s", "");
	if (buf_puts(&t->prog, prelude) < 0)
		t->nomem = -1;
	for (const char *c = prelude; *c; c++)
		t->plines += *c == '\n';
	gen_list(t, t->root);
	emit(t, "\n)\n");
	if (t->nomem) {
		tmpl_free(t);
		return nomem(err);
	}
	*out = t;
	return 0;
}

const char *
tmpl_program(const struct tmpl *t)
{
	return t->prog.p;
}

void
tmpl_free(struct tmpl *t)
{
	size_t i;

	if (!t)
		return;
	if (t->jq)
		jq_teardown(&t->jq);
	t->renders = -1; /* nothing was used by it: all goes */
	memo_sweep(t);
	free(t->mtab);
	free(t->miss);
	jv_free(t->memo_reply);
	jv_free(t->block_key);
	jv_free(t->block_hit);
	free(t->blocks);
	buf_free(&t->prog);
	buf_free(&t->warns);
	buf_free(&t->lits);
	buf_free(&t->jqerr);
	free(t->litoff);
	free(t->litlen);
	for (i = 0; i < t->nexprs; i++)
		free(t->exprs[i].code);
	free(t->exprs);
	for (i = 0; i < t->nfiles; i++)
		free(t->files[i]);
	free(t->files);
	free_nodes(t->root);
	free(t);
}

/* Compilation. */

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

/* A hash of v (borrowed) that equal values share, as jv_equal sees
 * them: the order of an object's keys does not count. */
static uint64_t
jhash(jv v)
{
	uint64_t h;
	double d;
	int i, n;

	switch (jv_get_kind(v)) {
	case JV_KIND_NUMBER:
		d = jv_number_value(v);
		if (d == 0)
			d = 0; /* -0 and 0 are equal */
		memcpy(&h, &d, sizeof h);
		return h * 0x9e3779b97f4a7c15ULL + 5;
	case JV_KIND_STRING:
		return jv_string_hash(jv_copy(v)) * 0xff51afd7ed558ccdULL + 6;
	case JV_KIND_ARRAY:
		h = 7;
		n = jv_array_length(jv_copy(v));
		for (i = 0; i < n; i++) {
			jv e = jv_array_get(jv_copy(v), i);
			h = h * 31 + jhash(e);
			jv_free(e);
		}
		return h;
	case JV_KIND_OBJECT:
		h = 11;
		jv_object_foreach(v, k, e)
		{
			h += (jv_string_hash(k) + 1) * 0xc4ceb9fe1a85ec53ULL ^
			     jhash(e);
			jv_free(e);
		}
		return h;
	default:
		return (uint64_t)jv_get_kind(v);
	}
}

static struct mentry **
memo_slot(struct tmpl *t, long block, jv key, uint64_t h)
{
	struct mentry **e;

	if (!t->mcap)
		return NULL;
	for (e = &t->mtab[h & (t->mcap - 1)]; *e; e = &(*e)->next)
		if ((*e)->h == h && (*e)->block == block &&
		    jv_equal(jv_copy((*e)->key), jv_copy(key)))
			return e;
	return e;
}

/* The outputs or text kept under (block, key) (key consumed), now used
 * by this render, their warnings given again; jv_invalid() when none is
 * kept. */
static jv
memo_use(struct tmpl *t, long block, jv key)
{
	uint64_t h = jhash(key) + (uint64_t)block;
	struct mentry **e = memo_slot(t, block, key, h);

	jv_free(key);
	if (!e || !*e)
		return jv_invalid();
	buf_add(&t->warns, jv_string_value((*e)->warns),
		(size_t)jv_string_length_bytes(jv_copy((*e)->warns)));
	(*e)->used = t->renders;
	return jv_copy((*e)->payload);
}

/* Keep p under (block, key), all consumed, with the warnings given since
 * offset from. */
static void
memo_keep(struct tmpl *t, long block, jv key, jv p, size_t from)
{
	uint64_t h = jhash(key) + (uint64_t)block;
	struct mentry **slot, *e;

	if (t->mcount >= t->mcap) {
		size_t nc = t->mcap ? 2 * t->mcap : 256, i;
		struct mentry **nt = calloc(nc, sizeof *nt);

		if (nt) {
			for (i = 0; i < t->mcap; i++)
				while ((e = t->mtab[i])) {
					t->mtab[i] = e->next;
					e->next = nt[e->h & (nc - 1)];
					nt[e->h & (nc - 1)] = e;
				}
			free(t->mtab);
			t->mtab = nt;
			t->mcap = nc;
		}
	}
	if (from > t->warns.len)
		from = t->warns.len;
	if (!(slot = memo_slot(t, block, key, h)) ||
	    (!*slot && !(*slot = calloc(1, sizeof **slot)))) {
		/* Out of memory: not kept, computed again next time. */
		jv_free(key);
		jv_free(p);
		return;
	}
	e = *slot;
	if (e->h == h && e->block == block && jv_is_valid(e->key)) {
		jv_free(e->payload);
		jv_free(e->warns);
		jv_free(key);
	} else {
		e->h = h;
		e->block = block;
		e->key = key;
		t->mcount++;
	}
	e->payload = p;
	e->warns = jv_string_sized(t->warns.p ? t->warns.p + from : "",
				   (int)(t->warns.len - from));
	e->used = t->renders;
}

/* memo(k; f) asks for key k here (through debug), then takes the answer
 * through input: the outputs of f kept for k, or null for a miss. */
static void
memo_get(struct tmpl *t, jv key)
{
	jv p = memo_use(t, -1, jv_copy(key));

	jv_free(t->memo_reply);
	t->memo_reply = jv_null();
	if (jv_is_valid(p)) {
		jv_free(t->memo_reply);
		t->memo_reply = p;
		jv_free(key);
		return;
	}
	if (t->nmiss == t->misscap) {
		size_t nc = t->misscap * 2 + 8;
		void *nm = realloc(t->miss, nc * sizeof *t->miss);

		if (!nm) {
			jv_free(key);
			return;
		}
		t->miss = nm;
		t->misscap = nc;
	}
	t->miss[t->nmiss].key = key;
	t->miss[t->nmiss++].warns = t->warns.len;
}

/* f's outputs for key, with the warnings f gave since the miss (the
 * newest miss of that key: memo() calls nest). */
static void
memo_put(struct tmpl *t, jv key, jv outs)
{
	size_t from = t->warns.len, i = t->nmiss;

	while (i > 0 && !jv_equal(jv_copy(t->miss[i - 1].key), jv_copy(key)))
		i--;
	if (i > 0) {
		from = t->miss[i - 1].warns;
		/* Those above it were left by errors caught on the way. */
		while (t->nmiss >= i)
			jv_free(t->miss[--t->nmiss].key);
	}
	memo_keep(t, -1, key, outs, from);
}

/* A {{ memo }} block asks for the text kept under its key: the answer is
 * true (and the text in block_hit) or false (and the key in block_key,
 * for the body that follows). */
static void
block_get(struct tmpl *t, jv b, jv key)
{
	jv_free(t->memo_reply);
	jv_free(t->block_hit);
	jv_free(t->block_key);
	t->block_num = (size_t)jv_number_value(b);
	jv_free(b);
	t->block_hit = memo_use(t, (long)t->block_num, jv_copy(key));
	t->block_key = jv_invalid();
	if (jv_is_valid(t->block_hit)) {
		jv_free(key);
		t->memo_reply = jv_true();
	} else {
		t->block_key = key;
		t->memo_reply = jv_false();
	}
}

static jv
memo_input_cb(jq_state *jq, void *data)
{
	struct tmpl *t = data;
	jv r = t->memo_reply;

	(void)jq;
	t->memo_reply = jv_invalid();
	return r;
}

/* Drop what the last render did not use. */
static void
memo_sweep(struct tmpl *t)
{
	struct mentry **e, *dead;
	size_t i;

	for (i = 0; i < t->mcap; i++)
		for (e = &t->mtab[i]; *e;) {
			if ((*e)->used == t->renders) {
				e = &(*e)->next;
				continue;
			}
			dead = *e;
			*e = dead->next;
			jv_free(dead->key);
			jv_free(dead->payload);
			jv_free(dead->warns);
			free(dead);
			t->mcount--;
		}
	while (t->nmiss)
		jv_free(t->miss[--t->nmiss].key);
}

/* The requests of the helpers that are written in C: [tag, arg] or
 * [tag, arg, arg] (msg borrowed); the answer goes to memo_reply, for
 * input to hand back.  0 when msg is none of them. */
static int
request(struct tmpl *t, const char *tg, int n, jv msg)
{
	jv a = jv_array_get(jv_copy(msg), 1);
	jv b = n == 3 ? jv_array_get(jv_copy(msg), 2) : jv_invalid();
	jv r = jv_invalid();
	const char *as =
	    jv_get_kind(a) == JV_KIND_STRING ? jv_string_value(a) : "";
	size_t an = jv_get_kind(a) == JV_KIND_STRING
			? (size_t)jv_string_length_bytes(jv_copy(a))
			: 0;

	if (n == 2 && !strcmp(tg, "__tmpl_memo")) {
		memo_get(t, a);
		return 1;
	}
	if (n == 3 && !strcmp(tg, "__tmpl_memo_put")) {
		memo_put(t, a, b);
		return 1;
	}
	if (n == 3 && !strcmp(tg, "__tmpl_block")) {
		block_get(t, a, b);
		return 1;
	}
	jv_free(b);
	if (n != 2) {
		jv_free(a);
		return 0;
	}
	if (!strcmp(tg, "__tmpl_ls"))
		r = keys_ls(t, as, an, 0);
	else if (!strcmp(tg, "__tmpl_lsdir"))
		r = keys_ls(t, as, an, 1);
	else if (!strcmp(tg, "__tmpl_under"))
		r = keys_under(t, as, an);
	else if (!strcmp(tg, "__tmpl_scan"))
		r = keys_scan(t, as, an);
	jv_free(a);
	if (!jv_is_valid(r))
		return 0;
	jv_free(t->memo_reply);
	t->memo_reply = r;
	return 1;
}

/* warn(msg) and jq's debug land here: kept, one line each, for the
 * caller to show (this library prints nothing); memo()'s requests too. */
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

	if (n >= 2 && request(t, tg, n, msg)) {
		jv_free(tag);
		jv_free(msg);
		return;
	}
	if (n == 2 && !strcmp(tg, "__tmpl_warn")) {
		jv m = jv_array_get(jv_copy(msg), 1);
		const char *p = jv_string_value(m);
		int i, len = jv_string_length_bytes(jv_copy(m));
		char esc[8];

		/* One line per warning, whatever the message holds (NULs
		 * included). */
		for (i = 0; i < len; i++) {
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
				snprintf(esc, sizeof esc, "\\x%02x",
					 (unsigned char)p[i]);
				buf_puts(&t->warns, esc);
			} else {
				buf_add(&t->warns, p + i, 1);
			}
		}
		jv_free(m);
	} else {
		jv d = jv_dump_string(jv_copy(msg), 0);

		buf_puts(&t->warns, "debug: ");
		buf_puts(&t->warns, jv_string_value(d));
		jv_free(d);
	}
	buf_add(&t->warns, "\n", 1);
	jv_free(tag);
	jv_free(msg);
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
		snprintf(err->msg, sizeof err->msg,
			 "%s: jq compile error: %.*s", t->files[0], len, m);
		return;
	}
	tl = t->exprs[best].line + (line - t->exprs[best].pline0);
	tc = line == t->exprs[best].pline0 ? t->exprs[best].col : 1;
	snprintf(err->msg, sizeof err->msg, "%s:%d:%d: jq compile error: %.*s",
		 t->files[t->exprs[best].file], tl, tc, len, m);
}

int
tmpl_compile(struct tmpl *t, jv args, struct tmpl_err *err)
{
	memset(err, 0, sizeof *err);
	if (!(t->jq = jq_init())) {
		jv_free(args);
		return nomem(err);
	}
	jq_set_error_cb(t->jq, jq_err_cb, t);
	jq_set_debug_cb(t->jq, jq_debug_cb, t);
	jq_set_input_cb(t->jq, memo_input_cb, t);
	if (!jq_compile_args(t->jq, t->prog.p, args)) {
		compile_error(t, err);
		jq_teardown(&t->jq);
		return -1;
	}
	return 0;
}

/* Rendering. */

/* The keys of the data, for ls, lsdir, under and gets: sorted once per
 * render, so that each call costs a binary search and the keys it
 * returns. */

/* Byte order, a prefix first. */
static int
bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c ? c : (an > bn) - (an < bn);
}

static int
kcmp_raw(const void *a, const void *b)
{
	const struct kref *x = a, *y = b;

	return bytes_cmp(x->s, x->n, y->s, y->n);
}

static int
kcmp_norm(const void *a, const void *b)
{
	const struct kref *x = a, *y = b;

	return bytes_cmp(x->ns, x->nn, y->ns, y->nn);
}

/* "/" and the segments of s joined by "/": NULL when s is that already. */
static char *
normal_form(const char *s, size_t n, size_t *outn)
{
	size_t i, o = 0;
	char *r;
	int normal =
	    n > 1 && s[0] == '/' && s[n - 1] != '/' && !memmem(s, n, "//", 2);

	if (normal || (n == 1 && s[0] == '/'))
		return NULL;
	if (!(r = malloc(n + 2)))
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '/')
			continue;
		r[o++] = '/';
		while (i < n && s[i] != '/')
			r[o++] = s[i++];
	}
	if (!o)
		r[o++] = '/';
	*outn = o;
	return r;
}

static void
keys_free(struct tmpl *t)
{
	size_t i;

	for (i = 0; i < t->nkeys; i++) {
		if (t->rk[i].ns != t->rk[i].s)
			free((char *)t->rk[i].ns);
		jv_free(t->rk[i].k);
	}
	if (t->nk != t->rk)
		free(t->nk);
	free(t->rk);
	t->rk = t->nk = NULL;
	t->nkeys = 0;
	jv_free(t->data);
	t->data = jv_invalid();
}

/* Take the keys of data (borrowed, kept until keys_free). */
static int
keys_load(struct tmpl *t, jv data)
{
	size_t i = 0, n;
	int odd = 0;

	t->data = jv_copy(data);
	if (jv_get_kind(data) != JV_KIND_OBJECT)
		return 0;
	n = (size_t)jv_object_length(jv_copy(data));
	if (n && !(t->rk = malloc(n * sizeof *t->rk)))
		return -1;
	jv_object_foreach(data, k, v)
	{
		struct kref *r = &t->rk[i++];

		jv_free(v);
		r->k = k;
		r->s = jv_string_value(k);
		r->n = (size_t)jv_string_length_bytes(jv_copy(k));
		r->ns = normal_form(r->s, r->n, &r->nn);
		if (r->ns)
			odd = 1;
		else {
			r->ns = r->s;
			r->nn = r->n;
		}
	}
	t->nkeys = i;
	t->nk = t->rk;
	if (t->nkeys < 2)
		return 0;
	qsort(t->rk, t->nkeys, sizeof *t->rk, kcmp_raw);
	if (odd) {
		if (!(t->nk = malloc(t->nkeys * sizeof *t->nk))) {
			t->nk = t->rk;
			return -1;
		}
		memcpy(t->nk, t->rk, t->nkeys * sizeof *t->nk);
		qsort(t->nk, t->nkeys, sizeof *t->nk, kcmp_norm);
	}
	return 0;
}

/* The first key of a (sorted by cmp) not below p (len n). */
static size_t
lower_bound(const struct kref *a, size_t len, const char *p, size_t n, int norm)
{
	size_t lo = 0, hi = len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (norm ? bytes_cmp(a[mid].ns, a[mid].nn, p, n) < 0
			 : bytes_cmp(a[mid].s, a[mid].n, p, n) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The keys below dir (in normal form) are nk[*from .. return value);
 * *plen is the length of their common prefix, dir and a "/". */
static size_t
below(struct tmpl *t, const char *d, size_t dn, size_t *from, size_t *plen)
{
	struct buf pfx = {0};
	size_t i;

	buf_add(&pfx, d, dn);
	if (dn != 1)
		buf_add(&pfx, "/", 1);
	*plen = pfx.len;
	*from = i =
	    lower_bound(t->nk, t->nkeys, pfx.p ? pfx.p : "", pfx.len, 1);
	while (i < t->nkeys && t->nk[i].nn > pfx.len &&
	       !memcmp(t->nk[i].ns, pfx.p, pfx.len))
		i++;
	buf_free(&pfx);
	return i;
}

/* ls(dir) (dirs 0) or lsdir(dir) (dirs 1), dir in normal form: the sorted
 * names below it. */
static jv
keys_ls(struct tmpl *t, const char *d, size_t dn, int dirs)
{
	jv set = jv_object();
	size_t i, end, pl;

	for (end = below(t, d, dn, &i, &pl); i < end; i++) {
		const char *rest = t->nk[i].ns + pl;
		size_t rn = t->nk[i].nn - pl;
		const char *sl = memchr(rest, '/', rn);

		if (dirs && !sl)
			continue;
		set = jv_object_set(
		    set, jv_string_sized(rest, sl ? (int)(sl - rest) : (int)rn),
		    jv_true());
	}
	return jv_keys(set);
}

/* under(dir): the keys below dir with their values. */
static jv
keys_under(struct tmpl *t, const char *d, size_t dn)
{
	jv r = jv_object();
	size_t i, end, pl;

	for (end = below(t, d, dn, &i, &pl); i < end; i++)
		r = jv_object_set(
		    r, jv_copy(t->nk[i].k),
		    jv_object_get(jv_copy(t->data), jv_copy(t->nk[i].k)));
	return r;
}

/* The keys that start with p, in byte order (for gets). */
static jv
keys_scan(struct tmpl *t, const char *p, size_t n)
{
	jv r = jv_array();
	size_t i;

	for (i = lower_bound(t->rk, t->nkeys, p, n, 0);
	     i < t->nkeys && t->rk[i].n >= n && !memcmp(t->rk[i].s, p, n); i++)
		r = jv_array_append(r, jv_copy(t->rk[i].k));
	return r;
}

/* Put child, the finished object for directory name, into parent.  When
 * parent already has that name (a value, or an object from an earlier,
 * non-adjacent run of keys such as "/a//b"), merge: a value moves to the
 * name "" inside the directory. */
static jv
tree_put(jv parent, jv name, jv child)
{
	jv old = jv_object_get(jv_copy(parent), jv_copy(name));

	if (jv_get_kind(old) == JV_KIND_OBJECT) {
		parent = jv_object_delete(parent, jv_copy(name));
		child = jv_object_merge(old, child);
	} else if (jv_is_valid(old)) {
		child = jv_object_set(child, jv_string(""), old);
	} else {
		jv_free(old);
	}
	return jv_object_set(parent, name, child);
}

/* Take directory name out of parent to extend it in place: its object,
 * or a new one (holding parent's value for name under ""). */
static jv
tree_take(jv *parent, jv name)
{
	jv old = jv_object_get(jv_copy(*parent), jv_copy(name));

	if (!jv_is_valid(old)) {
		jv_free(old);
		jv_free(name);
		return jv_object();
	}
	*parent = jv_object_delete(*parent, name);
	if (jv_get_kind(old) == JV_KIND_OBJECT)
		return old;
	return jv_object_set(jv_object(), jv_string(""), old);
}

/* The flat object of paths data (borrowed) nested into objects by path
 * segment, for tree.  The objects of the directories of the current key
 * are kept open on a stack, so that each is extended in place (a jv
 * shared with its parent would be copied on every change) and put into
 * its parent once the sorted keys leave it. */
static jv
nest(jv data)
{
	jv keys = jv_keys(jv_copy(data)), *obj = NULL, *name = NULL;
	size_t n = 1, cap = 0, *seg = NULL, segcap = 0, ns, d;
	int i, nk = jv_array_length(jv_copy(keys));

	if (!(obj = malloc(sizeof *obj)) || !(name = malloc(sizeof *name)))
		goto oom;
	cap = 1;
	obj[0] = jv_object();
	name[0] = jv_null();
	for (i = 0; i < nk; i++) {
		jv k = jv_array_get(jv_copy(keys), i);
		jv v = jv_object_get(jv_copy(data), jv_copy(k));
		const char *s = jv_string_value(k);
		size_t len = jv_string_length_bytes(jv_copy(k)), a, b;

		/* seg[2j], seg[2j+1]: offset and length of segment j. */
		for (ns = 0, a = 0;; ns++) {
			while (a < len && s[a] == '/')
				a++;
			if (a >= len)
				break;
			for (b = a; b < len && s[b] != '/'; b++)
				;
			if (2 * ns + 2 > segcap) {
				size_t *ns2 = realloc(seg, (segcap * 2 + 16) *
							       sizeof *seg);

				if (!ns2) {
					jv_free(k);
					jv_free(v);
					goto oom;
				}
				seg = ns2;
				segcap = segcap * 2 + 16;
			}
			seg[2 * ns] = a;
			seg[2 * ns + 1] = b - a;
			a = b;
		}
		if (ns == 0) {
			obj[0] = jv_object_set(obj[0], jv_string(""), v);
			jv_free(k);
			continue;
		}
		/* Keep the open levels that are directories of this key. */
		for (d = 1; d < n && d < ns; d++)
			if (jv_string_length_bytes(jv_copy(name[d])) !=
				(int)seg[2 * d - 1] ||
			    memcmp(jv_string_value(name[d]), s + seg[2 * d - 2],
				   seg[2 * d - 1]))
				break;
		while (n > d) {
			n--;
			obj[n - 1] = tree_put(obj[n - 1], name[n], obj[n]);
		}
		for (; n < ns; n++) {
			if (n >= cap) {
				jv *o2 = realloc(obj, 2 * cap * sizeof *obj);
				jv *n2 =
				    o2 ? realloc(name, 2 * cap * sizeof *name)
				       : NULL;

				if (o2)
					obj = o2;
				if (!n2) {
					jv_free(k);
					jv_free(v);
					goto oom;
				}
				name = n2;
				cap *= 2;
			}
			name[n] = jv_string_sized(s + seg[2 * n - 2],
						  (int)seg[2 * n - 1]);
			obj[n] = tree_take(&obj[n - 1], jv_copy(name[n]));
		}
		{
			jv leaf = jv_string_sized(s + seg[2 * ns - 2],
						  (int)seg[2 * ns - 1]);
			jv old =
			    jv_object_get(jv_copy(obj[n - 1]), jv_copy(leaf));

			if (jv_get_kind(old) == JV_KIND_OBJECT) {
				obj[n - 1] =
				    jv_object_delete(obj[n - 1], jv_copy(leaf));
				v = jv_object_set(old, jv_string(""), v);
			} else {
				jv_free(old);
			}
			obj[n - 1] = jv_object_set(obj[n - 1], leaf, v);
		}
		jv_free(k);
	}
	while (n > 1) {
		n--;
		obj[n - 1] = tree_put(obj[n - 1], name[n], obj[n]);
	}
	jv_free(name[0]);
	free(name);
	free(seg);
	jv_free(keys);
	{
		jv r = obj[0];

		free(obj);
		return r;
	}
oom:
	for (d = 0; obj && name && d < n; d++) {
		jv_free(obj[d]);
		jv_free(name[d]);
	}
	free(obj);
	free(name);
	free(seg);
	jv_free(keys);
	return jv_invalid_with_msg(jv_string("out of memory"));
}

/* Code point at s (valid UTF-8, as jq strings are), its length in *n. */
static uint32_t
utf8_at(const unsigned char *s, size_t len, size_t *n)
{
	if (s[0] < 0x80 || len < 2) {
		*n = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		*n = 2;
		return ((s[0] & 0x1f) << 6) | (s[1] & 0x3f);
	}
	if ((s[0] & 0xf0) == 0xe0 && len >= 3) {
		*n = 3;
		return ((s[0] & 0x0f) << 12) | ((s[1] & 0x3f) << 6) |
		       (s[2] & 0x3f);
	}
	*n = len >= 4 ? 4 : len;
	return 0x10000;
}

/* Offset of the first character a substituted value may not contain, or
 * (size_t)-1.  Refused: C0 controls but tab, DEL, C1 controls (U+0085
 * NEL among them) and the line and paragraph separators U+2028/U+2029,
 * that is everything that some reader may take for a line break. */
static size_t
bad_char(const char *p, size_t len, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i, n;

	for (i = 0; i < len; i += n) {
		n = 1;
		if (s[i] >= 0x20 && s[i] < 0x7f)
			continue;
		if (s[i] == '\t')
			continue;
		*cp = utf8_at(s + i, len - i, &n);
		if (*cp < 0x20 || (*cp >= 0x7f && *cp <= 0x9f) ||
		    *cp == 0x2028 || *cp == 0x2029)
			return i;
	}
	return (size_t)-1;
}

static size_t
utf8_back(const char *s, size_t i)
{
	while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
		i--;
	return i;
}

static int rt_error(struct tmpl *t, size_t e, struct tmpl_err *err,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
rt_error(struct tmpl *t, size_t e, struct tmpl_err *err, const char *fmt, ...)
{
	va_list ap;
	int n;

	err->kind = TMPL_ERUNTIME;
	if (e < t->nexprs)
		n = snprintf(err->msg, sizeof err->msg,
			     "%s:%d:%d: ", t->files[t->exprs[e].file],
			     t->exprs[e].line, t->exprs[e].col);
	else
		n = snprintf(err->msg, sizeof err->msg, "%s: ", t->files[0]);
	if (n < 0 || (size_t)n >= sizeof err->msg)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof err->msg - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Append s[a, b) to out quoted, with every character that bad_char
 * refuses (and quote and backslash) escaped, so that the message itself
 * is one safe line. */
static void
quote(struct buf *out, const char *s, size_t a, size_t b)
{
	size_t n;
	uint32_t cp;

	buf_add(out, "\"", 1);
	for (; a < b; a += n) {
		unsigned char c = s[a];

		n = 1;
		if (c == '"' || c == '\\') {
			buf_printf(out, "\\%c", c);
		} else if (c == '\n') {
			buf_puts(out, "\\n");
		} else if (c == '\r') {
			buf_puts(out, "\\r");
		} else if ((c >= 0x20 && c < 0x7f) || c == '\t') {
			buf_add(out, s + a, 1);
		} else {
			cp = utf8_at((const unsigned char *)s + a, b - a, &n);
			if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
			    cp == 0x2028 || cp == 0x2029)
				buf_printf(out, "\\u%04X", (unsigned)cp);
			else
				buf_add(out, s + a, n);
		}
	}
	buf_add(out, "\"", 1);
}

/* Refuse value s of expression e: show where, and the value around the
 * offending character, escaped and shortened. */
static int
refuse(struct tmpl *t, size_t e, const char *s, size_t len, size_t off,
       uint32_t cp, struct tmpl_err *err)
{
	size_t a = off > 24 ? utf8_back(s, off - 24) : 0;
	size_t b = len - off > 24 ? utf8_back(s, off + 24) : len;
	struct buf shown = {0};

	quote(&shown, s, a, b);
	rt_error(t, e, err,
		 "refused: value contains control character U+%04X at byte "
		 "%zu: %s%s%s",
		 (unsigned)cp, off, a ? "..." : "", shown.p ? shown.p : "",
		 b < len ? "..." : "");
	buf_free(&shown);
	return -1;
}

static int
put(struct buf *out, const char *s, size_t n, size_t max)
{
	if (n > max || out->len > max - n)
		return 1;
	return buf_add(out, s, n) < 0 ? -1 : 0;
}

static int
put_value(struct tmpl *t, size_t e, jv v, size_t max, struct buf *out,
	  struct tmpl_err *err)
{
	const char *s;
	size_t len, off;
	uint32_t cp;
	int r;

	switch (jv_get_kind(v)) {
	case JV_KIND_NULL:
		jv_free(v);
		return 0;
	case JV_KIND_STRING:
		break;
	default:
		v = jv_dump_string(v, 0);
	}
	s = jv_string_value(v);
	len = jv_string_length_bytes(jv_copy(v));
	if (!t->exprs[e].raw && (off = bad_char(s, len, &cp)) != (size_t)-1) {
		refuse(t, e, s, len, off, cp, err);
		jv_free(v);
		return -1;
	}
	r = put(out, s, len, max);
	jv_free(v);
	if (r > 0)
		return rt_error(t, e, err, "output larger than %zu bytes", max);
	return r < 0 ? nomem(err) : 0;
}

/* Report the error that ended the render: jv msg is consumed. */
static int
render_error(struct tmpl *t, jv msg, struct tmpl_err *err)
{
	size_t e = (size_t)-1;
	jv m = msg, s;

	if (jv_get_kind(msg) == JV_KIND_OBJECT) {
		jv n = jv_object_get(jv_copy(msg), jv_string("__tmpl"));

		if (jv_get_kind(n) == JV_KIND_NUMBER) {
			e = (size_t)jv_number_value(n);
			m = jv_object_get(jv_copy(msg), jv_string("msg"));
			jv_free(msg);
		}
		jv_free(n);
	}
	if (jv_get_kind(m) == JV_KIND_STRING)
		s = m;
	else
		s = jv_dump_string(m, 0);
	rt_error(t, e, err, "runtime error: %s", jv_string_value(s));
	jv_free(s);
	return -1;
}

/* A {{ memo }} marker m = 3b+1 (the text kept: copy it), 3b+2 (the
 * body begins) or 3b+3 (it ended: keep its text and warnings). */
static int
block_mark(struct tmpl *t, size_t m, size_t max_output, struct buf *out,
	   struct tmpl_err *err)
{
	struct open_block *b;
	int r;

	switch ((m - 1) % 3) {
	case 0:
		if (jv_get_kind(t->block_hit) != JV_KIND_STRING)
			break;
		r = put(out, jv_string_value(t->block_hit),
			(size_t)jv_string_length_bytes(jv_copy(t->block_hit)),
			max_output);
		jv_free(t->block_hit);
		t->block_hit = jv_invalid();
		if (r > 0)
			return rt_error(t, (size_t)-1, err,
					"output larger than %zu bytes",
					max_output);
		return r < 0 ? nomem(err) : 0;
	case 1:
		if (t->nblocks == t->blockcap) {
			size_t nc = t->blockcap * 2 + 8;
			void *nb = realloc(t->blocks, nc * sizeof *t->blocks);

			if (!nb)
				return nomem(err);
			t->blocks = nb;
			t->blockcap = nc;
		}
		b = &t->blocks[t->nblocks++];
		b->key = t->block_key;
		b->num = t->block_num;
		t->block_key = jv_invalid();
		b->out = out->len;
		b->warns = t->warns.len;
		return 0;
	default:
		if (!t->nblocks)
			break;
		b = &t->blocks[--t->nblocks];
		/* (jv strings hold UTF-8 only: other text is not kept) */
		if (jv_is_valid(b->key) && b->out <= out->len &&
		    utf8_valid(out->p + b->out, out->len - b->out)) {
			memo_keep(t, (long)b->num, b->key,
				  jv_string_sized(out->p + b->out,
						  (int)(out->len - b->out)),
				  b->warns);
		} else {
			jv_free(b->key);
		}
		return 0;
	}
	return rt_error(t, (size_t)-1, err,
			"internal error: bad program output");
}

static int
render(struct tmpl *t, jv data, size_t max_output, struct buf *out,
       struct tmpl_err *err)
{
	jv tree, in, v;
	size_t expect = (size_t)-1;
	int r = 0;

	memset(err, 0, sizeof *err);
	t->warns.len = 0;
	if (t->warns.p)
		t->warns.p[0] = '\0';
	if (keys_load(t, data) < 0) {
		jv_free(data);
		return nomem(err);
	}
	tree = jv_null();
	if (t->need_tree && jv_get_kind(data) == JV_KIND_OBJECT)
		tree = nest(data);
	if (!jv_is_valid(tree)) {
		jv_free(tree);
		jv_free(data);
		return nomem(err);
	}
	in = jv_array();
	in = jv_array_append(in, data);
	in = jv_array_append(in, tree);
	jq_start(t->jq, in, 0);
	while (jv_is_valid(v = jq_next(t->jq))) {
		double d;
		size_t i;

		if (expect != (size_t)-1) {
			r = put_value(t, expect, v, max_output, out, err);
			expect = (size_t)-1;
			if (r < 0)
				return -1;
			continue;
		}
		/* Not a value: the program's own numbers, 2*literal or
		 * 2*expression+1, or minus those of {{ memo }} blocks (see
		 * gen_node). */
		d = jv_get_kind(v) == JV_KIND_NUMBER ? jv_number_value(v)
						     : -1e300;
		jv_free(v);
		if (d < 0 && d >= -3.0 * t->nmemos && d == (double)(long)d) {
			if ((r = block_mark(t, (size_t)-d, max_output, out,
					    err)) < 0)
				return -1;
			continue;
		}
		if (d < 0 || d > 2.0 * (t->nlits + t->nexprs))
			return rt_error(t, (size_t)-1, err,
					"internal error: bad program output");
		i = (size_t)d / 2;
		if ((size_t)d & 1 ? i >= t->nexprs : i >= t->nlits)
			return rt_error(t, (size_t)-1, err,
					"internal error: bad program output");
		if ((size_t)d & 1) {
			expect = i;
			continue;
		}
		r = put(out, t->lits.p + t->litoff[i], t->litlen[i],
			max_output);
		if (r > 0)
			return rt_error(t, (size_t)-1, err,
					"output larger than %zu bytes",
					max_output);
		if (r < 0)
			return nomem(err);
	}
	if (jq_halted(t->jq)) {
		jv_free(v);
		v = jq_get_exit_code(t->jq);
		jv_free(v);
		return rt_error(t, (size_t)-1, err,
				"runtime error: template called halt");
	}
	if (jv_invalid_has_msg(jv_copy(v)))
		return render_error(t, jv_invalid_get_msg(v), err);
	jv_free(v);
	return 0;
}

int
tmpl_render(struct tmpl *t, jv data, size_t max_output, struct buf *out,
	    struct tmpl_err *err)
{
	int r;

	t->renders++;
	r = render(t, data, max_output, out, err);
	jv_free(t->memo_reply);
	t->memo_reply = jv_invalid();
	jv_free(t->block_hit);
	t->block_hit = jv_invalid();
	jv_free(t->block_key);
	t->block_key = jv_invalid();
	while (t->nblocks)
		jv_free(t->blocks[--t->nblocks].key);
	keys_free(t);
	memo_sweep(t);
	return r;
}
