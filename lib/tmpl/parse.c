/* The parser: template text (and its includes) into the tree of nodes
 * and the tables of literals and expressions, with a lexer that knows
 * just enough of jq to find where an action ends.  A template's life
 * begins (tmpl_parse) and ends (tmpl_free) here. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl/int.h"

#define MAX_NEST 200   /* brackets and actions nested in one file */
#define MAX_INCLUDE 16 /* include depth */

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
	n = snprintf(p->err->msg, sizeof(p->err->msg),
		     "%s:%d:%d: syntax error: ", p->t->files[p->file], line,
		     col);
	if (n < 0 || (size_t)n >= sizeof(p->err->msg))
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err->msg + n, sizeof(p->err->msg) - n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
isws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
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

	if (!(a = array_grow(t->litoff, t->nlits, sizeof(*a))))
		return nomem(p->err);
	t->litoff = a;
	if (!(b = array_grow(t->litlen, t->nlits, sizeof(*b))))
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

	if (!(e = array_grow(t->exprs, t->nexprs, sizeof(*e))))
		return nomem(p->err);
	t->exprs = e;
	e = &t->exprs[t->nexprs];
	memset(e, 0, sizeof(*e));
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
	struct node *n = calloc(1, sizeof(*n));

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

/* The offset in *at of the first token at depth 0 of [off, end) of kind
 * k that is word, or end when there is none. */
