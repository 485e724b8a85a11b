/* tmpl: render a text template whose expressions are jq filters.
 * See tmpl(1). */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jv.h>

#include "easylb/easylb.h"
#include "etcd/records.h"
#include "tmpl/tmpl.h"
#include "tool.h"

#define MAX_OUTPUT_DEFAULT (256LL << 20)

/* What main holds, freed at exit on every path, die() included, so that
 * valgrind and LeakSanitizer find nothing left over. */
static struct {
	struct buf tb, out, warns;
	struct buf prev; /* --follow: what OUT was last given */
	struct tmpl *t;
	jv args, data;
} st;

static void
cleanup(void)
{
	buf_free(&st.tb);
	buf_free(&st.out);
	buf_free(&st.prev);
	buf_free(&st.warns);
	jv_free(st.data);
	st.data = jv_invalid();
	tmpl_free(st.t);
	st.t = NULL;
	jv_free(st.args);
	st.args = jv_invalid();
}

static void
usage(FILE *f, int code)
{
	fprintf(
	    f,
	    "usage: tmpl [-d DATA] [-o OUT] [--arg NAME VALUE]... [--max-output BYTES] [--timings] [--follow [--debounce MS] [--status FILE] [--no-sync]] TEMPLATE\n");
	if (f == stdout)
		fshut_stdout();
	exit(code);
}

/* CPU time used so far, for --timings. */
static double
cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
exit_for(enum tmpl_errkind k)
{
	switch (k) {
	case TMPL_ESYNTAX:
	case TMPL_ECOMPILE:
		return EXIT_BAD;
	case TMPL_ERUNTIME:
		return EXIT_NO;
	default:
		return EXIT_TEMP;
	}
}

static int
valid_name(const char *s)
{
	const char *p;

	if (!strcmp(s, "root") || !strcmp(s, "ENV") || !strncmp(s, "__", 2))
		return 0;
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      *p == '_' || (p > s && *p >= '0' && *p <= '9')))
			return 0;
	return p > s;
}

/* Read and parse exactly one JSON document from path ("-": stdin) as it
 * arrives, so that the parse keeps pace with a writer such as etcd-get
 * instead of starting at its end; blank input is null. */
static jv
read_data(const char *path, const char *name)
{
	static char chunk[65536];
	jv_parser *ps = jv_parser_new(0);
	jv v = jv_null(), x, msg;
	int fd = 0, n = 0, last = 0;
	ssize_t r;

	if (strcmp(path, "-") && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		jv_parser_free(ps);
		dieerr(EXIT_TEMP, "%s", path);
	}
	while (!last) {
		r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			jv_free(v);
			jv_parser_free(ps);
			dieerr(EXIT_TEMP, "%s", name);
		}
		/* (the end: whatever the parser holds must be whole) */
		last = r == 0;
		jv_parser_set_buf(ps, chunk, (int)r, !last);
		/* (invalid without a message: it wants more input) */
		while (jv_is_valid(x = jv_parser_next(ps)) && !n++) {
			jv_free(v);
			v = x;
		}
		if (jv_is_valid(x) || jv_invalid_has_msg(jv_copy(x))) {
			jv_free(v);
			jv_parser_free(ps);
			if (jv_is_valid(x)) {
				jv_free(x);
				die(EXIT_BAD,
				    "%s: invalid JSON: more than one document",
				    name);
			}
			msg = jv_invalid_get_msg(x);
			warnmsg("%s: invalid JSON: %s", name,
				jv_get_kind(msg) == JV_KIND_STRING
				    ? jv_string_value(msg)
				    : "no value");
			jv_free(msg);
			exit(EXIT_BAD);
		}
		jv_free(x);
	}
	if (fd != 0)
		close(fd);
	jv_parser_free(ps);
	return v;
}

/* One "tmpl: warning: ..." line per warn() of the template; with old
 * (the warnings of the render before), only the lines it did not hold. */
