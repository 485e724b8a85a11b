#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "b64.h"
#include "etcd.h"
#include "util.h"

struct etcd {
	const struct etcd_conf *c;
	CURL *h;	/* unary requests; keeps its connection alive */
	CURL *h2;	/* the look-ahead page of a range (etcd_range_each) */
	size_t cur;	/* endpoint that answered last */
	char *token;	/* auth token, when a user is configured */
	char err[2048]; /* what went wrong in the last call */
};

int
etcd_exitcode(int status)
{
	switch (status) {
	case ETCD_OK:
	case ETCD_ESTOP:
		return EXIT_OK;
	case ETCD_EBAD:
		return EXIT_BAD;
	default:
		return EXIT_TEMP;
	}
}

/* Options and environment. */

int
etcd_opt(struct etcd_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case 'e':
	case ETCD_OPT_ENDPOINTS:
		o->endpoints = arg;
		break;
	case ETCD_OPT_USER:
		o->user = arg;
		break;
	case ETCD_OPT_PASSWORD:
		o->password = arg;
		break;
	case ETCD_OPT_CACERT:
		o->cacert = arg;
		break;
	case ETCD_OPT_CERT:
		o->cert = arg;
		break;
	case ETCD_OPT_KEY:
		o->key = arg;
		break;
	case ETCD_OPT_INSECURE:
		o->insecure = 1;
		break;
	case ETCD_OPT_DIAL_TIMEOUT:
		o->dial_timeout = arg;
		break;
	case ETCD_OPT_COMMAND_TIMEOUT:
		o->command_timeout = arg;
		break;
	default:
		return -1;
	}
	return 0;
}

int
etcd_duration_ms(const char *s, long *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || v < 0)
		return -1;
	if (!strcmp(end, "ms"))
		;
	else if (!strcmp(end, "s") || !*end)
		v *= 1000;
	else if (!strcmp(end, "m"))
		v *= 60000;
	else
		return -1;
	if (v > 86400000.0 * 365)
		return -1;
	*ms = (long)v;
	return 0;
}

static const char *
envor(const char *opt, const char *var)
{
	const char *v;

	if (opt)
		return opt;
	v = getenv(var);
	return v && *v ? v : NULL;
}

static int
add_endpoint(struct etcd_conf *c, const char *s, size_t n, int tls, char *err,
	     size_t errlen)
{
	const char *scheme = "";
	char *u;

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '/'))
		n--;
	if (!n)
		return 0;
	if (c->nendpoints == ETCD_MAX_ENDPOINTS)
		return seterr(err, errlen, "more than %d endpoints",
			      ETCD_MAX_ENDPOINTS);
	/* A bare host:port, as etcdctl accepts it. */
	if (!memmem(s, n, "://", 3))
		scheme = tls ? "https://" : "http://";
	else if (strncmp(s, "http://", 7) && strncmp(s, "https://", 8))
		return seterr(err, errlen,
			      "endpoint %.*s: only http:// and https:// are "
			      "supported",
			      (int)n, s);
	if (!(u = malloc(strlen(scheme) + n + 1)))
		return seterr(err, errlen, "out of memory");
	sprintf(u, "%s%.*s", scheme, (int)n, s);
	c->endpoints[c->nendpoints++] = u;
	return 0;
}

static char *
dupor(const char *s)
{
	return s ? strdup(s) : NULL;
}

int
etcd_conf_make(struct etcd_conf *c, const struct etcd_opts *o, char *err,
	       size_t errlen)
{
	const char *eps, *p, *q, *v;
	int tls;

	memset(c, 0, sizeof *c);
	c->cacert = dupor(envor(o->cacert, "ETCDCTL_CACERT"));
	c->cert = dupor(envor(o->cert, "ETCDCTL_CERT"));
	c->key = dupor(envor(o->key, "ETCDCTL_KEY"));
	v = getenv("ETCDCTL_INSECURE_SKIP_TLS_VERIFY");
	c->insecure = o->insecure || (v && !strcmp(v, "true"));
	tls = c->cacert || c->cert || c->insecure;

	eps = envor(o->endpoints, "ETCDCTL_ENDPOINTS");
	if (!eps)
		eps = envor(NULL, "ETCD_PEERS");
	if (!eps)
		eps = "http://127.0.0.1:2379";
	for (p = eps;; p = q + 1) {
		q = strchr(p, ',');
		if (!q)
			q = p + strlen(p);
		if (add_endpoint(c, p, q - p, tls, err, errlen) < 0)
			goto fail;
		if (!*q)
			break;
	}
	if (!c->nendpoints) {
		seterr(err, errlen, "no endpoint in '%s'", eps);
		goto fail;
	}

	if ((v = envor(o->user, "ETCDCTL_USER"))) {
		const char *colon = strchr(v, ':');

		if (colon) {
			c->user = strndup(v, colon - v);
			c->password = strdup(colon + 1);
		} else {
			c->user = strdup(v);
			v = envor(o->password, "ETCDCTL_PASSWORD");
			c->password = strdup(v ? v : "");
		}
		if (!*c->user) {
			seterr(err, errlen, "empty user name");
			goto fail;
		}
	}

	c->dial_timeout_ms = 2000;
	c->command_timeout_ms = 5000;
	if ((v = envor(o->dial_timeout, "ETCDCTL_DIAL_TIMEOUT")) &&
	    etcd_duration_ms(v, &c->dial_timeout_ms) < 0) {
		seterr(err, errlen, "bad dial timeout '%s'", v);
		goto fail;
	}
	if ((v = envor(o->command_timeout, "ETCDCTL_COMMAND_TIMEOUT")) &&
	    etcd_duration_ms(v, &c->command_timeout_ms) < 0) {
		seterr(err, errlen, "bad command timeout '%s'", v);
		goto fail;
	}
	return 0;
fail:
	etcd_conf_free(c);
	return -1;
}

