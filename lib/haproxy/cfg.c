/* haproxy configuration differ: see cfg.h.
 *
 * A configuration is split into sections (a line whose first word is a
 * section keyword starts one).  Each line is reduced to its words, comments
 * and blank lines dropped, so that reindenting or recommenting a file is no
 * change.  In backend and listen sections the "server" lines are taken
 * apart; every other line, and every line of other sections, must be the
 * same in both files for the change to be applied at run time. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "haproxy/cfg.h"
#include "util/util.h"

/* Allocation failures are remembered here and reported once at the end,
 * which keeps the parser free of error plumbing at every step. */
struct ctx {
	int oom;
};

struct line {
	char **w;
	size_t n;
};

struct server {
	char *name, *addrword;
	char **opts;
	size_t nopts;
	int plain; /* no quotes or escapes anywhere on the line */
};

struct section {
	char *kind, *name, *from;
	struct buf body; /* normalised non-server lines */
	char **defsrv;	 /* default-server option words, in order */
	size_t ndefsrv;
	char *balance;
	int template, dupsrv;
	struct server *srv;
	size_t nsrv;
};

struct cfg {
	struct section *sec;
	size_t nsec;
	int nul;
};

static const char *const kinds[] = {
    "global",	 "defaults", "frontend", "backend",	"listen",
    "resolvers", "peers",    "userlist", "program",	"http-errors",
    "cache",	 "ring",     "mailers",	 "log-forward", "fcgi-app",
    "crt-store", "traces",   "acme",	 NULL,
};
/* Their first letters. */
static const char firsts[] = "gdfblrpuhcmta";

static void *
cmalloc(struct ctx *c, size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		c->oom = 1;
	return p;
}

