/* The haproxy helpers: haproxy_name, haproxy_path, haproxy_servers and
 * haproxy_backend check values of etcd keys against what haproxy accepts,
 * with easy-lb's rules in one place (tmpl(1) lists them), and turn them
 * into configuration lines or skip them with a warning naming the key;
 * haproxy_routes puts the services' routes in the order haproxy must try
 * them.
 * The shipped template relies on them; a user's own template may too.
 * They are C rather than jq because, at 100,000 upstreams, jq's way of
 * checking (jq 1.6 compiles a regular expression at every test, and
 * spends microseconds on each step of a loop over words) was most of the
 * render; the routes, worked out in jq, were a third of a render from
 * scratch at 1,000 services. */
#include <stdlib.h>
#include <string.h>

#include "tmpl_int.h"

/* Is every byte of s[0, n) one of set (or, with alnum, a letter or
 * digit)? */
static int
all_in(const char *s, size_t n, int alnum, const char *set)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (alnum && ((c >= 'a' && c <= 'z') ||
			      (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			continue;
		if (!c || !strchr(set, c))
			return 0;
	}
	return 1;
}

static int
is_digits(const char *s, size_t n)
{
	return n > 0 && all_in(s, n, 0, "0123456789");
}

/* A haproxy name: letters, digits, '-', '_', '.', ':', at most 100. */
static int
is_name(const char *s, size_t n)
{
	return n > 0 && n <= 100 && all_in(s, n, 1, "_.:-");
}

/* A URL path as a location: "/" and the characters of a path that
 * haproxy reads as one word (no quote, blank or '#'). */
static int
is_path(const char *s, size_t n)
{
	return n > 0 && s[0] == '/' &&
	       all_in(s + 1, n - 1, 1, "._~!$&()*+,;=:@%/-");
}

/* A number without leading zeros, at most 10 digits, in [lo, hi]. */
static int
is_num(const char *s, size_t n, long long lo, long long hi)
{
	long long v = 0;
	size_t i;

	if (!is_digits(s, n) || n > 10 || (n > 1 && s[0] == '0'))
		return 0;
	for (i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v >= lo && v <= hi;
}

/* A time: 1 to 9 digits and an optional unit. */
static int
is_time(const char *s, size_t n)
{
	static const char *const units[] = {"", "us", "ms", "s", "m", "h", "d"};
	size_t d = 0, i;

	while (d < n && d < 10 && s[d] >= '0' && s[d] <= '9')
		d++;
	if (d == 0 || d > 9)
		return 0;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (n - d == strlen(units[i]) &&
		    !memcmp(s + d, units[i], n - d))
			return 1;
	return 0;
}

/* One of the words of list (NULL-terminated), exactly? */
static int
one_of(const char *s, size_t n, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == n && !memcmp(s, *list, n))
			return 1;
	return 0;
}

/* The kind of address of a "host:port" word: 1 an IPv4 address, 2 an
 * IPv6 address in brackets, 3 a name; 0 none, or a port out of 1-65535. */
static int
addr_kind(const char *s, size_t n)
{
	const char *c = memchr(s, ':', n), *rb, *last;
	int k = 0;

	if (c && c > s && all_in(s, (size_t)(c - s), 0, "0123456789.") &&
	    is_digits(c + 1, n - (size_t)(c - s) - 1))
		k = 1;
	else if (n > 0 && s[0] == '[' && (rb = memchr(s, ']', n)) &&
		 rb > s + 1 &&
		 all_in(s + 1, (size_t)(rb - s - 1), 0,
			"0123456789abcdefABCDEF:.") &&
		 rb + 1 < s + n && rb[1] == ':' &&
		 is_digits(rb + 2, n - (size_t)(rb - s) - 2))
		k = 2;
	else if (c && c > s && all_in(s, 1, 1, "") &&
		 all_in(s + 1, (size_t)(c - s) - 1, 1, "_.-") &&
		 is_digits(c + 1, n - (size_t)(c - s) - 1))
		k = 3;
	if (!k)
		return 0;
	for (last = s + n; last > s && last[-1] != ':'; last--)
		;
	return is_num(last, (size_t)(s + n - last), 1, 65535) ? k : 0;
}

/* The server options easy-lb lets through, so that a typo never breaks
 * the file: a flag, or a keyword that takes a number in a range, a time
 * or one of two words. */
static const struct srvopt {
	const char *name;
	char kind; /* 'f' flag, 'n' number, 't' time, 'v' none|required */
	long long lo, hi;
} srvopts[] = {
    {"check", 'f', 0, 0},
    {"backup", 'f', 0, 0},
    {"ssl", 'f', 0, 0},
    {"send-proxy", 'f', 0, 0},
    {"send-proxy-v2", 'f', 0, 0},
    {"check-ssl", 'f', 0, 0},
    {"check-send-proxy", 'f', 0, 0},
    {"weight", 'n', 0, 256},
    {"maxconn", 'n', 0, 10000000},
    {"maxqueue", 'n', 0, 10000000},
    {"minconn", 'n', 0, 10000000},
    {"rise", 'n', 1, 1000},
    {"fall", 'n', 1, 1000},
    {"port", 'n', 1, 65535},
    {"inter", 't', 0, 0},
    {"fastinter", 't', 0, 0},
    {"downinter", 't', 0, 0},
    {"slowstart", 't', 0, 0},
    {"verify", 'v', 0, 0},
};

/* A word of a value: offset and length. */
struct word {
	size_t off, n;
};

/* Are words w[0, n) of s server options easy-lb accepts? */
static int
srvopts_ok(const char *s, const struct word *w, size_t n)
{
	static const char *const verify[] = {"none", "required", NULL};
	const struct srvopt *want = NULL;
	size_t i, j;

	for (i = 0; i < n; i++) {
		const char *ws = s + w[i].off;

		if (!want) {
			for (j = 0; j < sizeof(srvopts) / sizeof(srvopts[0]);
			     j++)
				if (strlen(srvopts[j].name) == w[i].n &&
				    !memcmp(ws, srvopts[j].name, w[i].n))
					break;
			if (j == sizeof(srvopts) / sizeof(srvopts[0]))
				return 0;
			if (srvopts[j].kind != 'f')
				want = &srvopts[j];
			continue;
		}
		if ((want->kind == 'n' &&
		     !is_num(ws, w[i].n, want->lo, want->hi)) ||
		    (want->kind == 't' && !is_time(ws, w[i].n)) ||
		    (want->kind == 'v' && !one_of(ws, w[i].n, verify)))
			return 0;
		want = NULL;
	}
	return !want;
}

/* Add "KEY: " and what to t's warnings, jv_dump_string-quoted q (n
 * bytes, may be NULL) in the middle: "KEY: pre"q"post; skipped". */
static void
skip_warn(struct tmpl *t, const struct buf *key, const char *pre, const char *q,
	  size_t qn, const char *post)
{
	struct buf m = {0};

	buf_add(&m, key->p, key->len);
	buf_puts(&m, ": ");
	buf_puts(&m, pre);
	if (q) {
		jv d = jv_dump_string(jv_string_sized(q, (int)qn), 0);

		buf_puts(&m, jv_string_value(d));
		jv_free(d);
	}
	buf_puts(&m, post);
	buf_puts(&m, "; skipped");
	warn_line(t, m.p ? m.p : "", m.len);
	buf_free(&m);
}

/* A value that is not a string, shown as JSON in a warning. */
static void
skip_warn_json(struct tmpl *t, const struct buf *key, const char *pre, jv v,
	       const char *post)
{
	jv d = jv_dump_string(jv_copy(v), 0);
	struct buf m = {0};

	buf_add(&m, key->p, key->len);
	buf_puts(&m, ": ");
	buf_puts(&m, pre);
	buf_puts(&m, jv_string_value(d));
	buf_puts(&m, post);
	buf_puts(&m, "; skipped");
	warn_line(t, m.p ? m.p : "", m.len);
	buf_free(&m);
	jv_free(d);
}

/* haproxy_servers: one upstream key, into the array *ctx. */
static void
server(struct tmpl *t, const char *nm, size_t nn, const struct buf *key,
       jv value, void *ctx)
{
	jv *lines = ctx;
	struct word *words = NULL;
	struct buf line = {0};
	const char *s;
	size_t n, i, nw = 0;
	int kind;

	if (!is_name(nm, nn)) {
		skip_warn(t, key, "instance name is not a valid haproxy name",
			  NULL, 0, "");
		return;
	}
	if (!jv_is_valid(value)) {
		skip_warn(t, key, "a directory, not a key", NULL, 0, "");
		return;
	}
	if (jv_get_kind(value) != JV_KIND_STRING) {
		skip_warn_json(t, key, "", value,
			       " is not host:port (IPv6 in brackets)");
		return;
	}
	s = jv_string_value(value);
	n = (size_t)jv_string_length_bytes(jv_copy(value));
	/* The words, split at blanks and tabs (a value without either is
	 * one word, even an empty one). */
	if (!(words = malloc((n / 2 + 1) * sizeof(*words))))
		return;
	if (!memchr(s, ' ', n) && !memchr(s, '\t', n)) {
		words[0].off = 0;
		words[0].n = n;
		nw = 1;
	} else {
		for (i = 0; i < n;) {
			size_t b = i;

			while (i < n && s[i] != ' ' && s[i] != '\t')
				i++;
			if (i > b) {
				words[nw].off = b;
				words[nw++].n = i - b;
			}
			while (i < n && (s[i] == ' ' || s[i] == '\t'))
				i++;
		}
	}
	if (nw == 0 || words[0].n == 0) {
		skip_warn(t, key, "empty address", NULL, 0, "");
		goto out;
	}
	if (!(kind = addr_kind(s + words[0].off, words[0].n))) {
		skip_warn(t, key, "", s + words[0].off, words[0].n,
			  " is not host:port (IPv6 in brackets)");
		goto out;
	}
	if (nw > 1 && !srvopts_ok(s, words + 1, nw - 1)) {
		/* (the options as one string, one blank between words) */
		for (i = 1; i < nw; i++) {
			if (i > 1)
				buf_add(&line, " ", 1);
			buf_add(&line, s + words[i].off, words[i].n);
		}
		skip_warn(t, key, "server options ", line.p ? line.p : "",
			  line.len, " are not ones easy-lb accepts");
		goto out;
	}
	/* Every server carries all its options on its own line, checked;
	 * a name that does not resolve must not fail the whole file. */
	buf_add(&line, nm, nn);
	buf_add(&line, " ", 1);
	buf_add(&line, s + words[0].off, words[0].n);
	for (i = 1; i < nw; i++) {
		if (words[i].n == 5 && !memcmp(s + words[i].off, "check", 5))
			continue;
		buf_add(&line, " ", 1);
		buf_add(&line, s + words[i].off, words[i].n);
	}
	buf_puts(&line, " check");
	if (kind == 3)
		buf_puts(&line, " init-addr libc,none");
	if (line.p)
		*lines = jv_array_append(
		    *lines, jv_string_sized(line.p, (int)line.len));
out:
	free(words);
	buf_free(&line);
}

/* The backend directives easy-lb lets through, with the values each
 * takes. */
static int
balance_ok(const char *s, size_t n)
{
	static const char *const plain[] = {
	    "roundrobin", "static-rr", "leastconn",  "first", "source",
	    "random",	  "uri",       "rdp-cookie", NULL};

	if (one_of(s, n, plain))
		return 1;
	if (n > 10 && !memcmp(s, "url_param ", 10))
		return all_in(s + 10, n - 10, 1, "_.-");
	if (n > 5 && !memcmp(s, "hdr(", 4) && s[n - 1] == ')')
		return all_in(s + 4, n - 5, 1, "_-");
	if (n > 12 && !memcmp(s, "rdp-cookie(", 11) && s[n - 1] == ')')
		return all_in(s + 11, n - 12, 1, "_-");
	return 0;
}

static int
option_ok(const char *s, size_t n)
{
	static const char *const plain[] = {"httpchk",
					    "forwardfor",
					    "http-server-close",
					    "http-keep-alive",
					    "redispatch",
					    "abortonclose",
					    "allbackups",
					    "log-health-checks",
					    "prefer-last-server",
					    "http-buffer-request",
					    NULL};
	static const char *const methods[] = {"GET ", "HEAD ", "OPTIONS ",
					      NULL};
	size_t i, m;

	if (one_of(s, n, plain))
		return 1;
	if (n < 8 || memcmp(s, "httpchk ", 8))
		return 0;
	for (i = 0; methods[i]; i++) {
		m = 8 + strlen(methods[i]);
		if (n > m && !memcmp(s + 8, methods[i], m - 8) && s[m] == '/')
			return all_in(s + m + 1, n - m - 1, 1,
				      "._~!$&()*+,;=:@%/?-");
	}
	return 0;
}

static int
timeout_ok(const char *s, size_t n)
{
	static const char *const which[] = {"server", "connect", "queue",
					    "tunnel", "check",	 "http-request",
					    NULL};
	const char *sp = memchr(s, ' ', n);

	return sp && one_of(s, (size_t)(sp - s), which) &&
	       is_time(sp + 1, n - (size_t)(sp - s) - 1);
}

/* Is s[0, n) words of list, each after a blank ("" is)? */
static int
blank_words(const char *s, size_t n, const char *const *list)
{
	while (n > 0) {
		const char *sp;
		size_t wn;

		if (s[0] != ' ')
			return 0;
		s++;
		n--;
		sp = memchr(s, ' ', n);
		wn = sp ? (size_t)(sp - s) : n;
		if (!one_of(s, wn, list))
			return 0;
		s += wn;
		n -= wn;
	}
	return 1;
}

static int
cookie_ok(const char *s, size_t n)
{
	static const char *const attrs[] = {
	    "insert",	"rewrite",  "prefix", "indirect", "nocache", "postonly",
	    "preserve", "httponly", "secure", "dynamic",  NULL};
	const char *sp = memchr(s, ' ', n);
	size_t cn = sp ? (size_t)(sp - s) : n;

	return cn >= 1 && cn <= 64 && all_in(s, cn, 1, "_-") &&
	       blank_words(s + cn, n - cn, attrs);
}

static int
hash_type_ok(const char *s, size_t n)
{
	static const char *const methods[] = {"map-based", "consistent", NULL};
	static const char *const fns[] = {"sdbm", "djb2", "wt6", "crc32", NULL};
	static const char *const aval[] = {"avalanche", NULL};
	const char *const *want[] = {fns, aval};
	const char *sp = memchr(s, ' ', n);
	size_t wn = sp ? (size_t)(sp - s) : n, i;

	if (!one_of(s, wn, methods))
		return 0;
	/* Then, each after one blank, a function and "avalanche", each
	 * optional but in that order. */
	for (i = 0; i < 2 && wn < n; i++) {
		s += wn + 1;
		n -= wn + 1;
		sp = memchr(s, ' ', n);
		wn = sp ? (size_t)(sp - s) : n;
		if (!one_of(s, wn, want[i]) && (i == 1 || !one_of(s, wn, aval)))
			return 0;
		if (i == 0 && one_of(s, wn, aval))
			i++;
	}
	return wn == n;
}

/* haproxy_backend: one backend/<option> key, into the array *ctx. */
static void
backend(struct tmpl *t, const char *nm, size_t nn, const struct buf *key,
	jv value, void *ctx)
{
	jv *lines = ctx;
	const char *s;
	size_t n;
	int ok;
	struct buf m = {0};

	if (!jv_is_valid(value)) {
		skip_warn(t, key, "a directory, not a key", NULL, 0, "");
		return;
	}
	buf_puts(&m, "backend option ");
	buf_add(&m, nm, nn);
	buf_add(&m, " ", 1);
	if (jv_get_kind(value) != JV_KIND_STRING) {
		skip_warn_json(t, key, m.p, value,
			       " is not one easy-lb accepts");
		buf_free(&m);
		return;
	}
	s = jv_string_value(value);
	n = (size_t)jv_string_length_bytes(jv_copy(value));
#define IS(o) (nn == strlen(o) && !memcmp(nm, o, nn))
	ok = (IS("balance") && balance_ok(s, n)) ||
	     (IS("option") && option_ok(s, n)) ||
	     (IS("timeout") && timeout_ok(s, n)) ||
	     (IS("cookie") && cookie_ok(s, n)) ||
	     (IS("hash-type") && hash_type_ok(s, n)) ||
	     (IS("retries") && is_num(s, n, 0, 100)) ||
	     (IS("fullconn") && is_num(s, n, 1, 10000000));
#undef IS
	if (!ok) {
		skip_warn(t, key, m.p, s, n, " is not one easy-lb accepts");
	} else {
		m.len = 0;
		buf_add(&m, nm, nn);
		buf_add(&m, " ", 1);
		buf_add(&m, s, n);
		*lines =
		    jv_array_append(*lines, jv_string_sized(m.p, (int)m.len));
	}
	buf_free(&m);
}

/* haproxy_routes: see tmpl(1).  Orders and lengths are jq's: strings
 * byte by byte, lengths in characters, sorts stable. */
/* A string's bytes, for comparing without a jv call (qsort compares
 * 10,000 services some 300,000 times). */
struct str {
	const char *p;
	size_t n;
};

struct svc {
	jv name, hosts, loc; /* owned */
	size_t i;	     /* the rank of the name */
	struct str names;    /* name's bytes */
	struct str locs;     /* loc's bytes */
	char *hk;	     /* hosts' bytes, each NUL-ended; NULL: null */
	size_t hkn;
};

struct route {
	jv name, hosts, loc; /* owned; hosts null: any host */
	struct str locs, names;
	long rank[2]; /* [0, 0] exact names, [1, -length] wildcards,
			 [2, 0] any host */
	long loclen;
	size_t i; /* the order in which the routes were made */
};

static struct str
str_of(jv s)
{
	struct str r = {jv_string_value(s),
			(size_t)jv_string_length_bytes(jv_copy(s))};

	return r;
}

static int
scmp(const struct str *a, const struct str *b)
{
	return bytes_cmp(a->p, a->n, b->p, b->n);
}

/* Hosts null first, then arrays of strings element by element, a prefix
 * first (each NUL-ended, so that the bytes compare that way), then the
 * locations. */
static int
where_cmp(const struct svc *a, const struct svc *b)
{
	int r;

	if (!a->hk != !b->hk)
		return a->hk ? 1 : -1;
	r = a->hk ? bytes_cmp(a->hk, a->hkn, b->hk, b->hkn) : 0;
	return r ? r : scmp(&a->locs, &b->locs);
}

/* v's hosts as NUL-ended bytes, for where_cmp; -1 when out of memory. */
static int
hosts_key(struct svc *v)
{
	struct buf b = {0};
	int i, n;

	if (jv_get_kind(v->hosts) == JV_KIND_NULL)
		return 0;
	n = jv_array_length(jv_copy(v->hosts));
	for (i = 0; i < n; i++) {
		jv h = jv_array_get(jv_copy(v->hosts), i);
		int r = buf_add(&b, jv_string_value(h),
				(size_t)jv_string_length_bytes(jv_copy(h)) + 1);

		jv_free(h);
		if (r < 0) {
			buf_free(&b);
			return -1;
		}
	}
	if (!b.p && buf_add(&b, "", 0) < 0)
		return -1;
	v->hk = b.p;
	v->hkn = b.len;
	return 0;
}

#define CMP(a, b) (((a) > (b)) - ((a) < (b)))

/* group_by([.hosts, .loc]) */
static int
by_where(const void *pa, const void *pb)
{
	const struct svc *a = pa, *b = pb;
	int r = where_cmp(a, b);

	return r ? r : CMP(a->i, b->i);
}

/* sort_by([.rank, -(.loc | length), .loc, .name]) */
static int
by_route(const void *pa, const void *pb)
{
	const struct route *a = pa, *b = pb;
	int r = CMP(a->rank[0], b->rank[0]);

	if (!r)
		r = CMP(a->rank[1], b->rank[1]);
	if (!r)
		r = CMP(b->loclen, a->loclen);
	if (!r)
		r = scmp(&a->locs, &b->locs);
	if (!r)
		r = scmp(&a->names, &b->names);
	return r ? r : CMP(a->i, b->i);
}

/* Add to *r (*nr of them) the route of service v for hosts h (consumed),
 * ranked rank0, rank1; -1 when out of memory. */
static int
add_route(struct route **r, size_t *nr, const struct svc *v, jv h, long rank0,
	  long rank1)
{
	struct route *a = array_grow(*r, *nr, sizeof(**r));

	if (!a) {
		jv_free(h);
		return -1;
	}
	*r = a;
	a += (*nr)++;
	a->name = jv_copy(v->name);
	a->loc = jv_copy(v->loc);
	a->locs = v->locs;
	a->names = str_of(v->name);
	a->hosts = h;
	a->rank[0] = rank0;
	a->rank[1] = rank1;
	a->loclen = jv_string_length_codepoints(jv_copy(v->loc));
	a->i = *nr;
	return 0;
}

/* The routes of service v, which has hosts: one for its exact names, one
 * for each length of its wildcards. */
static int
host_routes(struct route **r, size_t *nr, const struct svc *v)
{
	int n = jv_array_length(jv_copy(v->hosts)), i, j;
	jv exact = jv_array();
	long len, done = -1;

	for (i = 0; i < n; i++) {
		jv h = jv_array_get(jv_copy(v->hosts), i);

		if (jv_string_value(h)[0] != '.')
			exact = jv_array_append(exact, h);
		else
			jv_free(h);
	}
	if (jv_array_length(jv_copy(exact)) == 0)
		jv_free(exact);
	else if (add_route(r, nr, v, exact, 0, 0) < 0)
		return -1;
	/* (each length once, the shortest first) */
	for (;;) {
		jv wild = jv_array();

		len = -1;
		for (i = 0; i < n; i++) {
			jv h = jv_array_get(jv_copy(v->hosts), i);
			long l = jv_string_length_codepoints(jv_copy(h));

			if (jv_string_value(h)[0] == '.' && l > done &&
			    (len < 0 || l < len))
				len = l;
			jv_free(h);
		}
		if (len < 0) {
			jv_free(wild);
			return 0;
		}
		for (j = 0; j < n; j++) {
			jv h = jv_array_get(jv_copy(v->hosts), j);

			if (jv_string_value(h)[0] == '.' &&
			    jv_string_length_codepoints(jv_copy(h)) == len)
				wild = jv_array_append(wild, h);
			else
				jv_free(h);
		}
		if (add_route(r, nr, v, wild, 1, -len) < 0)
			return -1;
		done = len;
	}
}

/* The members of a route object, made once a call (a string made once
 * hashes once). */
enum { K_NAME, K_HOSTS, K_LOC, K_MATCH, K_RANK, K_END, K_STR, NKEYS };
static const char *const knames[NKEYS] = {"name", "hosts", "loc", "match",
					  "rank", "end",   "str"};

static jv
route_obj(const struct route *r, const jv *k)
{
	jv o = jv_object();

	o = jv_object_set(o, jv_copy(k[K_NAME]), jv_copy(r->name));
	o = jv_object_set(o, jv_copy(k[K_HOSTS]), jv_copy(r->hosts));
	o = jv_object_set(o, jv_copy(k[K_LOC]), jv_copy(r->loc));
	if (r->rank[0] == 2)
		return o;
	o = jv_object_set(o, jv_copy(k[K_MATCH]),
			  jv_copy(k[r->rank[0] ? K_END : K_STR]));
	return jv_object_set(o, jv_copy(k[K_RANK]),
			     JV_ARRAY(jv_number((double)r->rank[0]),
				      jv_number((double)r->rank[1])));
}

/* The routes r[0, nr) (in order) and the default service def as the
 * lines "KEY NAME" of one map_beg map: KEY is the host, ".domain" for a
 * wildcard or nothing for any host, followed by the location.  The
 * longest key that begins a request's host and path is the route of
 * the longest location for that host: the lookup order of tmpl(1) is
 * the one of the routes, a host at a time.  Of two routes with the same
 * key (a host two services share), the first keeps it. */
/* A line of the map: "KEY NAME", KEY's length, and its place. */
struct mline {
	jv line;
	size_t klen, i;
};

/* By key, then by place: the first of the same key first. */
static int
by_key(const void *pa, const void *pb)
{
	const struct mline *a = pa, *b = pb;
	int r = bytes_cmp(jv_string_value(a->line), a->klen,
			  jv_string_value(b->line), b->klen);

	return r ? r : CMP(a->i, b->i);
}

static int
by_place(const void *pa, const void *pb)
{
	const struct mline *a = pa, *b = pb;

	return CMP(a->i, b->i);
}

static jv
route_map(const struct route *r, size_t nr, jv def)
{
	jv map = jv_array();
	struct mline *l = NULL, *nl;
	size_t i, k, n = 0, kept;
	int j, nh;

	for (i = 0; i < nr; i++) {
		const char *loc = jv_string_value(r[i].loc);

		nh = jv_get_kind(r[i].hosts) == JV_KIND_NULL
			 ? 1
			 : jv_array_length(jv_copy(r[i].hosts));
		for (j = 0; j < nh; j++) {
			jv h = jv_get_kind(r[i].hosts) == JV_KIND_NULL
				   ? jv_string("")
				   : jv_array_get(jv_copy(r[i].hosts), j);

			if (!(nl = array_grow(l, n, sizeof(*l)))) {
				jv_free(h);
				goto nomem;
			}
			l = nl;
			l[n].line =
			    jv_string_fmt("%s%s %s", jv_string_value(h), loc,
					  jv_string_value(r[i].name));
			l[n].klen = strlen(jv_string_value(h)) + strlen(loc);
			l[n].i = n;
			n++;
			jv_free(h);
		}
	}
	/* (the keys sorted once, not looked up one by one: the first
	 * of each key stays, in its place) */
	if (n)
		qsort(l, n, sizeof(*l), by_key);
	for (i = kept = 0; i < n; i = k) {
		for (k = i + 1; k < n && l[k].klen == l[i].klen &&
				!memcmp(jv_string_value(l[k].line),
					jv_string_value(l[i].line), l[i].klen);
		     k++)
			jv_free(l[k].line);
		l[kept++] = l[i];
	}
	if (kept)
		qsort(l, kept, sizeof(*l), by_place);
	for (i = 0; i < kept; i++)
		map = jv_array_append(map, l[i].line);
	free(l);
	if (jv_get_kind(def) == JV_KIND_STRING)
		map = jv_array_append(
		    map, jv_string_fmt("/ %s", jv_string_value(def)));
	return map;
nomem:
	for (i = 0; i < n; i++)
		jv_free(l[i].line);
	free(l);
	jv_free(map);
	return jv_invalid_with_msg(jv_string("out of memory"));
}

/* The most labels of a wildcard domain of r[0, nr): how many suffixes of
 * a request's host the lookup must try. */
static long
route_depth(const struct route *r, size_t nr)
{
	long most = 0, n;
	size_t i;
	int j, nh;

	for (i = 0; i < nr; i++) {
		if (r[i].rank[0] != 1)
			continue;
		nh = jv_array_length(jv_copy(r[i].hosts));
		for (j = 0; j < nh; j++) {
			jv h = jv_array_get(jv_copy(r[i].hosts), j);
			const char *c;

			for (n = 0, c = jv_string_value(h); *c; c++)
				n += *c == '.';
			if (n > most)
				most = n;
			jv_free(h);
		}
	}
	return most;
}

/* Is v [hosts, location], hosts null or an array of strings? */
static int
is_where(jv v)
{
	jv h;
	int i, n, ok;

	if (jv_get_kind(v) != JV_KIND_ARRAY || jv_array_length(jv_copy(v)) != 2)
		return 0;
	h = jv_array_get(jv_copy(v), 1);
	ok = jv_get_kind(h) == JV_KIND_STRING;
	jv_free(h);
	h = jv_array_get(jv_copy(v), 0);
	if (jv_get_kind(h) == JV_KIND_ARRAY) {
		n = jv_array_length(jv_copy(h));
		for (i = 0; ok && i < n; i++) {
			jv e = jv_array_get(jv_copy(h), i);

			ok = jv_get_kind(e) == JV_KIND_STRING;
			jv_free(e);
		}
	} else {
		ok = ok && jv_get_kind(h) == JV_KIND_NULL;
	}
	jv_free(h);
	return ok;
}

/* By name, bytes (jq's order of keys). */
static int
by_name(const void *pa, const void *pb)
{
	const struct svc *a = pa, *b = pb;

	return scmp(&a->names, &b->names);
}

static jv
routes(jv where)
{
	jv res, list, dup, def, k[NKEYS];
	struct svc *s;
	struct route *r = NULL;
	size_t n, i, j, nr = 0;
	int it;

	if (jv_get_kind(where) != JV_KIND_OBJECT)
		return jv_invalid_with_msg(
		    jv_string("haproxy_routes: the input is not an object"));
	n = (size_t)jv_object_length(jv_copy(where));
	if (!(s = calloc(n + 1, sizeof(*s))))
		return jv_invalid_with_msg(jv_string("out of memory"));
	/* (the names in jq's order, sorted here: jv_keys compares through
	 * jv calls, a third of the whole at 10,000 services; each value
	 * waits in hosts until its turn) */
	i = 0;
	for (it = jv_object_iter(where); jv_object_iter_valid(where, it);
	     it = jv_object_iter_next(where, it)) {
		s[i].name = jv_object_iter_key(where, it);
		s[i].names = str_of(s[i].name);
		s[i].hosts = jv_object_iter_value(where, it);
		s[i].loc = jv_null();
		i++;
	}
	qsort(s, n, sizeof(*s), by_name);
	for (i = 0; i < NKEYS; i++)
		k[i] = jv_string(knames[i]);
	list = jv_array();
	dup = jv_array();
	def = jv_null();
	for (i = 0; i < n; i++) {
		jv v = s[i].hosts;

		s[i].hosts = jv_null();
		s[i].i = i;
		if (!is_where(v)) {
			res = jv_invalid_with_msg(jv_string_fmt(
			    "haproxy_routes: %s: not [hosts, location]",
			    jv_string_value(s[i].name)));
			jv_free(v);
			goto out;
		}
		s[i].hosts = jv_array_get(jv_copy(v), 0);
		s[i].loc = jv_array_get(v, 1);
		s[i].locs = str_of(s[i].loc);
		if (hosts_key(&s[i]) < 0)
			goto nomem;
	}
	qsort(s, n, sizeof(*s), by_where);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && !where_cmp(&s[i], &s[j]); j++) {
			jv d = jv_object();

			d = jv_object_set(d, jv_string("name"),
					  jv_copy(s[j].name));
			d = jv_object_set(d, jv_string("hosts"),
					  jv_copy(s[j].hosts));
			d = jv_object_set(d, jv_string("loc"),
					  jv_copy(s[j].loc));
			d = jv_object_set(d, jv_string("winner"),
					  jv_copy(s[i].name));
			dup = jv_array_append(dup, d);
		}
		if (jv_get_kind(s[i].hosts) != JV_KIND_NULL) {
			if (host_routes(&r, &nr, &s[i]) < 0)
				goto nomem;
		} else if (strcmp(jv_string_value(s[i].loc), "/") ||
			   jv_string_length_bytes(jv_copy(s[i].loc)) != 1) {
			if (add_route(&r, &nr, &s[i], jv_null(), 2, 0) < 0)
				goto nomem;
		} else if (jv_get_kind(def) == JV_KIND_NULL) {
			def = jv_copy(s[i].name);
		}
	}
	if (nr)
		qsort(r, nr, sizeof(*r), by_route);
	for (i = 0; i < nr; i++)
		list = jv_array_append(list, route_obj(&r[i], k));
	res = route_map(r, nr, def);
	if (!jv_is_valid(res))
		goto out;
	res = jv_object_set(jv_object(), jv_string("map"), res);
	res = jv_object_set(res, jv_string("depth"),
			    jv_number((double)route_depth(r, nr)));
	res = jv_object_set(res, jv_string("default"), def);
	res = jv_object_set(res, jv_string("routes"), list);
	res = jv_object_set(res, jv_string("dup"), dup);
	list = dup = def = jv_invalid();
	goto out;
