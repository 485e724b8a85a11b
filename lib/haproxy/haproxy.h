/* A client for haproxy's unix sockets: the runtime API (stats socket) and
 * the master CLI, plus parsers for the replies a reload tool reads, and
 * what it reads of haproxy's processes outside them (the pidfile, /proc).
 * No output, no exits, no global state. */
#ifndef EASYLB_HAPROXY_H
#define EASYLB_HAPROXY_H

#include <stddef.h>
#include <sys/un.h>

#include "util/util.h"

/* Send one command (a newline is added) to the unix socket at path and
 * append the whole reply, up to the server closing the connection, to
 * reply.  deadline is an absolute now_ms() time.  Returns 0, or -1 with err
 * filled (connection refused, timeout, ...). */
int hap_command(const char *path, const char *cmd, long long deadline,
		struct buf *reply, char *err, size_t errlen);

/* The address of haproxy's "abns@NAME" (name[0, n)): the whole of
 * sun_path, a NUL first, the name, NUL padding, so that its length is
 * sizeof(*a).  0, or -1 when the name is too long. */
int hap_abns(const char *name, size_t n, struct sockaddr_un *a);

/* The master CLI's "show proc". */
struct hap_worker {
	long pid;
	long reloads; /* reloads this worker has lived through */
};
struct hap_proc {
	long master_pid;
	long reloads; /* reloads of the master, failed ones included */
	long failed;  /* failed reloads ("[failed: N]"), -1 when not shown */
	struct hap_worker *workers;
	size_t nworkers;
};

/* Parse a "show proc" reply (borrowed).  Returns 0, or -1 with err filled
 * when it does not look like one (an empty reply included: the master is
 * busy reloading). */
int hap_parse_proc(const char *text, struct hap_proc *proc, char *err,
		   size_t errlen);
void hap_proc_free(struct hap_proc *proc);
/* The pid of the newest worker not in old, or 0. */
long hap_proc_new_worker(const struct hap_proc *now,
			 const struct hap_proc *old);

/* One row of the runtime API's "show servers state". */
struct hap_srvstate {
	char *backend, *server, *addr, *fqdn;
	long port, op_state, admin_state, weight;
};
/* Parse a "show servers state" reply (borrowed) into *out (*n rows).
 * Returns 0, or -1 with err filled. */
int hap_parse_servers_state(const char *text, struct hap_srvstate **out,
			    size_t *n, char *err, size_t errlen);
void hap_srvstate_free(struct hap_srvstate *s, size_t n);

struct hapcfg_want;
/* The servers running in backend be (st[0..n), as "show servers state"
 * gave them) must be exactly w[0..nw) (cfg.h): the same names,
 * addresses, ports and weights, none in maintenance unless declared
 * disabled, no other.  0, or -1 with the first difference in why. */
int hap_same_servers(const char *be, const struct hapcfg_want *w, size_t nw,
		     const struct hap_srvstate *st, size_t n, char *why,
		     size_t wlen);

/* The admin state bit of a server put into maintenance by hand (or added
 * at run time and not yet made ready). */
#define HAP_ADMF_FMAINT 0x01

/* The first "[ALERT]" line of haproxy's output (borrowed: what "haproxy
 * -c" printed, or the master CLI's answer to "reload") without its
 * "[ALERT]    (pid) : " prefix, into out (outlen bytes); "haproxy -c
 * failed" when there is none. */
void hap_first_alert(const char *text, char *out, size_t outlen);

/* The current sessions plus queued requests of server be/srv in a "show
 * stat" reply (borrowed), -1 when it is not there. */
long hap_parse_stat_load(const char *text, const char *be, const char *srv);

/* The pid in haproxy's pidfile at path (the master's, in master-worker
 * mode), 0 when there is none. */
long hap_read_pidfile(const char *path);

/* The children of process ppid, from /proc (without the master CLI, the
 * way to see a master's workers): at most max of them into out; returns
 * how many. */
size_t hap_children(long ppid, long *out, size_t max);

#endif