static char *
cstrndup(struct ctx *c, const char *s, size_t n)
{
	char *p = cmalloc(c, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static char *
cstrdup(struct ctx *c, const char *s)
{
	return s ? cstrndup(c, s, strlen(s)) : NULL;
}

/* Append v (size bytes) to the array *arr (a pointer to its first
 * element) of *n elements. */
static void
push(struct ctx *c, void *arr, size_t *n, size_t size, const void *v)
{
	char *p;

	memcpy(&p, arr, sizeof(p));
	if (!(p = array_grow(p, *n, size))) {
		c->oom = 1;
		return;
	}
	memcpy(p + *n * size, v, size);
	memcpy(arr, &p, sizeof(p));
	(*n)++;
}

static void
freewords(char **w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

static int
iskind(const char *w)
{
	size_t i;

	/* (the first letters first: most lines are "server ...") */
	for (i = 0; kinds[i]; i++)
		if (kinds[i][0] == w[0] && !strcmp(w, kinds[i]))
			return 1;
	return 0;
}

/* Split one line into words the way haproxy does: blanks separate words,
 * quotes and backslashes protect blanks, an unprotected '#' starts a
 * comment.  Words keep their quotes and backslashes, since they are only
 * compared; *plain says whether any were seen. */
static void
splitline(struct ctx *c, const char *s, size_t len, struct line *l, int *plain)
{
	size_t i = 0, start;
	char q, *w;

	l->w = NULL;
	l->n = 0;
	*plain = 1;
	for (;;) {
		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
			i++;
		if (i >= len || s[i] == '#')
			return;
		start = i;
		q = 0;
		while (i < len) {
			if (q) {
				if (s[i] == '\\' && i + 1 < len)
					i++;
				else if (s[i] == q)
					q = 0;
			} else if (s[i] == '"' || s[i] == '\'') {
				q = s[i];
				*plain = 0;
			} else if (s[i] == '\\') {
				*plain = 0;
				if (i + 1 < len)
					i++;
			} else if (s[i] == ' ' || s[i] == '\t' ||
				   s[i] == '\r' || s[i] == '#') {
				break;
			}
			i++;
		}
		if (!(w = cstrndup(c, s + start, i - start)))
			return;
		push(c, &l->w, &l->n, sizeof(char *), &w);
	}
}

static void
joinwords(struct ctx *c, struct buf *b, char **w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if ((i && buf_add(b, " ", 1) < 0) || buf_puts(b, w[i]) < 0)
			c->oom = 1;
	}
	if (buf_add(b, "\n", 1) < 0)
		c->oom = 1;
}

static int
isproxy(const struct section *s)
{
	return !strcmp(s->kind, "backend") || !strcmp(s->kind, "listen");
}

static void
addline(struct ctx *c, struct section *s, struct line *l, int plain)
{
	size_t i;

	if (isproxy(s) && !strcmp(l->w[0], "server") && l->n >= 3) {
		struct server v = {0};
		v.name = l->w[1];
		v.addrword = l->w[2];
		v.plain = plain;
		for (i = 3; i < l->n; i++)
			push(c, &v.opts, &v.nopts, sizeof(char *), &l->w[i]);
		for (i = 0; i < s->nsrv; i++)
			if (!strcmp(s->srv[i].name, v.name))
				s->dupsrv = 1;
		free(l->w[0]);
		free(l->w);
		push(c, &s->srv, &s->nsrv, sizeof(v), &v);
		return;
	}
	if (!strcmp(l->w[0], "default-server"))
		for (i = 1; i < l->n; i++) {
			char *w = cstrdup(c, l->w[i]);
			if (w)
				push(c, &s->defsrv, &s->ndefsrv, sizeof(char *),
				     &w);
		}
	if (!strcmp(l->w[0], "balance") && l->n >= 2) {
		free(s->balance);
		s->balance = cstrdup(c, l->w[1]);
	}
	if (!strcmp(l->w[0], "server-template"))
		s->template = 1;
	joinwords(c, &s->body, l->w, l->n);
	freewords(l->w, l->n);
}

/* Whether the line that starts at t[at] opens a section: its first word
 * (as splitline and parse see it) is a section keyword.  *eol: where the
 * line ends. */
static int
header_at(const char *t, size_t len, size_t at, size_t *eol)
{
	const char *nl = memchr(t + at, '\n', len - at);
	size_t e = nl ? (size_t)(nl - t) : len, w, we;
	char word[32];

	*eol = e;
	for (w = at; w < e && (t[w] == ' ' || t[w] == '\t' || t[w] == '\r');
	     w++)
		;
	/* (a word no keyword starts like, "server" above all, at once:
	 * 100,000 server lines are taken apart each change) */
	if (w == e || !memchr(firsts, t[w], sizeof(firsts) - 1))
		return 0;
	for (we = w; we < e && t[we] != ' ' && t[we] != '\t' && t[we] != '\r' &&
		     t[we] != '#';
	     we++)
		;
	if (we == w || we - w >= sizeof(word))
		return 0;
	memcpy(word, t + w, we - w);
	word[we - w] = '\0';
	return iskind(word);
}

int
hapcfg_header(const char *text, size_t len, size_t at, size_t *eol)
{
	return header_at(text, len, at, eol);
}

/* Where the sections of text begin: at 0 (the lines before the first
 * section keyword), then at each line that opens one.  Returns their
 * number, the offsets in *at (malloc'd; NULL when out of memory). */
static size_t
sections_at(struct ctx *c, const char *text, size_t len, size_t **at)
{
	size_t n = 0, i = 0, zero = 0, e;

	*at = NULL;
	push(c, at, &n, sizeof(size_t), &zero);
	while (i < len) {
		if (header_at(text, len, i, &e))
			push(c, at, &n, sizeof(size_t), &i);
		i = e + 1;
	}
	return *at ? n : 0;
}

/* The part of the two files that holds every difference, widened to
 * whole sections: old[*from, *oend) and new[*from, *nend).  Before it
 * and after it the files are byte for byte the same, section for
 * section, so only this part needs taking apart: a change to one backend
 * of 10,000 costs the same as in a file of ten. */
void
hapcfg_window(const char *old, size_t ol, const char *new, size_t nl,
	      size_t *from, size_t *oend, size_t *nend)
{
	size_t min = ol < nl ? ol : nl, p = 0, s = 0, at, e;
	const char *q;

	while (p + 4096 <= min && !memcmp(old + p, new + p, 4096))
		p += 4096;
	while (p < min && old[p] == new[p])
		p++;
	while (s + 4096 <= min - p &&
	       !memcmp(old + ol - s - 4096, new + nl - s - 4096, 4096))
		s += 4096;
	while (s < min - p && old[ol - s - 1] == new[nl - s - 1])
		s++;
	/* From the last section opened before the line of the first
	 * difference (a line wholly the same in both). */
	for (at = p; at > 0 && old[at - 1] != '\n'; at--)
		;
	while (at > 0) {
		for (at--; at > 0 && old[at - 1] != '\n'; at--)
			;
		if (header_at(old, ol, at, &e))
			break;
	}
	*from = at;
	/* To the first section opened after the last difference, on a line
	 * wholly in the common end (the newline before it included). */
	*oend = ol;
	*nend = nl;
	for (q = memchr(old + ol - s, '\n', s); q;
	     q = memchr(old + at, '\n', ol - at)) {
		at = (size_t)(q - old) + 1;
		if (at >= ol)
			break;
		if (header_at(old, ol, at, &e)) {
			*oend = at;
			*nend = nl - (ol - at);
			break;
		}
	}
}

/* The defaults sections of text before offset end, appended to both cfg
 * and same (the files are the same there): a proxy in the window takes
 * its settings from them. */
static void parse(struct ctx *c, const char *text, size_t len, struct cfg *cfg,
		  const size_t *at, size_t nat, const unsigned char *skip);

static void
defaults_before(struct ctx *c, const char *text, size_t end, struct cfg *cfg,
		struct cfg *same)
{
	const char *h;
	size_t i = 0, ls, e, next;

	while (i < end && (h = memmem(text + i, end - i, "defaults", 8))) {
		ls = (size_t)(h - text);
		i = ls + 8;
		while (ls > 0 && (text[ls - 1] == ' ' || text[ls - 1] == '\t' ||
				  text[ls - 1] == '\r'))
			ls--;
		if ((ls > 0 && text[ls - 1] != '\n') ||
		    !header_at(text, end, ls, &e))
			continue;
		for (next = e + 1; next < end; next = e + 1)
			if (header_at(text, end, next, &e))
				break;
		if (next > end)
			next = end;
		parse(c, text + ls, next - ls, cfg, NULL, 0, NULL);
		parse(c, text + ls, next - ls, same, NULL, 0, NULL);
		i = next;
	}
}

/* Parse text into cfg.  Sections whose skip flag is set (at offsets at,
 * as sections_at gives them) keep their header only: the caller knows
 * they are the same in both files. */
static void
parse(struct ctx *c, const char *text, size_t len, struct cfg *cfg,
      const size_t *at, size_t nat, const unsigned char *skip)
{
	struct section cur = {0};
	size_t i = 0, e, base = cfg->nsec;
	struct line l;
	int plain;

	/* Lines before the first section keyword land in a nameless one. */
	cur.kind = cstrdup(c, "");
	cur.name = cstrdup(c, "");
	push(c, &cfg->sec, &cfg->nsec, sizeof(cur), &cur);
	while (i < len && !c->oom) {
		const char *nl = memchr(text + i, '\n', len - i);
		e = nl ? (size_t)(nl - text) : len;
		splitline(c, text + i, e - i, &l, &plain);
		i = e + 1;
		if (!l.n) {
			free(l.w);
			continue;
		}
		if (iskind(l.w[0])) {
			memset(&cur, 0, sizeof(cur));
			cur.kind = cstrdup(c, l.w[0]);
			cur.name = cstrdup(c, l.n > 1 ? l.w[1] : "");
			if (l.n > 3 && !strcmp(l.w[2], "from"))
				cur.from = cstrdup(c, l.w[3]);
			/* The header itself must match too (from, mode). */
			joinwords(c, &cur.body, l.w, l.n);
			freewords(l.w, l.n);
			push(c, &cfg->sec, &cfg->nsec, sizeof(cur), &cur);
			/* (to the next section, or the end) */
			if (skip && cfg->nsec - base <= nat &&
			    skip[cfg->nsec - 1 - base])
				i = cfg->nsec - base < nat
					? at[cfg->nsec - base]
					: len;
			continue;
		}
		if (cfg->nsec)
			addline(c, &cfg->sec[cfg->nsec - 1], &l, plain);
		else
			freewords(l.w, l.n);
	}
}

static void
freecfg(struct cfg *cfg)
{
	size_t i, j;

	for (i = 0; i < cfg->nsec; i++) {
		struct section *s = &cfg->sec[i];
		free(s->kind);
		free(s->name);
		free(s->from);
		free(s->balance);
		buf_free(&s->body);
		freewords(s->defsrv, s->ndefsrv);
		for (j = 0; j < s->nsrv; j++) {
			free(s->srv[j].name);
			free(s->srv[j].addrword);
			freewords(s->srv[j].opts, s->srv[j].nopts);
		}
		free(s->srv);
	}
	free(cfg->sec);
}

/* The defaults section a proxy at index i takes its settings from: the one
 * named by "from", else the last one before it; NULL when there is none. */
static const struct section *
defaults_of(const struct cfg *cfg, size_t i)
{
	size_t j;
	const struct section *s = &cfg->sec[i];

	for (j = i; j-- > 0;) {
		const struct section *d = &cfg->sec[j];
		if (strcmp(d->kind, "defaults"))
			continue;
		if (!s->from || !strcmp(d->name, s->from))
			return d;
	}
	return NULL;
}

int
hapcfg_dynamic_balance(const char *w)
{
	return !strcmp(w, "roundrobin") || !strcmp(w, "leastconn") ||
	       !strcmp(w, "first") || !strcmp(w, "random") ||
	       !strncmp(w, "random(", 7);
}

int
hapcfg_split_addr(const char *word, char **host, char **port)
{
	unsigned char bin[16];
	const char *h = word, *he, *p = NULL, *es;
	char tmp[64];
	long long v;

	*host = *port = NULL;
	if (word[0] == '[') {
		h = word + 1;
		if (!(he = strchr(h, ']')) || (he[1] && he[1] != ':'))
			return 0;
		if (he[1] == ':')
			p = he + 2;
	} else if ((he = strrchr(word, ':'))) {
		/* Like haproxy: the port follows the last colon, even for
		 * IPv6 addresses. */
		p = he + 1;
	} else {
		he = word + strlen(word);
	}
	if ((size_t)(he - h) >= sizeof(tmp))
		return 0;
	memcpy(tmp, h, he - h);
	tmp[he - h] = '\0';
	if (inet_pton(AF_INET, tmp, bin) != 1 &&
	    inet_pton(AF_INET6, tmp, bin) != 1)
		return 0;
	if (p && (strspn(p, "0123456789") != strlen(p) ||
		  parse_ll(p, 1, 65535, &v, &es) < 0))
		return 0;
	if (!(*host = strdup(tmp)))
		return -1;
	if (p && !(*port = strdup(p))) {
		free(*host);
		*host = NULL;
		return -1;
	}
	return 1;
}

/* The value of the last "weight N" in two word lists read one after the
 * other (default-server options, then the server's own); 1 when none. */
static long
weightof(char **a, size_t na, char **b, size_t nb)
{
	int k;
	size_t i;
	long long w = 1, v;
	const char *es;

	for (k = 0; k < 2; k++) {
		char **x = k ? b : a;
		size_t n = k ? nb : na;
		for (i = 0; i + 1 < n; i++)
			if (!strcmp(x[i], "weight") &&
			    parse_ll(x[i + 1], 0, 256, &v, &es) == 0)
				w = v;
	}
	return (long)w;
}

/* Whether keyword on (e.g. "check") is in effect after reading both word
 * lists, given that off ("no-check") turns it off again. */
static int
flagof(char **a, size_t na, char **b, size_t nb, const char *on,
       const char *off)
{
	int k;
	size_t i;
	int f = 0;

	for (k = 0; k < 2; k++) {
		char **x = k ? b : a;
		size_t n = k ? nb : na;
		for (i = 0; i < n; i++) {
			if (!strcmp(x[i], on))
				f = 1;
			else if (off && !strcmp(x[i], off))
				f = 0;
		}
	}
	return f;
}

/* Options equal once every "weight N" pair is left out. */
static int
same_but_weight(const struct server *a, const struct server *b)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i + 1 < a->nopts && !strcmp(a->opts[i], "weight"))
			i += 2;
		while (j + 1 < b->nopts && !strcmp(b->opts[j], "weight"))
			j += 2;
		if (i >= a->nopts || j >= b->nopts)
			return i >= a->nopts && j >= b->nopts;
		if (strcmp(a->opts[i], b->opts[j]))
			return 0;
		i++;
		j++;
	}
}

