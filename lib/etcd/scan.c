/* A range reply read without building it as jq values: etcd's gateway
 * writes {"header": {..., "revision": "N", ...}, "kvs": [{"key": "...",
 * "create_revision": "N", ...}, ...], "more": true, "count": "N"}, keys
 * and values in base64, integers as strings.  Building that as jv
 * objects, then looking each field up, was most of etcd-get -p's time
 * at 100,000 keys; this scanner walks the text once.  It takes only what
 * it is sure of (no escape in any string, no duplicate field it uses)
 * and answers -1 for anything else, which the caller then parses with
 * jq as before (and reports, when it is malformed). */
#include <stdlib.h>
#include <string.h>

#include "util/b64.h"
#include "etcd/int.h"

#define SCAN_DEPTH 32 /* nesting skipped in fields we do not use */

struct scan {
	const char *p, *end;
};

static void
ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' ||
				 *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

/* Is the next character c?  Then step over it. */
static int
eat(struct scan *s, char c)
{
	ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return 1;
	}
	return 0;
}

/* A string without escapes: [*a, *a + *n). */
static int
str(struct scan *s, const char **a, size_t *n)
{
	const char *q;

	if (!eat(s, '"'))
		return -1;
	for (q = s->p; q < s->end && *q != '"'; q++)
		if (*q == '\\' || (unsigned char)*q < 0x20)
			return -1;
	if (q == s->end)
		return -1;
	*a = s->p;
	*n = (size_t)(q - s->p);
	s->p = q + 1;
	return 0;
}

static int
digits(struct scan *s)
{
	const char *a = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > a ? 0 : -1;
}

static int
number(struct scan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (digits(s) < 0)
		return -1;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (digits(s) < 0)
			return -1;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (digits(s) < 0)
			return -1;
	}
	return 0;
}

static int
skip(struct scan *s, int depth)
{
	const char *a;
	size_t n;

	ws(s);
	if (s->p >= s->end || depth > SCAN_DEPTH)
		return -1;
	if (*s->p == '"')
		return str(s, &a, &n);
	if (*s->p == '{' || *s->p == '[') {
		char close = *s->p == '{' ? '}' : ']';

		s->p++;
		if (eat(s, close))
			return 0;
		do {
			if (close == '}' &&
			    (str(s, &a, &n) < 0 || !eat(s, ':')))
				return -1;
			if (skip(s, depth + 1) < 0)
				return -1;
		} while (eat(s, ','));
		return eat(s, close) ? 0 : -1;
	}
	/* A literal or a number, as JSON writes them. */
	for (n = 0; n < 3; n++) {
		static const char *const lit[] = {"true", "false", "null"};
		size_t ln = strlen(lit[n]);

		if ((size_t)(s->end - s->p) >= ln &&
		    !memcmp(s->p, lit[n], ln)) {
			s->p += ln;
			return 0;
		}
	}
	return number(s);
}

/* An integer field: etcd writes int64 as a string, 0 as nothing. */
static int
int_field(struct scan *s, long long *v)
{
	const char *a;
	size_t n, i;

	/* (18 digits at most: no overflow; a longer number goes to jq) */
	if (str(s, &a, &n) < 0 || n == 0 || n > 18)
		return -1;
	*v = 0;
	for (i = 0; i < n; i++) {
		if (a[i] < '0' || a[i] > '9')
			return -1;
		*v = *v * 10 + (a[i] - '0');
	}
	return 0;
}