void
etcd_conf_free(struct etcd_conf *c)
{
	size_t i;

	for (i = 0; i < c->nendpoints; i++)
		free(c->endpoints[i]);
	free(c->user);
	if (c->password)
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c->cacert);
	free(c->cert);
	free(c->key);
	memset(c, 0, sizeof *c);
}

/* JSON helpers. */

jv
etcd_field(jv obj, const char *field)
{
	jv v;

	if (jv_get_kind(obj) != JV_KIND_OBJECT)
		return jv_null();
	v = jv_object_get(jv_copy(obj), jv_string(field));
	if (!jv_is_valid(v)) {
		jv_free(v);
		return jv_null();
	}
	return v;
}

long long
etcd_int(jv obj, const char *field)
{
	jv v = etcd_field(obj, field);
	long long n = 0;

	if (jv_get_kind(v) == JV_KIND_STRING)
		n = strtoll(jv_string_value(v), NULL, 10);
	else if (jv_get_kind(v) == JV_KIND_NUMBER)
		n = (long long)jv_number_value(v);
	jv_free(v);
	return n;
}

jv
etcd_b64(const char *p, size_t n)
{
	char *s = malloc(b64_enclen(n) + 1);
	jv v;

	if (!s)
		return jv_invalid_with_msg(jv_string("out of memory"));
	b64_encode((const unsigned char *)p, n, s);
	v = jv_string(s);
	free(s);
	return v;
}

jv
etcd_prefix_end(const char *prefix, size_t n)
{
	unsigned char *end;
	jv v;

	while (n && (unsigned char)prefix[n - 1] == 0xff)
		n--;
	if (!n)
		return jv_string("AA==");
	if (!(end = malloc(n)))
		return jv_invalid_with_msg(jv_string("out of memory"));
	memcpy(end, prefix, n);
	end[n - 1]++;
	v = etcd_b64((char *)end, n);
	free(end);
	return v;
}

static int
b64_field(jv obj, const char *field, char **out, size_t *outlen)
{
	jv v = etcd_field(obj, field);
	const char *s = "";
	size_t n = 0;
	int r = 0;

	if (jv_get_kind(v) == JV_KIND_STRING) {
		s = jv_string_value(v);
		n = jv_string_length_bytes(jv_copy(v));
	} else if (jv_get_kind(v) != JV_KIND_NULL) {
		jv_free(v);
		return -1;
	}
	*out = malloc(n / 4 * 3 + 4);
	if (!*out || b64_decode(s, n, (unsigned char *)*out, outlen) < 0)
		r = -1;
	else
		(*out)[*outlen] = '\0';
	jv_free(v);
	return r;
}

int
etcd_kv_decode(jv kv, struct etcd_kv *out)
{
	memset(out, 0, sizeof *out);
	if (jv_get_kind(kv) != JV_KIND_OBJECT ||
	    b64_field(kv, "key", &out->key, &out->klen) < 0 ||
	    b64_field(kv, "value", &out->value, &out->vlen) < 0) {
		etcd_kv_free(out);
		return -1;
	}
	out->create_rev = etcd_int(kv, "create_revision");
	out->mod_rev = etcd_int(kv, "mod_revision");
	out->version = etcd_int(kv, "version");
	out->lease = etcd_int(kv, "lease");
	return 0;
}

void
etcd_kv_free(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	kv->key = kv->value = NULL;
}

/* HTTP. */

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	return buf_add(arg, p, size * n) < 0 ? 0 : size * n;
}

/* Options every request shares. */
static struct curl_slist *
setup(struct etcd *e, CURL *h, const char *url, const char *body,
      int with_token)
{
	const struct etcd_conf *c = e->c;
	struct curl_slist *hd = NULL, *t;
	char *auth;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->dial_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
	if (c->cert)
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
	if (c->key)
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	hd = curl_slist_append(hd, "Content-Type: application/json");
	/* Without it a watch on a member that lost its leader hangs. */
	if ((t = curl_slist_append(hd, "Grpc-Metadata-hasleader: true")))
		hd = t;
	if ((t = curl_slist_append(hd, "Expect:")))
		hd = t;
	if (with_token && e->token && (auth = malloc(strlen(e->token) + 32))) {
		sprintf(auth, "Authorization: %s", e->token);
		if ((t = curl_slist_append(hd, auth)))
			hd = t;
		free(auth);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	return hd;
}

/* Describe a failed transfer. */
static void
curl_why(struct etcd *e, CURL *h, CURLcode rc, const char *cerr,
	 const char *url, char *out, size_t outlen)
{
	long oserr = 0;

	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		snprintf(out, outlen, "%s: cannot connect: %s", url,
			 oserr ? strerror(oserr) : cerr);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(out, outlen, "%s: timed out: %s", url, cerr);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_USE_SSL_FAILED:
		snprintf(out, outlen, "%s: TLS failure: %s", url,
			 *cerr ? cerr : curl_easy_strerror(rc));
		break;
	default:
		snprintf(out, outlen, "%s: %s%s%s", url, curl_easy_strerror(rc),
			 *cerr ? ": " : "", cerr);
	}
	(void)e;
}

