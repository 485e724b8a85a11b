/* etcd-watch: print every change under a key or prefix, or one revision
 * number per settled batch of changes; never miss one. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcdtool.h"
#include "etcd/records.h"

static void usage(FILE *f, int code) __attribute__((noreturn));

static void
usage(FILE *f, int code)
{
	fprintf(
	    f,
	    "usage: etcd-watch [-p] [--rev N] [--snapshot] [--progress] [--once]\n"
	    "       [--revisions [--debounce MS [--max-wait MS]]]\n"
	    "       " ETCD_USAGE "\n"
	    "       KEY|PREFIX\n");
	exit(code);
}

struct watch {
	struct etcd *e;
	const char *key;
	size_t klen;
	int prefix, revisions, once, progress;
	long long next;	      /* resume point: first revision not seen */
	long long pending;    /* revisions mode: a batch to report */
	struct pace pace;     /* revisions mode: when to report it */
	int done;	      /* --once satisfied */
	int outage;	      /* a failure was reported and not yet recovered */
	struct buf line, out; /* one record; the records of one message */
	char err[ETCD_ERRLEN]; /* why the last call failed */
};

/* Write one line to stdout and flush it.  A reader that went away ends
 * the tool quietly: that is how "etcd-watch ... | head -1" finishes. */
static void
emit(struct watch *w, const char *s, size_t n)
{
	if (fwrite(s, 1, n, stdout) != n || fflush(stdout) == EOF) {
		if (errno == EPIPE)
			exit(EXIT_OK);
		dieerr(EXIT_TEMP, "write error on stdout");
	}
	(void)w;
}

/* A revision line; the batch it reports is no longer pending. */
static void
emit_rev(struct watch *w, long long rev)
{
	char s[32];

	emit(w, s, snprintf(s, sizeof(s), "%lld\n", rev));
	w->pending = 0;
	pace_done(&w->pace, now_ms());
}

/* The records of one message go out in one write, so that a reader sees
 * a transaction whole whenever it can. */
static void
flush_out(struct watch *w)
{
	if (w->out.len)
		emit(w, w->out.p, w->out.len);
	w->out.len = 0;
}

/* --progress: everything up to rev has been written. */
static void
add_progress(struct watch *w, long long rev)
{
	if (rec_progress(&w->out, rev) < 0)
		die(EXIT_TEMP, "out of memory");
}

/* --progress: the watch is lost (why), or watched again; said once an
 * outage, as on stderr, so that a reader knows whether what it has is
 * still being kept up to date (tmpl --status). */
static void
add_state(struct watch *w, const char *why)
{
	long long last = w->next > 0 ? w->next - 1 : 0;

	if (!w->progress || w->revisions)
		return;
	if ((why ? rec_lost(&w->out, last, why) : rec_watching(&w->out, last)) <
	    0)
		die(EXIT_TEMP, "out of memory");
	if (why)
		flush_out(w);
}

static void
emit_event(struct watch *w, jv ev)
{
	jv kv = etcd_field(ev, "kv"), type = etcd_field(ev, "type");
	int del = jv_get_kind(type) == JV_KIND_STRING &&
		  !strcmp(jv_string_value(type), "DELETE");
	struct etcd_kv d;
	int r;

	if (etcd_kv_decode(kv, &d) < 0)
		die(EXIT_TEMP, "%s: malformed event in watch stream",
		    etcd_endpoint(w->e));
	r = del ? rec_delete(&w->out, d.key, d.klen, d.mod_rev)
		: rec_put(&w->out, d.key, d.klen, d.value, d.vlen, d.mod_rev);
	if (r < 0)
		die(EXIT_TEMP, "out of memory");
	etcd_kv_free(&d);
	jv_free(kv);
	jv_free(type);
}

static int
on_msg(void *arg, jv res)
{
	struct watch *w = arg;
	jv hdr = etcd_field(res, "header"), evs = etcd_field(res, "events");
	jv created = etcd_field(res, "created");
	long long rev = etcd_int(hdr, "revision"), mod;
	int i, n = jv_get_kind(evs) == JV_KIND_ARRAY
		       ? jv_array_length(jv_copy(evs))
		       : 0;

	if (w->outage) {
		warnmsg("%s: watching again from revision %lld (%s)", w->key,
			w->next, etcd_endpoint(w->e));
		w->outage = 0;
		add_state(w, NULL);
	}
	for (i = 0; i < n; i++) {
		jv ev = jv_array_get(jv_copy(evs), i), kv;

		kv = etcd_field(ev, "kv");
		mod = etcd_int(kv, "mod_revision");
		jv_free(kv);
		/* Replayed history comes several revisions to a message;
		 * --once reports the first revision's events only. */
		if (w->once && i > 0 && mod >= w->next) {
			jv_free(ev);
			break;
		}
		if (!w->revisions)
			emit_event(w, ev);
		if (mod >= w->next)
			w->next = mod + 1;
		jv_free(ev);
	}
	if (n == 0 && jv_get_kind(created) != JV_KIND_TRUE &&
	    rev >= w->next - 1) {
		/* A progress notification: everything up to rev was sent.
		 * Said even when nothing changed since the last one (rev is
		 * then the last revision seen): the watch is alive, which is
		 * all a reader knows of an idle store (tmpl --status). */
		w->next = rev + 1;
		if (w->progress && !w->revisions)
			add_progress(w, rev);
	} else if (n > 0 && w->progress && !w->revisions && !w->once) {
		add_progress(w, rev);
	}
	flush_out(w);
	if (n > 0 && w->revisions) {
		long long now = now_ms();

		pace_in(&w->pace, now);
		w->pending = rev > w->pending ? rev : w->pending;
		/* The first change after a quiet spell goes out at once; the
		 * ones that follow it closely are merged. */
		if (w->once || pace_due(&w->pace, now) == 0)
			emit_rev(w, w->pending);
	}
	if (n > 0 && w->once)
		w->done = 1;
	jv_free(hdr);
	jv_free(evs);
	jv_free(created);
	jv_free(res);
	return w->done;
}

