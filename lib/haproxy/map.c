/* haproxy maps carried in a configuration: see map.h.
 *
 * A map file holds one entry a line, a key (one word) then its value;
 * blank lines and lines starting with '#' are not entries.  The diff
 * finds each key of one text among the other's through a hash table,
 * and looks that way only at the entries between the head and the tail
 * that both texts share: a change of routes costs a pass over the
 * entries, a change of nothing else a comparison of the two texts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "haproxy/map.h"

struct entry {
	const char *key, *val;
	size_t klen, vlen;
};

static int
blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A byte haproxy's files and CLI cannot carry in a word. */
static int
control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* Entry of the line s[0, n) into *e: 1, 0 for a comment or a blank
 * line, -1 for a key without a value. */
static int
entry_of(const char *s, size_t n, struct entry *e)
{
	size_t i = 0, k;

	while (i < n && blank(s[i]))
		i++;
	if (i == n || s[i] == '#')
		return 0;
	for (k = i; k < n && !blank(s[k]); k++)
		;
	e->key = s + i;
	e->klen = k - i;
	while (k < n && blank(s[k]))
		k++;
	while (n > k && blank(s[n - 1]))
		n--;
	if (k == n)
		return -1;
	e->val = s + k;
	e->vlen = n - k;
	return 1;
}

void
hapmap_free(struct hapmap *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(m[i].path);
		buf_free(&m[i].text);
	}
	free(m);
}

/* A map path: absolute, one word the CLI passes as it is. */
static int
good_path(const char *p, size_t n)
{
	size_t i;

	if (n < 2 || p[0] != '/')
		return 0;
	for (i = 0; i < n; i++)
		if (blank(p[i]) || control((unsigned char)p[i]) ||
		    p[i] == ';' || p[i] == '\\' || p[i] == '#' || p[i] == '"' ||
		    p[i] == '\'')
			return 0;
	return 1;
}

/* The newlines in s[0, n), eight bytes at a time: in a word x ^ '\n'
 * repeated, a byte is zero where s has a newline, and y has the high
 * bit of exactly those bytes set.  They are summed by a multiplication
 * (y >> 7 has a 1 in each such byte; the top byte of the product is
 * their sum), not by __builtin_popcountll, which without -mpopcnt (the
 * amd64 baseline) is a call into libgcc for each word: 2 ms for the 5
 * MB of a configuration of 100,000 servers. */
static size_t
lines_in(const char *s, size_t n)
{
	const uint64_t nl = 0x0a0a0a0a0a0a0a0aULL, low = 0x7f7f7f7f7f7f7f7fULL;
	size_t i = 0, c = 0;
	uint64_t x, y;

	for (; i + 8 <= n; i += 8) {
		memcpy(&x, s + i, 8);
		x ^= nl;
		y = ~(((x & low) + low) | x | low);
		c += (size_t)(((y >> 7) * 0x0101010101010101ULL) >> 56);
	}
	for (; i < n; i++)
		c += s[i] == '\n';
	return c;
}

size_t
hapmap_line(const struct hapmap *m, const char *text)
{
	return lines_in(text, m->from) + m->at;
}

/* The line at, counted from offset from of t (for a message). */
#define LINE(at) (lines_in(t, from) + (at))

