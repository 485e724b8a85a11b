/* Spare backends: see bind.h.
 *
 * Both files are cut into sections (hapcfg_header says where one
 * starts).  Each section of the old file takes its text from the section
 * of the new file it stands for: the same kind and name, or for a spare
 * the backend it serves.  The new file's backends left over take free
 * spares; anything else left over means a reload. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "haproxy/bind.h"
#include "haproxy/cfg.h"

enum { NONE = -1, RETIRE = -2 };

struct sec {
	const char *at;	  /* the section, its header line first */
	size_t len, hlen; /* all of it; its header line, newline included */
	const char *kind, *name;
	size_t klen, nlen;
	const char *serves; /* old file: the backend a spare serves */
	size_t slen;
	int retired; /* old file: its comment says so */
	long src;    /* old file: the new section it takes its text from */
	int bound;   /* ... which it serves, under its own name */
	int fresh;   /* ... since this change */
	int used;    /* new file: some old section takes its text */
};

static int
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The word at s[*i, n), after blanks; *i moves past it. */
static const char *
word(const char *s, size_t n, size_t *i, size_t *len)
{
	size_t b;

	while (*i < n && blank(s[*i]))
		(*i)++;
	for (b = *i; *i < n && !blank(s[*i]) && s[*i] != '#'; (*i)++)
		;
	*len = *i - b;
	return s + b;
}

static int
is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && !memcmp(s, w, n);
}

/* The next line of a section from *p on (before end), without its
 * leading and trailing blanks, in *line; its length, -1 at the end. */
static long
next_line(const char **p, const char *end, const char **line)
{
	const char *s = *p, *nl;
	size_t n;

	if (s >= end)
		return -1;
	if (!(nl = memchr(s, '\n', (size_t)(end - s))))
		nl = end;
	*p = nl < end ? nl + 1 : end;
	while (s < nl && blank(*s))
		s++;
	for (n = (size_t)(nl - s); n && blank(s[n - 1]); n--)
		;
	*line = s;
	return (long)n;
}

/* The comment line of an old section that says what it serves, or
 * that it is retired. */
static void
easylb_comment(struct sec *s)
{
	const char *p = s->at + s->hlen, *end = s->at + s->len, *l;
	size_t k = strlen(HAPBIND_SERVES);
	long n;

	while ((n = next_line(&p, end, &l)) >= 0)
		if (!s->serves && (size_t)n > k &&
		    !memcmp(l, HAPBIND_SERVES, k)) {
			s->serves = l + k;
			s->slen = (size_t)n - k;
		} else if (is(l, (size_t)n, HAPBIND_RETIRED)) {
			s->retired = 1;
		}
}

/* The sections of text: the lines before the first one, then each. */
static int
sections(const char *text, size_t len, struct sec **out, size_t *n)
{
	size_t i = 0, e, k;
	struct sec *s;

	*n = 0;
	if (!(*out = array_grow(NULL, 0, sizeof(**out))))
		return -1;
	memset(*out, 0, sizeof(**out));
	(*out)->at = text;
	(*out)->src = NONE;
	*n = 1;
	while (i < len) {
		if (hapcfg_header(text, len, i, &e)) {
			s = &(*out)[*n - 1];
			s->len = (size_t)(text + i - s->at);
			if (!(s = array_grow(*out, *n, sizeof(**out))))
				return -1;
			*out = s;
			s += (*n)++;
			memset(s, 0, sizeof(*s));
			s->at = text + i;
			s->hlen = e - i + (e < len);
			k = 0;
			s->kind = word(s->at, e - i, &k, &s->klen);
			s->name = word(s->at, e - i, &k, &s->nlen);
			s->src = NONE;
		}
		i = e + 1;
	}
	s = &(*out)[*n - 1];
	s->len = (size_t)(text + len - s->at);
	return 0;
}