/* Revisions mode: report a batch once it has been quiet for the debounce
 * time, or has waited max-wait in all. */
static long
on_idle(void *arg, int *stop)
{
	struct watch *w = arg;
	long long due;

	if (!w->pending)
		return -1;
	if ((due = pace_due(&w->pace, now_ms())) == 0) {
		emit_rev(w, w->pending);
		return -1;
	}
	(void)stop;
	return (long)due;
}

static int
resync_member(void *arg, const struct etcd_kv *kv)
{
	if (rec_resync_add(arg, kv->key, kv->klen, kv->value, kv->vlen) < 0)
		die(EXIT_TEMP, "out of memory");
	return 0;
}

/* Read the whole key or prefix at rev (0: now) and write it as one
 * resync record; events go on from the revision read + 1. */
static int
snapshot(struct watch *w, long long rev)
{
	struct rec_resync r = {0};
	long long at;
	int st;

	st = etcd_range_each(w->e, w->key, w->klen, w->prefix, rev, 1000, &at,
			     resync_member, &r, w->err, sizeof(w->err));
	if (st != ETCD_OK) {
		rec_resync_free(&r);
		return st;
	}
	w->line.len = 0;
	if (rec_resync_end(&r, &w->line, at) < 0)
		die(EXIT_TEMP, "out of memory");
	emit(w, w->line.p, w->line.len);
	/* The record can be megabytes, and this process stays for good:
	 * what it took goes back to the system. */
	buf_free(&w->line);
	malloc_trim(0);
	w->next = at + 1;
	return ETCD_OK;
}

/* The resume point was compacted away: read the whole state again and
 * report it as one record (or, in revisions mode, as a revision line). */
static int
resync(struct watch *w, long long compact)
{
	long long at;
	int st;

	warnmsg(
	    "%s: revision %lld was compacted (compact revision %lld); resyncing",
	    w->key, w->next, compact);
	if (w->revisions) {
		if ((st = etcd_revision(w->e, w->key, w->klen, w->prefix, &at,
					w->err, sizeof(w->err))) != ETCD_OK)
			return st;
		emit_rev(w, at);
		w->next = at + 1;
	} else if ((st = snapshot(w, 0)) != ETCD_OK) {
		return st;
	}
	w->done = w->once;
	return ETCD_OK;
}

/* Sleep ms, but end at once if stdout's reader goes away. */
static void
pause_ms(long long ms)
{
	struct pollfd p = {1, 0, 0};

	if (poll(&p, 1, (int)ms) > 0 && (p.revents & (POLLERR | POLLHUP)))
		exit(EXIT_OK);
}

/* A start that failed: a permanent refusal ends the tool, anything else
 * is said once and tried again after a backoff. */