int
hapmap_split(struct buf *text, struct hapmap **maps, size_t *nmaps, char *err,
	     size_t errlen)
{
	struct hapmap *cur = NULL;
	char *t = text->p ? text->p : "";
	/* (lines counted from the first line read one by one, at from: the
	 * text before it is never moved, and counted only for a message) */
	size_t len = text->len, i = 0, w = 0, e, line = 0, seen = 0, j,
	       from = (size_t)-1;
	struct entry en;

	*maps = NULL;
	*nmaps = 0;
	while (i < len) {
		const char *nl, *s = t + i, *at = s;
		size_t n;

		if (!cur && *s != '@') {
			/* (to the next line that starts with '@', at once;
			 * moved down over the blocks before it, if any) */
			while ((at = memchr(at, '@', len - (size_t)(at - t))) &&
			       at[-1] != '\n')
				at++;
			e = at ? (size_t)(at - t) : len;
			if (w != i)
				memmove(t + w, s, e - i);
			w += e - i;
			i = e;
			continue;
		}
		/* (the lines skipped, counted now that one may be named) */
		if (from == (size_t)-1)
			from = seen = i;
		line += lines_in(t + seen, i - seen) + 1;
		nl = memchr(s, '\n', len - i);
		e = nl ? (size_t)(nl - t) + 1 : len;
		n = e - i - (nl != NULL);
		i = seen = e;
		if (n >= 4 && !memcmp(s, "@map", 4) &&
		    (n == 4 || blank(s[4]))) {
			const char *p = s + 4;
			size_t pn;

			if (cur)
				return seterr(
				    err, errlen,
				    "line %zu: @map inside the @map of line %zu",
				    LINE(line), LINE(cur->at));
			while (p < s + n && blank(*p))
				p++;
			for (pn = (size_t)(s + n - p); pn && blank(p[pn - 1]);
			     pn--)
				;
			if (!good_path(p, pn))
				return seterr(
				    err, errlen,
				    "line %zu: @map needs an absolute path, one word",
				    LINE(line));
			for (j = 0; j < *nmaps; j++)
				if (strlen((*maps)[j].path) == pn &&
				    !memcmp((*maps)[j].path, p, pn))
					return seterr(
					    err, errlen,
					    "line %zu: map %.*s already opened at line %zu",
					    LINE(line), (int)pn, p,
					    LINE((*maps)[j].at));
			if (!(cur = array_grow(*maps, *nmaps, sizeof(**maps))))
				goto nomem;
			*maps = cur;
			cur += (*nmaps)++;
			memset(cur, 0, sizeof(*cur));
			cur->from = from;
			cur->at = line;
			if (!(cur->path = strndup(p, pn)))
				goto nomem;
			continue;
		}
		if (n >= 4 && !memcmp(s, "@end", 4) &&
		    (n == 4 || blank(s[4]))) {
			if (!cur)
				return seterr(err, errlen,
					      "line %zu: @end without @map",
					      LINE(line));
			cur = NULL;
			continue;
		}
		if (!cur) {
			if (w != (size_t)(s - t))
				memmove(t + w, s, e - (size_t)(s - t));
			w += e - (size_t)(s - t);
			continue;
		}
		for (j = 0; j < n; j++)
			if (control((unsigned char)s[j]))
				return seterr(
				    err, errlen,
				    "line %zu: map %s: control character in an entry",
				    LINE(line), cur->path);
		if (entry_of(s, n, &en) < 0)
			return seterr(err, errlen,
				      "line %zu: map %s: key %.*s has no value",
				      LINE(line), cur->path, (int)en.klen,
				      en.key);
		if (buf_add(&cur->text, s, n) < 0 ||
		    buf_add(&cur->text, "\n", 1) < 0)
			goto nomem;
	}
	if (cur)
		return seterr(err, errlen, "line %zu: @map %s has no @end",
			      LINE(cur->at), cur->path);
	if (text->p) {
		text->len = w;
		text->p[w] = '\0';
	}
	return 0;
nomem:
	return seterr(err, errlen, "out of memory");
}

#undef LINE

/* The entries of text, in *out (malloc'd), their number in *n; -1 when
 * out of memory. */
static int
entries(const char *text, size_t len, struct entry **out, size_t *n)
{
	size_t i = 0, e;
	struct entry en, *a;

	*out = NULL;
	*n = 0;
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);

		e = nl ? (size_t)(nl - text) : len;
		if (entry_of(text + i, e - i, &en) > 0) {
			if (!(a = array_grow(*out, *n, sizeof(**out))))
				return -1;
			*out = a;
			a[(*n)++] = en;
		}
		i = e + 1;
	}
	return 0;
}

static int
by_key(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;

	return bytes_cmp(a->key, a->klen, b->key, b->klen);
}

/* The entries of a text by key: open addressing over pointers. */
struct eset {
	const struct entry **slot;
	size_t mask;
};

/* The entry of s with e's key, or NULL; with put, e goes in when there
 * is none. */
static const struct entry *
eset_find(struct eset *s, const struct entry *e, int put)
{
	size_t i;

	for (i = fnv1a(FNV1A, e->key, e->klen) & s->mask; s->slot[i];
	     i = (i + 1) & s->mask)
		if (!by_key(s->slot[i], e))
			return s->slot[i];
	if (put)
		s->slot[i] = e;
	return NULL;
}

/* s with the entries a[0, n): 0; 1 with *dup the first key twice; -1
 * when out of memory. */
static int
eset_of(struct eset *s, const struct entry *a, size_t n,
	const struct entry **dup)
{
	size_t size = 16, i;

	while (size < 2 * n)
		size *= 2;
	if (!(s->slot = calloc(size, sizeof(*s->slot))))
		return -1;
	s->mask = size - 1;
	for (i = 0; i < n; i++)
		if (eset_find(s, &a[i], 1)) {
			*dup = &a[i];
			return 1;
		}
	return 0;
}

static int
same_entry(const struct entry *a, const struct entry *b)
{
	return !by_key(a, b) && a->vlen == b->vlen &&
	       !memcmp(a->val, b->val, a->vlen);
}

static int
by_op_key(const void *pa, const void *pb)
{
	const struct hapmap_op *a = pa, *b = pb;

	return strcmp(a->key, b->key);
}

static void
norun(struct hapmap_plan *p, const char *what, const struct entry *e)
{
	if (p->runtime)
		seterr(p->why, sizeof(p->why), "map key %.*s: %s",
		       (int)(e->klen < 100 ? e->klen : 100), e->key, what);
	p->runtime = 0;
}

/* A word the runtime API takes as it is: no blank, no ';' (which ends a
 * command), no '\\' (which escapes). */
static int
cli_word(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (blank(s[i]) || s[i] == ';' || s[i] == '\\' || s[i] == '\r')
			return 0;
	return 1;
}