static void
print_warnings(const char *w, const char *old)
{
	const char *nl, *o;
	size_t n;

	for (; *w; w = nl + 1) {
		nl = strchr(w, '\n');
		n = (size_t)(nl - w) + 1;
		for (o = old; o && *o; o = strchr(o, '\n') + 1)
			if (!strncmp(o, w, n))
				break;
		if (!o || !*o)
			warnmsg("warning: %.*s", (int)(nl - w), w);
	}
}

/* --follow: the data is kept up to date from etcd-watch's records (see
 * tmpl(1)) and rendered into OUT after each batch of changes, debounced.
 * A revision line on stdout says each time OUT changed. */
struct follow {
	const char *out, *name;
	size_t maxout;
	struct pace pace;     /* when the changes waiting are rendered */
	long long rev;	      /* of the last record applied */
	long long line;	      /* input lines read */
	int progress;	      /* the input has progress records */
	int dirty;	      /* changes not rendered yet */
	int boundary;	      /* the changes end on a whole batch */
	int rendered;	      /* OUT was written once */
	int nosync;	      /* --no-sync: OUT replaced, not synced */
	int written;	      /* st.prev holds what OUT was last given, */
	struct stat at;	      /* ... and this is OUT as it was left */
	long long retry_at;   /* OUT could not be written: when to try again */
	struct backoff retry; /* the waits between those tries */
	int failing;	      /* a write failed, said; none succeeded since */
	int held;	      /* OUT as it was before the write, or -1 */
	int timings;
	/* --status FILE (see status_note): times are wall-clock ms */
	const char *status;
	int noted;		 /* something to note came since the last */
	int status_failing;	 /* the last note could not be written */
	long long seen_at;	 /* the last record */
	long long progress_at;	 /* the last progress record, 0 for none */
	long long rendered_rev;	 /* the last render that went out, */
	long long rendered_at;	 /* ... OUT written or found the same */
	long long pending_since; /* the first change not rendered yet, or 0 */
	long long resyncs;
	long long lost_at;    /* the watch was lost then, 0 when it is not */
	char lost[256];	      /* ... why */
	long long reconnects; /* watches lost and taken up again */
	struct {
		long long rev, since, at;
	} outs[8]; /* the last OUTs written, newest first */
	size_t nouts;
	char error[512];    /* why the last render did not go out, */
	long long error_at; /* ... when; 0 when it did */
};

