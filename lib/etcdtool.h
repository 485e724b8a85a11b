/* Tool-side glue for the etcd tools: these may exit, so only tools/ call
 * them (library code stays in etcd.c). */
#ifndef EASYLB_ETCDTOOL_H
#define EASYLB_ETCDTOOL_H

#include "etcd.h"
#include "util.h"

/* Build the configuration from o and the environment and open a client,
 * or die with EXIT_BAD naming what was wrong.  c must outlive the client. */
struct etcd *etcd_tool_open(const struct etcd_opts *o, struct etcd_conf *c);
/* Die with the exit code for status st and etcd's message. */
void etcd_tool_die(struct etcd *e, int st, const char *what)
    __attribute__((noreturn));
/* Write the flat {key: value} JSON member for kv into out, unless key or
 * value is not UTF-8: then warn (naming the key) and leave it out; with
 * b64 the value is written in base64 instead.  *first tracks commas.
 * Returns 0, or -1 on ENOMEM. */
int etcd_tool_member(struct buf *out, const struct etcd_kv *kv, int b64,
		     int *first);

#endif