static int
find_token(struct parser *p, size_t off, size_t end, int k, const char *word,
	   size_t *at)
{
	struct lex x = {.p = p, .s = p->s, .len = end, .pos = off};
	size_t toff, n = strlen(word);
	int r;

	*at = end;
	for (;;) {
		int d0 = x.depth;

		if ((r = lex_next(&x, &toff)) < 0)
			return -1;
		if (r == K_EOF)
			return 0;
		if (d0 == 0 && r == k && x.pos - toff == n &&
		    !memcmp(p->s + toff, word, n)) {
			*at = toff;
			return 0;
		}
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

/* A new block number, for a {{ memo }} block (each 0) or an {{ each }}
 * block; (size_t)-1 when out of memory. */
static size_t
new_block(struct parser *p, int each)
{
	struct tmpl *t = p->t;
	char *a = array_grow(t->is_each, t->nmemos, sizeof(*a));

	if (!a) {
		nomem(p->err);
		return (size_t)-1;
	}
	t->is_each = a;
	t->is_each[t->nmemos] = (char)each;
	return t->nmemos++;
}

/* "each DIR as PATTERN" or "each DIR as PATTERN; KEY", [off, end) the
 * code after "each". */
static int
parse_each_head(struct parser *p, size_t off, size_t end, struct node **out)
{
	const char *s = p->s;
	size_t semi, asoff, patoff, fe, pe, k;
	struct node *n;

	if (find_token(p, off, end, K_OTHER, ";", &semi) < 0 ||
	    split_as(p, off, semi, &asoff, &patoff) < 0)
		return -1;
	if (asoff == semi)
		return synerr(p, off, "each wants DIR as $name");
	for (fe = asoff; fe > off && isws(s[fe - 1]); fe--)
		;
	if (fe == off)
		return synerr(p, off, "missing directory before as");
	if (!(n = new_node(p, N_EACH)))
		return -1;
	*out = n;
	n->key = (size_t)-1;
	if ((n->memo = new_block(p, 1)) == (size_t)-1)
		return -1;
	patoff = skip_ws(s, patoff, semi);
	for (pe = semi; pe > patoff && isws(s[pe - 1]); pe--)
		;
	if (!(n->pat = dupspan(s + patoff, pe - patoff)))
		return nomem(p->err);
	if (add_expr(p, off, fe - off, 0, &n->expr) < 0)
		return -1;
	if (semi < end) {
		k = skip_ws(s, semi + 1, end);
		if (k == end)
			return synerr(p, semi, "missing key after ;");
		if (add_expr(p, k, end - k, 0, &n->key) < 0)
			return -1;
	}
	return 1;
}

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
		/* (with a "then" it is jq's own if-then-else expression) */
		if (find_token(p, off, end, K_IDENT, "then", &a) < 0)
			return -1;
		if (a == end) {
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
		if ((n->memo = new_block(p, 0)) == (size_t)-1)
			return -1;
		if (add_expr(p, a, end - a, 0, &n->expr) < 0)
			return -1;
		return 1;
	}
	if (keyword(s, off, end, "each")) {
		a = skip_ws(s, off + 4, end);
		if (a == end)
			return synerr(p, off, "missing directory after each");
		return parse_each_head(p, a, end, out);
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
	if (!(f = array_grow(t->files, t->nfiles, sizeof(*f)))) {
		free(path);
		return nomem(p->err);
	}
	t->files = f;
	t->files[t->nfiles++] = path;
	if (!p->load) {
		return synerr(p, off, "%s: includes are disabled", path);
	}
	if (p->load(p->ctx, path, &b, lerr, sizeof(lerr)) < 0) {
		int line, col;

		where(p, off, &line, &col);
		p->err->kind = TMPL_EIO;
		snprintf(p->err->msg, sizeof(p->err->msg),
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

/* The body of a {{ memo }} or {{ each }} block (named what). */
static int
parse_block(struct parser *p, struct node *n, size_t open, const char *what)
{
	enum term term;
	size_t cond[2];

	if (parse_list(p, &n->body, &term, cond) < 0)
		return -1;
	if (term == T_EOF)
		return synerr(p, open, "unclosed %s (missing {{ end }})", what);
	if (term != T_END)
		return synerr(p, cond[0], "else in %s", what);
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
		if (r == 1 && n->type == N_MEMO &&
		    parse_block(p, n, open, "memo") < 0)
			return -1;
		if (r == 1 && n->type == N_EACH &&
		    parse_block(p, n, open, "each") < 0)
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
		       sizeof(p.incstack[0]) * p.incdepth);
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

int
tmpl_load_file(void *ctx, const char *path, struct buf *out, char *err,
	       size_t errlen)
{
	(void)ctx;
	return read_file(path, out, err, errlen);
}

int
tmpl_parse(const char *name, const char *text, size_t len, tmpl_loader *load,
	   void *ctx, const struct tmpl_helpers *const *helpers,
	   struct tmpl **out, struct tmpl_err *err)
{
	struct tmpl *t;
	struct parser top = {0};

	*out = NULL;
	memset(err, 0, sizeof(*err));
	if (!(t = calloc(1, sizeof(*t))))
		return nomem(err);
	inc_init(t);
	keys_init(t);
	render_init(t);
	if (!(t->files = array_grow(NULL, 0, sizeof(*t->files))) ||
	    !(t->files[0] = strdup(name))) {
		tmpl_free(t);
		return nomem(err);
	}
	t->nfiles = 1;
	top.load = load;
	top.ctx = ctx;
	top.incdepth = -1;
	if (calls_init(t, helpers, err) < 0 ||
	    parse_file(t, 0, text, len, &top, &t->root, err) < 0) {
		tmpl_free(t);
		return -1;
	}
	if (gen_program(t) < 0) {
		tmpl_free(t);
		return nomem(err);
	}
	*out = t;
	return 0;
}

void
tmpl_free(struct tmpl *t)
{
	size_t i;

	if (!t)
		return;
	calls_free(t);
	memo_free(t);
	inc_free(t);
	keys_drop(t);
	keys_free(t);
	render_free(t);
	free(t->is_each);
	buf_free(&t->prog);
	buf_free(&t->warns);
	buf_free(&t->lits);
	free(t->litoff);
	free(t->litlen);
	free(t->lists);
	for (i = 0; i < t->nexprs; i++)
		free(t->exprs[i].code);
	free(t->exprs);
	for (i = 0; i < t->nfiles; i++)
		free(t->files[i]);
	free(t->files);
	free_nodes(t->root);
	free(t);
}