/* The gRPC code (0 when there is none) and message (a string, or null;
 * the caller's) of an error body or watch message v (borrowed), in
 * either dialect of etcd's gateway.  grpc-gateway v1 (etcd 3.4, 3.5)
 * answers a unary call with {"error":M,"message":M,"code":N} and ends a
 * stream with {"error":{"grpc_code":N,"http_code":H,"message":M,
 * "http_status":S}}; v2 (etcd 3.6 on) with {"code":N,"message":M} and
 * {"error":{"code":N,"message":M}}.  A stream that fails before its
 * first message sends its error object with the HTTP status of the
 * code, as a unary call does. */
static int
grpc_status(jv v, jv *msg)
{
	jv st = etcd_field(v, "error");
	int code;

	if (jv_get_kind(st) != JV_KIND_OBJECT) {
		jv_free(st);
		st = jv_copy(v);
	}
	code = (int)etcd_int(st, "code");
	if (!code)
		code = (int)etcd_int(st, "grpc_code");
	*msg = etcd_field(st, "message");
	if (jv_get_kind(*msg) != JV_KIND_STRING) {
		jv_free(*msg);
		*msg = etcd_field(st, "error");
	}
	if (jv_get_kind(*msg) != JV_KIND_STRING) {
		jv_free(*msg);
		*msg = jv_null();
	}
	jv_free(st);
	return code;
}

/* Describe a reply with HTTP status other than 200; *code is the gRPC
 * code it carries, or 0. */
static void
http_why(const char *url, long status, const struct buf *body, int *code,
	 char *out, size_t outlen)
{
	jv v = jv_parse_sized(body->p ? body->p : "", body->len);
	jv m;

	*code = grpc_status(v, &m);
	if (jv_get_kind(m) == JV_KIND_STRING)
		snprintf(out, outlen, "%s: HTTP %ld: %s", url, status,
			 jv_string_value(m));
	else if (status == 404)
		snprintf(out, outlen,
			 "%s: HTTP 404: not an etcd v3 endpoint (etcd 3.4 or "
			 "later expected)",
			 url);
	else
		snprintf(out, outlen, "%s: HTTP %ld: %.200s", url, status,
			 body->p ? body->p : "");
	jv_free(m);
	jv_free(v);
}

enum { TRY_OK, TRY_NEXT, TRY_AUTH, TRY_FAIL };

/* One POST to one endpoint on handle h.  On TRY_OK *resp holds the
 * parsed reply; otherwise why says what happened and *status the ETCD_*
 * class. */
static int
post_on(struct etcd *e, CURL *h, size_t ep, const char *path, const char *body,
	int with_token, jv *resp, struct buf *raw, char *why, size_t whylen,
	int *status)
{
	char url[1024], cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hd;
	struct buf out = {0};
	long http = 0;
	CURLcode rc;
	int code;

	snprintf(url, sizeof url, "%s%s", e->c->endpoints[ep], path);
	hd = setup(e, h, url, body, with_token);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, e->c->command_timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
	curl_slist_free_all(hd);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);

	snprintf(url, sizeof url, "%s", e->c->endpoints[ep]);
	if (rc != CURLE_OK) {
		curl_why(e, h, rc, cerr, url, why, whylen);
		buf_free(&out);
		*status = ETCD_ETEMP;
		return TRY_NEXT;
	}
	if (http != 200) {
		http_why(url, http, &out, &code, why, whylen);
		buf_free(&out);
		if (http == 401 || code == 16) {
			*status = ETCD_EBAD;
			return TRY_AUTH;
		}
		/* Out of range: compacted, or a future revision (bad
		 * input). */
		if (code == 11) {
			*status = strstr(why, "compacted") ? ETCD_ECOMPACTED
							   : ETCD_EBAD;
			return TRY_FAIL;
		}
		/* Unavailable, no leader, overloaded, gateway trouble. */
		if (http >= 500 || http == 429 || code == 14) {
			*status = ETCD_ETEMP;
			return TRY_NEXT;
		}
		*status = ETCD_EBAD;
		return TRY_FAIL;
	}
	if (raw) {
		/* The caller parses it (etcd_range_each, to look ahead). */
		buf_free(raw);
		*raw = out;
		*status = ETCD_OK;
		return TRY_OK;
	}
	*resp = jv_parse_sized(out.p ? out.p : "", out.len);
	buf_free(&out);
	if (!jv_is_valid(*resp)) {
		jv m = jv_invalid_get_msg(*resp);

		snprintf(why, whylen, "%s: malformed JSON reply: %s", url,
			 jv_get_kind(m) == JV_KIND_STRING ? jv_string_value(m)
							  : "?");
		jv_free(m);
		*resp = jv_invalid();
		*status = ETCD_ETEMP;
		return TRY_NEXT;
	}
	*status = ETCD_OK;
	return TRY_OK;
}

