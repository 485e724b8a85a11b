/* etcd-put: write or delete keys in etcd (v3), optionally under a lease
 * kept alive until the process is told to stop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcdtool.h"

static void usage(FILE *f, int code) __attribute__((noreturn));

static void
usage(FILE *f, int code)
{
	fprintf(f, "usage: etcd-put [--ttl SECONDS [--keepalive [--follow]]]\n"
		   "       " ETCD_USAGE "\n"
		   "       KEY VALUE|-\n"
		   "       etcd-put -d [-p]\n"
		   "       " ETCD_USAGE "\n"
		   "       KEY|PREFIX\n");
	exit(code);
}

static int sigpipe_[2] = {-1, -1};

static void
onsignal(int sig)
{
	int e = errno;
	unsigned char c = sig;

	(void)!write(sigpipe_[1], &c, 1);
	errno = e;
}

/* The message of the last failed call. */
static char err[ETCD_ERRLEN];

static int
put(struct etcd *e, const char *key, const char *val, size_t vlen,
    const char *lease)
{
	jv req = jv_object(), resp;
	int st;

	req = jv_object_set(req, jv_string("key"), etcd_b64(key, strlen(key)));
	req = jv_object_set(req, jv_string("value"), etcd_b64(val, vlen));
	if (lease)
		req = jv_object_set(req, jv_string("lease"), jv_string(lease));
	if ((st = etcd_call(e, "/v3/kv/put", req, &resp, err, sizeof(err))) ==
	    ETCD_OK)
		jv_free(resp);
	return st;
}

/* What --keepalive keeps: the value, and with --follow, stdin's lines. */
struct kept {
	struct buf val;	 /* registered, or to register */
	int follow;	 /* the value is stdin's last line */
	int have;	 /* ... one came */
	struct buf in;	 /* stdin not split into lines yet */
	struct buf next; /* the last whole line, not put yet */
	int fresh;	 /* next waits to be put */
	int eof;	 /* stdin ended */
};

/* --follow: stdin is readable: its new lines, the last one in next. */
static void
read_lines(struct kept *k)
{
	char chunk[4096], *nl, *last = NULL;
	ssize_t r = read(0, chunk, sizeof(chunk));
	size_t n;

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		k->eof = 1;
		return;
	}
	if (buf_add(&k->in, chunk, (size_t)r) < 0)
		die(EXIT_TEMP, "out of memory");
	for (nl = k->in.p;
	     (nl = memchr(nl, '\n', k->in.len - (size_t)(nl - k->in.p))); nl++)
		last = nl;
	if (!last)
		return;
	/* (the line before the last newline) */
	for (nl = last; nl > k->in.p && nl[-1] != '\n'; nl--)
		;
	n = (size_t)(last - nl);
	k->next.len = 0;
	if (buf_add(&k->next, nl, n) < 0)
		die(EXIT_TEMP, "out of memory");
	k->fresh = !k->have || n != k->val.len || memcmp(nl, k->val.p, n);
	n = (size_t)(last - k->in.p) + 1;
	memmove(k->in.p, k->in.p + n, k->in.len - n);
	k->in.len -= n;
}

/* Wait up to ms for a signal (returned) or, with --follow, a line. */
static int
wait_signal(struct kept *k, long long ms)
{
	struct pollfd p[2] = {{sigpipe_[0], POLLIN, 0},
			      {k->follow && !k->eof ? 0 : -1, POLLIN, 0}};
	unsigned char c;

	if (poll(p, 2, ms > 0x7fffffff ? 0x7fffffff : (int)ms) <= 0)
		return 0;
	if ((p[0].revents & POLLIN) && read(sigpipe_[0], &c, 1) == 1)
		return c;
	if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
		read_lines(k);
	return 0;
}

/* Put key=val under a fresh lease of ttl seconds. */
static int
register_key(struct etcd *e, const char *key, const struct buf *val,
	     long long ttl, char **id)
{
	int st;

	free(*id);
	*id = NULL;
	if ((st = etcd_lease_grant(e, ttl, id, err, sizeof(err))) != ETCD_OK)
		return st;
	return put(e, key, val->p ? val->p : "", val->len, *id);
}