static int
b64_dup(const char *a, size_t n, char **out, size_t *outlen)
{
	if (!(*out = malloc(n / 4 * 3 + 4)) ||
	    b64_decode(a, n, (unsigned char *)*out, outlen) < 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	(*out)[*outlen] = '\0';
	return 0;
}

/* One element of "kvs" into kv. */
static int
one_kv(struct scan *s, struct etcd_kv *kv)
{
	const char *a, *k = NULL, *v = "";
	size_t n, kn = 0, vn = 0;
	long long *f;
	int r = 0, seen = 0, ints = 0;

	memset(kv, 0, sizeof(*kv));
	if (!eat(s, '{'))
		return -1;
	if (!eat(s, '}'))
		do {
			if (str(s, &a, &n) < 0 || !eat(s, ':'))
				return -1;
			f = NULL;
			/* (a field twice: jq keeps the last; leave it to jq) */
			if (n == 3 && !memcmp(a, "key", 3))
				r = k ? -1 : str(s, &k, &kn);
			else if (n == 5 && !memcmp(a, "value", 5))
				r = seen++ ? -1 : str(s, &v, &vn);
			else if (n == 15 && !memcmp(a, "create_revision", 15))
				f = &kv->create_rev;
			else if (n == 12 && !memcmp(a, "mod_revision", 12))
				f = &kv->mod_rev;
			else if (n == 7 && !memcmp(a, "version", 7))
				f = &kv->version;
			else if (n == 5 && !memcmp(a, "lease", 5))
				f = &kv->lease;
			else
				r = skip(s, 1);
			if (f) {
				int bit = f == &kv->create_rev ? 1
					  : f == &kv->mod_rev  ? 2
					  : f == &kv->version  ? 4
							       : 8;

				r = ints & bit ? -1 : int_field(s, f);
				ints |= bit;
			}
			if (r < 0)
				return -1;
		} while (eat(s, ','));
	if (!eat(s, '}') || !k)
		return -1;
	if (b64_dup(k, kn, &kv->key, &kv->klen) < 0 ||
	    b64_dup(v, vn, &kv->value, &kv->vlen) < 0) {
		etcd_kv_free(kv);
		return -1;
	}
	return 0;
}

void
etcd_scan_free(struct etcd_scan *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		etcd_kv_free(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

/* The "kvs" array into r. */
static int
kvs(struct scan *s, struct etcd_scan *r)
{
	struct etcd_kv *a;

	if (!eat(s, '['))
		return -1;
	if (eat(s, ']'))
		return 0;
	do {
		if (!(a = array_grow(r->kvs, r->n, sizeof(*a))))
			return -1;
		r->kvs = a;
		if (one_kv(s, &r->kvs[r->n]) < 0)
			return -1;
		r->n++;
	} while (eat(s, ','));
	return eat(s, ']') ? 0 : -1;
}

int
etcd_scan_range(const char *p, size_t len, struct etcd_scan *r)
{
	struct scan s = {p, p + len};
	const char *a, *b;
	size_t n, m;
	int got_kvs = 0, got_hdr = 0, got_more = 0, got_count = 0, ok = 0;

	memset(r, 0, sizeof(*r));
	r->count = -1;
	if (!p || !eat(&s, '{'))
		return -1;
	if (!eat(&s, '}'))
		do {
			if (str(&s, &a, &n) < 0 || !eat(&s, ':'))
				goto bad;
			/* (a field twice: jq keeps the last; leave it to jq) */
			if (n == 6 && !memcmp(a, "header", 6)) {
				if (got_hdr++)
					goto bad;
				if (!eat(&s, '{'))
					goto bad;
				do {
					if (str(&s, &b, &m) < 0 ||
					    !eat(&s, ':'))
						goto bad;
					if (m == 8 &&
					    !memcmp(b, "revision", 8)) {
						if (int_field(&s, &r->rev) < 0)
							goto bad;
					} else if (skip(&s, 1) < 0) {
						goto bad;
					}
				} while (eat(&s, ','));
				if (!eat(&s, '}'))
					goto bad;
			} else if (n == 3 && !memcmp(a, "kvs", 3)) {
				if (got_kvs++ || kvs(&s, r) < 0)
					goto bad;
			} else if (n == 4 && !memcmp(a, "more", 4)) {
				if (got_more++)
					goto bad;
				ws(&s);
				if (s.end - s.p >= 4 && !memcmp(s.p, "true", 4))
					r->more = 1;
				if (skip(&s, 1) < 0)
					goto bad;
			} else if (n == 5 && !memcmp(a, "count", 5)) {
				if (got_count++ || int_field(&s, &r->count) < 0)
					goto bad;
			} else if (skip(&s, 1) < 0) {
				goto bad;
			}
		} while (eat(&s, ','));
	ok = eat(&s, '}');
	ws(&s);
	if (ok && s.p == s.end && got_hdr)
		return 0;
bad:
	etcd_scan_free(r);
	return -1;
}