/* post_on the handle for unary requests. */
static int
post(struct etcd *e, size_t ep, const char *path, const char *body,
     int with_token, jv *resp, struct buf *raw, char *why, size_t whylen,
     int *status)
{
	return post_on(e, e->h, ep, path, body, with_token, resp, raw, why,
		       whylen, status);
}

/* Get a token from endpoint ep. */
static int
authenticate(struct etcd *e, size_t ep, char *why, size_t whylen)
{
	jv req = jv_object(), resp, tok;
	int st, r;
	char *body;

	req = jv_object_set(req, jv_string("name"), jv_string(e->c->user));
	req = jv_object_set(req, jv_string("password"),
			    jv_string(e->c->password));
	tok = jv_dump_string(req, 0);
	body = strdup(jv_string_value(tok));
	jv_free(tok);
	if (!body) {
		snprintf(why, whylen, "out of memory");
		return ETCD_ETEMP;
	}
	r = post(e, ep, "/v3/auth/authenticate", body, 0, &resp, NULL, why,
		 whylen, &st);
	explicit_bzero(body, strlen(body));
	free(body);
	if (r != TRY_OK) {
		if (r == TRY_AUTH)
			st = ETCD_EBAD;
		return st;
	}
	tok = etcd_field(resp, "token");
	jv_free(resp);
	if (jv_get_kind(tok) != JV_KIND_STRING) {
		jv_free(tok);
		snprintf(why, whylen, "%s: authentication returned no token",
			 e->c->endpoints[ep]);
		return ETCD_EBAD;
	}
	free(e->token);
	e->token = strdup(jv_string_value(tok));
	jv_free(tok);
	return e->token ? ETCD_OK : ETCD_ETEMP;
}

struct etcd *
etcd_new(const struct etcd_conf *c, char *err, size_t errlen)
{
	static int inited;
	struct etcd *e;

	if (!inited) {
		/* OpenSSL's set-up is a good part of a short run's time:
		 * skip it when no endpoint speaks TLS. */
		long flags = CURL_GLOBAL_NOTHING;
		size_t i;

		for (i = 0; i < c->nendpoints; i++)
			if (!strncmp(c->endpoints[i], "https:", 6))
				flags = CURL_GLOBAL_DEFAULT;
		if (curl_global_init(flags)) {
			seterr(err, errlen, "cannot initialise libcurl");
			return NULL;
		}
		inited = 1;
	}
	if (!(e = calloc(1, sizeof *e)) || !(e->h = curl_easy_init())) {
		free(e);
		seterr(err, errlen, "cannot initialise libcurl");
		return NULL;
	}
	e->c = c;
	return e;
}

void
etcd_free(struct etcd *e)
{
	if (!e)
		return;
	curl_easy_cleanup(e->h);
	if (e->h2)
		curl_easy_cleanup(e->h2);
	if (e->token)
		explicit_bzero(e->token, strlen(e->token));
	free(e->token);
	free(e);
}

const char *
etcd_errmsg(const struct etcd *e)
{
	return e->err;
}

const char *
etcd_endpoint(const struct etcd *e)
{
	return e->c->endpoints[e->cur];
}

/* Append one endpoint's failure to e->err. */
static void
add_why(struct etcd *e, const char *why)
{
	size_t n = strlen(e->err);

	if (n)
		snprintf(e->err + n, sizeof e->err - n, "; %s", why);
	else
		snprintf(e->err, sizeof e->err, "%s", why);
}

/* POST body to path with failover and re-authentication; the reply is
 * parsed into *resp, or with raw given, handed back unparsed in *raw. */
static int
call(struct etcd *e, const char *path, const char *body, jv *resp,
     struct buf *raw)
{
	char why[1024];
	size_t i, ep;
	int r, st = ETCD_ETEMP, reauthed = 0;

	e->err[0] = '\0';
	if (resp)
		*resp = jv_invalid();
	for (i = 0; i < e->c->nendpoints; i++) {
		ep = (e->cur + i) % e->c->nendpoints;
		if (e->c->user && !e->token) {
			st = authenticate(e, ep, why, sizeof why);
			if (st == ETCD_EBAD) {
				add_why(e, why);
				break;
			}
			if (st != ETCD_OK) {
				add_why(e, why);
				continue;
			}
		}
	again:
		r = post(e, ep, path, body, 1, resp, raw, why, sizeof why, &st);
		if (r == TRY_OK) {
			e->cur = ep;
			e->err[0] = '\0';
			break;
		}
		/* An expired token: authenticate again, once. */
		if (r == TRY_AUTH && e->c->user && !reauthed) {
			reauthed = 1;
			st = authenticate(e, ep, why, sizeof why);
			if (st == ETCD_OK)
				goto again;
		}
		add_why(e, why);
		if (r != TRY_NEXT)
			break;
	}
	return st;
}

int
etcd_call(struct etcd *e, const char *path, jv req, jv *resp)
{
	jv body = jv_dump_string(req, 0);
	int st = call(e, path, jv_string_value(body), resp, NULL);

	jv_free(body);
	return st;
}