static int
by_kind_name(const struct sec *a, const struct sec *b)
{
	int r = bytes_cmp(a->kind, a->klen, b->kind, b->klen);

	return r ? r : bytes_cmp(a->name, a->nlen, b->name, b->nlen);
}

/* The sections s[1, n) of one file by kind and name: a table of
 * indexes, open addressing, at most half full.  (A hash, not a sort:
 * 10,000 backends sorted twice a change cost 5 ms.) */
struct index {
	long *slot; /* NONE where free */
	size_t mask;
};

static size_t
hash(const char *kind, size_t klen, const char *name, size_t nlen)
{
	uint64_t h = fnv1a(fnv1a(fnv1a(FNV1A, kind, klen), " ", 1), name, nlen);

	return (size_t)(h ^ (h >> 32));
}

/* The slot of kind and name in ix: where it is, else the free one where
 * it would go. */
static size_t
slot_of(const struct index *ix, const struct sec *s, const char *kind,
	size_t klen, const char *name, size_t nlen)
{
	size_t h = hash(kind, klen, name, nlen) & ix->mask;
	struct sec key = {0};

	key.kind = kind;
	key.klen = klen;
	key.name = name;
	key.nlen = nlen;
	while (ix->slot[h] != NONE && by_kind_name(&s[ix->slot[h]], &key))
		h = (h + 1) & ix->mask;
	return h;
}

/* ix over s[1, n); 1 with why when two sections have one kind and name
 * (the names are what binds: a name twice binds nothing), -1 when out of
 * memory. */
static int
index_of(struct index *ix, const struct sec *s, size_t n, char *why,
	 size_t whylen)
{
	size_t size = 16, i, h;

	while (size < 2 * n)
		size *= 2;
	if (!(ix->slot = malloc(size * sizeof(*ix->slot))))
		return -1;
	ix->mask = size - 1;
	for (i = 0; i < size; i++)
		ix->slot[i] = NONE;
	for (i = 1; i < n; i++) {
		h = slot_of(ix, s, s[i].kind, s[i].klen, s[i].name, s[i].nlen);
		if (ix->slot[h] != NONE) {
			seterr(why, whylen, "%.*s %.*s twice", (int)s[i].klen,
			       s[i].kind, (int)s[i].nlen, s[i].name);
			return 1;
		}
		ix->slot[h] = (long)i;
	}
	return 0;
}

/* The section of kind and name in s (indexed by ix); NONE when there is
 * none. */
static long
find(const struct sec *s, const struct index *ix, const char *kind, size_t klen,
     const char *name, size_t nlen)
{
	return ix->slot[slot_of(ix, s, kind, klen, name, nlen)];
}

/* The lines of section s but its header, comments, blank lines and
 * server lines, each trimmed and after indent, into b. */
static int
lines(const struct sec *s, const char *indent, struct buf *b)
{
	const char *p = s->at + s->hlen, *end = s->at + s->len, *l;
	long n;

	while ((n = next_line(&p, end, &l)) >= 0)
		if (n && *l != '#' &&
		    (n < 7 || memcmp(l, "server", 6) || !blank(l[6])) &&
		    (buf_puts(b, indent) < 0 || buf_add(b, l, (size_t)n) < 0 ||
		     buf_add(b, "\n", 1) < 0))
			return -1;
	return 0;
}

static int
same_lines(const struct sec *a, const struct sec *b, int *same)
{
	struct buf x = {0}, y = {0};
	int r = lines(a, "", &x) < 0 || lines(b, "", &y) < 0 ? -1 : 0;

	*same = x.len == y.len && (!x.len || !memcmp(x.p, y.p, x.len));
	buf_free(&x);
	buf_free(&y);
	return r;
}

static int
is_spare(const struct sec *s)
{
	size_t n = strlen(HAPBIND_SPARE);

	return s->nlen > n && !memcmp(s->name, HAPBIND_SPARE, n);
}

/* Where each old section takes its text from; 0 with why when one cannot
 * take any. */
