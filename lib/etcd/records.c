/* The record stream between etcd-watch and tmpl --follow: its writers,
 * its reader, and the rule they share for entries that are not UTF-8
 * (see records.h; the format is documented in etcd-watch(1)). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/b64.h"
#include "util/jsonw.h"
#include "etcd/records.h"

int
rec_is_text(const char *key, size_t klen, const char *val, size_t vlen)
{
	return utf8_valid(key, klen) && utf8_valid(val, vlen);
}

int
rec_left_msg(struct buf *msg, const char *key, size_t klen, int key_bad)
{
	if (show_bytes(msg, key, klen, 200) < 0)
		return -1;
	return buf_printf(msg, ": %s is not valid UTF-8; key left out",
			  key_bad ? "key" : "value") < 0
		   ? -1
		   : 0;
}

/* Append the base64 of s[0..n) as a JSON string. */
static int
b64_str(struct buf *b, const char *s, size_t n)
{
	char *enc = malloc(b64_enclen(n) + 1);
	int r;

	if (!enc)
		return -1;
	b64_encode((const unsigned char *)s, n, enc);
	r = buf_printf(b, "\"%s\"", enc);
	free(enc);
	return r < 0 ? -1 : 0;
}

int
rec_member(struct buf *b, const char *key, size_t klen, const char *val,
	   size_t vlen, int b64val, int *first)
{
	if (!*first && buf_add(b, ",", 1) < 0)
		return -1;
	*first = 0;
	if (json_str(b, key, klen) < 0 || buf_add(b, ":", 1) < 0)
		return -1;
	return b64val ? b64_str(b, val, vlen) : json_str(b, val, vlen);
}

/* Append ,"name":"text", or ,"name_base64":"..." when the bytes are not
 * UTF-8 (no JSON string holds them unchanged); no comma when first. */
static int
field(struct buf *b, const char *name, const char *s, size_t n, int first)
{
	int text = utf8_valid(s, n);

	if (buf_printf(b, "%s\"%s%s\":", first ? "" : ",", name,
		       text ? "" : "_base64") < 0)
		return -1;
	return text ? json_str(b, s, n) : b64_str(b, s, n);
}

int
rec_put(struct buf *b, const char *key, size_t klen, const char *val,
	size_t vlen, long long rev)
{
	if (buf_puts(b, "{\"type\":\"put\"") < 0 ||
	    field(b, "key", key, klen, 0) < 0 ||
	    field(b, "value", val, vlen, 0) < 0)
		return -1;
	return buf_printf(b, ",\"revision\":%lld}\n", rev) < 0 ? -1 : 0;
}

int
rec_delete(struct buf *b, const char *key, size_t klen, long long rev)
{
	if (buf_puts(b, "{\"type\":\"delete\"") < 0 ||
	    field(b, "key", key, klen, 0) < 0)
		return -1;
	return buf_printf(b, ",\"revision\":%lld}\n", rev) < 0 ? -1 : 0;
}

/* A record of a type and a revision, nothing else. */
static int
rec_bare(struct buf *b, const char *type, long long rev)
{
	return buf_printf(b, "{\"type\":\"%s\",\"revision\":%lld}\n", type,
			  rev) < 0
		   ? -1
		   : 0;
}

int
rec_progress(struct buf *b, long long rev)
{
	return rec_bare(b, "progress", rev);
}

int
rec_lost(struct buf *b, long long rev, const char *reason)
{
	struct buf t = {0};
	int r;

	/* (the reason as text, shown byte by byte where not UTF-8) */
	if (utf8_valid(reason, strlen(reason)))
		r = buf_puts(&t, reason);
	else
		r = show_bytes(&t, reason, strlen(reason), 512);
	r = r < 0 ||
		    buf_printf(
			b, "{\"type\":\"lost\",\"revision\":%lld,\"reason\":",
			rev) < 0 ||
		    json_str(b, t.p ? t.p : "", t.len) < 0 ||
		    buf_puts(b, "}\n") < 0
		? -1
		: 0;
	buf_free(&t);
	return r;
}