nomem:
	res = jv_invalid_with_msg(jv_string("out of memory"));
out:
	for (i = 0; i < nr; i++) {
		jv_free(r[i].name);
		jv_free(r[i].hosts);
		jv_free(r[i].loc);
	}
	free(r);
	for (i = 0; i < n; i++) {
		jv_free(s[i].name);
		jv_free(s[i].hosts);
		jv_free(s[i].loc);
		free(s[i].hk);
	}
	free(s);
	for (i = 0; i < NKEYS; i++)
		jv_free(k[i]);
	jv_free(list);
	jv_free(dup);
	jv_free(def);
	return res;
}

int
hap_request(struct tmpl *t, const char *tg, int n, jv msg)
{
	jv a = jv_array_get(jv_copy(msg), 1), b = jv_invalid();
	const char *s =
	    jv_get_kind(a) == JV_KIND_STRING ? jv_string_value(a) : NULL;
	size_t sn = s ? (size_t)jv_string_length_bytes(jv_copy(a)) : 0;
	int r = 1;

	if (n != 2) {
		r = 0;
	} else if (!strcmp(tg, "__tmpl_hap_routes")) {
		ccall_answer(t, routes(a));
	} else if (!strcmp(tg, "__tmpl_hap_name")) {
		ccall_answer(t, jv_bool(s && is_name(s, sn)));
	} else if (!strcmp(tg, "__tmpl_hap_path")) {
		ccall_answer(t, jv_bool(s && is_path(s, sn)));
	} else if (!strcmp(tg, "__tmpl_hap_servers") ||
		   !strcmp(tg, "__tmpl_hap_backend")) {
		jv lines = jv_array();

		/* (the directory as written for the warnings, b to look
		 * it up) */
		b = keys_dir(jv_copy(a), tg[11] == 's' ? "haproxy_servers"
						       : "haproxy_backend");
		if (!jv_is_valid(b)) {
			jv_free(lines);
			lines = jv_copy(b);
		} else if (keys_children(
			       t, s, sn, jv_string_value(b),
			       (size_t)jv_string_length_bytes(jv_copy(b)),
			       tg[11] == 's' ? server : backend, &lines) < 0) {
			jv_free(lines);
			lines = jv_invalid_with_msg(jv_string("out of memory"));
		}
		ccall_answer(t, lines);
	} else {
		r = 0;
	}
	jv_free(a);
	jv_free(b);
	return r;
}