static int
match_old(struct sec *o, size_t no, struct sec *n, const struct index *ix,
	  char *why, size_t whylen)
{
	size_t i;
	long x;

	for (i = 1; i < no; i++) {
		struct sec *s = &o[i];

		if (s->serves &&
		    (x = find(n, ix, "backend", 7, s->serves, s->slen)) !=
			NONE &&
		    !n[x].used) {
			s->src = x;
			s->bound = 1;
			n[x].used = 1;
			continue;
		}
		x = find(n, ix, s->kind, s->klen, s->name, s->nlen);
		if (x != NONE && !n[x].used) {
			s->src = x;
			n[x].used = 1;
		} else if (is(s->kind, s->klen, "backend") && !is_spare(s)) {
			s->src = RETIRE;
		} else {
			seterr(why, whylen, "%.*s %.*s removed", (int)s->klen,
			       s->kind, (int)s->nlen, s->name);
			return 0;
		}
	}
	return 1;
}

/* Whether the old file has spare s, serving a backend: the new file's
 * spare s has no place of its own. */
static int
spare_taken(const struct sec *o, const struct index *oix, const struct sec *s)
{
	long x = find(o, oix, s->kind, s->klen, s->name, s->nlen);

	return x != NONE && o[x].bound;
}

/* The new backends no old section stands for, each into a free spare
 * with the same other lines; 0 with why when one finds none. */
static int
match_new(struct sec *o, size_t no, const struct index *oix, struct sec *n,
	  size_t nn, char *why, size_t whylen)
{
	size_t i, j;
	int same;

	for (i = 1; i < nn; i++) {
		struct sec *s = &n[i];

		if (s->used || (is_spare(s) && spare_taken(o, oix, s)))
			continue;
		if (!is(s->kind, s->klen, "backend") || is_spare(s) ||
		    !s->nlen) {
			seterr(why, whylen, "%.*s %.*s added", (int)s->klen,
			       s->kind, (int)s->nlen, s->name);
			return 0;
		}
		for (j = 1; j < no; j++) {
			struct sec *f = &o[j];

			if (!is_spare(f) || f->bound || f->src < 0)
				continue;
			if (same_lines(&n[f->src], s, &same) < 0)
				return -1;
			if (same)
				break;
		}
		if (j == no) {
			seterr(
			    why, whylen,
			    "backend %.*s added, and no free spare backend (" HAPBIND_SPARE
			    "N) has its other lines",
			    (int)s->nlen, s->name);
			return 0;
		}
		o[j].src = (long)i;
		o[j].bound = o[j].fresh = 1;
		s->used = 1;
	}
	return 1;
}

/* The lines of section x but its header and any "# easy-lb:" comment
 * (what a spare serves is said once, under its header), as they are. */
static int
body_but_ours(const struct sec *x, struct buf *out)
{
	const char *p = x->at + x->hlen, *end = x->at + x->len, *l, *from;
	long n;

	for (from = p; (n = next_line(&p, end, &l)) >= 0; from = p)
		if ((n < 10 || memcmp(l, "# easy-lb:", 10)) &&
		    buf_add(out, from, (size_t)(p - from)) < 0)
			return -1;
	return 0;
}

/* The length of section s without the blank lines and blanks it ends
 * with. */
static size_t
unpadded(const struct sec *s)
{
	size_t n = s->len;

	while (n && (blank(s->at[n - 1]) || s->at[n - 1] == '\n'))
		n--;
	return n;
}