int
rec_watching(struct buf *b, long long rev)
{
	return rec_bare(b, "watching", rev);
}

/* Text entries go to "kvs"; the others to "binary", each written like an
 * event's: never dropped. */
int
rec_resync_add(struct rec_resync *r, const char *key, size_t klen,
	       const char *val, size_t vlen)
{
	int first = r->kvs.len == 0;

	if (rec_is_text(key, klen, val, vlen))
		return rec_member(&r->kvs, key, klen, val, vlen, 0, &first);
	if (buf_puts(&r->binary, r->binary.len ? ",{" : "{") < 0 ||
	    field(&r->binary, "key", key, klen, 1) < 0 ||
	    field(&r->binary, "value", val, vlen, 0) < 0)
		return -1;
	return buf_puts(&r->binary, "}");
}

int
rec_resync_end(struct rec_resync *r, struct buf *b, long long rev)
{
	int ret = -1;

	if (buf_printf(b, "{\"type\":\"resync\",\"revision\":%lld,\"kvs\":{",
		       rev) < 0 ||
	    buf_add(b, r->kvs.p, r->kvs.len) < 0 || buf_puts(b, "}") < 0)
		goto out;
	if (r->binary.len && (buf_puts(b, ",\"binary\":[") < 0 ||
			      buf_add(b, r->binary.p, r->binary.len) < 0 ||
			      buf_puts(b, "]") < 0))
		goto out;
	ret = buf_puts(b, "}\n");
out:
	rec_resync_free(r);
	return ret;
}

void
rec_resync_free(struct rec_resync *r)
{
	buf_free(&r->kvs);
	buf_free(&r->binary);
}

enum rec_type
rec_peek(const char *line, size_t n, long long *rev)
{
	static const struct {
		const char *head;
		enum rec_type type;
	} kinds[] = {
	    {"{\"type\":\"put\"", REC_PUT},
	    {"{\"type\":\"delete\"", REC_DELETE},
	    {"{\"type\":\"progress\",\"revision\":", REC_PROGRESS},
	    {"{\"type\":\"resync\",\"revision\":", REC_RESYNC},
	    {"{\"type\":\"lost\"", REC_LOST},
	    {"{\"type\":\"watching\"", REC_WATCHING},
	};
	size_t i, k;

	*rev = 0;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		k = strlen(kinds[i].head);
		if (n <= k || memcmp(line, kinds[i].head, k))
			continue;
		if (kinds[i].type == REC_PROGRESS ||
		    kinds[i].type == REC_RESYNC)
			*rev = strtoll(line + k, NULL, 10);
		return kinds[i].type;
	}
	return REC_OTHER;
}

/* The string field name of o (borrowed), or null. */
static jv
str_field(jv o, const char *name)
{
	jv v = jv_object_get(jv_copy(o), jv_string(name));

	if (jv_get_kind(v) == JV_KIND_STRING)
		return v;
	jv_free(v);
	return jv_null();
}

static int
has(jv o, const char *name)
{
	return jv_object_has(jv_copy(o), jv_string(name));
}

