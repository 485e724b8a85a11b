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
	fprintf(f, "usage: etcd-put [--ttl SECONDS [--keepalive]]\n"
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

/* Wait up to ms for a signal; returns the signal number or 0. */
static int
wait_signal(long long ms)
{
	struct pollfd p = {sigpipe_[0], POLLIN, 0};
	unsigned char c;
	int r;

	r = poll(&p, 1, ms > 0x7fffffff ? 0x7fffffff : (int)ms);
	if (r > 0 && read(sigpipe_[0], &c, 1) == 1)
		return c;
	return 0;
}

/* Put key=val under a fresh lease of ttl seconds. */
static int
register_key(struct etcd *e, const char *key, const char *val, size_t vlen,
	     long long ttl, char **id)
{
	int st;

	free(*id);
	*id = NULL;
	if ((st = etcd_lease_grant(e, ttl, id, err, sizeof(err))) != ETCD_OK)
		return st;
	return put(e, key, val, vlen, *id);
}

/* Keep key registered until SIGTERM/SIGINT, then revoke the lease so the
 * key disappears at once.  While etcd is away it keeps trying; when etcd
 * is back and the lease expired meanwhile, it registers again. */
static int
keep_registered(struct etcd *e, const char *key, const char *val, size_t vlen,
		long long ttl, char **id)
{
	long long every = ttl * 1000 / 3, wait = 0;
	int st, alive, sig, warned = 0, registered = *id != NULL;
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
		if ((sig = wait_signal(wait)))
			break;
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
			st = register_key(e, key, val, vlen, ttl, id);
			registered = st == ETCD_OK;
		}
		if (st == ETCD_OK) {
			if (warned)
				warnmsg("%s: etcd reachable again (%s)", key,
					etcd_endpoint(e));
			warned = 0;
			backoff_reset(&retry);
			wait = every;
			continue;
		}
		if (st == ETCD_EBAD)
			etcd_tool_die(st, key, err);
		if (!warned)
			warnmsg("%s: %s; retrying", key, err);
		warned = 1;
		wait = backoff_next(&retry);
	}
	if (!registered || !*id)
		return EXIT_OK;
	if ((st = etcd_lease_revoke(e, *id, err, sizeof(err))) != ETCD_OK) {
		warnmsg(
		    "%s: cannot revoke lease %s (the key expires within %lld s): %s",
		    key, *id, ttl, err);
		return EXIT_TEMP;
	}
	(void)sig;
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
	int c, del = 0, prefix = 0, keep = 0, st, code = EXIT_OK;

	tool_init(argv);
	while ((c = getopt_long(argc, argv, "de:hkpt:", longopts, NULL)) !=
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
	if (!*argv[0] && !(del && prefix))
		die(EXIT_BAD, "empty key");

	if (!del && !strcmp(argv[1], "-")) {
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
	} else if (keep) {
		/* Registration may precede etcd: keep_registered retries. */
		st = register_key(e, argv[0], val, vlen, ttl, &id);
		if (st == ETCD_EBAD)
			etcd_tool_die(st, argv[0], err);
		if (st != ETCD_OK) {
			warnmsg("%s: %s; retrying", argv[0], err);
			free(id);
			id = NULL;
		}
		code = keep_registered(e, argv[0], val, vlen, ttl, &id);
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
	etcd_free(e);
	etcd_conf_free(&conf);
	fshut_stdout();
	return code;
}
