/* What the etcd tools share: their options (as etcdctl spells them) and
 * environment, the usage text of those, opening a client or dying, and
 * dying with a call's status.  These may exit, so only tools/ call them;
 * the client itself is the library's (lib/etcd/etcd.h). */
#ifndef EASYLB_ETCDTOOL_H
#define EASYLB_ETCDTOOL_H

#include <getopt.h>

#include "etcd/etcd.h"
#include "tool.h"

/* The options every etcd tool takes, as etcdctl spells them: opt is one
 * of ETCD_OPT_* (or 'e' for -e) and arg its argument. */
enum {
	ETCD_OPT_ENDPOINTS = 0x1000,
	ETCD_OPT_USER,
	ETCD_OPT_PASSWORD,
	ETCD_OPT_CACERT,
	ETCD_OPT_CERT,
	ETCD_OPT_KEY,
	ETCD_OPT_INSECURE,
	ETCD_OPT_DIAL_TIMEOUT,
	ETCD_OPT_COMMAND_TIMEOUT,
};
/* getopt_long entries for the options above; spliced into each tool's
 * own table by ETCD_LONGOPTS. */
#define ETCD_LONGOPTS                                                          \
	{"endpoints", required_argument, 0, ETCD_OPT_ENDPOINTS},               \
	    {"user", required_argument, 0, ETCD_OPT_USER},                     \
	    {"password", required_argument, 0, ETCD_OPT_PASSWORD},             \
	    {"cacert", required_argument, 0, ETCD_OPT_CACERT},                 \
	    {"cert", required_argument, 0, ETCD_OPT_CERT},                     \
	    {"key", required_argument, 0, ETCD_OPT_KEY},                       \
	    {"insecure-skip-tls-verify", no_argument, 0, ETCD_OPT_INSECURE},   \
	    {"dial-timeout", required_argument, 0, ETCD_OPT_DIAL_TIMEOUT},     \
	{                                                                      \
		"command-timeout", required_argument, 0,                       \
		    ETCD_OPT_COMMAND_TIMEOUT                                   \
	}
#define ETCD_USAGE                                                             \
	"[-e|--endpoints URL[,URL...]] [--user NAME[:PASSWORD]]\n"             \
	"       [--password PASSWORD] [--cacert FILE] [--cert FILE --key "     \
	"FILE]\n"                                                              \
	"       [--insecure-skip-tls-verify] [--dial-timeout DUR]\n"           \
	"       [--command-timeout DUR]"

/* Options as given; unset ones are NULL. */
struct etcd_opts {
	const char *endpoints, *user, *password, *cacert, *cert, *key;
	const char *dial_timeout, *command_timeout;
	int insecure;
};
/* Record one option (opt = ETCD_OPT_*, or 'e'); 0, or -1 if opt is not
 * one of ours. */
int etcd_opt(struct etcd_opts *o, int opt, const char *arg);
/* Build conf from options, then ETCDCTL_* variables, then ETCD_PEERS,
 * then the default http://127.0.0.1:2379.  Returns 0, or -1 with err
 * filled (a bad URL, a bad duration).  Free with etcd_conf_free. */
int etcd_conf_make(struct etcd_conf *c, const struct etcd_opts *o, char *err,
		   size_t errlen);

/* Build the configuration from o and the environment and open a client,
 * or die with EXIT_BAD naming what was wrong.  c must outlive the client. */
struct etcd *etcd_tool_open(const struct etcd_opts *o, struct etcd_conf *c);
/* Die with the exit code for status st and the call's message err. */
void etcd_tool_die(int st, const char *what, const char *err)
    __attribute__((noreturn));
/* Write the flat {key: value} JSON member for kv into out, unless key or
 * value is not UTF-8: then warn (naming the key) and leave it out; with
 * b64 the value is written in base64 instead.  *first tracks commas.
 * Returns 0, or -1 on ENOMEM. */
int etcd_tool_member(struct buf *out, const struct etcd_kv *kv, int b64,
		     int *first);

#endif
