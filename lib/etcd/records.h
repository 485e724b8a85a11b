/* The record stream: what etcd-watch writes and tmpl --follow reads, one
 * JSON object a line, defined here once (its format is documented in
 * etcd-watch(1)).  A writer side that turns etcd's keys and values into
 * records, a reader side that turns a line back into one, and the one
 * rule both share: an entry whose key or value is not UTF-8 is carried
 * base64-encoded, and left out of a state made of JSON strings. */
#ifndef EASYLB_RECORDS_H
#define EASYLB_RECORDS_H

#include <stddef.h>

#include <jv.h>

#include "util/util.h"

/* Can key and value be JSON strings as they are (both valid UTF-8)? */
int rec_is_text(const char *key, size_t klen, const char *val, size_t vlen);

/* Append "KEY":"VALUE" to the members of a JSON object being written in
 * b, after a comma unless *first (which it clears); with b64val the value
 * goes base64-encoded.  The key must be UTF-8, and so must the value
 * unless b64val.  The members of a resync record's kvs, and the object
 * etcd-get -p prints.  0, or -1 when out of memory. */
int rec_member(struct buf *b, const char *key, size_t klen, const char *val,
	       size_t vlen, int b64val, int *first);

/* Writers: append one record and its newline to b.  0, or -1 when out of
 * memory.  A key or value that is not UTF-8 goes as key_base64 or
 * value_base64. */
int rec_put(struct buf *b, const char *key, size_t klen, const char *val,
	    size_t vlen, long long rev);
int rec_delete(struct buf *b, const char *key, size_t klen, long long rev);
int rec_progress(struct buf *b, long long rev);
/* The watch was lost (reason: why, as etcd-watch says it on stderr),
 * and taken up again: between batches, each said once an outage.  rev:
 * the last revision written. */
int rec_lost(struct buf *b, long long rev, const char *reason);
int rec_watching(struct buf *b, long long rev);

/* A resync record under construction, from {0}: rec_resync_add each
 * entry in key order, then rec_resync_end writes the record at revision
 * rev and frees what was gathered. */
struct rec_resync {
	struct buf kvs, binary; /* members of "kvs"; elements of "binary" */
};
int rec_resync_add(struct rec_resync *r, const char *key, size_t klen,
		   const char *val, size_t vlen);
int rec_resync_end(struct rec_resync *r, struct buf *b, long long rev);
void rec_resync_free(struct rec_resync *r);

/* The warning for an entry left out because its key (key_bad set) or
 * its value is not UTF-8, into msg: "KEY: value is not valid UTF-8; key
 * left out", the key shown with its other bytes escaped.  0, or -1 when
 * out of memory. */
int rec_left_msg(struct buf *msg, const char *key, size_t klen, int key_bad);

/* A record read back. */
enum rec_type {
	REC_PUT,
	REC_DELETE,
	REC_RESYNC,
	REC_PROGRESS,
	REC_LOST,     /* the reason in value */
	REC_WATCHING, /* again */
	REC_OTHER     /* a type of a newer etcd-watch: nothing to apply */
};
struct rec {
	enum rec_type type;
	long long rev; /* 0 when the record has none */
	/* REC_PUT, REC_DELETE: the key; REC_PUT: the value.  Null when
	 * the entry was left out (see left). */
	jv key, value;
	/* REC_RESYNC: the state, an object of strings. */
	jv kvs;
	/* The entries left out, not being UTF-8: an array of the objects
	 * that carried them (with key_base64 or value_base64). */
	jv left;
};
/* The type and revision of a record as rec_put, rec_delete,
 * rec_progress and rec_resync_end write it ("type" first, "revision"
 * before any key or value), without parsing the rest: a resync record
 * can be megabytes, and a filter of the stream wants its kind only.
 * REC_OTHER for anything else. */
enum rec_type rec_peek(const char *line, size_t n, long long *rev);

/* Parse one line (without its newline) into r.  0, 1 for a blank line
 * (no record), or -1 with err filled (not JSON, not a record).  Free
 * with rec_free, whatever the result. */
int rec_parse(const char *line, size_t n, struct rec *r, char *err,
	      size_t errlen);
void rec_free(struct rec *r);
/* How many entries r left out; the i-th one's key as a jv string (the
 * caller's) when the key is text, to drop from a state, else null; and
 * its warning (rec_left_msg) in msg. */
int rec_nleft(const struct rec *r);
jv rec_left(const struct rec *r, int i, struct buf *msg);

#endif