static const struct server *
findsrv(const struct section *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nsrv; i++)
		if (!strcmp(s->srv[i].name, name))
			return &s->srv[i];
	return NULL;
}

static void norun(struct hapcfg_plan *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
norun(struct hapcfg_plan *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->runtime)
		return;
	p->runtime = 0;
	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
}

static void
addop(struct ctx *c, struct hapcfg_plan *p, const struct hapcfg_op *op)
{
	push(c, &p->ops, &p->nops, sizeof(*op), op);
}

static char *
joinargs(struct ctx *c, char **a, size_t na, char **b, size_t nb)
{
	int k;
	size_t i;
	struct buf out = {0};

	for (k = 0; k < 2; k++) {
		char **x = k ? b : a;
		size_t n = k ? nb : na;
		for (i = 0; i < n; i++)
			if ((out.len && buf_add(&out, " ", 1) < 0) ||
			    buf_puts(&out, x[i]) < 0)
				c->oom = 1;
	}
	if (!out.p)
		return cstrdup(c, "");
	return out.p;
}

/* Plan an add (replace: half of a del+add pair) of server v of section s,
 * with dw the default-server words that apply to it. */
static void
plan_add(struct ctx *c, struct hapcfg_plan *p, const struct section *s,
	 char **dw, size_t nd, const struct server *v, int replace)
{
	struct hapcfg_op op = {.kind = HAPCFG_ADD};
	char *host, *port;
	int r;
	size_t i;

	/* ('cookie' option is not accepted for dynamic server) */
	for (i = 0; i < v->nopts; i++)
		if (!strcmp(v->opts[i], "cookie")) {
			norun(
			    p,
			    "%s/%s: haproxy adds no server with a cookie at run time",
			    s->name, v->name);
			return;
		}
	r = hapcfg_split_addr(v->addrword, &host, &port);

	if (r < 0)
		c->oom = 1;
	if (r <= 0 || !port) {
		if (r > 0) {
			free(host);
			free(port);
		}
		norun(p, "%s/%s: address %s is not a numeric address:port",
		      s->name, v->name, v->addrword);
		return;
	}
	op.backend = cstrdup(c, s->name);
	op.server = cstrdup(c, v->name);
	op.addr = host;
	op.port = port;
	op.args = joinargs(c, dw, nd, v->opts, v->nopts);
	op.check = flagof(dw, nd, v->opts, v->nopts, "check", "no-check");
	op.agent =
	    flagof(dw, nd, v->opts, v->nopts, "agent-check", "no-agent-check");
	op.disabled = flagof(dw, nd, v->opts, v->nopts, "disabled", "enabled");
	op.replace = replace;
	addop(c, p, &op);
}