int
rec_parse(const char *line, size_t n, struct rec *r, char *err, size_t errlen)
{
	jv v, t;
	const char *type;
	int ret = -1;

	r->type = REC_OTHER;
	r->rev = 0;
	r->key = r->value = r->kvs = jv_null();
	r->left = jv_array();
	while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
		n--;
	if (!n)
		return 1;
	v = jv_parse_sized(line, (int)n);
	if (!jv_is_valid(v)) {
		jv m = jv_invalid_get_msg(v);

		seterr(err, errlen, "invalid JSON: %s",
		       jv_get_kind(m) == JV_KIND_STRING ? jv_string_value(m)
							: "no value");
		jv_free(m);
		return -1;
	}
	t = jv_get_kind(v) == JV_KIND_OBJECT ? str_field(v, "type") : jv_null();
	if (jv_get_kind(t) != JV_KIND_STRING) {
		seterr(err, errlen, "not an etcd-watch record (no \"type\")");
		goto out;
	}
	type = jv_string_value(t);
	{
		jv rev = jv_object_get(jv_copy(v), jv_string("revision"));

		double d = jv_get_kind(rev) == JV_KIND_NUMBER
			       ? jv_number_value(rev)
			       : 0;

		jv_free(rev);
		/* (etcd's revisions are int64, never negative; NaN fails
		 * the test too) */
		if (!(d >= 0 && d < 9223372036854775808.0)) {
			seterr(err, errlen, "revision %g out of range", d);
			goto out;
		}
		r->rev = (long long)d;
	}
	if (!strcmp(type, "put") || !strcmp(type, "delete")) {
		int put = type[0] == 'p';

		r->type = put ? REC_PUT : REC_DELETE;
		r->key = str_field(v, "key");
		if (put)
			r->value = str_field(v, "value");
		/* Bytes that are not UTF-8 come base64-encoded. */
		if (has(v, jv_get_kind(r->key) == JV_KIND_STRING
			       ? "value_base64"
			       : "key_base64")) {
			r->left = jv_array_append(r->left, jv_copy(v));
			jv_free(r->key);
			jv_free(r->value);
			r->key = r->value = jv_null();
		} else if (jv_get_kind(r->key) != JV_KIND_STRING ||
			   (put && jv_get_kind(r->value) != JV_KIND_STRING)) {
			seterr(err, errlen, "bad %s record", type);
			goto out;
		}
	} else if (!strcmp(type, "resync")) {
		jv bin = jv_object_get(jv_copy(v), jv_string("binary"));

		r->type = REC_RESYNC;
		r->kvs = jv_object_get(jv_copy(v), jv_string("kvs"));
		if (jv_get_kind(bin) == JV_KIND_ARRAY) {
			jv_free(r->left);
			r->left = bin;
		} else {
			jv_free(bin);
		}
		if (jv_get_kind(r->kvs) != JV_KIND_OBJECT) {
			seterr(err, errlen, "bad resync record");
			goto out;
		}
	} else if (!strcmp(type, "progress")) {
		r->type = REC_PROGRESS;
	} else if (!strcmp(type, "lost")) {
		r->type = REC_LOST;
		r->value = str_field(v, "reason");
	} else if (!strcmp(type, "watching")) {
		r->type = REC_WATCHING;
	}
	ret = 0;
out:
	jv_free(t);
	jv_free(v);
	return ret;
}

void
rec_free(struct rec *r)
{
	jv_free(r->key);
	jv_free(r->value);
	jv_free(r->kvs);
	jv_free(r->left);
	r->key = r->value = r->kvs = r->left = jv_null();
}

int
rec_nleft(const struct rec *r)
{
	return jv_get_kind(r->left) == JV_KIND_ARRAY
		   ? jv_array_length(jv_copy(r->left))
		   : 0;
}

jv
rec_left(const struct rec *r, int i, struct buf *msg)
{
	jv e = jv_array_get(jv_copy(r->left), i);
	jv k =
	    jv_get_kind(e) == JV_KIND_OBJECT ? str_field(e, "key") : jv_null();
	unsigned char *raw = NULL;
	size_t rawlen = 0;

	if (jv_get_kind(k) == JV_KIND_STRING) {
		rec_left_msg(msg, jv_string_value(k),
			     (size_t)jv_string_length_bytes(jv_copy(k)), 0);
	} else {
		jv kb = jv_get_kind(e) == JV_KIND_OBJECT
			    ? str_field(e, "key_base64")
			    : jv_null();
		const char *s = jv_get_kind(kb) == JV_KIND_STRING
				    ? jv_string_value(kb)
				    : "";
		size_t n = strlen(s);

		if ((raw = malloc(n / 4 * 3 + 3)) &&
		    b64_decode(s, n, raw, &rawlen) == 0)
			rec_left_msg(msg, (const char *)raw, rawlen, 1);
		else
			buf_printf(
			    msg,
			    "key (base64) %s is not valid base64; left out", s);
		free(raw);
		jv_free(kb);
	}
	jv_free(e);
	return k;
}
