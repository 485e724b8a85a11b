/* The etcd client's watch streams: one chunked HTTP reply of JSON
 * messages, parsed as it arrives whatever its chunks, on one endpoint at
 * a time; a compacted start, auth refusals that come as a cancel, a
 * member that hangs, and the failover to the next endpoint. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd/int.h"

struct wstate {
	struct etcd *e;
	const struct etcd_watch_cb *cb;
	jv_parser *p;
	struct buf errbody; /* the body of a non-200 reply */
	long http;
	int status;	   /* ETCD_* once the stream must end */
	int refused;	   /* ... because the token was refused */
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

		etcd_grpc_status(msg, &m);
		snprintf(w->why, sizeof(w->why), "%s: watch error: %s", ep,
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
		snprintf(w->why, sizeof(w->why),
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
			snprintf(
			    w->why, sizeof(w->why),
			    "%s: watch start compacted (compact revision %lld)",
			    ep, w->compact);
			w->status = ETCD_ECOMPACTED;
		} else {
			const char *why = jv_get_kind(r) == JV_KIND_STRING
					      ? jv_string_value(r)
					      : "no reason given";

			snprintf(w->why, sizeof(w->why),
				 "%s: watch canceled: %s", ep, why);
			/* Auth problems arrive as a cancel, not as 401. */
			if (strstr(why, "invalid auth token")) {
				w->status = ETCD_EBAD;
				w->refused = 1;
			} else if (strstr(why, "permission denied") ||
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

		snprintf(w->why, sizeof(w->why),
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
		snprintf(w->why, sizeof(w->why),
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
#define WATCH_SILENCE_MS 15000

/* Is endpoint ep alive?  ETCD_OK, or ETCD_ETEMP with why filled; an
 * answer other than a network or server failure counts as alive. */
static int
probe(struct etcd *e, size_t ep, char *why, size_t whylen)
{
	char pwhy[1024];
	enum etcd_try r;
	jv resp;
	int st;

	if (!e->h2 && !(e->h2 = curl_easy_init()))
		return ETCD_OK;
	r = etcd_post_on(e, e->h2, ep, "/v3/maintenance/status", "{}", 0, &resp,
			 NULL, pwhy, sizeof(pwhy), &st);
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

	memset(w, 0, sizeof(*w));
	w->e = e;
	w->cb = cb;
	w->status = ETCD_OK;
	w->rx_ms = now_ms();
	e->cur = ep;
	if (!(w->p = jv_parser_new(0)) || !(m = curl_multi_init())) {
		if (w->p)
			jv_parser_free(w->p);
		snprintf(w->why, sizeof(w->why), "out of memory");
		return ETCD_ETEMP;
	}
	snprintf(url, sizeof(url), "%s/v3/watch", e->c->endpoints[ep]);
	hd = etcd_setup(e, e->h, url, body, 1);
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
			if (probe(e, ep, w->why, sizeof(w->why)) != ETCD_OK) {
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
	snprintf(url, sizeof(url), "%s", e->c->endpoints[ep]);
	if (w->http && w->http != 200) {
		int code;

		etcd_http_why(url, w->http, &w->errbody, &code, w->why,
			      sizeof(w->why));
		buf_free(&w->errbody);
		if (w->http == 401 || code == 16) {
			w->refused = 1;
			return ETCD_EBAD;
		}
		return w->http >= 500 || w->http == 429 || code == 14
			   ? ETCD_ETEMP
			   : ETCD_EBAD;
	}
	if (rc != CURLE_OK)
		etcd_curl_why(e->h, rc, cerr, url, w->why, sizeof(w->why));
	else
		snprintf(w->why, sizeof(w->why), "%s: watch stream ended", url);
	return ETCD_ETEMP;
}

int
etcd_watch(struct etcd *e, const char *key, size_t klen, int prefix,
	   long long start_rev, const struct etcd_watch_cb *cb,
	   long long *compact_rev, char *err, size_t errlen)
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

	err[0] = '\0';
	*compact_rev = 0;
	for (i = 0; i < e->c->nendpoints; i++) {
		ep = (e->cur + i) % e->c->nendpoints;
		if (e->c->user && !e->token) {
			st = etcd_authenticate(e, ep, why, sizeof(why));
			if (st != ETCD_OK) {
				etcd_add_why(err, errlen, why);
				if (st == ETCD_EBAD)
					break;
				continue;
			}
		}
	again:
		st = watch_once(e, ep, jv_string_value(body), cb, &w);
		if (w.refused) {
			if (e->c->user && !reauthed) {
				reauthed = 1;
				st = etcd_authenticate(e, ep, why, sizeof(why));
				if (st == ETCD_OK)
					goto again;
				etcd_add_why(err, errlen, why);
				break;
			}
		}
		if (st == ETCD_ESTOP)
			break;
		etcd_add_why(err, errlen, w.why);
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