/* The text of old section s as the new file says it, into out. */
static int
emit(const struct sec *s, const struct sec *n, struct buf *out)
{
	const struct sec *x = s->src >= 0 ? &n[s->src] : NULL;
	size_t k;

	/* (the same but for the blank lines after it, which depend on what
	 * follows it in each file: its own, so that the file as the old
	 * one reads differs from it only where the new one does; a backend
	 * added after the last one would otherwise make the whole file a
	 * difference.  Of the same length, it is the new one's.) */
	if (x && !s->bound && !is_spare(x) && s->len != x->len &&
	    unpadded(s) == unpadded(x) && !memcmp(s->at, x->at, unpadded(s)))
		return buf_add(out, s->at, s->len);

	if (s->src == RETIRE)
		return buf_add(out, s->at, s->hlen) < 0 ||
			       (s->at[s->hlen - 1] != '\n' &&
				buf_add(out, "\n", 1) < 0) ||
			       buf_puts(out, "    " HAPBIND_RETIRED "\n") < 0 ||
			       lines(s, "    ", out) < 0
			   ? -1
			   : 0;
	if (!s->bound && !is_spare(x))
		return buf_add(out, x->at, x->len);
	if (!s->bound)
		/* (a free spare says nothing it could be read to serve) */
		return buf_add(out, x->at, x->hlen) < 0 ||
			       (x->at[x->hlen - 1] != '\n' &&
				buf_add(out, "\n", 1) < 0) ||
			       body_but_ours(x, out) < 0
			   ? -1
			   : 0;
	/* "backend SPARE", the rest of the new header, what it serves */
	k = (size_t)(x->name + x->nlen - x->at);
	if (buf_add(out, s->at, (size_t)(s->name + s->nlen - s->at)) < 0 ||
	    buf_add(out, x->at + k, x->hlen - k) < 0 ||
	    (x->at[x->hlen - 1] != '\n' && buf_add(out, "\n", 1) < 0) ||
	    buf_printf(out, "    " HAPBIND_SERVES "%.*s\n", (int)x->nlen,
		       x->name) < 0)
		return -1;
	return body_but_ours(x, out);
}

void
hapbind_free(struct hapbind *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(b[i].name);
		free(b[i].spare);
	}
	free(b);
}

int
hapbind_read(const char *text, size_t len, struct hapbind **b, size_t *nb)
{
	struct sec *s = NULL;
	struct hapbind *a;
	size_t n = 0, i;
	int ret = -1;

	*b = NULL;
	*nb = 0;
	if (sections(text, len, &s, &n) < 0)
		goto out;
	for (i = 1; i < n; i++) {
		if (!is(s[i].kind, s[i].klen, "backend"))
			continue;
		easylb_comment(&s[i]);
		if (s[i].serves ? !is_spare(&s[i]) : !s[i].retired)
			continue;
		if (!(a = array_grow(*b, *nb, sizeof(**b))))
			goto out;
		*b = a;
		a += (*nb)++;
		a->name = s[i].serves ? strndup(s[i].serves, s[i].slen) : NULL;
		a->spare = strndup(s[i].name, s[i].nlen);
		a->fresh = 0;
		if ((s[i].serves && !a->name) || !a->spare)
			goto out;
	}
	ret = 0;
out:
	if (ret < 0) {
		hapbind_free(*b, *nb);
		*b = NULL;
		*nb = 0;
	}
	free(s);
	return ret;
}

