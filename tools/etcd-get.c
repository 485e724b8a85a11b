/* etcd-get: read a key, or every key under a prefix, from etcd (v3). */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etcdtool.h"

static void usage(FILE *f, int code) __attribute__((noreturn));

static void
usage(FILE *f, int code)
{
	fprintf(f, "usage: etcd-get [-p] [--base64] [--page N] [--rev N]\n"
		   "       [--wait [--status FILE]]\n"
		   "       " ETCD_USAGE "\n"
		   "       KEY|PREFIX\n"
		   "       etcd-get --revision [-p] [--wait [--status FILE]]\n"
		   "       " ETCD_USAGE "\n"
		   "       [KEY|PREFIX]\n");
	exit(code);
}

/* What is read: the revision only, every key under a prefix, or one
 * key; and what came back. */
struct get {
	struct etcd *e;
	const char *key; /* NULL: the whole store (--revision alone) */
	int revonly, prefix, b64;
	long long rev, page;
	long long atrev;
	struct buf out; /* -p: the whole object; else the value */
	int first;	/* -p: no member yet */
	int found;	/* the key exists */
};

static int
add_member(void *arg, const struct etcd_kv *kv)
{
	struct get *g = arg;

	if (etcd_tool_member(&g->out, kv, g->b64, &g->first) < 0)
		die(EXIT_TEMP, "out of memory");
	return 0;
}

static int
keep_value(void *arg, const struct etcd_kv *kv)
{
	struct get *g = arg;

	g->found = 1;
	if (buf_add(&g->out, kv->value, kv->vlen) < 0)
		die(EXIT_TEMP, "out of memory");
	return 0;
}

/* Read once: an ETCD_* status, err filled when it is not ETCD_OK. */
static int
get_once(struct get *g, char *err, size_t errlen)
{
	const char *k = g->key ? g->key : "";
	size_t klen = strlen(k);

	g->out.len = 0;
	g->first = 1;
	g->found = 0;
	/* Asked through the key the caller may read, if one is given: a
	 * user limited to a prefix may not read "\0". */
	if (g->revonly)
		return etcd_revision(g->e, k, klen, g->prefix, &g->atrev, err,
				     errlen);
	/* The whole object is built before anything is written: a failure
	 * half way must not leave half a document. */
	if (g->prefix && buf_add(&g->out, "{", 1) < 0)
		die(EXIT_TEMP, "out of memory");
	return etcd_range_each(
	    g->e, k, klen, g->prefix, g->rev, g->prefix ? g->page : 0,
	    &g->atrev, g->prefix ? add_member : keep_value, g, err, errlen);
}

/* --status: "waiting SINCE WHY" while etcd cannot be reached, "up AT
 * ENDPOINT" once it answers after a wait (seconds since the epoch);
 * a file that cannot be written is said once. */
static void note(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
note(const char *path, const char *fmt, ...)
{
	static int said;
	char err[512];
	struct buf b = {0};
	va_list ap;

	if (!path)
		return;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (b.p && atomic_note(path, b.p, b.len, err, sizeof(err)) < 0 &&
	    !said++)
		warnmsg("--status: %s", err);
	buf_free(&b);
}

/* Read, and with --wait read again while etcd cannot be reached: each
 * new reason said once (and noted in status), tries 1, 2, 4, 8, then
 * every 16 s apart; once it answers, that is said too.  A refusal ends
 * it at once. */
static void
get(struct get *g, int wait, const char *status)
{
	char err[ETCD_ERRLEN], said[ETCD_ERRLEN] = "";
	const char *what = g->revonly ? "revision" : g->key;
	struct backoff retry;
	time_t since = 0;
	int st;

	backoff_init(&retry, 1000, 16000);
	while ((st = get_once(g, err, sizeof(err))) == ETCD_ETEMP && wait) {
		if (strcmp(err, said)) {
			warnmsg("%s: %s; waiting for etcd", what, err);
			snprintf(said, sizeof(said), "%s", err);
			if (!since)
				since = time(NULL);
			flatten_line(err);
			note(status, "waiting %lld %s\n", (long long)since,
			     err);
		}
		sleep_ms(backoff_next(&retry));
	}
	if (st != ETCD_OK)
		etcd_tool_die(st, what, err);
	if (*said) {
		warnmsg("etcd is up (%s)", etcd_endpoint(g->e));
		note(status, "up %lld %s\n", (long long)time(NULL),
		     etcd_endpoint(g->e));
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"prefix", no_argument, 0, 'p'},
	    {"rev", required_argument, 0, 'r'},
	    {"revision", no_argument, 0, 'R'},
	    {"base64", no_argument, 0, 'b'},
	    {"page", required_argument, 0, 'P'},
	    {"wait", no_argument, 0, 'w'},
	    {"status", required_argument, 0, 'S'},
	    {"help", no_argument, 0, 'h'},
	    {"version", no_argument, 0, 'V'},
	    ETCD_LONGOPTS,
	    {0, 0, 0, 0},
	};
	struct etcd_opts eo = {0};
	struct etcd_conf conf;
	struct get g = {0};
	const char *errstr, *status = NULL;
	int c, wait = 0;

	g.page = 10000;
	tool_init(argv);
	while ((c = getopt_long(argc, argv, "be:hpr:", longopts, NULL)) != -1) {
		if (etcd_opt(&eo, c, optarg) == 0)
			continue;
		switch (c) {
		case 'b':
			g.b64 = 1;
			break;
		case 'h':
			usage(stdout, EXIT_OK);
		case 'p':
			g.prefix = 1;
			break;
		case 'P':
			if (parse_ll(optarg, 1, 100000, &g.page, &errstr) < 0)
				die(EXIT_BAD, "--page %s: %s", optarg, errstr);
			break;
		case 'r':
			if (parse_ll(optarg, 1, (1LL << 53), &g.rev, &errstr) <
			    0)
				die(EXIT_BAD, "--rev %s: %s", optarg, errstr);
			break;
		case 'R':
			g.revonly = 1;
			break;
		case 'S':
			status = optarg;
			break;
		case 'w':
			wait = 1;
			break;
		case 'V':
			puts("etcd-get " VERSION);
			return EXIT_OK;
		default:
			usage(stderr, EXIT_BAD);
		}
	}
	argc -= optind;
	argv += optind;
	if (g.revonly ? argc > 1 : argc != 1)
		usage(stderr, EXIT_BAD);
	if (!g.revonly && !g.prefix && !*argv[0])
		die(EXIT_BAD, "empty key");
	if (status && !wait)
		die(EXIT_BAD, "--status needs --wait");

	g.key = argc ? argv[0] : NULL;
	g.e = etcd_tool_open(&eo, &conf);
	get(&g, wait, status);
	if (g.revonly)
		printf("%lld\n", g.atrev);
	else if (g.prefix && buf_add(&g.out, "}\n", 2) < 0)
		die(EXIT_TEMP, "out of memory");
	if (!g.revonly && (g.prefix || g.found))
		fwrite(g.out.p, 1, g.out.len, stdout);
	buf_free(&g.out);
	etcd_free(g.e);
	etcd_conf_free(&conf);
	fshut_stdout();
	return g.revonly || g.prefix || g.found ? EXIT_OK : EXIT_NO;
}