static void
plan_del(struct ctx *c, struct hapcfg_plan *p, const struct section *s,
	 const struct server *v, int replace)
{
	struct hapcfg_op op = {.kind = HAPCFG_DEL};

	op.backend = cstrdup(c, s->name);
	op.server = cstrdup(c, v->name);
	op.replace = replace;
	addop(c, p, &op);
}

/* Diff the servers of one proxy section present in both files. */
static void
diff_proxy(struct ctx *c, struct hapcfg_plan *p, const struct cfg *oc,
	   const struct cfg *nc, size_t idx)
{
	size_t k, i;
	const struct section *os = &oc->sec[idx], *ns = &nc->sec[idx];
	const struct section *d = defaults_of(nc, idx);
	size_t before = p->nops, na = 0;
	const char *bal;
	char **all = NULL;

	/* haproxy 2.6 does not apply default-server lines to servers added
	 * at run time, so their options are spelt out: the defaults
	 * section's first, the backend's next, the server's own last. */
	for (k = 0; d && k < d->ndefsrv; k++)
		push(c, &all, &na, sizeof(char *), &d->defsrv[k]);
	for (k = 0; k < ns->ndefsrv; k++)
		push(c, &all, &na, sizeof(char *), &ns->defsrv[k]);
	for (i = 0; i < ns->nsrv; i++) {
		const struct server *nv = &ns->srv[i];
		const struct server *ov = findsrv(os, nv->name);
		int chg = 0;

		if (!nv->plain) {
			norun(p, "%s/%s: quoted or escaped words", ns->name,
			      nv->name);
			goto done;
		}
		if (!ov) {
			plan_add(c, p, ns, all, na, nv, 0);
			p->nadd++;
			continue;
		}
		if (!ov->plain) {
			norun(p, "%s/%s: quoted or escaped words", ns->name,
			      nv->name);
			goto done;
		}
		if (!same_but_weight(ov, nv)) {
			/* Any other option: take the server out and put the
			 * new one in under the same name. */
			plan_del(c, p, ns, ov, 1);
			plan_add(c, p, ns, all, na, nv, 1);
			p->nchg++;
			continue;
		}
		if (strcmp(ov->addrword, nv->addrword)) {
			struct hapcfg_op op = {.kind = HAPCFG_ADDR};
			int r =
			    hapcfg_split_addr(nv->addrword, &op.addr, &op.port);
			if (r < 0)
				c->oom = 1;
			if (r <= 0) {
				norun(p, "%s/%s: address %s is not numeric",
				      ns->name, nv->name, nv->addrword);
				goto done;
			}
			op.backend = cstrdup(c, ns->name);
			op.server = cstrdup(c, nv->name);
			addop(c, p, &op);
			chg = 1;
		}
		if (weightof(all, na, ov->opts, ov->nopts) !=
		    weightof(all, na, nv->opts, nv->nopts)) {
			struct hapcfg_op op = {.kind = HAPCFG_WEIGHT};
			op.backend = cstrdup(c, ns->name);
			op.server = cstrdup(c, nv->name);
			op.weight = weightof(all, na, nv->opts, nv->nopts);
			addop(c, p, &op);
			chg = 1;
		}
		p->nchg += chg;
	}
	for (i = 0; i < os->nsrv; i++)
		if (!findsrv(ns, os->srv[i].name)) {
			plan_del(c, p, ns, &os->srv[i], 0);
			p->ndel++;
		}
	if (p->nops == before)
		goto done;
	if (ns->template) {
		norun(p, "backend %s: server-template", ns->name);
		goto done;
	}
	bal = ns->balance ? ns->balance
			  : (d && d->balance ? d->balance : "roundrobin");
	/* An address change alone works with any algorithm; anything that
	 * changes the set of servers or their weights needs a dynamic one. */
	for (i = before; i < p->nops; i++)
		if (p->ops[i].kind != HAPCFG_ADDR &&
		    !hapcfg_dynamic_balance(bal)) {
			norun(p, "backend %s: balance %s is not dynamic",
			      ns->name, bal);
			goto done;
		}
	for (i = 0; i < ns->nsrv; i++) {
		const struct server *v = &ns->srv[i];
		struct hapcfg_want w = {0};
		int r = hapcfg_split_addr(v->addrword, &w.addr, &w.port);
		if (r < 0)
			c->oom = 1;
		if (r == 0) {
			/* A name resolved by haproxy: only the name and port
			 * can be checked. */
			const char *colon = strrchr(v->addrword, ':');
			w.addr = NULL;
			w.port = colon ? cstrdup(c, colon + 1) : NULL;
		}
		w.backend = cstrdup(c, ns->name);
		w.server = cstrdup(c, v->name);
		w.weight = weightof(all, na, v->opts, v->nopts);
		w.disabled =
		    flagof(all, na, v->opts, v->nopts, "disabled", "enabled");
		push(c, &p->want, &p->nwant, sizeof(w), &w);
	}
done:
	free(all);
}