int
hapbind(const char *old, size_t oldlen, const char *new, size_t newlen,
	struct buf *out, struct hapbind **b, size_t *nb, char *why,
	size_t whylen)
{
	struct sec *o = NULL, *n = NULL;
	size_t no = 0, nn = 0, i;
	struct index ix = {0}, oix = {0};
	int ret = -1, r;

	*b = NULL;
	*nb = 0;
	/* (no NUL in a configuration haproxy reads, nor in a name here) */
	if (memchr(old, '\0', oldlen) || memchr(new, '\0', newlen)) {
		seterr(why, whylen, "NUL byte in configuration");
		return 0;
	}
	if (sections(old, oldlen, &o, &no) < 0 ||
	    sections(new, newlen, &n, &nn) < 0)
		goto out;
	/* (what a backend that is not a spare says it serves is a comment) */
	for (i = 1; i < no; i++)
		if (is_spare(&o[i]))
			easylb_comment(&o[i]);
	if ((r = index_of(&oix, o, no, why, whylen)) ||
	    (r = index_of(&ix, n, nn, why, whylen))) {
		ret = r > 0 ? 0 : -1;
		goto out;
	}
	if (!match_old(o, no, n, &ix, why, whylen)) {
		ret = 0;
		goto out;
	}
	if ((ret = match_new(o, no, &oix, n, nn, why, whylen)) <= 0)
		goto out;
	ret = -1;
	if (buf_add(out, n[0].at, n[0].len) < 0)
		goto out;
	for (i = 1; i < no; i++) {
		struct hapbind *a;

		/* (a section starts a line, whatever ended the one before) */
		if ((out->len && out->p[out->len - 1] != '\n' &&
		     buf_add(out, "\n", 1) < 0) ||
		    emit(&o[i], n, out) < 0)
			goto out;
		if (!o[i].bound)
			continue;
		if (!(a = array_grow(*b, *nb, sizeof(**b))))
			goto out;
		*b = a;
		a += (*nb)++;
		a->name = strndup(n[o[i].src].name, n[o[i].src].nlen);
		a->spare = strndup(o[i].name, o[i].nlen);
		a->fresh = o[i].fresh;
		if (!a->name || !a->spare)
			goto out;
	}
	ret = 1;
out:
	if (ret <= 0) {
		hapbind_free(*b, *nb);
		*b = NULL;
		*nb = 0;
	}
	free(ix.slot);
	free(oix.slot);
	free(o);
	free(n);
	return ret;
}

/* --- hapbind_from: only the backends that changed since src --------- */

enum { ASK = 2 };

/* The section of text that opens at offset at, to the next one. */
static void
sec_at(const char *text, size_t len, size_t at, struct sec *s)
{
	size_t i, e, k = 0;

	memset(s, 0, sizeof(*s));
	s->at = text + at;
	hapcfg_header(text, len, at, &e);
	s->hlen = e - at + (e < len);
	s->kind = word(s->at, e - at, &k, &s->klen);
	s->name = word(s->at, e - at, &k, &s->nlen);
	s->src = NONE;
	for (i = e + 1; i < len; i = e + 1)
		if (hapcfg_header(text, len, i, &e))
			break;
	s->len = (i < len ? i : len) - at;
}

/* Where the line holding text[at] starts. */
static size_t
line_start(const char *text, size_t at)
{
	while (at > 0 && text[at - 1] != '\n')
		at--;
	return at;
}

/* The line of text that a name found at q would open a backend section
 * with ("backend NAME ..."): its offset; -1 when it does not.  The
 * length of the word at q in *wl. */
static long
backend_at(const char *text, size_t len, const char *q, size_t *wl)
{
	size_t ls = line_start(text, (size_t)(q - text)), e, k = 0;
	const char *w;

	if (!hapcfg_header(text, len, ls, &e) || (size_t)(q - text) >= e)
		return -1;
	w = word(text + ls, e - ls, &k, wl);
	if (!is(w, *wl, "backend") || word(text + ls, e - ls, &k, wl) != q)
		return -1;
	return (long)ls;
}

/* The sections of text[0, len) opening "backend NAME": their offsets, at
 * most two of them in at; how many there are (2 for two or more).  Found
 * by the name, not by taking the file apart: a name is rare, a line is
 * not. */
static int
backends_named(const char *text, size_t len, const char *name, size_t nlen,
	       size_t *at)
{
	const char *p = text, *end = text + len, *q;
	size_t wl;
	long ls;
	int n = 0;

	while (nlen && p < end &&
	       (q = memmem(p, (size_t)(end - p), name, nlen))) {
		p = q + 1;
		if ((ls = backend_at(text, len, q, &wl)) < 0 || wl != nlen)
			continue;
		at[n++] = (size_t)ls;
		if (n == 2)
			break;
	}
	return n;
}

/* The sections of the window text[from, end) into *s, *n of them (the
 * first, empty, the lines before them): NULL unless the window opens on
 * a section and holds few enough to be worth it. */
