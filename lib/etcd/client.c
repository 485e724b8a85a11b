/* The etcd client's transport: the client itself, HTTP requests to one
 * endpoint, reading etcd's error replies in both dialects of its gateway,
 * authentication, and calls that fail over between endpoints and
 * authenticate again once when a token expires. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd/int.h"

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

size_t
etcd_collect(char *p, size_t size, size_t n, void *arg)
{
	return buf_add(arg, p, size * n) < 0 ? 0 : size * n;
}

struct curl_slist *
etcd_setup(struct etcd *e, CURL *h, const char *url, const char *body,
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

void
etcd_curl_why(CURL *h, CURLcode rc, const char *cerr, const char *url,
	      char *out, size_t outlen)
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
int
etcd_grpc_status(jv v, jv *msg)
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

void
etcd_http_why(const char *url, long status, const struct buf *body, int *code,
	      char *out, size_t outlen)
{
	jv v = jv_parse_sized(body->p ? body->p : "", body->len);
	jv m;

	*code = etcd_grpc_status(v, &m);
	if (jv_get_kind(m) == JV_KIND_STRING)
		snprintf(out, outlen, "%s: HTTP %ld: %s", url, status,
			 jv_string_value(m));
	else if (status == 404)
		snprintf(
		    out, outlen,
		    "%s: HTTP 404: not an etcd v3 endpoint (etcd 3.4 or later expected)",
		    url);
	else
		snprintf(out, outlen, "%s: HTTP %ld: %.200s", url, status,
			 body->p ? body->p : "");
	jv_free(m);
	jv_free(v);
}

enum etcd_try
etcd_post_on(struct etcd *e, CURL *h, size_t ep, const char *path,
	     const char *body, int with_token, jv *resp, struct buf *raw,
	     char *why, size_t whylen, int *status)
{
	char url[1024], cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hd;
	struct buf out = {0};
	long http = 0;
	CURLcode rc;
	int code;

	snprintf(url, sizeof(url), "%s%s", e->c->endpoints[ep], path);
	hd = etcd_setup(e, h, url, body, with_token);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, e->c->command_timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, etcd_collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
	curl_slist_free_all(hd);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);

	snprintf(url, sizeof(url), "%s", e->c->endpoints[ep]);
	if (rc != CURLE_OK) {
		etcd_curl_why(h, rc, cerr, url, why, whylen);
		buf_free(&out);
		*status = ETCD_ETEMP;
		return TRY_NEXT;
	}
	if (http != 200) {
		etcd_http_why(url, http, &out, &code, why, whylen);
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

int
etcd_authenticate(struct etcd *e, size_t ep, char *why, size_t whylen)
{
	jv req = jv_object(), resp, tok;
	enum etcd_try r;
	char *body;
	int st;

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
	r = etcd_post_on(e, e->h, ep, "/v3/auth/authenticate", body, 0, &resp,
			 NULL, why, whylen, &st);
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
	if (!(e = calloc(1, sizeof(*e))) || !(e->h = curl_easy_init())) {
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
	if (e->h3)
		curl_easy_cleanup(e->h3);
	if (e->token)
		explicit_bzero(e->token, strlen(e->token));
	free(e->token);
	free(e);
}

const char *
etcd_endpoint(const struct etcd *e)
{
	return e->c->endpoints[e->cur];
}

void
etcd_add_why(char *err, size_t errlen, const char *why)
{
	size_t n = strlen(err);

	if (n && n < errlen)
		snprintf(err + n, errlen - n, "; %s", why);
	else if (!n)
		snprintf(err, errlen, "%s", why);
}

int
etcd_call_body(struct etcd *e, const char *path, const char *body, jv *resp,
	       struct buf *raw, char *err, size_t errlen)
{
	char why[1024];
	size_t i, ep;
	int st = ETCD_ETEMP, reauthed = 0;
	enum etcd_try r;

	err[0] = '\0';
	if (resp)
		*resp = jv_invalid();
	for (i = 0; i < e->c->nendpoints; i++) {
		ep = (e->cur + i) % e->c->nendpoints;
		if (e->c->user && !e->token) {
			st = etcd_authenticate(e, ep, why, sizeof(why));
			if (st == ETCD_EBAD) {
				etcd_add_why(err, errlen, why);
				break;
			}
			if (st != ETCD_OK) {
				etcd_add_why(err, errlen, why);
				continue;
			}
		}
	again:
		r = etcd_post_on(e, e->h, ep, path, body, 1, resp, raw, why,
				 sizeof(why), &st);
		if (r == TRY_OK) {
			e->cur = ep;
			err[0] = '\0';
			break;
		}
		/* An expired token: authenticate again, once. */
		if (r == TRY_AUTH && e->c->user && !reauthed) {
			reauthed = 1;
			st = etcd_authenticate(e, ep, why, sizeof(why));
			if (st == ETCD_OK)
				goto again;
		}
		etcd_add_why(err, errlen, why);
		if (r != TRY_NEXT)
			break;
	}
	return st;
}

int
etcd_call(struct etcd *e, const char *path, jv req, jv *resp, char *err,
	  size_t errlen)
{
	jv body = jv_dump_string(req, 0);
	int st = etcd_call_body(e, path, jv_string_value(body), resp, NULL, err,
				errlen);

	jv_free(body);
	return st;
}