/* Set, the window is the whole of both files: for the fuzz target, which
 * checks that the window changes no plan. */
int hapcfg_whole;

int
hapcfg_diff(const char *old, size_t oldlen, const char *new, size_t newlen,
	    struct hapcfg_plan *p, char *err, size_t errlen)
{
	size_t i, from, oend, nend, base;
	struct ctx c = {0};
	struct cfg oc, nc;

	size_t *oat, *nat, no, nn;
	unsigned char *skip = NULL;

	memset(p, 0, sizeof(*p));
	memset(&oc, 0, sizeof(oc));
	memset(&nc, 0, sizeof(nc));
	p->runtime = 1;
	/* (the same file: nothing to do, whatever it holds; a change of
	 * routes alone leaves it so) */
	if (oldlen == newlen && (!oldlen || !memcmp(old, new, oldlen)))
		return 0;
	oc.nul = memchr(old, '\0', oldlen) != NULL;
	nc.nul = memchr(new, '\0', newlen) != NULL;
	/* Only the window where the files differ is taken apart, after the
	 * defaults sections before it (which its proxies take settings
	 * from; the same in both files). */
	from = 0;
	oend = oldlen;
	nend = newlen;
	if (!hapcfg_whole)
		hapcfg_window(old, oldlen, new, newlen, &from, &oend, &nend);
	defaults_before(&c, old, from, &oc, &nc);
	base = nc.nsec;
	old += from;
	oldlen = oend - from;
	new += from;
	newlen = nend - from;
	/* A section of the window that is byte for byte the same in both
	 * files needs no parsing either: only the ones that changed (a few
	 * servers of one backend, typically) and the defaults sections
	 * (which the changed ones take settings from) are taken apart. */
	no = sections_at(&c, old, oldlen, &oat);
	nn = sections_at(&c, new, newlen, &nat);
	if (no && no == nn && (skip = calloc(nn, 1))) {
		for (i = 0; i < nn; i++) {
			size_t oe = i + 1 < no ? oat[i + 1] : oldlen;
			size_t ne = i + 1 < nn ? nat[i + 1] : newlen;
			size_t w = nat[i];
			int defaults;

			while (w < ne && (new[w] == ' ' || new[w] == '\t'))
				w++;
			/* (the defaults sections are parsed in any case) */
			defaults =
			    ne - w >= 8 && !memcmp(new + w, "defaults", 8);

			skip[i] =
			    i > 0 && !defaults && oe - oat[i] == ne - nat[i] &&
			    !memcmp(old + oat[i], new + nat[i], ne - nat[i]);
		}
	}
	parse(&c, old, oldlen, &oc, oat, no, skip);
	parse(&c, new, newlen, &nc, nat, nn, skip);
	free(oat);
	free(nat);
	if (c.oom)
		goto out;
	if (oc.nul || nc.nul) {
		norun(p, "NUL byte in configuration");
		goto out;
	}
	if (oc.nsec != nc.nsec)
		norun(p, "sections added or removed");
	for (i = 0; p->runtime && i < nc.nsec; i++) {
		const struct section *os = &oc.sec[i], *ns = &nc.sec[i];
		if (strcmp(os->kind, ns->kind) || strcmp(os->name, ns->name)) {
			norun(p, "sections added, removed or renamed");
			break;
		}
		if (os->body.len != ns->body.len ||
		    (os->body.len &&
		     memcmp(os->body.p, ns->body.p, os->body.len))) {
			norun(p, "%s%s%s: lines other than servers changed",
			      ns->kind, *ns->name ? " " : "", ns->name);
			break;
		}
		if (ns->dupsrv || os->dupsrv) {
			norun(p, "%s %s: duplicate server names", ns->kind,
			      ns->name);
			break;
		}
		/* (a section the same in both files has no server to diff:
		 * only the ones that changed cost anything) */
		if (isproxy(ns) &&
		    !(skip && i >= base && i - base < nn && skip[i - base]))
			diff_proxy(&c, p, &oc, &nc, i);
	}
out:
	free(skip);
	freecfg(&oc);
	freecfg(&nc);
	if (c.oom) {
		hapcfg_plan_free(p);
		return seterr(err, errlen, "out of memory");
	}
	if (!p->runtime) {
		/* A reload applies everything: no partial plan is kept. */
		char why[sizeof(p->why)];
		memcpy(why, p->why, sizeof(why));
		hapcfg_plan_free(p);
		memcpy(p->why, why, sizeof(why));
	}
	return 0;
}

void
hapcfg_plan_free(struct hapcfg_plan *p)
{
	size_t i;

	for (i = 0; i < p->nops; i++) {
		free(p->ops[i].backend);
		free(p->ops[i].server);
		free(p->ops[i].addr);
		free(p->ops[i].port);
		free(p->ops[i].args);
	}
	free(p->ops);
	for (i = 0; i < p->nwant; i++) {
		free(p->want[i].backend);
		free(p->want[i].server);
		free(p->want[i].addr);
		free(p->want[i].port);
	}
	free(p->want);
	memset(p, 0, sizeof(*p));
}