/* Keep key registered until SIGTERM/SIGINT (with --follow, until stdin
 * ends), then revoke the lease so the key disappears at once.  While
 * etcd is away it keeps trying; when etcd is back and the lease expired
 * meanwhile, it registers again.  With --follow each new line of stdin
 * is the value, put under the same lease, at most once a second (the
 * last of a burst), and only when it differs: nothing is written while
 * nothing changes. */
static int
keep_registered(struct etcd *e, const char *key, struct kept *k, long long ttl,
		char **id)
{
	long long every = ttl * 1000 / 3, keep_at = 0, put_at = 0, now, due;
	long long wait = 0;
	int st = ETCD_OK, alive, warned = 0, registered = *id != NULL;
	struct backoff retry;
	struct sigaction sa;

	if (pipe2(sigpipe_, O_CLOEXEC | O_NONBLOCK) < 0)
		dieerr(EXIT_TEMP, "pipe");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = onsignal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (every < 200)
		every = 200;
	/* Retry quickly at first, never slower than the renewal period, so
	 * a short outage does not cost the lease. */
	backoff_init(&retry, 100, every);
	for (;;) {
		if (wait_signal(k, wait) || k->eof)
			break;
		now = now_ms();
		if (k->fresh && now >= put_at) {
			/* (a new value: under the lease there is, else with
			 * a lease of its own) */
			buf_free(&k->val);
			k->val = k->next;
			memset(&k->next, 0, sizeof(k->next));
			k->have = 1;
			k->fresh = 0;
			put_at = now + 1000;
			if (registered &&
			    (st = put(e, key, k->val.p ? k->val.p : "",
				      k->val.len, *id)) != ETCD_OK)
				registered = 0;
			keep_at = registered ? keep_at : 0;
		}
		if (k->have && now >= keep_at) {
			if (registered) {
				st = etcd_lease_keepalive(e, *id, &alive, err,
							  sizeof(err));
				if (st == ETCD_OK && !alive) {
					warnmsg(
					    "%s: lease %s expired; registering again",
					    key, *id);
					registered = 0;
				}
			}
			if (!registered) {
				st = register_key(e, key, &k->val, ttl, id);
				registered = st == ETCD_OK;
			}
			if (st == ETCD_OK) {
				if (warned)
					warnmsg("%s: etcd reachable again (%s)",
						key, etcd_endpoint(e));
				warned = 0;
				backoff_reset(&retry);
				keep_at = now + every;
			} else {
				if (st == ETCD_EBAD)
					etcd_tool_die(st, key, err);
				if (!warned)
					warnmsg("%s: %s; retrying", key, err);
				warned = 1;
				keep_at = now + backoff_next(&retry);
			}
		}
		/* (the next keepalive, or the next put of a value waiting;
		 * with neither, a line or a signal) */
		due = k->have ? keep_at : -1;
		if (k->fresh && (due < 0 || put_at < due))
			due = put_at;
		now = now_ms();
		wait = due < 0 ? -1 : due > now ? due - now : 0;
	}
	if (!registered || !*id)
		return EXIT_OK;
	if ((st = etcd_lease_revoke(e, *id, err, sizeof(err))) != ETCD_OK) {
		warnmsg(
		    "%s: cannot revoke lease %s (the key expires within %lld s): %s",
		    key, *id, ttl, err);
		return EXIT_TEMP;
	}
	return EXIT_OK;
}