static struct sec *
window_secs(const char *text, size_t from, size_t end, size_t *n)
{
	struct sec *s = NULL;

	if (sections(text + from, end - from, &s, n) < 0 || s[0].len ||
	    *n > 65) {
		free(s);
		return NULL;
	}
	return s;
}

static int
same_text(const struct sec *a, const struct sec *b)
{
	return a->len == b->len && !memcmp(a->at, b->at, a->len);
}

/* The sections the same in both windows at either end leave them (a
 * window opens on the section before the line of its first
 * difference). */
static void
trim(struct sec *a, size_t *na, struct sec *b, size_t *nb)
{
	size_t k = 1;

	while (k < *na && k < *nb && same_text(&a[k], &b[k]))
		k++;
	memmove(a + 1, a + k, (*na - k) * sizeof(*a));
	memmove(b + 1, b + k, (*nb - k) * sizeof(*b));
	*na -= k - 1;
	*nb -= k - 1;
	while (*na > 1 && *nb > 1 && same_text(&a[*na - 1], &b[*nb - 1])) {
		(*na)--;
		(*nb)--;
	}
}

/* Whether each section of s[1, n) is a backend but a spare, its name
 * there once. */
static int
plain_backends(const struct sec *s, size_t n)
{
	size_t i, j;

	for (i = 1; i < n; i++) {
		if (!is(s[i].kind, s[i].klen, "backend") || is_spare(&s[i]) ||
		    !s[i].nlen)
			return 0;
		for (j = 1; j < i; j++)
			if (s[i].nlen == s[j].nlen &&
			    !memcmp(s[i].name, s[j].name, s[i].nlen))
				return 0;
	}
	return 1;
}

/* The spares of text (sections "backend easy-lb-spare-N"), in order,
 * with what each says it serves; 0, -1 when memory ran out. */
static int
spares_of(const char *text, size_t len, struct sec **out, size_t *n)
{
	const char *p = text, *end = text + len, *q;
	size_t wl, pl = strlen(HAPBIND_SPARE);
	struct sec *s;
	long ls;

	*out = NULL;
	*n = 0;
	while (p < end &&
	       (q = memmem(p, (size_t)(end - p), HAPBIND_SPARE, pl))) {
		p = q + 1;
		if ((ls = backend_at(text, len, q, &wl)) < 0)
			continue;
		if (!(s = array_grow(*out, *n, sizeof(**out))))
			return -1;
		*out = s;
		s += (*n)++;
		sec_at(text, len, (size_t)ls, s);
		if (!is_spare(s))
			(*n)--;
		else
			easylb_comment(s);
	}
	return 0;
}

/* The section of text that stands for a change's backend: the spare
 * of sp serving it, else the backend of that name.  Its offset; -1 when
 * there is none, -2 when there are two. */
static long
stands_for(const char *text, size_t len, const struct sec *sp, size_t nsp,
	   const char *name, size_t nlen)
{
	size_t at[2], i;
	long found = -1;
	int k;

	for (i = 0; i < nsp; i++)
		if (sp[i].serves && sp[i].slen == nlen &&
		    !memcmp(sp[i].serves, name, nlen)) {
			if (found >= 0)
				return -2;
			found = (long)(sp[i].at - text);
		}
	k = backends_named(text, len, name, nlen, at);
	if (k > 1 || (k == 1 && found >= 0))
		return -2;
	return k ? (long)at[0] : found;
}

/* n[*nn] = the spare of new named as s is: its index, -1 when new has
 * not exactly one, -2 when memory ran out. */
static long
new_spare(const char *new, size_t newlen, const struct sec *s, struct sec **n,
	  size_t *nn)
{
	size_t at[2];
	struct sec *a;

	if (backends_named(new, newlen, s->name, s->nlen, at) != 1)
		return -1;
	if (!(a = array_grow(*n, *nn, sizeof(**n))))
		return -2;
	*n = a;
	sec_at(new, newlen, at[0], &a[*nn]);
	return (long)(*nn)++;
}

