/* easy-lb's key schema: what each key below <prefix>/<svc>/ means, as
 * one table (keys[]), and a service's part of the model worked out from
 * its keys by it (schema_service).  Each row gives the key, what it
 * becomes in haproxy's configuration, whether a change to it is applied
 * through haproxy's runtime API, its line of documentation (what its
 * value is) and the function that checks the value and puts it into the
 * model; a service's keys are worked out in the table's order.  A value
 * haproxy could not take is skipped with a warning naming its key: the
 * key alone, or the whole service when it cannot be routed without it.
 * The README's key table is this table (make lint, tests/lint.sh). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "easylb/rules.h"
#include "easylb/schema.h"

#define URL_BAD                                                                \
	" is not an http or https URL (no blank, quote, backslash or '#')"
#define HOST_BAD                                                               \
	" is not a host name (letters, digits, '-', '.', a leading '*.')"

/* Add "KEY: pre" v "post; what" to t's warnings, v (consumed) as JSON
 * when it is valid: a key skipped ("skipped"), or the service with it
 * ("service skipped"). */
static void
skip(struct tmpl *t, const struct buf *key, const char *pre, jv v,
     const char *post, const char *what)
{
	struct buf m = {0};

	buf_add(&m, key->p, key->len);
	buf_puts(&m, ": ");
	buf_puts(&m, pre);
	if (jv_is_valid(v)) {
		jv d = jv_dump_string(jv_copy(v), 0);

		buf_puts(&m, jv_string_value(d));
		jv_free(d);
	}
	jv_free(v);
	buf_puts(&m, post);
	buf_puts(&m, "; ");
	buf_puts(&m, what);
	tmpl_warn(t, m.p ? m.p : "", m.len);
	buf_free(&m);
}

static void
skip_warn(struct tmpl *t, const struct buf *key, const char *pre, const char *q,
	  size_t qn, const char *post)
{
	skip(t, key, pre, q ? jv_string_sized(q, (int)qn) : jv_invalid(), post,
	     "skipped");
}

static void
skip_warn_json(struct tmpl *t, const struct buf *key, const char *pre, jv v,
	       const char *post)
{
	skip(t, key, pre, jv_copy(v), post, "skipped");
}

