/* etcd-get: read a key, or every key under a prefix, from etcd (v3). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcdtool.h"

static void usage(FILE *f, int code) __attribute__((noreturn));

static void
usage(FILE *f, int code)
{
	fprintf(f, "usage: etcd-get [-p] [--base64] [--page N] [--rev N]\n"
		   "       " ETCD_USAGE "\n"
		   "       KEY|PREFIX\n"
		   "       etcd-get --revision [-p]\n"
		   "       " ETCD_USAGE "\n"
		   "       [KEY|PREFIX]\n");
	exit(code);
}

struct prefix_out {
	struct buf out;
	int first, b64;
};

static int
add_member(void *arg, const struct etcd_kv *kv)
{
	struct prefix_out *p = arg;

	if (etcd_tool_member(&p->out, kv, p->b64, &p->first) < 0)
		die(EXIT_TEMP, "out of memory");
	return 0;
}

struct one_out {
	struct buf val;
	int found;
};

static int
keep_value(void *arg, const struct etcd_kv *kv)
{
	struct one_out *o = arg;

	o->found = 1;
	if (buf_add(&o->val, kv->value, kv->vlen) < 0)
		die(EXIT_TEMP, "out of memory");
	return 0;
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
	    {"help", no_argument, 0, 'h'},
	    {"version", no_argument, 0, 'V'},
	    ETCD_LONGOPTS,
	    {0, 0, 0, 0},
	};
	struct etcd_opts eo = {0};
	struct etcd_conf conf;
	struct etcd *e;
	char err[ETCD_ERRLEN];
	long long rev = 0, atrev, page = 10000;
	const char *errstr;
	int c, prefix = 0, revonly = 0, b64 = 0, st;

	setprogname(argv[0]);
	argv[0] = (char *)getprogname_(); /* for getopt's messages */
	while ((c = getopt_long(argc, argv, "be:hpr:", longopts, NULL)) != -1) {
		if (etcd_opt(&eo, c, optarg) == 0)
			continue;
		switch (c) {
		case 'b':
			b64 = 1;
			break;
		case 'h':
			usage(stdout, EXIT_OK);
		case 'p':
			prefix = 1;
			break;
		case 'P':
			if (parse_ll(optarg, 1, 100000, &page, &errstr) < 0)
				die(EXIT_BAD, "--page %s: %s", optarg, errstr);
			break;
		case 'r':
			if (parse_ll(optarg, 1, (1LL << 53), &rev, &errstr) < 0)
				die(EXIT_BAD, "--rev %s: %s", optarg, errstr);
			break;
		case 'R':
			revonly = 1;
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
	if (revonly ? argc > 1 : argc != 1)
		usage(stderr, EXIT_BAD);
	if (!revonly && !prefix && !*argv[0])
		die(EXIT_BAD, "empty key");

	e = etcd_tool_open(&eo, &conf);
	if (revonly) {
		/* Asked through the key the caller may read, if one is
		 * given: a user limited to a prefix may not read "\0". */
		st = argc ? etcd_revision(e, argv[0], strlen(argv[0]), prefix,
					  &atrev, err, sizeof err)
			  : etcd_revision(e, "", 0, prefix, &atrev, err,
					  sizeof err);
		if (st != ETCD_OK)
			etcd_tool_die(st, "revision", err);
		printf("%lld\n", atrev);
	} else if (prefix) {
		/* The whole object is built before anything is written: a
		 * failure half way must not leave half a document. */
		struct prefix_out p = {{0}, 1, b64};

		if (buf_add(&p.out, "{", 1) < 0)
			die(EXIT_TEMP, "out of memory");
		st = etcd_range_each(e, argv[0], strlen(argv[0]), 1, rev, page,
				     &atrev, add_member, &p, err, sizeof err);
		if (st != ETCD_OK)
			etcd_tool_die(st, argv[0], err);
		if (buf_add(&p.out, "}\n", 2) < 0)
			die(EXIT_TEMP, "out of memory");
		fwrite(p.out.p, 1, p.out.len, stdout);
		buf_free(&p.out);
	} else {
		struct one_out o = {{0}, 0};

		st = etcd_range_each(e, argv[0], strlen(argv[0]), 0, rev, 0,
				     &atrev, keep_value, &o, err, sizeof err);
		if (st != ETCD_OK)
			etcd_tool_die(st, argv[0], err);
		if (o.found)
			fwrite(o.val.p, 1, o.val.len, stdout);
		buf_free(&o.val);
		if (!o.found) {
			etcd_free(e);
			etcd_conf_free(&conf);
			fshut_stdout();
			return EXIT_NO;
		}
	}
	etcd_free(e);
	etcd_conf_free(&conf);
	fshut_stdout();
	return EXIT_OK;
}