static int
by_at(const void *a, const void *b)
{
	const struct sec *x = a, *y = b;

	return x->at < y->at ? -1 : x->at > y->at;
}

/* An old section given new text: *o grows by s. */
static int
put(struct sec **o, size_t *no, const struct sec *s)
{
	struct sec *a;
	size_t i;

	for (i = 0; i < *no; i++)
		if ((*o)[i].at == s->at)
			return 1;
	if (!(a = array_grow(*o, *no, sizeof(**o))))
		return -1;
	*o = a;
	a[(*no)++] = *s;
	return 0;
}

/* What stands in old for backend c of the window (ns: its index in new;
 * NONE when it went, -10 - ns when src had it not) is put in *o with
 * its new text.  0; 1 to ask hapbind; -1 when memory ran out. */
static int
take(const char *old, size_t oldlen, const char *new, size_t newlen,
     struct sec *sp, size_t nsp, const struct sec *c, long ns, struct sec **n,
     size_t *nn, struct sec **o, size_t *no)
{
	int added = ns <= -10;
	long at, x;
	struct sec s;
	int r;

	if (added)
		ns = -ns - 10;
	if ((at = stands_for(old, oldlen, sp, nsp, c->name, c->nlen)) == -2)
		return 1;
	/* (one added: a spare takes it later; one src had must be there) */
	if (at < 0)
		return !added;
	sec_at(old, oldlen, (size_t)at, &s);
	easylb_comment(&s);
	/* (added, and old has it: retired, it comes back; else src had it
	 * too, where nothing changed, and new names it twice, which binds
	 * nothing in hapbind) */
	if (added && (is_spare(&s) || !s.retired))
		return 1;
	if (!is_spare(&s)) {
		s.src = ns != NONE ? ns : RETIRE;
	} else if (ns != NONE) {
		s.src = ns;
		s.bound = 1;
	} else {
		if ((x = new_spare(new, newlen, &s, n, nn)) < 0)
			return x == -2 ? -1 : 1;
		s.src = x; /* (free again) */
	}
	if ((r = put(o, no, &s)) != 0)
		return r;
	return 0;
}

int
hapbind_from(const char *old, size_t oldlen, const char *src, size_t srclen,
	     const char *new, size_t newlen, struct buf *out,
	     struct hapbind **b, size_t *nb)
{
	size_t from = 0, send = 0, nend = 0, nws = 0, nwn = 0, nsp = 0, nn = 0;
	size_t no = 0, i, j, p;
	struct sec *ws = NULL, *wn = NULL, *sp = NULL, *n = NULL, *o = NULL;
	int ret = -1, r, same;