static int
addop(struct hapmap_plan *p, enum hapmap_opkind kind, const struct entry *e)
{
	struct hapmap_op *o = array_grow(p->ops, p->nops, sizeof(*o));

	if (!o)
		return -1;
	p->ops = o;
	o += p->nops++;
	o->kind = kind;
	o->value = NULL;
	if (!(o->key = strndup(e->key, e->klen)) ||
	    (kind != HAPMAP_DEL && !(o->value = strndup(e->val, e->vlen))))
		return -1;
	return 0;
}

/* A word the CLI cannot take in e makes p not a runtime change. */
static void
check(struct hapmap_plan *p, const struct entry *e)
{
	if (!cli_word(e->key, e->klen) || !cli_word(e->val, e->vlen))
		norun(p, "a word the runtime API cannot take", e);
}

int
hapmap_diff(const char *old, size_t oldlen, const char *new, size_t newlen,
	    struct hapmap_plan *p)
{
	struct entry *a = NULL, *b = NULL;
	struct eset sa = {0}, sb = {0};
	const struct entry *x, *dup;
	size_t na = 0, nb = 0, h = 0, t = 0, i;
	int ret = -1, r;

	memset(p, 0, sizeof(*p));
	p->runtime = 1;
	if (oldlen == newlen && (!newlen || !memcmp(old, new, newlen)))
		return 0;
	if (entries(old, oldlen, &a, &na) < 0 ||
	    entries(new, newlen, &b, &nb) < 0)
		goto out;
	/* A key twice, in either (haproxy keeps both), is for a reload. */
	if ((r = eset_of(&sa, a, na, &dup)) < 0)
		goto out;
	if (r == 0 && (r = eset_of(&sb, b, nb, &dup)) < 0)
		goto out;
	if (r > 0) {
		norun(p, "twice", dup);
		ret = 0;
		goto out;
	}
	/* (what both begin and end with, entry for entry, changes
	 * nothing: each key being once in each, none of its keys is
	 * anywhere else in the other) */
	while (h < na && h < nb && same_entry(&a[h], &b[h]))
		h++;
	while (t < na - h && t < nb - h &&
	       same_entry(&a[na - 1 - t], &b[nb - 1 - t]))
		t++;
	for (i = h; p->runtime && i < na - t; i++) {
		if (!(x = eset_find(&sb, &a[i], 0))) {
			check(p, &a[i]);
			if (p->runtime && addop(p, HAPMAP_DEL, &a[i]) < 0)
				goto out;
			p->ndel++;
		} else if (!same_entry(x, &a[i])) {
			check(p, x);
			if (p->runtime && addop(p, HAPMAP_SET, x) < 0)
				goto out;
			p->nchg++;
		}
	}
	for (i = h; p->runtime && i < nb - t; i++)
		if (!eset_find(&sa, &b[i], 0)) {
			check(p, &b[i]);
			if (p->runtime && addop(p, HAPMAP_ADD, &b[i]) < 0)
				goto out;
			p->nadd++;
		}
	/* (in the order of their keys, as haproxy's CLI shows a map) */
	if (p->runtime && p->nops)
		qsort(p->ops, p->nops, sizeof(*p->ops), by_op_key);
	ret = 0;
out:
	free(sa.slot);
	free(sb.slot);
	free(a);
	free(b);
	if (ret < 0 || !p->runtime) {
		char why[sizeof(p->why)];

		memcpy(why, p->why, sizeof(why));
		hapmap_plan_free(p);
		memcpy(p->why, why, sizeof(why));
	}
	return ret;
}

void
hapmap_plan_free(struct hapmap_plan *p)
{
	size_t i;

	for (i = 0; i < p->nops; i++) {
		free(p->ops[i].key);
		free(p->ops[i].value);
	}
	free(p->ops);
	memset(p, 0, sizeof(*p));
}

int
hapmap_rename(struct buf *text, char *const *from, char *const *to, size_t n)
{
	struct buf out = {0};
	size_t i = 0, e, k;
	struct entry en;

	if (!n || !text->len)
		return 0;
	while (i < text->len) {
		const char *s = text->p + i;
		const char *nl = memchr(s, '\n', text->len - i);
		const char *v = NULL;

		e = nl ? (size_t)(nl - text->p) + 1 : text->len;
		if (entry_of(s, e - i - (nl != NULL), &en) > 0)
			for (k = 0; !v && k < n; k++)
				if (strlen(from[k]) == en.vlen &&
				    !memcmp(from[k], en.val, en.vlen))
					v = to[k];
		if (v ? buf_add(&out, s, (size_t)(en.val - s)) < 0 ||
			    buf_puts(&out, v) < 0 ||
			    buf_add(&out, en.val + en.vlen,
				    e - (size_t)(en.val + en.vlen - text->p)) <
				0
		      : buf_add(&out, s, e - i) < 0) {
			buf_free(&out);
			return -1;
		}
		i = e;
	}
	buf_free(text);
	*text = out;
	return 0;
}