int
etcd_revision(struct etcd *e, const char *key, size_t klen, int prefix,
	      long long *rev)
{
	jv req = jv_object(), resp, hdr;
	int st;

	/* etcd refuses an empty key; "\0" is the first there can be. */
	req = jv_object_set(req, jv_string("key"),
			    klen ? etcd_b64(key, klen) : jv_string("AA=="));
	if (prefix)
		req = jv_object_set(req, jv_string("range_end"),
				    etcd_prefix_end(key, klen));
	req = jv_object_set(req, jv_string("count_only"), jv_true());
	if ((st = etcd_call(e, "/v3/kv/range", req, &resp)) != ETCD_OK)
		return st;
	hdr = etcd_field(resp, "header");
	*rev = etcd_int(hdr, "revision");
	jv_free(hdr);
	jv_free(resp);
	return ETCD_OK;
}

/* The JSON text of a range request for one page. */
static char *
range_body(const char *key, size_t klen, jv end, long page, long long rev)
{
	jv req = jv_object(), txt;
	char *body;

	req = jv_object_set(req, jv_string("key"), etcd_b64(key, klen));
	if (jv_get_kind(end) == JV_KIND_STRING) {
		req = jv_object_set(req, jv_string("range_end"), jv_copy(end));
		if (page > 0)
			req = jv_object_set(req, jv_string("limit"),
					    jv_number(page));
	}
	if (rev > 0)
		req = jv_object_set(req, jv_string("revision"), jv_number(rev));
	txt = jv_dump_string(req, 0);
	body = strdup(jv_string_value(txt));
	jv_free(txt);
	return body;
}

/* In a range reply still unparsed, the header's revision and the last
 * key (decoded, plus the "\0" that starts the next page).  etcd's
 * gateway writes the header first and keys as base64, which holds no
 * quote; the result is checked against the parsed reply before use. */
static int
peek_reply(const struct buf *raw, long long *rev, char **next, size_t *nlen)
{
	static const char kk[] = "\"key\":\"", rk[] = "\"revision\":\"";
	const char *p = raw->p, *end = raw->p + raw->len, *q, *k = NULL;
	size_t n;

	if (!p || !memmem(p, raw->len, "\"more\":true", 11))
		return -1;
	if (!(q = memmem(p, raw->len, rk, sizeof rk - 1)))
		return -1;
	*rev = strtoll(q + sizeof rk - 1, NULL, 10);
	for (q = p; (q = memmem(q, end - q, kk, sizeof kk - 1)); q++)
		k = q + sizeof kk - 1;
	if (!k || !(q = memchr(k, '"', end - k)))
		return -1;
	n = q - k;
	if (!(*next = malloc(n / 4 * 3 + 4)) ||
	    b64_decode(k, n, (unsigned char *)*next, nlen) < 0) {
		free(*next);
		*next = NULL;
		return -1;
	}
	(*next)[(*nlen)++] = '\0';
	return 0;
}

/* The next page, fetched by a thread while this one is parsed. */
struct fetch {
	struct etcd *e;
	CURL *h;
	char url[1024];
	char *body;
	struct buf out;
	long http;
	CURLcode rc;
	pthread_t t;
};

static void *
fetch_run(void *arg)
{
	struct fetch *f = arg;
	struct curl_slist *hd = setup(f->e, f->h, f->url, f->body, 1);

	curl_easy_setopt(f->h, CURLOPT_TIMEOUT_MS, f->e->c->command_timeout_ms);
	curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(f->h, CURLOPT_WRITEDATA, &f->out);
	f->rc = curl_easy_perform(f->h);
	curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &f->http);
	curl_slist_free_all(hd);
	curl_easy_setopt(f->h, CURLOPT_HTTPHEADER, NULL);
	return NULL;
}

/* Start fetching the page that begins at next; 0 when under way. */
static int
fetch_start(struct etcd *e, struct fetch *f, const char *next, size_t nlen,
	    jv end, long page, long long rev)
{
	memset(f, 0, sizeof *f);
	if (!e->h2 && !(e->h2 = curl_easy_init()))
		return -1;
	f->e = e;
	f->h = e->h2;
	snprintf(f->url, sizeof f->url, "%s/v3/kv/range", etcd_endpoint(e));
	if (!(f->body = range_body(next, nlen, end, page, rev)))
		return -1;
	if (pthread_create(&f->t, NULL, fetch_run, f)) {
		free(f->body);
		return -1;
	}
	return 0;
}

/* Wait for the fetch; its reply goes to raw when it is a good one. */
static void
fetch_end(struct fetch *f, struct buf *raw, int use)
{
	pthread_join(f->t, NULL);
	free(f->body);
	if (use && f->rc == CURLE_OK && f->http == 200) {
		buf_free(raw);
		*raw = f->out;
	} else {
		buf_free(&f->out);
	}
}