static int
delete_keys(struct etcd *e, const char *key, int prefix)
{
	jv req = jv_object(), resp;
	long long n;
	int st;

	req = jv_object_set(req, jv_string("key"), etcd_b64(key, strlen(key)));
	if (prefix)
		req = jv_object_set(req, jv_string("range_end"),
				    etcd_prefix_end(key, strlen(key)));
	if ((st = etcd_call(e, "/v3/kv/deleterange", req, &resp, err,
			    sizeof(err))) != ETCD_OK)
		etcd_tool_die(st, key, err);
	n = etcd_int(resp, "deleted");
	jv_free(resp);
	printf("%lld\n", n);
	return n > 0 ? EXIT_OK : EXIT_NO;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"delete", no_argument, 0, 'd'},
	    {"prefix", no_argument, 0, 'p'},
	    {"ttl", required_argument, 0, 't'},
	    {"keepalive", no_argument, 0, 'k'},
	    {"follow", no_argument, 0, 'f'},
	    {"help", no_argument, 0, 'h'},
	    {"version", no_argument, 0, 'V'},
	    ETCD_LONGOPTS,
	    {0, 0, 0, 0},
	};
	struct etcd_opts eo = {0};
	struct etcd_conf conf;
	struct etcd *e;
	struct buf in = {0};
	const char *errstr, *val;
	size_t vlen;
	long long ttl = 0;
	char *id = NULL;
	int c, del = 0, prefix = 0, keep = 0, follow = 0, st, code = EXIT_OK;
	struct kept k = {0};

	tool_init(argv);
	while ((c = getopt_long(argc, argv, "de:fhkpt:", longopts, NULL)) !=
	       -1) {
		if (etcd_opt(&eo, c, optarg) == 0)
			continue;
		switch (c) {
		case 'd':
			del = 1;
			break;
		case 'h':
			usage(stdout, EXIT_OK);
		case 'k':
			keep = 1;
			break;
		case 'f':
			follow = 1;
			break;
		case 'p':
			prefix = 1;
			break;
		case 't':
			if (parse_ll(optarg, 1, 1LL << 40, &ttl, &errstr) < 0)
				die(EXIT_BAD, "--ttl %s: %s", optarg, errstr);
			break;
		case 'V':
			puts("etcd-put " VERSION);
			return EXIT_OK;
		default:
			usage(stderr, EXIT_BAD);
		}
	}
	argc -= optind;
	argv += optind;
	if (del ? (argc != 1 || ttl || keep) : (argc != 2 || prefix))
		usage(stderr, EXIT_BAD);
	if (keep && !ttl)
		die(EXIT_BAD, "--keepalive needs --ttl");
	if (follow && (!keep || strcmp(argv[1], "-")))
		die(EXIT_BAD, "--follow needs --keepalive and the value -");
	if (!*argv[0] && !(del && prefix))
		die(EXIT_BAD, "empty key");

	if (follow) {
		k.follow = 1;
	} else if (!del && !strcmp(argv[1], "-")) {
		/* The exact bytes of stdin, NULs and newlines included. */
		if (read_file("-", &in, err, sizeof(err)) < 0)
			die(EXIT_TEMP, "%s", err);
		val = in.p;
		vlen = in.len;
	} else if (!del) {
		val = argv[1];
		vlen = strlen(val);
	}

	e = etcd_tool_open(&eo, &conf);
	if (del) {
		code = delete_keys(e, argv[0], prefix);
	} else if (follow) {
		code = keep_registered(e, argv[0], &k, ttl, &id);
	} else if (keep) {
		/* Registration may precede etcd: keep_registered retries. */
		if (buf_add(&k.val, val, vlen) < 0)
			die(EXIT_TEMP, "out of memory");
		k.have = 1;
		st = register_key(e, argv[0], &k.val, ttl, &id);
		if (st == ETCD_EBAD)
			etcd_tool_die(st, argv[0], err);
		if (st != ETCD_OK) {
			warnmsg("%s: %s; retrying", argv[0], err);
			free(id);
			id = NULL;
		}
		code = keep_registered(e, argv[0], &k, ttl, &id);
	} else {
		if (ttl && (st = etcd_lease_grant(e, ttl, &id, err,
						  sizeof(err))) != ETCD_OK)
			etcd_tool_die(st, argv[0], err);
		if ((st = put(e, argv[0], val, vlen, id)) != ETCD_OK)
			etcd_tool_die(st, argv[0], err);
		if (id)
			printf("%s\n", id);
	}
	free(id);
	buf_free(&in);
	buf_free(&k.val);
	buf_free(&k.in);
	buf_free(&k.next);
	etcd_free(e);
	etcd_conf_free(&conf);
	fshut_stdout();
	return code;
}