/* haproxy_servers: one upstream key, into the array *ctx. */
void
schema_server(struct tmpl *t, const char *nm, size_t nn, const struct buf *key,
	      jv value, void *ctx)
{
	jv *lines = ctx;
	struct word *words = NULL;
	struct buf line = {0};
	const char *s;
	size_t n, i, nw = 0;
	int kind;

	if (!rule_name(nm, nn)) {
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
	if (!(kind = rule_addr(s + words[0].off, words[0].n))) {
		skip_warn(t, key, "", s + words[0].off, words[0].n,
			  " is not host:port (IPv6 in brackets)");
		goto out;
	}
	if (nw > 1 && !rule_srvopts(s, words + 1, nw - 1)) {
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

/* haproxy_backend: one backend/<option> key, into the array *ctx. */
void
schema_backend(struct tmpl *t, const char *nm, size_t nn, const struct buf *key,
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
	ok = rule_bkopt(nm, nn, s, n);
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

/* A service being worked out: its directory as written (dir, "<prefix>/
 * <svc>"), its name, and its part of the model so far. */
struct service {
	struct tmpl *t;
	const char *dir, *name;
	size_t dn, nn;
	jv hosts, loc, servers, lines, directives;
	int tcp;
	long port;
};

/* The value of key dir + "/" + k in the data (invalid when none), and
 * the key in *key. */
static jv
value_of(struct service *sv, const char *k, struct buf *key)
{
	key->len = 0;
	buf_add(key, sv->dir, sv->dn);
	buf_puts(key, "/");
	buf_puts(key, k);
	return key->p ? tmpl_get(sv->t, key->p, key->len) : jv_invalid();
}

/* The service skipped for key: -1. */
static int
skip_service(struct service *sv, const struct buf *key, const char *pre, jv v,
	     const char *post)
{
	skip(sv->t, key, pre, jv_copy(v), post, "service skipped");
	return -1;
}

/* The name: one haproxy takes, and not one of easy-lb's own backends. */
static int
take_name(struct service *sv, const struct schema_key *k)
{
	static const char reserved[] = "easy-lb-";
	struct buf m = {0};
	const char *why = NULL;

	(void)k;
	if (!rule_name(sv->name, sv->nn))
		why = ": service name is not a valid haproxy name; skipped";
	else if (sv->nn >= strlen(reserved) &&
		 !memcmp(sv->name, reserved, strlen(reserved)))
		why = ": service name is reserved (easy-lb-...); skipped";
	if (!why)
		return 0;
	buf_add(&m, sv->dir, sv->dn);
	buf_puts(&m, why);
	tmpl_warn(sv->t, m.p ? m.p : "", m.len);
	buf_free(&m);
	return -1;
}

int
schema_walk(struct tmpl *t, const char *raw, size_t n, tmpl_child_fn *f,
	    void *ctx)
{
	jv d = tmpl_dir(jv_string_sized(raw, (int)n), "schema");
	int r = !jv_is_valid(d)
		    ? -1
		    : tmpl_children(t, raw, n, jv_string_value(d),
				    (size_t)jv_string_length_bytes(jv_copy(d)),
				    f, ctx);

	jv_free(d);
	return r;
}

/* The children of dir + "/" + k, each through f with ctx. */
static int
children(struct service *sv, const char *k, tmpl_child_fn *f, void *ctx)
{
	struct buf raw = {0};
	int r;

	buf_add(&raw, sv->dir, sv->dn);
	buf_puts(&raw, "/");
	buf_puts(&raw, k);
	r = raw.p ? schema_walk(sv->t, raw.p, raw.len, f, ctx) : -1;
	buf_free(&raw);
	return r;
}

/* The upstreams: a server each; a service without any is left out,
 * silently (its instances come and go). */
static int
take_upstreams(struct service *sv, const struct schema_key *k)
{
	struct buf key = {0};
	jv red;
	int r;

	(void)k;
	if (children(sv, "upstream", schema_server, &sv->servers) < 0)
		return -1;
	if (jv_array_length(jv_copy(sv->servers)) > 0)
		return 0;
	/* (a service that only redirects needs none) */
	red = value_of(sv, "redirect", &key);
	if (!jv_is_valid(red))
		r = -1;
	else if (jv_get_kind(red) == JV_KIND_STRING &&
		 rule_url(jv_string_value(red),
			  (size_t)jv_string_length_bytes(jv_copy(red))))
		r = 0;
	else
		r = skip_service(sv, &key, "", red, URL_BAD);
	jv_free(red);
	buf_free(&key);
	return r;
}

static int
by_bytes(const void *a, const void *b)
{
	jv x = *(const jv *)a, y = *(const jv *)b;

	return bytes_cmp(
	    jv_string_value(x), (size_t)jv_string_length_bytes(jv_copy(x)),
	    jv_string_value(y), (size_t)jv_string_length_bytes(jv_copy(y)));
}

/* s[0, n) into b, each '%' doubled (it starts a sample in haproxy's
 * log-format strings), and a NUL. */
static void
add_escaped(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf_add(b, s[i] == '%' ? "%%" : &s[i], s[i] == '%' ? 2 : 1);
	buf_add(b, "", 1);
}

/* A directive of the service's backend, beside its options. */
static void
directive(struct service *sv, jv line)
{
	sv->directives = jv_array_append(sv->directives, line);
}

/* The value of key k as a string (*p, *n bytes), or 0 when there is no
 * such key; -1, the key skipped with a warning, when it is not one. */
static int
string_of(struct service *sv, const char *k, struct buf *key, jv *v,
	  const char **p, size_t *n)
{
	*v = value_of(sv, k, key);
	if (!jv_is_valid(*v))
		return 0;
	if (jv_get_kind(*v) != JV_KIND_STRING) {
		skip(sv->t, key, "", jv_copy(*v), " is not a string",
		     "skipped");
		return -1;
	}
	*p = jv_string_value(*v);
	*n = (size_t)jv_string_length_bytes(jv_copy(*v));
	return 1;
}

/* The mode: http (the default) or tcp, a service of its own port. */
static int
take_mode(struct service *sv, const struct schema_key *k)
{
	struct buf key = {0};
	const char *p;
	size_t n;
	jv v;
	int r = 0;

	(void)k;
	if ((r = string_of(sv, "mode", &key, &v, &p, &n)) > 0) {
		r = 0;
		if (n == 3 && !memcmp(p, "tcp", 3))
			/* (left out without upstreams, as any service: a
			 * redirect does not count for it) */
			r = (sv->tcp = 1) &&
				    jv_array_length(jv_copy(sv->servers)) == 0
				? -1
				: 0;
		else if (!(n == 4 && !memcmp(p, "http", 4)))
			r = skip_service(sv, &key, "", v,
					 " is not http or tcp");
	}
	jv_free(v);
	buf_free(&key);
	return r;
}

/* The port of a TCP service, required; an HTTP one has none. */
static int
take_port(struct service *sv, const struct schema_key *k)
{
	struct buf key = {0};
	const char *p;
	size_t n;
	jv v;
	int r = string_of(sv, "port", &key, &v, &p, &n);

	(void)k;
	if (r < 0 && sv->tcp) {
		r = -1;
	} else if (r <= 0) {
		r = sv->tcp
			? skip_service(sv, &key, "a TCP service needs a port",
				       jv_invalid(), "")
			: 0;
	} else if (!sv->tcp) {
		skip(sv->t, &key, "a port is for a TCP service (mode tcp)",
		     jv_invalid(), "", "skipped");
		r = 0;
	} else if (!rule_num(p, n, 1, 65535)) {
		r = skip_service(sv, &key, "", v,
				 " is not a port (1 to 65535)");
	} else {
		sv->port = strtol(p, NULL, 10);
		r = 0;
	}
	jv_free(v);
	buf_free(&key);
	return r;
}

/* A key of an HTTP service's row on a TCP service, said skipped. */
static void
not_tcp(struct tmpl *t, const char *nm, size_t nn, const struct buf *key,
	jv value, void *ctx)
{
	(void)nm;
	(void)nn;
	(void)value;
	(void)ctx;
	skip(t, key, "for an HTTP service only (this one is mode tcp)",
	     jv_invalid(), "", "skipped");
}

/* Row k on a TCP service: its key, or each key of its directory, said
 * skipped. */
static int
not_for_tcp(struct service *sv, const struct schema_key *k)
{
	struct buf key = {0};
	const char *slash = strchr(k->key, '/');
	char dir[64];
	jv v;

	if (slash) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - k->key),
			 k->key);
		return children(sv, dir, not_tcp, NULL) < 0 ? -1 : 0;
	}
	v = value_of(sv, k->key, &key);
	if (jv_is_valid(v))
		not_tcp(sv->t, NULL, 0, &key, v, NULL);
	jv_free(v);
	buf_free(&key);
	return 0;
}

/* The hosts: null (any host) without the key; else its names, comma-
 * separated, a blank trimmed at either end of each, lowercase, each a
 * host name; a wildcard "*.domain" kept as ".domain" (the suffix it
 * means), sorted, once each. */
static int
take_host(struct service *sv, const struct schema_key *k)
{
	struct buf key = {0}, low = {0};
	jv v = value_of(sv, "host", &key), *h = NULL;
	size_t i, b, e, n, nh = 0;
	int r = 0;

	(void)k;
	if (!jv_is_valid(v)) {
		sv->hosts = jv_null();
		goto out;
	}
	if (jv_get_kind(v) != JV_KIND_STRING) {
		r = skip_service(sv, &key, "", v, HOST_BAD);
		goto out;
	}
	buf_add(&low, jv_string_value(v),
		(size_t)jv_string_length_bytes(jv_copy(v)));
	for (i = 0; i < low.len; i++)
		if (low.p[i] >= 'A' && low.p[i] <= 'Z')
			low.p[i] += 'a' - 'A';
	for (b = 0; r == 0 && b <= low.len; b = e + 1) {
		jv *nw;

		for (e = b; e < low.len && low.p[e] != ','; e++)
			;
		i = b + (e > b && low.p[b] == ' ');
		n = e - (e > i && low.p[e - 1] == ' ');
		if (n == i)
			continue;
		if (!rule_host(low.p + i, n - i)) {
			jv bad = jv_string_sized(low.p + i, (int)(n - i));

			r = skip_service(sv, &key, "", bad, HOST_BAD);
			jv_free(bad);
		} else if (!(nw = array_grow(h, nh, sizeof(*h)))) {
			r = -1;
		} else {
			h = nw;
			if (low.p[i] == '*')
				i++;
			h[nh++] = jv_string_sized(low.p + i, (int)(n - i));
		}
	}
	if (r == 0 && nh == 0)
		r = skip_service(sv, &key, "no host name", jv_invalid(), "");
	if (r == 0) {
		qsort(h, nh, sizeof(*h), by_bytes);
		sv->hosts = jv_array();
		for (i = 0; i < nh; i++)
			if (i == 0 || by_bytes(&h[i - 1], &h[i]))
				sv->hosts =
				    jv_array_append(sv->hosts, jv_copy(h[i]));
	}
	for (i = 0; i < nh; i++)
		jv_free(h[i]);
	free(h);
out:
	jv_free(v);
	buf_free(&key);
	buf_free(&low);
	return r;
}

/* The location: by default "/<svc>", or "/" for a service with hosts. */
static int
take_location(struct service *sv, const struct schema_key *k)
{
	struct buf key = {0};
	jv v = value_of(sv, "location", &key);
	int r = 0;

	(void)k;
	if (!jv_is_valid(v))
		v = jv_get_kind(sv->hosts) == JV_KIND_NULL
			? jv_string_fmt("/%.*s", (int)sv->nn, sv->name)
			: jv_string("/");
	if (jv_get_kind(v) == JV_KIND_STRING &&
	    rule_path(jv_string_value(v),
		      (size_t)jv_string_length_bytes(jv_copy(v))))
		sv->loc = jv_copy(v);
	else
		r = skip_service(sv, &key, "location ", v,
				 " is not a URL path");
	jv_free(v);
	buf_free(&key);
	return r;
}

/* An HTTP health check: GET the path, 2xx or 3xx is healthy. */
static int
take_check(struct service *sv, const struct schema_key *k)
{
	struct buf key = {0};
	const char *p;
	size_t n;
	jv v;

	(void)k;
	if (string_of(sv, "check", &key, &v, &p, &n) > 0) {
		if (!rule_path(p, n)) {
			skip(sv->t, &key, "check ", jv_copy(v),
			     " is not a URL path", "skipped");
		} else {
			directive(sv,
				  jv_string_fmt("option httpchk GET %s", p));
			directive(sv,
				  jv_string("http-check expect rstatus ^[23]"));
		}
	}
	jv_free(v);
	buf_free(&key);
	return 0;
}

/* A redirect: 301 for GET and HEAD, 308 (the method kept) for the
 * others; a URL that ends with '/' is a prefix that the request's path
 * and query follow. */
static int
take_redirect(struct service *sv, const struct schema_key *k)
{
	struct buf key = {0}, url = {0};
	const char *p;
	size_t n;
	jv v;

	(void)k;
	if (string_of(sv, "redirect", &key, &v, &p, &n) > 0) {
		if (!rule_url(p, n)) {
			skip(sv->t, &key, "", jv_copy(v), URL_BAD, "skipped");
		} else {
			add_escaped(&url, p, n - (p[n - 1] == '/'));
			directive(
			    sv,
			    jv_string_fmt(
				"http-request redirect %s %s code 301 if METH_GET or METH_HEAD",
				p[n - 1] == '/' ? "prefix" : "location",
				url.p));
			directive(sv,
				  jv_string_fmt(
				      "http-request redirect %s %s code 308",
				      p[n - 1] == '/' ? "prefix" : "location",
				      url.p));
		}
	}
	jv_free(v);
	buf_free(&key);
	buf_free(&url);
	return 0;
}

/* The location prefix stripped before the request goes to a server:
 * "/api/users" becomes "/users", "/api" becomes "/" ("/apix", routed by
 * the same prefix, is left as it is). */
static int
take_strip(struct service *sv, const struct schema_key *k)
{
	struct buf key = {0};
	const char *p, *loc = jv_string_value(sv->loc);
	size_t n, ln = (size_t)jv_string_length_bytes(jv_copy(sv->loc));
	jv v;
	int r;

	(void)k;
	if ((r = string_of(sv, "strip", &key, &v, &p, &n)) > 0) {
		if (!((n == 4 && !memcmp(p, "true", 4)) ||
		      (n == 5 && !memcmp(p, "false", 5))))
			skip(sv->t, &key, "", jv_copy(v),
			     " is not true or false", "skipped");
		else if (n == 4 && ln > 1) {
			if (loc[ln - 1] == '/')
				ln--;
			directive(
			    sv,
			    jv_string_fmt(
				"http-request set-path %%[path,bytes(%zu)] if { path_beg %.*s/ }",
				ln, (int)ln, loc));
			directive(
			    sv, jv_string_fmt(
				    "http-request set-path / if { path %.*s }",
				    (int)ln, loc));
		}
	}
	jv_free(v);
	buf_free(&key);
	return 0;
}

/* header/<name>: one request header each, set before the request goes
 * to a server. */
static void
header(struct tmpl *t, const char *nm, size_t nn, const struct buf *key,
       jv value, void *ctx)
{
	struct service *sv = ctx;
	struct buf val = {0};
	const char *s, *why;
	size_t n;

	if (!jv_is_valid(value)) {
		skip(t, key, "a directory, not a key", jv_invalid(), "",
		     "skipped");
		return;
	}
	if ((why = rule_header(nm, nn))) {
		skip(t, key, "header ", jv_string_sized(nm, (int)nn), why,
		     "skipped");
		return;
	}
	if (jv_get_kind(value) != JV_KIND_STRING ||
	    !rule_header_value(
		jv_string_value(value),
		(size_t)jv_string_length_bytes(jv_copy(value)))) {
		skip(
		    t, key, "", jv_copy(value),
		    " is not a header value easy-lb takes (printable ASCII without \', at most 1024)",
		    "skipped");
		return;
	}
	s = jv_string_value(value);
	n = (size_t)jv_string_length_bytes(jv_copy(value));
	/* (single quotes: no escape, no variable) */
	add_escaped(&val, s, n);
	directive(sv, jv_string_fmt("http-request set-header %.*s '%s'",
				    (int)nn, nm, val.p));
	buf_free(&val);
}

static int
take_headers(struct service *sv, const struct schema_key *k)
{
	(void)k;
	return children(sv, "header", header, sv) < 0 ? -1 : 0;
}

/* Sticky sessions: haproxy inserts a cookie NAME that names the server
 * a client's first request went to, and sends the client's next ones
 * there while it lives.  Each server's value is derived from its
 * instance name (FNV-1a, 64 bits, in hex): stable across reloads and
 * address changes, and not the name itself. */
static int
take_sticky(struct service *sv, const struct schema_key *k)
{
	struct buf key = {0};
	const char *p, *line, *sp;
	size_t n, i, j;
	uint64_t h;
	jv v, servers;
	int nsrv;

	(void)k;
	if (string_of(sv, "sticky", &key, &v, &p, &n) > 0) {
		if (!rule_cookie_name(p, n)) {
			skip(
			    sv->t, &key, "cookie name ", jv_copy(v),
			    " is not letters, digits, '-' and '_' (at most 64)",
			    "skipped");
		} else {
			directive(
			    sv,
			    jv_string_fmt(
				"cookie %s insert indirect nocache httponly",
				p));
			nsrv = jv_array_length(jv_copy(sv->servers));
			servers = jv_array();
			for (i = 0; i < (size_t)nsrv; i++) {
				jv l =
				    jv_array_get(jv_copy(sv->servers), (int)i);

				line = jv_string_value(l);
				sp = strchr(line, ' ');
				h = 14695981039346656037ULL;
				for (j = 0;
				     line + j < (sp ? sp : line + strlen(line));
				     j++)
					h = (h ^ (unsigned char)line[j]) *
					    1099511628211ULL;
				servers = jv_array_append(
				    servers,
				    jv_string_fmt("%s cookie %016llx", line,
						  (unsigned long long)h));
				jv_free(l);
			}
			jv_free(sv->servers);
			sv->servers = servers;
		}
	}
	jv_free(v);
	buf_free(&key);
	return 0;
}

/* The backend options: a line each. */
static int
take_backend(struct service *sv, const struct schema_key *k)
{
	(void)k;
	return children(sv, "backend", schema_backend, &sv->lines) < 0 ? -1 : 0;
}

/* The keys of a service, in the order they are worked out (the location
 * defaults by the hosts, the servers decide whether there is a service
 * at all).  The first row is the service's own name. */
/* clang-format off */
static const struct schema_key keys[] = {
	{"", "its backend, named so", 1, 0, take_name,
	 "the service: a name haproxy takes (letters, digits, `-`, `_`, `.`, `:`, at most 100), not beginning `easy-lb-` (easy-lb's own backends)"},
	{"upstream/<instance>", "a `server` line in its backend, with `check`", 1, 0, take_upstreams,
	 "`host:port` (IPv6 in brackets), optionally followed by server options such as `weight 256`; a service without upstreams is left out"},
	{"mode", "`http`: a route on the HTTP port (and HTTPS); `tcp`: a frontend of its own on its port, in mode tcp, and its backend in mode tcp", 0, 0, take_mode,
	 "`http` (the default) or `tcp`: a TCP service, whose bytes go to its upstreams as they come, on its own port; the keys of HTTP services (`host`, `location`, `redirect`, `strip`, `header/<name>`, `sticky`) are skipped for it"},
	{"port", "the port its frontend binds, on `LB_BIND`", 0, 0, take_port,
	 "the port of a TCP service (1 to 65535), required; one another service has (the first by name keeps it), or `LB_PORT` or `LB_TLS_PORT`, skips the service, naming both keys"},
	{"host", "the keys of its routes in `routes.map`", 1, 1, take_host,
	 "host names, comma-separated, exact (`api.example.com`) or a leading wildcard (`*.example.com`): the service gets the requests for those hosts (the Host header, port ignored, any case) on its location, which is then `/` by default"},
	{"location", "the path of its routes in `routes.map`", 1, 1, take_location,
	 "the path prefix routed to the service (default `/<svc>`; `/` makes it the default service; longer prefixes win)"},
	{"check", "`option httpchk GET <path>` and `http-check expect rstatus ^[23]` in its backend", 0, 0, take_check,
	 "a URL path: each server's health check is `GET <path>`, healthy on a 2xx or 3xx answer (with the servers' `inter`, `rise` and `fall`); without it, a TCP connect"},
	{"redirect", "`http-request redirect` rules in its backend", 0, 1, take_redirect,
	 "an `http` or `https` URL: the service answers 301 (GET, HEAD) or 308 (other methods, kept) to it, followed by the request's path and query when the URL ends with `/`; a service that redirects needs no upstream"},
	{"strip", "`http-request set-path` rules in its backend", 0, 1, take_strip,
	 "`true`: the location is stripped from the path before the request goes to a server (`/api/users` becomes `/users`, `/api` becomes `/`); `false` or none: the path is kept"},
	{"header/<name>", "`http-request set-header <name> '<value>'` in its backend", 0, 1, take_headers,
	 "a request header set before the request goes to a server; a name that is not a token, or a hop-by-hop one (`Connection`, `Keep-Alive`, `TE`, `Transfer-Encoding`, `Upgrade`, ...), `Host` or `Content-Length`, is skipped"},
	{"sticky", "`cookie <name> insert indirect nocache httponly` in its backend, `cookie <value>` on each server", 0, 1, take_sticky,
	 "a cookie name: a client sticks to the server its first request went to while that server lives; each server's value is derived from its instance name (a new server comes by a reload: haproxy adds no server with a cookie at run time)"},
	{"backend/<option>", "a line `<option> <value>` in its backend", 0, 0, take_backend,
	 "`<option> <value>` in its backend, for `balance`, `option`, `timeout`, `cookie`, `hash-type`, `retries` and `fullconn`, e.g. `backend/balance` = `source`; default `balance roundrobin`"},
};
/* clang-format on */

const struct schema_key *
schema_keys(size_t *n)
{
	*n = sizeof(keys) / sizeof(keys[0]);
	return keys;
}

jv
schema_service(struct tmpl *t, jv dir)
{
	struct service sv = {0};
	const char *slash;
	jv r;
	size_t i;

	if (jv_get_kind(dir) != JV_KIND_STRING)
		return jv_invalid_with_msg(
		    jv_string("easylb_service: the directory is not a string"));
	sv.t = t;
	sv.dir = jv_string_value(dir);
	sv.dn = (size_t)jv_string_length_bytes(jv_copy(dir));
	while (sv.dn > 1 && sv.dir[sv.dn - 1] == '/')
		sv.dn--;
	slash = memrchr(sv.dir, '/', sv.dn);
	sv.name = slash ? slash + 1 : sv.dir;
	sv.nn = (size_t)(sv.dir + sv.dn - sv.name);
	sv.hosts = jv_null();
	sv.loc = jv_null();
	sv.servers = jv_array();
	sv.lines = jv_array();
	sv.directives = jv_array();
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((sv.tcp && keys[i].http ? not_for_tcp(&sv, &keys[i])
					    : keys[i].take(&sv, &keys[i])) < 0)
			break;
	if (i < sizeof(keys) / sizeof(keys[0])) {
		r = jv_array();
	} else {
		r = jv_object();
		r = jv_object_set(r, jv_string("hosts"), jv_copy(sv.hosts));
		r = jv_object_set(r, jv_string("loc"), jv_copy(sv.loc));
		r = jv_object_set(r, jv_string("servers"), jv_copy(sv.servers));
		r = jv_object_set(r, jv_string("lines"), jv_copy(sv.lines));
		r = jv_object_set(r, jv_string("directives"),
				  jv_copy(sv.directives));
		r = jv_object_set(r, jv_string("mode"),
				  jv_string(sv.tcp ? "tcp" : "http"));
		r = jv_object_set(r, jv_string("port"),
				  sv.tcp ? jv_number((double)sv.port)
					 : jv_null());
		r = JV_ARRAY(r);
	}
	jv_free(sv.hosts);
	jv_free(sv.loc);
	jv_free(sv.servers);
	jv_free(sv.lines);
	jv_free(sv.directives);
	return r;
}

jv
schema_tcp(struct tmpl *t, jv prefix, jv svc, jv taken)
{
	struct tmpl_kv *e;
	struct buf key = {0}, other = {0};
	jv r = jv_object(), seen = jv_object(), m, port, by;
	size_t i, n;

	if (jv_get_kind(prefix) != JV_KIND_STRING ||
	    jv_get_kind(svc) != JV_KIND_OBJECT ||
	    jv_get_kind(taken) != JV_KIND_OBJECT) {
		jv_free(r);
		jv_free(seen);
		return jv_invalid_with_msg(jv_string(
		    "easylb_tcp: not a prefix, an object of services and an object of ports taken"));
	}
	if (!(e = tmpl_kv_of(svc, &n))) {
		jv_free(r);
		jv_free(seen);
		return jv_invalid_with_msg(jv_string("out of memory"));
	}
	if (tmpl_kv_ordered(e, n) < n)
		qsort(e, n, sizeof(*e), tmpl_kv_cmp);
	for (i = 0; i < n; i++) {
		if (jv_get_kind(e[i].v) != JV_KIND_OBJECT)
			continue;
		m = jv_object_get(jv_copy(e[i].v), jv_string("mode"));
		port = jv_object_get(jv_copy(e[i].v), jv_string("port"));
		if (jv_get_kind(m) == JV_KIND_STRING &&
		    !strcmp(jv_string_value(m), "tcp") &&
		    jv_get_kind(port) == JV_KIND_NUMBER) {
			jv ps = jv_string_fmt("%.0f", jv_number_value(port));

			key.len = other.len = 0;
			buf_printf(&key, "%s/%.*s/port",
				   jv_string_value(prefix), (int)e[i].n,
				   e[i].p);
			if (jv_is_valid(by = jv_object_get(jv_copy(taken),
							   jv_copy(ps))) ||
			    jv_is_valid(by = jv_object_get(jv_copy(seen),
							   jv_copy(ps)))) {
				buf_printf(&other, " is %s's",
					   jv_string_value(by));
				skip(t, &key, "port ", jv_copy(port), other.p,
				     "service skipped");
				jv_free(by);
			} else {
				seen = jv_object_set(
				    seen, jv_copy(ps),
				    jv_string_sized(key.p, (int)key.len));
				r = jv_object_set(r, jv_copy(e[i].k),
						  jv_copy(port));
			}
			jv_free(ps);
		}
		jv_free(m);
		jv_free(port);
	}
	tmpl_kv_free(e, n);
	jv_free(seen);
	buf_free(&key);
	buf_free(&other);
	return r;
}
