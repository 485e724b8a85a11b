/* The etcd client's keys: the JSON of etcd's replies (int64 as strings,
 * base64 keys and values), prefix ranges, the store's revision, and
 * reading a key or a prefix of any size as one consistent snapshot, page
 * by page, the next page fetched while this one is parsed. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "etcd_int.h"

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
	memset(out, 0, sizeof(*out));
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

int
etcd_revision(struct etcd *e, const char *key, size_t klen, int prefix,
	      long long *rev, char *err, size_t errlen)
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
	if ((st = etcd_call(e, "/v3/kv/range", req, &resp, err, errlen)) !=
	    ETCD_OK)
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
	if (!(q = memmem(p, raw->len, rk, sizeof(rk) - 1)))
		return -1;
	*rev = strtoll(q + sizeof(rk) - 1, NULL, 10);
	for (q = p; (q = memmem(q, end - q, kk, sizeof(kk) - 1)); q++)
		k = q + sizeof(kk) - 1;
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
	struct curl_slist *hd = etcd_setup(f->e, f->h, f->url, f->body, 1);

	curl_easy_setopt(f->h, CURLOPT_TIMEOUT_MS, f->e->c->command_timeout_ms);
	curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, etcd_collect);
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
	memset(f, 0, sizeof(*f));
	if (!e->h2 && !(e->h2 = curl_easy_init()))
		return -1;
	f->e = e;
	f->h = e->h2;
	snprintf(f->url, sizeof(f->url), "%s/v3/kv/range", etcd_endpoint(e));
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

/* A page of range reply raw (borrowed) into sc: scanned, or, for a reply
 * the scanner does not take, parsed with jq (which says what is wrong
 * with a malformed one).  0, or -1 with err filled. */
static int
parse_page(struct etcd *e, const struct buf *raw, struct etcd_scan *sc,
	   char *err, size_t errlen)
{
	jv resp, kvs, hdr, m;
	struct etcd_kv *a;
	int i, n;

	if (etcd_scan_range(raw->p, raw->len, sc) == 0)
		return 0;
	resp = jv_parse_sized(raw->p ? raw->p : "", (int)raw->len);
	if (!jv_is_valid(resp)) {
		jv why = jv_invalid_get_msg(resp);

		snprintf(err, errlen, "%s: malformed JSON reply: %s",
			 etcd_endpoint(e),
			 jv_get_kind(why) == JV_KIND_STRING
			     ? jv_string_value(why)
			     : "?");
		jv_free(why);
		return -1;
	}
	hdr = etcd_field(resp, "header");
	sc->rev = etcd_int(hdr, "revision");
	jv_free(hdr);
	m = etcd_field(resp, "more");
	sc->more = jv_get_kind(m) == JV_KIND_TRUE;
	jv_free(m);
	kvs = etcd_field(resp, "kvs");
	n = jv_get_kind(kvs) == JV_KIND_ARRAY ? jv_array_length(jv_copy(kvs))
					      : 0;
	for (i = 0; i < n; i++) {
		jv one = jv_array_get(jv_copy(kvs), i);

		if ((a = array_grow(sc->kvs, sc->n, sizeof(*a))))
			sc->kvs = a;
		if (!a || etcd_kv_decode(one, &sc->kvs[sc->n]) < 0) {
			seterr(err, errlen, "%s: malformed key-value in reply",
			       etcd_endpoint(e));
			jv_free(one);
			jv_free(kvs);
			jv_free(resp);
			etcd_scan_free(sc);
			return -1;
		}
		sc->n++;
		jv_free(one);
	}
	jv_free(kvs);
	jv_free(resp);
	return 0;
}

int
etcd_range_each(struct etcd *e, const char *key, size_t klen, int prefix,
		long long rev, long page, long long *atrev,
		int (*cb)(void *arg, const struct etcd_kv *kv), void *arg,
		char *err, size_t errlen)
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
		seterr(err, errlen, "out of memory");
		return ETCD_ETEMP;
	}
	st = etcd_call_body(e, "/v3/kv/range", body, NULL, &raw, err, errlen);
	free(body);
	while (st == ETCD_OK) {
		struct etcd_scan sc;
		size_t i;

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
		if (parse_page(e, &raw, &sc, err, errlen) < 0) {
			st = ETCD_ETEMP;
			if (fetching)
				fetch_end(&f, &raw, 0);
			break;
		}
		buf_free(&raw);
		/* Later pages read at the first page's revision, so the whole
		 * prefix is one consistent snapshot. */
		if (rev <= 0)
			rev = sc.rev;
		*atrev = rev;
		more = prefix && sc.more && sc.n > 0;
		for (i = 0; i < sc.n && st == ETCD_OK; i++) {
			if (cb(arg, &sc.kvs[i]))
				st = ETCD_ESTOP;
		}
		if (sc.n > 0) {
			/* The next page starts just after the last key:
			 * key + "\0". */
			struct etcd_kv *kv = &sc.kvs[sc.n - 1];

			free(next);
			if ((next = malloc(kv->klen + 1))) {
				memcpy(next, kv->key, kv->klen);
				next[kv->klen] = '\0';
				nlen = kv->klen + 1;
			} else if (st == ETCD_OK) {
				seterr(err, errlen, "out of memory");
				st = ETCD_ETEMP;
			}
		}
		etcd_scan_free(&sc);
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
			seterr(err, errlen, "out of memory");
			st = ETCD_ETEMP;
			break;
		}
		st = etcd_call_body(e, "/v3/kv/range", body, NULL, &raw, err,
				    errlen);
		free(body);
	}
	buf_free(&raw);
	free(peek);
	free(next);
	jv_free(end);
	return st;
}