int
etcd_range_each(struct etcd *e, const char *key, size_t klen, int prefix,
		long long rev, long page, long long *atrev,
		int (*cb)(void *arg, const struct etcd_kv *kv), void *arg)
{
	char *next = NULL, *peek = NULL, *body;
	size_t nlen = 0, plen = 0;
	int st, more = 1, fetching;
	long long prev;
	struct buf raw = {0};
	struct fetch f;
	jv end = prefix ? etcd_prefix_end(key, klen) : jv_null();

	*atrev = 0;
	if (!(body = range_body(key, klen, end, page, rev))) {
		jv_free(end);
		return ETCD_ETEMP;
	}
	st = call(e, "/v3/kv/range", body, NULL, &raw);
	free(body);
	while (st == ETCD_OK) {
		jv resp, kvs, hdr, m;
		struct etcd_kv kv;
		int i, n;

		/* Ask for the next page before parsing this one: etcd works
		 * on it while we parse. */
		fetching = 0;
		free(peek);
		peek = NULL;
		if (prefix && page > 0 &&
		    peek_reply(&raw, &prev, &peek, &plen) == 0 &&
		    fetch_start(e, &f, peek, plen, end, page,
				rev > 0 ? rev : prev) == 0)
			fetching = 1;
		resp = jv_parse_sized(raw.p ? raw.p : "", raw.len);
		buf_free(&raw);
		if (!jv_is_valid(resp)) {
			jv m = jv_invalid_get_msg(resp);

			snprintf(e->err, sizeof e->err,
				 "%s: malformed JSON reply: %s",
				 etcd_endpoint(e),
				 jv_get_kind(m) == JV_KIND_STRING
				     ? jv_string_value(m)
				     : "?");
			jv_free(m);
			st = ETCD_ETEMP;
			if (fetching)
				fetch_end(&f, &raw, 0);
			break;
		}
		hdr = etcd_field(resp, "header");
		/* Later pages read at the first page's revision, so the whole
		 * prefix is one consistent snapshot. */
		if (rev <= 0)
			rev = etcd_int(hdr, "revision");
		*atrev = rev;
		jv_free(hdr);
		m = etcd_field(resp, "more");
		more = prefix && jv_get_kind(m) == JV_KIND_TRUE;
		jv_free(m);
		kvs = etcd_field(resp, "kvs");
		n = jv_get_kind(kvs) == JV_KIND_ARRAY
			? jv_array_length(jv_copy(kvs))
			: 0;
		if (n == 0)
			more = 0;
		for (i = 0; i < n && st == ETCD_OK; i++) {
			jv one = jv_array_get(jv_copy(kvs), i);

			if (etcd_kv_decode(one, &kv) < 0) {
				snprintf(e->err, sizeof e->err,
					 "%s: malformed key-value in reply",
					 etcd_endpoint(e));
				st = ETCD_ETEMP;
			} else {
				if (cb(arg, &kv))
					st = ETCD_ESTOP;
				if (i == n - 1) {
					/* The next page starts just after
					 * the last key: key + "\0". */
					free(next);
					next = malloc(kv.klen + 1);
					if (next) {
						memcpy(next, kv.key, kv.klen);
						next[kv.klen] = '\0';
						nlen = kv.klen + 1;
					} else {
						st = ETCD_ETEMP;
					}
				}
				etcd_kv_free(&kv);
			}
			jv_free(one);
		}
		jv_free(kvs);
		jv_free(resp);
		/* The fetched page is used only if it starts where the
		 * parsed reply says the next one does. */
		if (fetching)
			fetch_end(&f, &raw,
				  st == ETCD_OK && more && plen == nlen &&
				      !memcmp(peek, next, nlen));
		if (st != ETCD_OK || !more)
			break;
		if (raw.len)
			continue;
		if (!(body = range_body(next, nlen, end, page, rev))) {
			st = ETCD_ETEMP;
			break;
		}
		st = call(e, "/v3/kv/range", body, NULL, &raw);
		free(body);
	}
	buf_free(&raw);
	free(peek);
	free(next);
	jv_free(end);
	return st;
}

/* Watch streams. */

struct wstate {
	struct etcd *e;
	const struct etcd_watch_cb *cb;
	jv_parser *p;
	struct buf errbody; /* the body of a non-200 reply */
	long http;
	int status;	   /* ETCD_* once the stream must end */
	int created;	   /* the watch was established */
	long long compact; /* compact_revision of a cancel */
	long long rx_ms;   /* when the stream last sent anything */
	char why[1024];
};

