/* A client for etcd's v3 API over HTTP/JSON (the gRPC gateway of etcd
 * 3.4 and later, in both of its dialects).  One struct etcd holds the
 * endpoints, credentials and a reusable connection; it fails over between
 * endpoints and re-authenticates once when a token expires.  Its modules:
 * conf.c (configuration), client.c (transport: failover and auth),
 * reply.c (what its JSON replies say), kv.c and scan.c (keys), watch.c
 * (watch streams), lease.c (leases).
 * Nothing here exits or prints: every call returns an ETCD_* status and,
 * when that is not ETCD_OK, fills err (errlen bytes; ETCD_ERRLEN is
 * enough for every endpoint's reason) with a message naming the
 * endpoint. */
#ifndef EASYLB_ETCD_H
#define EASYLB_ETCD_H

#include <stddef.h>

#include <jv.h>

#define ETCD_MAX_ENDPOINTS 32

struct etcd_conf {
	char *endpoints[ETCD_MAX_ENDPOINTS]; /* normalised URLs, no '/' end */
	size_t nendpoints;
	char *user, *password;
	char *cacert, *cert, *key;
	int insecure;
	long dial_timeout_ms;	 /* connect, per endpoint */
	long command_timeout_ms; /* a whole unary request */
};

/* Status of every call; tools map them to exit codes. */
enum {
	ETCD_OK = 0,
	ETCD_EBAD = -1,	      /* refused: bad request, auth, permission */
	ETCD_ETEMP = -2,      /* network, no leader, overload: retry */
	ETCD_ECOMPACTED = -3, /* the revision asked for was compacted */
	ETCD_ESTOP = -4,      /* a callback asked the stream to stop */
};

/* Enough room for the message of any call (every endpoint's reason). */
#define ETCD_ERRLEN 4096

/* Map an ETCD_* status to the suite's exit code (0, 100, 111). */
int etcd_exitcode(int status);

/* Add the endpoints of list (comma-separated URLs, or host:port, which
 * gets https:// when tls is set, else http://) to c.  0, or -1 with err
 * filled (a scheme other than http and https, too many). */
int etcd_conf_endpoints(struct etcd_conf *c, const char *list, int tls,
			char *err, size_t errlen);
void etcd_conf_free(struct etcd_conf *c);
/* Parse "500ms", "2s", "1m" or a bare number of seconds. */
int etcd_duration_ms(const char *s, long *ms);

struct etcd;
/* Borrows c for the client's lifetime. NULL with err filled on failure. */
struct etcd *etcd_new(const struct etcd_conf *c, char *err, size_t errlen);
void etcd_free(struct etcd *e);
/* The endpoint the last successful call went to. */
const char *etcd_endpoint(const struct etcd *e);

/* POST req (consumed) as JSON to path ("/v3/kv/range", ...) on the first
 * endpoint that answers, and parse the reply into *resp (owned by the
 * caller on ETCD_OK, left invalid otherwise). */
int etcd_call(struct etcd *e, const char *path, jv req, jv *resp, char *err,
	      size_t errlen);

/* A decoded key-value, as the range and watch replies carry it. */
struct etcd_kv {
	char *key, *value; /* malloc'd, NUL-terminated, may hold NULs */
	size_t klen, vlen;
	long long create_rev, mod_rev, version, lease;
};
/* Decode one "kv" object (borrowed).  0, or -1 on bad base64/shape. */
int etcd_kv_decode(jv kv, struct etcd_kv *out);
void etcd_kv_free(struct etcd_kv *kv);

/* Integer field of a reply object (borrowed): etcd sends int64 as JSON
 * strings and omits zeros, so a missing field reads as 0. */
long long etcd_int(jv obj, const char *field);
/* A field of obj (borrowed); jv_null() when obj is not an object or has
 * no such field.  Returned value is owned by the caller. */
jv etcd_field(jv obj, const char *field);

/* Range end for a prefix: the prefix with its last byte incremented
 * (trailing 0xff dropped first), or "\0" (to the end) when nothing is
 * left.  Returns the base64 of it as a jv string. */
jv etcd_prefix_end(const char *prefix, size_t n);
/* Base64 of bytes as a jv string. */
jv etcd_b64(const char *p, size_t n);

/* The store's current revision: the header of a linearizable count-only
 * range over key (every key under it when prefix is set), so that a user
 * who may read only that range can ask.  An empty key means the first
 * key, "\0" (or the whole store, with prefix). */
int etcd_revision(struct etcd *e, const char *key, size_t klen, int prefix,
		  long long *rev, char *err, size_t errlen);

/* Read every key under prefix (or just key when prefix is 0), at revision
 * rev (0 = now), in pages of page keys.  cb gets each kv in key order and
 * returns 0 to go on; the revision actually read is stored in *atrev. */
int etcd_range_each(struct etcd *e, const char *key, size_t klen, int prefix,
		    long long rev, long page, long long *atrev,
		    int (*cb)(void *arg, const struct etcd_kv *kv), void *arg,
		    char *err, size_t errlen);

/* A watch stream.  Messages (each "result" object, or an error) arrive in
 * on_msg (consumed); on_idle is called at least every timeout it returns
 * (ms, -1 for none) and between messages.  Either returning non-zero
 * stops the stream with ETCD_ESTOP.  The stream also ends with
 * ETCD_ETEMP when the connection drops or etcd sends an error, or when it
 * has been silent for 10 s and the endpoint does not answer a status
 * request either (a hung member), and
 * ETCD_ECOMPACTED (with *compact_rev) when the start was compacted.
 * stop_fd >= 0 is watched for errors (a closed stdout pipe): ESTOP. */
struct etcd_watch_cb {
	int (*on_msg)(void *arg, jv result);
	long (*on_idle)(void *arg, int *stop);
	void *arg;
	int stop_fd;
};
int etcd_watch(struct etcd *e, const char *key, size_t klen, int prefix,
	       long long start_rev, const struct etcd_watch_cb *cb,
	       long long *compact_rev, char *err, size_t errlen);

/* Leases.  Grant one of ttl seconds: its ID (a decimal string, since an
 * int64 does not fit a JSON double; the caller's to free) in *id. */
int etcd_lease_grant(struct etcd *e, long long ttl, char **id, char *err,
		     size_t errlen);
/* Renew lease id; *alive is 0 when etcd says it no longer exists. */
int etcd_lease_keepalive(struct etcd *e, const char *id, int *alive, char *err,
			 size_t errlen);
/* Revoke lease id: the keys attached to it vanish at once. */
int etcd_lease_revoke(struct etcd *e, const char *id, char *err, size_t errlen);

#endif
