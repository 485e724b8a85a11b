/* The haproxy helpers: haproxy_name, haproxy_path, haproxy_servers and
 * haproxy_backend check values of etcd keys against what haproxy accepts,
 * with easy-lb's rules in one place (tmpl(1) lists them), and turn them
 * into configuration lines or skip them with a warning naming the key
 * (haproxy_routes is routes.c's), as the set easylb_helpers.
 * The shipped template relies on them; a user's own template may too.
 * They are C rather than jq because, at 100,000 upstreams, jq's way of
 * checking (jq 1.6 compiles a regular expression at every test, and
 * spends microseconds on each step of a loop over words) was most of the
 * render. */
#include <stdlib.h>
#include <string.h>

#include "easylb/easylb.h"
#include "easylb/routes.h"

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
	tmpl_warn(t, m.p ? m.p : "", m.len);
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
	tmpl_warn(t, m.p ? m.p : "", m.len);
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

/* The state of the set: what haproxy_routes keeps from call to call. */
struct state {
	struct routes *routes;
};

static void *
state_new(void)
{
	return calloc(1, sizeof(struct state));
}

static void
state_free(void *p)
{
	struct state *st = p;

	hap_routes_free(st->routes);
	free(st);
}

static jv
h_name(struct tmpl *t, void *st, jv *a)
{
	(void)t;
	(void)st;
	return jv_bool(jv_get_kind(a[0]) == JV_KIND_STRING &&
		       is_name(jv_string_value(a[0]),
			       (size_t)jv_string_length_bytes(jv_copy(a[0]))));
}

static jv
h_path(struct tmpl *t, void *st, jv *a)
{
	(void)t;
	(void)st;
	return jv_bool(jv_get_kind(a[0]) == JV_KIND_STRING &&
		       is_path(jv_string_value(a[0]),
			       (size_t)jv_string_length_bytes(jv_copy(a[0]))));
}

/* The lines of the keys below directory a (as written, for the
 * warnings), each kept or skipped by f. */
static jv
lines_of(struct tmpl *t, jv a, const char *helper, tmpl_child_fn *f)
{
	jv d = tmpl_dir(jv_copy(a), helper), lines = jv_array();

	if (!jv_is_valid(d)) {
		jv_free(lines);
		return d;
	}
	if (tmpl_children(
		t, jv_string_value(a),
		(size_t)jv_string_length_bytes(jv_copy(a)), jv_string_value(d),
		(size_t)jv_string_length_bytes(jv_copy(d)), f, &lines) < 0) {
		jv_free(lines);
		lines = jv_invalid_with_msg(jv_string("out of memory"));
	}
	jv_free(d);
	return lines;
}

static jv
h_servers(struct tmpl *t, void *st, jv *a)
{
	(void)st;
	return lines_of(t, a[0], "haproxy_servers", server);
}

static jv
h_backend(struct tmpl *t, void *st, jv *a)
{
	(void)st;
	return lines_of(t, a[0], "haproxy_backend", backend);
}

static jv
h_routes(struct tmpl *t, void *st, jv *a)
{
	(void)t;
	return hap_routes(&((struct state *)st)->routes, a[0]);
}

/* clang-format off */
static const struct tmpl_helper list[] = {
	{"haproxy_name",    NULL, TMPL_ANSWER, h_name},
	{"haproxy_path",    NULL, TMPL_ANSWER, h_path},
	{"haproxy_servers", "$d", TMPL_ANSWER, h_servers},
	{"haproxy_backend", "$d", TMPL_ANSWER, h_backend},
	{"haproxy_routes",  NULL, TMPL_ANSWER, h_routes},
};
/* clang-format on */

const struct tmpl_helpers easylb_helpers = {
    list, sizeof(list) / sizeof(list[0]), state_new, state_free};