	*b = NULL;
	*nb = 0;
	/* (hapbind ends each section it writes with a newline) */
	if (memchr(old, '\0', oldlen) || memchr(new, '\0', newlen) ||
	    (oldlen && old[oldlen - 1] != '\n') ||
	    (newlen && new[newlen - 1] != '\n'))
		return ASK;
	if (spares_of(old, oldlen, &sp, &nsp) < 0)
		goto out;
	if (srclen != newlen || (newlen && memcmp(src, new, newlen))) {
		hapcfg_window(src, srclen, new, newlen, &from, &send, &nend);
		if (!from || !(ws = window_secs(src, from, send, &nws)) ||
		    !(wn = window_secs(new, from, nend, &nwn)))
			goto ask;
		trim(ws, &nws, wn, &nwn);
		if (!plain_backends(ws, nws) || !plain_backends(wn, nwn))
			goto ask;
	}
	/* The new sections emit takes text from: the window's, then
	 * spares as they are needed. */
	for (nn = 0; nn < nwn; nn++) {
		struct sec *a = array_grow(n, nn, sizeof(*n));

		if (!a)
			goto out;
		n = a;
		n[nn] = wn[nn];
	}
	/* Each backend of the window: what stands for it in old takes its
	 * text in new, or goes (a spare free again, a backend retired). */
	for (i = 1; i < nws; i++) {
		long ns = NONE;

		for (j = 1; j < nwn; j++)
			if (wn[j].nlen == ws[i].nlen &&
			    !memcmp(wn[j].name, ws[i].name, ws[i].nlen))
				ns = (long)j;
		if ((r = take(old, oldlen, new, newlen, sp, nsp, &ws[i], ns, &n,
			      &nn, &o, &no)))
			goto done;
	}
	/* ... and a backend src had not, if old has one of its name
	 * (retired: it comes back). */
	for (i = 1; i < nwn; i++) {
		for (j = 1; j < nws; j++)
			if (ws[j].nlen == wn[i].nlen &&
			    !memcmp(ws[j].name, wn[i].name, wn[i].nlen))
				break;
		if (j == nws &&
		    (r = take(old, oldlen, new, newlen, sp, nsp, &wn[i],
			      -(long)i - 10, &n, &nn, &o, &no)))
			goto done;
	}
	/* Backends added: into the first free spare with their other lines,
	 * in the order of new, as hapbind does. */
	for (i = 1; i < nwn; i++) {
		for (j = 0; j < no; j++)
			if (o[j].src == (long)i)
				break;
		if (j < no)
			continue;
		for (j = 0; j < nsp; j++) {
			struct sec *f = &sp[j], *g = NULL;
			size_t k;

			for (k = 0; k < no; k++)
				if (o[k].at == f->at)
					g = &o[k];
			/* (free: not serving, or serving what went away; a
			 * free one's other lines are new's spare's, which it
			 * was written from) */
			if (g ? g->bound || g->src < 0 : f->serves != NULL)
				continue;
			if (same_lines(g ? &n[g->src] : f, &wn[i], &same) < 0)
				goto out;
			if (!same)
				continue;
			if (!g) {
				if (put(&o, &no, f) < 0)
					goto out;
				g = &o[no - 1];
			}
			g->src = (long)i;
			g->bound = g->fresh = 1;
			break;
		}
		if (j == nsp)
			goto ask;
	}
	/* The bindings, in the order of old. */
	for (i = 0; i < nsp; i++) {
		const struct sec *g = NULL, *f = &sp[i];
		struct hapbind *a;

		for (j = 0; j < no; j++)
			if (o[j].at == f->at)
				g = &o[j];
		if (g ? !g->bound : !f->serves)
			continue;
		if (!(a = array_grow(*b, *nb, sizeof(**b))))
			goto out;
		*b = a;
		a += (*nb)++;
		a->name = g ? strndup(n[g->src].name, n[g->src].nlen)
			    : strndup(f->serves, f->slen);
		a->spare = strndup(f->name, f->nlen);
		a->fresh = g && g->fresh;
		if (!a->name || !a->spare)
			goto out;
	}
	/* old, its sections in o given their new text. */
	if (no)
		qsort(o, no, sizeof(*o), by_at);
	for (i = 0, p = 0; i <= no; i++) {
		size_t to = i < no ? (size_t)(o[i].at - old) : oldlen;

		if (to > p && p && out->len && out->p[out->len - 1] != '\n' &&
		    buf_add(out, "\n", 1) < 0)
			goto out;
		if (buf_add(out, old + p, to - p) < 0)
			goto out;
		if (i == no)
			break;
		if ((out->len && out->p[out->len - 1] != '\n' &&
		     buf_add(out, "\n", 1) < 0) ||
		    emit(&o[i], n, out) < 0)
			goto out;
		p = to + o[i].len;
	}
	ret = 1;
	goto out;
done:
	ret = r < 0 ? -1 : ASK;
	goto out;
ask:
	ret = ASK;
out:
	if (ret != 1) {
		hapbind_free(*b, *nb);
		*b = NULL;
		*nb = 0;
		out->len = 0;
	}
	free(ws);
	free(wn);
	free(sp);
	free(n);
	free(o);
	return ret;
}