/* Handle one message of the stream; non-zero ends it. */
static int
wmsg(struct wstate *w, jv msg)
{
	jv err = etcd_field(msg, "error"), res, v;
	const char *ep = etcd_endpoint(w->e);

	/* Whatever the code, the stream is over: the caller resumes from
	 * the last revision it saw. */
	if (jv_get_kind(err) != JV_KIND_NULL) {
		jv m;

		grpc_status(msg, &m);
		snprintf(w->why, sizeof w->why, "%s: watch error: %s", ep,
			 jv_get_kind(m) == JV_KIND_STRING ? jv_string_value(m)
							  : "?");
		jv_free(m);
		jv_free(err);
		jv_free(msg);
		w->status = ETCD_ETEMP;
		return 1;
	}
	jv_free(err);
	res = etcd_field(msg, "result");
	jv_free(msg);
	if (jv_get_kind(res) != JV_KIND_OBJECT) {
		snprintf(w->why, sizeof w->why,
			 "%s: malformed watch message (no result)", ep);
		jv_free(res);
		w->status = ETCD_ETEMP;
		return 1;
	}
	v = etcd_field(res, "canceled");
	if (jv_get_kind(v) == JV_KIND_TRUE) {
		jv r = etcd_field(res, "cancel_reason");

		w->compact = etcd_int(res, "compact_revision");
		if (w->compact > 0) {
			snprintf(w->why, sizeof w->why,
				 "%s: watch start compacted (compact "
				 "revision %lld)",
				 ep, w->compact);
			w->status = ETCD_ECOMPACTED;
		} else {
			const char *why = jv_get_kind(r) == JV_KIND_STRING
					      ? jv_string_value(r)
					      : "no reason given";

			snprintf(w->why, sizeof w->why,
				 "%s: watch canceled: %s", ep, why);
			/* Auth problems arrive as a cancel, not as 401. */
			if (strstr(why, "invalid auth token"))
				w->status = TRY_AUTH;
			else if (strstr(why, "permission denied") ||
				 strstr(why, "user name is empty") ||
				 strstr(why, "authentication failed"))
				w->status = ETCD_EBAD;
			else
				w->status = ETCD_ETEMP;
		}
		jv_free(r);
		jv_free(v);
		jv_free(res);
		return 1;
	}
	jv_free(v);
	v = etcd_field(res, "created");
	if (jv_get_kind(v) == JV_KIND_TRUE)
		w->created = 1;
	jv_free(v);
	if (w->cb->on_msg(w->cb->arg, res)) {
		w->status = ETCD_ESTOP;
		return 1;
	}
	return 0;
}

static size_t
wfeed(char *data, size_t size, size_t n, void *arg)
{
	struct wstate *w = arg;
	jv v;

	n *= size;
	w->rx_ms = now_ms();
	if (!w->http)
		curl_easy_getinfo(w->e->h, CURLINFO_RESPONSE_CODE, &w->http);
	if (w->http != 200)
		return buf_add(&w->errbody, data, n) < 0 ? 0 : n;
	/* Chunk boundaries need not match messages: the parser keeps
	 * partial input until a whole value has arrived. */
	jv_parser_set_buf(w->p, data, n, 1);
	while (jv_is_valid(v = jv_parser_next(w->p))) {
		if (wmsg(w, v))
			return 0;
	}
	if (jv_invalid_has_msg(jv_copy(v))) {
		jv m = jv_invalid_get_msg(v);

		snprintf(w->why, sizeof w->why,
			 "%s: malformed watch stream: %s", etcd_endpoint(w->e),
			 jv_string_value(m));
		jv_free(m);
		w->status = ETCD_ETEMP;
		return 0;
	}
	jv_free(v);
	/* jq 1.6 stops without a message at some bytes (0x1e, its record
	 * separator) with input left over; feeding more would abort. */
	if (jv_parser_remaining(w->p)) {
		snprintf(w->why, sizeof w->why,
			 "%s: malformed watch stream: unexpected byte",
			 etcd_endpoint(w->e));
		w->status = ETCD_ETEMP;
		return 0;
	}
	return n;
}

/* A member that hangs (a stalled disk, a frozen process) keeps the
 * stream's connection open and sends nothing, not even the cancel a
 * member without a leader sends: after this long without a byte, the
 * endpoint is asked for its status (served by the member itself, with
 * the no-leader check, and open to every user), and given up when that
 * fails too. */
#define WATCH_SILENCE_MS 10000

/* Is endpoint ep alive?  ETCD_OK, or ETCD_ETEMP with why filled; an
 * answer other than a network or server failure counts as alive. */
static int
probe(struct etcd *e, size_t ep, char *why, size_t whylen)
{
	char pwhy[1024];
	int r, st;
	jv resp;

	if (!e->h2 && !(e->h2 = curl_easy_init()))
		return ETCD_OK;
	r = post_on(e, e->h2, ep, "/v3/maintenance/status", "{}", 0, &resp,
		    NULL, pwhy, sizeof pwhy, &st);
	if (r == TRY_OK)
		jv_free(resp);
	if (r != TRY_NEXT)
		return ETCD_OK;
	snprintf(why, whylen, "%s (after %d s of silence on the watch stream)",
		 pwhy, WATCH_SILENCE_MS / 1000);
	return ETCD_ETEMP;
}