/* The time of day in ms, for --status. */
static long long
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --status FILE: what --follow is doing, for easy-lb status, replaced
 * whole after each render and each progress record (never on a timer of
 * its own).  A line a fact, a word then fields, TIME in seconds since
 * the epoch (tmpl(1) lists them):
 *   seen REV TIME          the last record read, and when
 *   progress TIME          the last progress record ("-": none yet)
 *   rendered REV TIME      the last render that went out (OUT written,
 *                          or found holding it already), and the
 *                          revision it is current to
 *   out REV SINCE TIME     an OUT written (the last 8, newest first): the
 *                          revision it says, when the first change in it
 *                          came, when it was written
 *   pending SINCE          changes wait for a render, the first since
 *   resyncs N              resync records read (after the first)
 *   reconnects N           watches lost and taken up again
 *   lost SINCE REASON      the watch is lost (etcd-watch's lost record)
 *   error TIME MESSAGE     the last render did not go out, and why
 *   warning TEXT           a warning of the last render, one a line */
static void
status_note(struct follow *f)
{
	struct buf b = {0};
	const char *w, *nl;
	char err[512];
	size_t i;

	f->noted = 0;
	if (!f->status)
		return;
#define SECS(t) (t) / 1000, (int)((t) % 1000)
	buf_printf(&b, "seen %lld %lld.%03d\n", f->rev, SECS(f->seen_at));
	if (f->progress_at)
		buf_printf(&b, "progress %lld.%03d\n", SECS(f->progress_at));
	else
		buf_puts(&b, "progress -\n");
	/* (with nothing waiting and nothing failed, what went out is
	 * current to the last record read: a progress record says no
	 * change came in between) */
	if (f->rendered_at)
		buf_printf(&b, "rendered %lld %lld.%03d\n",
			   f->pending_since || f->error_at ? f->rendered_rev
							   : f->rev,
			   SECS(f->rendered_at));
	for (i = 0; i < f->nouts; i++)
		buf_printf(&b, "out %lld %lld.%03d %lld.%03d\n", f->outs[i].rev,
			   SECS(f->outs[i].since), SECS(f->outs[i].at));
	if (f->pending_since)
		buf_printf(&b, "pending %lld.%03d\n", SECS(f->pending_since));
	buf_printf(&b, "resyncs %lld\n", f->resyncs);
	buf_printf(&b, "reconnects %lld\n", f->reconnects);
	if (f->lost_at)
		buf_printf(&b, "lost %lld.%03d %s\n", SECS(f->lost_at),
			   f->lost);
	if (f->error_at)
		buf_printf(&b, "error %lld.%03d %s\n", SECS(f->error_at),
			   f->error);
#undef SECS
	for (w = st.warns.p ? st.warns.p : ""; *w; w = nl + 1) {
		if (!(nl = strchr(w, '\n')))
			break;
		buf_printf(&b, "warning %.*s\n", (int)(nl - w), w);
	}
	if (!b.p)
		die(EXIT_TEMP, "out of memory");
	/* (a status that cannot be written is said once, and the work goes
	 * on; a reader sees it grow old: stale) */
	if (atomic_note(f->status, b.p, b.len, err, sizeof(err)) < 0) {
		if (!f->status_failing)
			warnmsg("--status: %s", err);
		f->status_failing = 1;
	} else {
		f->status_failing = 0;
	}
	buf_free(&b);
}

/* The render of a change went out, or did not (msg, one line): for
 * --status. */
static void
status_rendered(struct follow *f, int written, const char *msg)
{
	long long now = wall_ms();
	size_t n;

	if (msg) {
		snprintf(f->error, sizeof(f->error), "%s", msg);
		flatten_line(f->error);
		f->error_at = now;
		return;
	}
	f->error_at = 0;
	f->rendered_rev = f->rev;
	f->rendered_at = now;
	if (written) {
		n = f->nouts < 8 ? f->nouts++ : 7;
		memmove(&f->outs[1], &f->outs[0], n * sizeof(f->outs[0]));
		f->outs[0].rev = f->rev;
		f->outs[0].since = f->pending_since ? f->pending_since : now;
		f->outs[0].at = now;
	}
	f->pending_since = 0;
}

/* Tell the engine that key k (borrowed) changed, so that the next
 * render works out only what depends on it. */
static void
changed(jv k)
{
	if (tmpl_changed(st.t, jv_string_value(k),
			 (size_t)jv_string_length_bytes(jv_copy(k))) < 0)
		die(EXIT_TEMP, "out of memory");
}

/* Warn of each entry r left out (not UTF-8), and drop its key from the
 * state, as etcd-get -p leaves it out. */
static void
left_out(const struct rec *r)
{
	struct buf msg = {0};
	int i, n = rec_nleft(r);

	for (i = 0; i < n; i++) {
		jv k = rec_left(r, i, &msg);

		warnmsg("%s", msg.p ? msg.p : "an entry is not valid UTF-8");
		msg.len = 0;
		if (jv_get_kind(k) == JV_KIND_STRING) {
			changed(k);
			st.data = jv_object_delete(st.data, k);
		} else {
			jv_free(k);
		}
	}
	buf_free(&msg);
}

/* Apply one input line to the data. */
static void
apply(struct follow *f, const char *p, size_t n)
{
	struct rec r;
	char err[512];
	int ret;

	f->line++;
	if ((ret = rec_parse(p, n, &r, err, sizeof(err))) < 0) {
		rec_free(&r);
		die(EXIT_BAD, "%s:%lld: %s", f->name, f->line, err);
	}
	if (r.rev > f->rev)
		f->rev = r.rev;
	f->seen_at = wall_ms();
	if (!ret &&
	    (r.type == REC_PUT || r.type == REC_DELETE ||
	     r.type == REC_RESYNC) &&
	    !f->pending_since)
		f->pending_since = f->seen_at;
	switch (ret ? REC_OTHER : r.type) {
	case REC_PUT:
	case REC_DELETE:
		if (jv_get_kind(r.key) != JV_KIND_STRING) {
			left_out(&r);
		} else if (r.type == REC_PUT) {
			changed(r.key);
			st.data = jv_object_set(st.data, jv_copy(r.key),
						jv_copy(r.value));
		} else {
			changed(r.key);
			st.data = jv_object_delete(st.data, jv_copy(r.key));
		}
		f->dirty = 1;
		f->boundary = !f->progress;
		break;
	case REC_RESYNC:
		/* (the first line of --snapshot is one: not a resync) */
		if (f->line > 1)
			f->resyncs++;
		tmpl_changed(st.t, NULL, 0);
		jv_free(st.data);
		st.data = jv_copy(r.kvs);
		left_out(&r);
		f->dirty = 1;
		f->boundary = 1;
		break;
	case REC_PROGRESS:
		f->progress = 1;
		f->boundary = 1;
		f->progress_at = f->seen_at;
		f->noted = 1;
		break;
	case REC_LOST:
		if (!f->lost_at)
			f->lost_at = f->seen_at;
		snprintf(f->lost, sizeof(f->lost), "%s",
			 jv_get_kind(r.value) == JV_KIND_STRING
			     ? jv_string_value(r.value)
			     : "no reason given");
		flatten_line(f->lost);
		f->noted = 1;
		break;
	case REC_WATCHING:
		f->lost_at = 0;
		f->reconnects++;
		f->noted = 1;
		break;
	case REC_OTHER:
		/* A record of a newer etcd-watch: nothing to apply. */
		break;
	}
	rec_free(&r);
}

/* Whether sb is OUT as this process last left it (f->at). */
static int
as_written(const struct follow *f, const struct stat *sb)
{
	return S_ISREG(sb->st_mode) && sb->st_dev == f->at.st_dev &&
	       sb->st_ino == f->at.st_ino && sb->st_size == f->at.st_size &&
	       sb->st_mtim.tv_sec == f->at.st_mtim.tv_sec &&
	       sb->st_mtim.tv_nsec == f->at.st_mtim.tv_nsec;
}

/* OUT gets the render in st.out, unless it holds it already.  The
 * render is compared with the last one written, kept in memory, not
 * with OUT read back: at 10,000 services that is a 4 MB file a change.
 * OUT is read back only the first time, and when something else
 * replaced or touched it meanwhile. */
static int
write_out(struct follow *f, int *changed, char *err, size_t errlen)
{
	struct stat sb;
	struct buf b;
	const char *p = st.out.p ? st.out.p : "";
	int same = f->written && st.prev.len == st.out.len &&
		   (!st.out.len || !memcmp(st.prev.p, st.out.p, st.out.len));
	int ours = f->written && stat(f->out, &sb) == 0 && as_written(f, &sb);

	*changed = 0;
	if (same && ours)
		return 0;
	if (ours) {
		/* The file replaced is held open until its successor's
		 * revision is out: the rename then only unlinks it, and the
		 * pages of a file of megabytes are given back after, not
		 * between a change and the line that says it (4 ms of the
		 * kernel's for the 4.6 MB at 10,000 services).  (No matter if
		 * it cannot be opened.) */
		f->held = open(f->out, O_RDONLY | O_CLOEXEC);
		if ((f->nosync ? atomic_note : atomic_write)(
			f->out, p, st.out.len, err, errlen) < 0)
			return -1;
		*changed = 1;
	} else if (atomic_replace(f->out, p, st.out.len, changed, err, errlen) <
		   0) {
		return -1;
	}
	b = st.prev;
	st.prev = st.out;
	st.out = b;
	/* (should OUT be gone already, the next render reads it back) */
	f->written = stat(f->out, &f->at) == 0;
	return 0;
}

/* Render the data into OUT; a failed render leaves OUT as it was. */
static void
render_out(struct follow *f)
{
	struct tmpl_err terr;
	char err[1024];
	int r, changed = 0;
	long long t0 = now_ms();
	double c0 = cpu_ms();

	st.out.len = 0;
	f->retry_at = 0;
	r = tmpl_render(st.t, jv_copy(st.data), f->maxout, &st.out, &terr);
	print_warnings(tmpl_warnings(st.t), st.warns.p);
	st.warns.len = 0;
	buf_puts(&st.warns, tmpl_warnings(st.t));
	f->dirty = 0;
	if (r < 0) {
		warnmsg("%s (revision %lld); %s left as it was", terr.msg,
			f->rev, f->out);
		status_rendered(f, 0, terr.msg);
	} else if (write_out(f, &changed, err, sizeof(err)) < 0) {
		status_rendered(f, 0, err);
		/* A full disk, say: the render is not lost, it is written
		 * again later (every 8 s at most), input or not.  The failure
		 * is said when it begins (and its end when a write succeeds),
		 * not at each try, and never with what comes next: whether
		 * the input ends before the next try is not known yet, and
		 * what tmpl says must not depend on when that end is read. */
		if (!f->failing)
			warnmsg("%s", err);
		f->failing = 1;
		f->dirty = f->boundary = 1;
		f->retry_at = now_ms() + backoff_next(&f->retry);
	} else {
		backoff_reset(&f->retry);
		if (f->failing)
			warnmsg("%s: up to date again (revision %lld)", f->out,
				f->rev);
		f->failing = 0;
		status_rendered(f, changed || !f->rendered, NULL);
		if ((changed || !f->rendered) &&
		    (printf("%lld\n", f->rev) < 0 || fflush(stdout) == EOF)) {
			if (errno == EPIPE)
				exit(EXIT_OK);
			dieerr(EXIT_TEMP, "write error on stdout");
		}
		f->rendered = 1;
	}
	if (f->held >= 0)
		close(f->held);
	f->held = -1;
	status_note(f);
	/* What a large render (the first, a resync) built and dropped goes
	 * back to the system: this process stays for good.  (Not after
	 * every render: trimming a large heap costs as much as a render of
	 * one change.) */
	if (cpu_ms() - c0 > 20)
		malloc_trim(0);
	pace_done(&f->pace, now_ms());
	if (f->retry_at)
		pace_in(&f->pace, f->pace.out); /* still waiting */
	if (f->timings)
		warnmsg(
		    "timings: revision %lld rendered in %lld ms (CPU %.1f ms)%s",
		    f->rev, f->pace.out - t0, cpu_ms() - c0,
		    changed ? "" : " (unchanged)");
}

/* A whole batch arrived: it waits to be rendered (see struct pace). */
static void
batch_in(struct follow *f)
{
	if (f->dirty && f->boundary)
		pace_in(&f->pace, now_ms());
}

/* When the waiting batch is due, in ms from now (0: now), -1 for none. */
static long long
due_in(const struct follow *f)
{
	long long now = now_ms();

	if (!f->dirty || !f->boundary || !f->pace.first)
		return -1;
	if (f->retry_at)
		return f->retry_at > now ? f->retry_at - now : 0;
	return pace_due(&f->pace, now);
}

/* Follow the records on fd until they end; the exit status. */
static int
follow(struct follow *f, int fd)
{
	struct buf in = {0};
	size_t start = 0;
	int eof = 0;

	while (!eof) {
		struct pollfd p[2] = {{fd, POLLIN, 0}, {1, 0, 0}};
		long long wait = due_in(f);
		int n;

		n = poll(p, 2, wait < 0 ? -1 : (int)wait);
		if (n < 0 && errno != EINTR)
			dieerr(EXIT_TEMP, "poll");
		if (p[1].revents & (POLLERR | POLLHUP))
			exit(EXIT_OK);
		if (n > 0 && (p[0].revents & (POLLIN | POLLHUP))) {
			char chunk[65536];
			ssize_t r = read(fd, chunk, sizeof(chunk));
			char *nl;

			if (r < 0 && errno != EINTR && errno != EAGAIN)
				dieerr(EXIT_TEMP, "%s: read", f->name);
			if (r == 0)
				eof = 1;
			if (r > 0 && buf_add(&in, chunk, (size_t)r) < 0)
				die(EXIT_TEMP, "out of memory");
			while ((nl = buf_line(&in, start))) {
				apply(f, in.p + start,
				      (size_t)(nl - in.p) - start);
				start = (size_t)(nl - in.p) + 1;
			}
			if (eof && start < in.len) {
				apply(f, in.p + start, in.len - start);
				start = in.len;
			}
			if (start == in.len) {
				in.len = start = 0;
			} else if (start > 65536) {
				memmove(in.p, in.p + start, in.len - start);
				in.len -= start;
				start = 0;
			}
			batch_in(f);
			/* (a render due now notes the status once it is out:
			 * not a file more to write before it) */
			if (f->noted && due_in(f) != 0)
				status_note(f);
			continue;
		}
		if (due_in(f) == 0)
			render_out(f);
	}
	buf_free(&in);
	/* What the input held at its end is rendered now, once: its
	 * producer is gone, and so is any reason to wait. */
	if (due_in(f) >= 0) {
		render_out(f);
		if (f->retry_at)
			return EXIT_TEMP;
	}
	return EXIT_OK;
}

/* The helpers a template may call besides the engine's: easy-lb's. */
static const struct tmpl_helpers *const sets[] = {&easylb_helpers, NULL};

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"arg", required_argument, NULL, 'a'},
	    {"debounce", required_argument, NULL, 'D'},
	    {"follow", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {"max-output", required_argument, NULL, 'm'},
	    {"no-sync", no_argument, NULL, 'n'},
	    {"status", required_argument, NULL, 'S'},
	    {"timings", no_argument, NULL, 't'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *datapath = "-", *outpath = NULL, *tpath, *tname, *dname;
	const char *statuspath = NULL;
	const char *errstr;
	long long maxout = MAX_OUTPUT_DEFAULT;
	struct tmpl_err terr;
	char err[1024];
	jv v;
	double t0, t1, t2, t3, t4;
	int c, timings = 0, changed, r, follow_mode = 0, dset = 0, nosync = 0;
	long long debounce = 0;

	tool_init(argv);
	st.args = jv_object();
	st.data = jv_invalid();
	atexit(cleanup);
	while ((c = getopt_long(argc, argv, "d:ho:", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (optind >= argc)
				usage(stderr, EXIT_BAD);
			if (!valid_name(optarg))
				die(EXIT_BAD, "--arg: bad variable name: %s",
				    optarg);
			st.args = jv_object_set(st.args, jv_string(optarg),
						jv_string(argv[optind++]));
			break;
		case 'd':
			datapath = optarg;
			break;
		case 'D':
			if (parse_ll(optarg, 0, 3600000, &debounce, &errstr) <
			    0)
				die(EXIT_BAD, "--debounce %s: %s", optarg,
				    errstr);
			dset = 1;
			break;
		case 'f':
			follow_mode = 1;
			break;
		case 'h':
			usage(stdout, EXIT_OK);
			break;
		case 'm':
			if (parse_ll(optarg, 1, (long long)(SIZE_MAX / 2),
				     &maxout, &errstr) < 0)
				die(EXIT_BAD, "--max-output: %s: %s", optarg,
				    errstr);
			break;
		case 'n':
			nosync = 1;
			break;
		case 'o':
			outpath = optarg;
			break;
		case 'S':
			statuspath = optarg;
			break;
		case 't':
			timings = 1;
			break;
		case 'V':
			puts("tmpl " VERSION);
			fshut_stdout();
			return EXIT_OK;
		default:
			usage(stderr, EXIT_BAD);
		}
	}
	if (argc - optind != 1)
		usage(stderr, EXIT_BAD);
	tpath = argv[optind];
	if (!strcmp(tpath, "-") && !strcmp(datapath, "-"))
		die(EXIT_BAD, "template and data cannot both be stdin");
	if (dset && !follow_mode)
		die(EXIT_BAD, "--debounce goes with --follow");
	if (statuspath && !follow_mode)
		die(EXIT_BAD, "--status goes with --follow");
	if (nosync && !follow_mode)
		die(EXIT_BAD, "--no-sync goes with --follow");
	if (follow_mode && !outpath)
		die(EXIT_BAD, "--follow needs -o OUT");
	tname = strcmp(tpath, "-") ? tpath : "stdin";
	dname = strcmp(datapath, "-") ? datapath : "stdin";

	t0 = now_sec();
	if (read_file(tpath, &st.tb, err, sizeof(err)) < 0)
		die(EXIT_TEMP, "%s", err);
	if (tmpl_parse(tname, st.tb.p, st.tb.len, tmpl_load_file, NULL, sets,
		       &st.t, &terr) < 0)
		die(exit_for(terr.kind), "%s", terr.msg);
	buf_free(&st.tb);
	t1 = now_sec();
	v = st.args;
	st.args = jv_invalid();
	if (tmpl_compile(st.t, v, &terr) < 0)
		die(exit_for(terr.kind), "%s", terr.msg);
	t2 = now_sec();
	if (follow_mode) {
		struct follow f = {0};
		int fd = 0;

		f.out = outpath;
		f.held = -1;
		f.name = dname;
		f.maxout = (size_t)maxout;
		pace_init(&f.pace, debounce, 0);
		backoff_init(&f.retry, 1000, 8000);
		f.timings = timings;
		f.status = statuspath;
		f.nosync = nosync;
		if (strcmp(datapath, "-") &&
		    (fd = open(datapath, O_RDONLY | O_CLOEXEC)) < 0)
			dieerr(EXIT_TEMP, "%s", datapath);
		st.data = jv_object();
		tmpl_incremental(st.t);
		r = follow(&f, fd);
		if (fd > 0)
			close(fd);
		return r;
	}
	v = read_data(datapath, dname);
	t3 = now_sec();
	r = tmpl_render(st.t, v, (size_t)maxout, &st.out, &terr);
	print_warnings(tmpl_warnings(st.t), NULL);
	if (r < 0)
		die(exit_for(terr.kind), "%s", terr.msg);
	t4 = now_sec();
	tmpl_free(st.t);
	st.t = NULL;
	if (outpath) {
		if (atomic_replace(outpath, st.out.p, st.out.len, &changed, err,
				   sizeof(err)) < 0)
			die(EXIT_TEMP, "%s", err);
	} else if (st.out.len &&
		   fwrite(st.out.p, 1, st.out.len, stdout) != st.out.len) {
		dieerr(EXIT_TEMP, "write error on stdout");
	}
	buf_free(&st.out);
	if (!outpath)
		fshut_stdout();
	if (timings)
		warnmsg(
		    "timings: parse %.1f ms, compile %.1f ms, data %.1f ms, render %.1f ms, output %.1f ms",
		    (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3,
		    (t4 - t3) * 1e3, (now_sec() - t4) * 1e3);
	return EXIT_OK;
}
