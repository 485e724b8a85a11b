/* The etcd client's insides, shared by its modules (see etcd.h): the
 * client, and the transport's pieces that the range and watch code use
 * directly.  Not for tools. */
#ifndef EASYLB_ETCD_INT_H
#define EASYLB_ETCD_INT_H

#include <curl/curl.h>

#include "etcd/etcd.h"
#include "util/util.h"

struct etcd {
	const struct etcd_conf *c;
	CURL *h;     /* unary requests; keeps its connection alive */
	CURL *h2;    /* the look-ahead page of a range, a watch's probe */
	CURL *h3;    /* the far end of a large range */
	size_t cur;  /* endpoint that answered last */
	char *token; /* auth token, when a user is configured */
};

/* The outcome of one request to one endpoint, for the failover loops:
 * done, try the next endpoint, authenticate again, or give up.  (The
 * ETCD_* status of a failure travels beside it.) */
enum etcd_try { TRY_OK, TRY_NEXT, TRY_AUTH, TRY_FAIL };

/* curl's write callback into a struct buf. */
size_t etcd_collect(char *p, size_t size, size_t n, void *arg);
/* Set the options every request shares on h: URL, body (borrowed until
 * the transfer ends), timeouts, TLS, headers (the token when with_token).
 * The headers returned are the caller's to free after the transfer. */
struct curl_slist *etcd_setup(struct etcd *e, CURL *h, const char *url,
			      const char *body, int with_token);
/* Describe a failed transfer (curl's rc and error buffer cerr). */
void etcd_curl_why(CURL *h, CURLcode rc, const char *cerr, const char *url,
		   char *out, size_t outlen);
/* Describe a reply whose HTTP status is not 200; *code gets the gRPC
 * code it carries, or 0. */
void etcd_http_why(const char *url, long status, const struct buf *body,
		   int *code, char *out, size_t outlen);
/* The gRPC code (0 when none) and message (*msg: a string, or null; the
 * caller's) of an error body or watch message v (borrowed). */
int etcd_grpc_status(jv v, jv *msg);
/* One POST of body to path on endpoint ep with handle h.  On TRY_OK the
 * reply is parsed into *resp, or, with raw given, handed back unparsed
 * in *raw; otherwise why says what happened and *status is the ETCD_*
 * class of the failure. */
enum etcd_try etcd_post_on(struct etcd *e, CURL *h, size_t ep, const char *path,
			   const char *body, int with_token, jv *resp,
			   struct buf *raw, char *why, size_t whylen,
			   int *status);
/* Get a token from endpoint ep: an ETCD_* status, why filled on failure. */
int etcd_authenticate(struct etcd *e, size_t ep, char *why, size_t whylen);
/* Append one endpoint's failure why to err ("A; B"). */
void etcd_add_why(char *err, size_t errlen, const char *why);
/* POST body to path with failover and re-authentication (see
 * etcd_post_on for resp and raw); err gets every endpoint's failure. */
int etcd_call_body(struct etcd *e, const char *path, const char *body, jv *resp,
		   struct buf *raw, char *err, size_t errlen);

/* scan.c: a range reply's page, read without building it as jq
 * values.  0, or -1 for any reply it does not take (the caller then
 * parses it with jq); free with etcd_scan_free, whatever the result. */
struct etcd_scan {
	struct etcd_kv *kvs;
	size_t n;
	long long rev;	 /* the header's */
	long long count; /* the keys in the whole range; -1: not said */
	int more;
};
int etcd_scan_range(const char *p, size_t len, struct etcd_scan *r);
void etcd_scan_free(struct etcd_scan *r);

#endif