/* Run one watch stream on endpoint ep until it ends. */
static int
watch_once(struct etcd *e, size_t ep, const char *body,
	   const struct etcd_watch_cb *cb, struct wstate *w)
{
	char url[1024], cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hd;
	struct curl_waitfd wfd;
	CURLM *m;
	CURLMsg *msg;
	CURLcode rc = CURLE_OK;
	int running = 1, left, stop = 0, done = 0;
	long timeout;
	long long quiet;

	memset(w, 0, sizeof *w);
	w->e = e;
	w->cb = cb;
	w->status = ETCD_OK;
	w->rx_ms = now_ms();
	e->cur = ep;
	if (!(w->p = jv_parser_new(0)) || !(m = curl_multi_init())) {
		if (w->p)
			jv_parser_free(w->p);
		snprintf(w->why, sizeof w->why, "out of memory");
		return ETCD_ETEMP;
	}
	snprintf(url, sizeof url, "%s/v3/watch", e->c->endpoints[ep]);
	hd = setup(e, e->h, url, body, 1);
	curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, wfeed);
	curl_easy_setopt(e->h, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(e->h, CURLOPT_ERRORBUFFER, cerr);
	curl_multi_add_handle(m, e->h);
	while (!done) {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)))
			if (msg->msg == CURLMSG_DONE) {
				rc = msg->data.result;
				done = 1;
			}
		if (done || !running)
			break;
		timeout = cb->on_idle ? cb->on_idle(cb->arg, &stop) : -1;
		if (stop) {
			w->status = ETCD_ESTOP;
			break;
		}
		if ((quiet = now_ms() - w->rx_ms) >= WATCH_SILENCE_MS) {
			if (probe(e, ep, w->why, sizeof w->why) != ETCD_OK) {
				w->status = ETCD_ETEMP;
				break;
			}
			w->rx_ms = now_ms();
			quiet = 0;
		}
		if (timeout < 0 || timeout > WATCH_SILENCE_MS - quiet)
			timeout = WATCH_SILENCE_MS - quiet;
		wfd.fd = cb->stop_fd;
		wfd.events = 0; /* POLLERR and POLLHUP are always reported */
		wfd.revents = 0;
		curl_multi_poll(m, &wfd, cb->stop_fd >= 0 ? 1 : 0,
				timeout < 0 || timeout > 60000 ? 60000
							       : (int)timeout,
				NULL);
		/* curl does not hand back revents: ask poll directly. */
		if (cb->stop_fd >= 0) {
			struct pollfd p = {cb->stop_fd, 0, 0};

			if (poll(&p, 1, 0) > 0 &&
			    (p.revents & (POLLERR | POLLHUP | POLLNVAL))) {
				w->status = ETCD_ESTOP;
				break;
			}
		}
	}
	curl_multi_remove_handle(m, e->h);
	curl_multi_cleanup(m);
	curl_slist_free_all(hd);
	curl_easy_setopt(e->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(e->h, CURLOPT_ERRORBUFFER, NULL);
	jv_parser_free(w->p);

	if (w->status != ETCD_OK) {
		buf_free(&w->errbody);
		return w->status;
	}
	snprintf(url, sizeof url, "%s", e->c->endpoints[ep]);
	if (w->http && w->http != 200) {
		int code;

		http_why(url, w->http, &w->errbody, &code, w->why,
			 sizeof w->why);
		buf_free(&w->errbody);
		if (w->http == 401 || code == 16)
			return TRY_AUTH;
		return w->http >= 500 || w->http == 429 || code == 14
			   ? ETCD_ETEMP
			   : ETCD_EBAD;
	}
	if (rc != CURLE_OK)
		curl_why(e, e->h, rc, cerr, url, w->why, sizeof w->why);
	else
		snprintf(w->why, sizeof w->why, "%s: watch stream ended", url);
	return ETCD_ETEMP;
}

int
etcd_watch(struct etcd *e, const char *key, size_t klen, int prefix,
	   long long start_rev, const struct etcd_watch_cb *cb,
	   long long *compact_rev)
{
	struct wstate w;
	jv req = jv_object(), body, outer;
	char why[1024];
	size_t i, ep;
	int st = ETCD_ETEMP, reauthed = 0;

	req = jv_object_set(req, jv_string("key"), etcd_b64(key, klen));
	if (prefix)
		req = jv_object_set(req, jv_string("range_end"),
				    etcd_prefix_end(key, klen));
	if (start_rev > 0)
		req = jv_object_set(req, jv_string("start_revision"),
				    jv_number(start_rev));
	req = jv_object_set(req, jv_string("progress_notify"), jv_true());
	outer = jv_object_set(jv_object(), jv_string("create_request"), req);
	body = jv_dump_string(outer, 0);

	e->err[0] = '\0';
	*compact_rev = 0;
	for (i = 0; i < e->c->nendpoints; i++) {
		ep = (e->cur + i) % e->c->nendpoints;
		if (e->c->user && !e->token) {
			st = authenticate(e, ep, why, sizeof why);
			if (st != ETCD_OK) {
				add_why(e, why);
				if (st == ETCD_EBAD)
					break;
				continue;
			}
		}
	again:
		st = watch_once(e, ep, jv_string_value(body), cb, &w);
		if (st == TRY_AUTH) {
			st = ETCD_EBAD;
			if (e->c->user && !reauthed) {
				reauthed = 1;
				st = authenticate(e, ep, why, sizeof why);
				if (st == ETCD_OK)
					goto again;
				add_why(e, why);
				break;
			}
		}
		if (st == ETCD_ESTOP)
			break;
		add_why(e, w.why);
		if (st == ETCD_ECOMPACTED) {
			*compact_rev = w.compact;
			break;
		}
		/* A stream that was established and then dropped goes back
		 * to the caller, which resumes from its last revision; the
		 * next attempt starts at the following endpoint. */
		if (w.created || st == ETCD_EBAD) {
			if (st != ETCD_EBAD)
				e->cur = (ep + 1) % e->c->nendpoints;
			break;
		}
	}
	jv_free(body);
	return st;
}