static void
start_failed(struct watch *w, int st, struct backoff *retry)
{
	if (st == ETCD_EBAD)
		etcd_tool_die(st, w->key, w->err);
	/* (a reader gone ends the tool quietly, not after a "retrying") */
	pause_ms(0);
	if (!w->outage) {
		warnmsg("%s: %s; retrying", w->key, w->err);
		add_state(w, w->err);
	}
	w->outage = 1;
	pause_ms(backoff_next(retry));
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"prefix", no_argument, 0, 'p'},
	    {"rev", required_argument, 0, 'r'},
	    {"revisions", no_argument, 0, 'R'},
	    {"debounce", required_argument, 0, 'D'},
	    {"max-wait", required_argument, 0, 'M'},
	    {"once", no_argument, 0, 'o'},
	    {"progress", no_argument, 0, 'P'},
	    {"snapshot", no_argument, 0, 'S'},
	    {"help", no_argument, 0, 'h'},
	    {"version", no_argument, 0, 'V'},
	    ETCD_LONGOPTS,
	    {0, 0, 0, 0},
	};
	struct etcd_opts eo = {0};
	struct etcd_conf conf;
	struct watch w;
	struct etcd_watch_cb cb;
	const char *errstr;
	long long rev = 0, compact, cur, pause;
	struct backoff retry;
	int c, st, maxset = 0, snap = 0;
	long long debounce = 0, maxwait = 0;

	tool_init(argv);
	memset(&w, 0, sizeof(w));
	while ((c = getopt_long(argc, argv, "e:hpr:", longopts, NULL)) != -1) {
		if (etcd_opt(&eo, c, optarg) == 0)
			continue;
		switch (c) {
		case 'D':
			if (parse_ll(optarg, 0, 3600000, &debounce, &errstr) <
			    0)
				die(EXIT_BAD, "--debounce %s: %s", optarg,
				    errstr);
			break;
		case 'h':
			usage(stdout, EXIT_OK);
		case 'M':
			if (parse_ll(optarg, 1, 3600000, &maxwait, &errstr) < 0)
				die(EXIT_BAD, "--max-wait %s: %s", optarg,
				    errstr);
			maxset = 1;
			break;
		case 'o':
			w.once = 1;
			break;
		case 'p':
			w.prefix = 1;
			break;
		case 'P':
			w.progress = 1;
			break;
		case 'r':
			if (parse_ll(optarg, 1, 1LL << 53, &rev, &errstr) < 0)
				die(EXIT_BAD, "--rev %s: %s", optarg, errstr);
			break;
		case 'R':
			w.revisions = 1;
			break;
		case 'S':
			snap = 1;
			break;
		case 'V':
			puts("etcd-watch " VERSION);
			return EXIT_OK;
		default:
			usage(stderr, EXIT_BAD);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage(stderr, EXIT_BAD);
	if ((debounce || maxset) && !w.revisions)
		die(EXIT_BAD, "--debounce and --max-wait go with --revisions");
	if ((snap || w.progress) && w.revisions)
		die(EXIT_BAD,
		    "--snapshot and --progress are for events, not --revisions");
	if (maxset && maxwait < debounce)
		die(EXIT_BAD, "--max-wait must not be shorter than --debounce");
	pace_init(&w.pace, debounce, maxset ? maxwait : 0);
	w.key = argv[0];
	w.klen = strlen(w.key);
	if (!w.klen && !w.prefix)
		die(EXIT_BAD, "empty key");
	w.e = etcd_tool_open(&eo, &conf);
	backoff_init(&retry, 100, 5000);

	/* --snapshot: the state first, then what changes after it. */
	while (snap) {
		st = snapshot(&w, rev);
		if (st == ETCD_OK)
			break;
		if (st == ETCD_ECOMPACTED) {
			warnmsg(
			    "%s: revision %lld was compacted; the snapshot is of the current state",
			    w.key, rev);
			rev = 0;
			continue;
		}
		start_failed(&w, st, &retry);
	}
	/* Start from an exact revision, so that resuming is exact too. */
	while (!snap && !rev) {
		st = etcd_revision(w.e, w.key, w.klen, w.prefix, &cur, w.err,
				   sizeof(w.err));
		if (st == ETCD_OK) {
			if (w.revisions && !w.once)
				emit_rev(&w, cur);
			w.next = cur + 1;
			break;
		}
		start_failed(&w, st, &retry);
	}
	if (rev && !snap)
		w.next = rev;

	cb.on_msg = on_msg;
	cb.on_idle = w.revisions ? on_idle : NULL;
	cb.arg = &w;
	cb.stop_fd = 1;
	while (!w.done) {
		long long before = w.next;

		st = etcd_watch(w.e, w.key, w.klen, w.prefix, w.next, &cb,
				&compact, w.err, sizeof(w.err));
		if (st == ETCD_ESTOP)
			break;
		if (st == ETCD_ECOMPACTED) {
			st = resync(&w, compact);
			if (st == ETCD_OK)
				continue;
		}
		if (st == ETCD_EBAD)
			etcd_tool_die(st, w.key, w.err);
		/* A batch seen before the drop is reported now, not after
		 * the outage. */
		if (w.pending)
			emit_rev(&w, w.pending);
		if (w.next > before)
			backoff_reset(&retry);
		/* The stream and stdout's reader can end together: which is
		 * seen first must not decide what is said. */
		pause_ms(0);
		if (!w.outage) {
			warnmsg("%s: %s; retrying from revision %lld", w.key,
				w.err, w.next);
			add_state(&w, w.err);
		}
		w.outage = 1;
		/* (up to half as long again: watchers that lost the same
		 * member do not all come back at once) */
		pause = backoff_next(&retry);
		pause_ms(pause + random() % (pause / 2 + 1));
	}
	buf_free(&w.line);
	buf_free(&w.out);
	etcd_free(w.e);
	etcd_conf_free(&conf);
	return EXIT_OK;
}
