/* haproxy unix-socket client and reply parsers: see haproxy.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "haproxy/cfg.h"
#include "haproxy/haproxy.h"

static int
waitfd(int fd, short ev, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = ev};
	long long left;
	int r;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

int
hap_command(const char *path, const char *cmd, long long deadline,
	    struct buf *reply, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(cmd), off = 0;
	char *line = NULL, tmp[4096];
	int fd, ret = -1;
	ssize_t n;

	if (strlen(path) >= sizeof(sa.sun_path))
		return seterr(err, errlen, "%s: socket path too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return seterr(err, errlen, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* A unix socket whose backlog is full says EAGAIN. */
		if (errno != EINPROGRESS && errno != EAGAIN) {
			seterr(err, errlen, "%s: connect: %s", path,
			       strerror(errno));
			goto out;
		}
		if (waitfd(fd, POLLOUT, deadline) < 0 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			if (errno == EISCONN)
				goto connected;
			seterr(err, errlen, "%s: connect: %s", path,
			       strerror(errno));
			goto out;
		}
	}
connected:
	if (!(line = malloc(len + 2))) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	memcpy(line, cmd, len);
	line[len++] = '\n';
	while (off < len) {
		n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			seterr(err, errlen, "%s: send: %s", path,
			       strerror(errno));
			goto out;
		}
		if (waitfd(fd, POLLOUT, deadline) < 0) {
			seterr(err, errlen, "%s: send: %s", path,
			       strerror(errno));
			goto out;
		}
	}
	/* The end of our input is what makes haproxy close the connection
	 * after its reply: the 2.6 master CLI would otherwise wait for a
	 * next command. */
	shutdown(fd, SHUT_WR);
	for (;;) {
		n = recv(fd, tmp, sizeof(tmp), 0);
		if (n > 0) {
			if (buf_add(reply, tmp, n) < 0) {
				seterr(err, errlen, "out of memory");
				goto out;
			}
			continue;
		}
		if (n == 0)
			break;
		if (errno == ECONNRESET)
			break;
		if (errno != EAGAIN && errno != EINTR) {
			seterr(err, errlen, "%s: recv: %s", path,
			       strerror(errno));
			goto out;
		}
		if (waitfd(fd, POLLIN, deadline) < 0) {
			seterr(err, errlen, "%s: no complete reply: %s", path,
			       strerror(errno));
			goto out;
		}
	}
	ret = 0;
out:
	free(line);
	close(fd);
	return ret;
}

/* Split s in place into at most max blank-separated fields. */
static size_t
fields(char *s, char **f, size_t max)
{
	size_t n = 0;

	while (n < max) {
		s += strspn(s, " \t");
		if (!*s)
			break;
		f[n++] = s;
		s += strcspn(s, " \t");
		if (*s)
			*s++ = '\0';
	}
	return n;
}

static int
num(const char *s, long *out)
{
	long long v;
	const char *es;

	if (parse_ll(s, 0, 0x7fffffff, &v, &es) < 0)
		return -1;
	*out = (long)v;
	return 0;
}

int
hap_parse_proc(const char *text, struct hap_proc *p, char *err, size_t errlen)
{
	char *copy, *line, *save = NULL, *f[8];
	int section = 0, seen = 0;
	size_t n;

	memset(p, 0, sizeof(*p));
	p->failed = -1;
	if (!(copy = strdup(text)))
		return seterr(err, errlen, "out of memory");
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#') {
			/* "# workers", "# programs", "# old workers". */
			if (strstr(line, "workers") && !strstr(line, "old"))
				section = 1;
			else if (line[1] == ' ')
				section = 2;
			continue;
		}
		n = fields(line, f, 8);
		if (n < 3)
			continue;
		if (!strcmp(f[1], "master")) {
			if (num(f[0], &p->master_pid) < 0 ||
			    num(f[2], &p->reloads) < 0)
				continue;
			seen = 1;
			if (n > 4 && !strcmp(f[3], "[failed:")) {
				long v;
				char *e = strchr(f[4], ']');
				if (e)
					*e = '\0';
				if (num(f[4], &v) == 0)
					p->failed = v;
			}
		} else if (section == 1 && !strcmp(f[1], "worker")) {
			struct hap_worker w;
			void *np;
			if (num(f[0], &w.pid) < 0 || num(f[2], &w.reloads) < 0)
				continue;
			np = array_grow(p->workers, p->nworkers, sizeof(w));
			if (!np) {
				free(copy);
				hap_proc_free(p);
				return seterr(err, errlen, "out of memory");
			}
			p->workers = np;
			p->workers[p->nworkers++] = w;
		}
	}
	free(copy);
	if (!seen) {
		hap_proc_free(p);
		return seterr(err, errlen, "no master line in show proc");
	}
	return 0;
}

void
hap_proc_free(struct hap_proc *p)
{
	free(p->workers);
	p->workers = NULL;
	p->nworkers = 0;
}

long
hap_proc_new_worker(const struct hap_proc *now, const struct hap_proc *old)
{
	size_t i;
	long best = 0, bestreloads = -1;

	for (i = 0; i < now->nworkers; i++) {
		size_t j;
		for (j = 0; j < old->nworkers; j++)
			if (old->workers[j].pid == now->workers[i].pid)
				break;
		if (j < old->nworkers)
			continue;
		if (bestreloads < 0 || now->workers[i].reloads < bestreloads) {
			best = now->workers[i].pid;
			bestreloads = now->workers[i].reloads;
		}
	}
	return best;
}

int
hap_parse_servers_state(const char *text, struct hap_srvstate **out,
			size_t *nout, char *err, size_t errlen)
{
	char *copy, *line, *save = NULL, *f[32];
	struct hap_srvstate *v = NULL, s, *np;
	size_t n = 0, nf;
	int version = 0;

	*out = NULL;
	*nout = 0;
	if (!(copy = strdup(text)))
		return seterr(err, errlen, "out of memory");
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		nf = fields(line, f, 32);
		if (nf == 1 && !version) {
			version = 1;
			if (strcmp(f[0], "1"))
				goto bad;
			continue;
		}
		/* be_id be_name srv_id srv_name srv_addr srv_op_state
		 * srv_admin_state srv_uweight srv_iweight ... srv_fqdn(17)
		 * srv_port(18) */
		if (nf < 19 || !version)
			goto bad;
		memset(&s, 0, sizeof(s));
		if (!(np = array_grow(v, n, sizeof(s))))
			goto oom;
		v = np;
		if (num(f[5], &s.op_state) < 0 ||
		    num(f[6], &s.admin_state) < 0 || num(f[7], &s.weight) < 0 ||
		    num(f[18], &s.port) < 0)
			goto bad;
		s.backend = strdup(f[1]);
		s.server = strdup(f[3]);
		s.addr = strdup(f[4]);
		s.fqdn = strdup(f[17]);
		v[n++] = s;
		if (!s.backend || !s.server || !s.addr || !s.fqdn)
			goto oom;
	}
	free(copy);
	if (!version) {
		hap_srvstate_free(v, n);
		return seterr(err, errlen,
			      "unexpected show servers state reply");
	}
	*out = v;
	*nout = n;
	return 0;
oom:
	free(copy);
	hap_srvstate_free(v, n);
	return seterr(err, errlen, "out of memory");
bad:
	free(copy);
	hap_srvstate_free(v, n);
	return seterr(err, errlen, "unexpected show servers state reply");
}

void
hap_srvstate_free(struct hap_srvstate *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(s[i].backend);
		free(s[i].server);
		free(s[i].addr);
		free(s[i].fqdn);
	}
	free(s);
}

void
hap_first_alert(const char *text, char *out, size_t outlen)
{
	const char *l = strstr(text, "[ALERT]");
	const char *s, *e;

	snprintf(out, outlen, "haproxy -c failed");
	if (!l)
		return;
	e = l + strcspn(l, "\n");
	s = strstr(l, ") : ");
	s = s && s < e ? s + 4 : l;
	snprintf(out, outlen, "%.*s", (int)(e - s), s);
}

long
hap_parse_stat_load(const char *text, const char *be, const char *srv)
{
	char *p;
	char *copy, *line, *save = NULL;
	long load = -1;

	if (!(copy = strdup(text)))
		return -1;
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[5];
		size_t n = 0;
		/* pxname,svname,qcur,qmax,scur,... */
		for (p = line; n < 5 && p; n++) {
			f[n] = p;
			if ((p = strchr(p, ',')))
				*p++ = '\0';
		}
		if (n == 5 && !strcmp(f[0], be) && !strcmp(f[1], srv))
			load = atol(f[2]) + atol(f[4]);
	}
	free(copy);
	return load;
}

int
hap_abns(const char *name, size_t n, struct sockaddr_un *a)
{
	if (n + 1 > sizeof(a->sun_path))
		return -1;
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path + 1, name, n);
	return 0;
}

long
hap_read_pidfile(const char *path)
{
	struct buf b = {0};
	char err[256];
	long pid = 0;

	if (read_file(path, &b, err, sizeof(err)) == 0) {
		b.p[strcspn(b.p, "\r\n")] = '\0';
		if (num(b.p, &pid) < 0)
			pid = 0;
	}
	buf_free(&b);
	return pid;
}

size_t
hap_children(long ppid, long *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		char path[300], line[512], *p;
		long cpid, pp;
		FILE *f;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if (!(f = fopen(path, "re")))
			continue;
		p = fgets(line, sizeof(line), f);
		fclose(f);
		/* pid (comm) state ppid: comm may hold anything. */
		if (!p || !(p = strrchr(line, ')')))
			continue;
		if (sscanf(line, "%ld", &cpid) == 1 &&
		    sscanf(p + 1, " %*c %ld", &pp) == 1 && pp == ppid)
			out[n++] = cpid;
	}
	closedir(d);
	return n;
}

static int
same_addr(const char *a, const char *b)
{
	unsigned char x[16], y[16];

	if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
		return !memcmp(x, y, 4);
	if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
		return !memcmp(x, y, 16);
	return !strcmp(a, b);
}

int
hap_same_servers(const char *be, const struct hapcfg_want *w, size_t nw,
		 const struct hap_srvstate *st, size_t n, char *why,
		 size_t wlen)
{
	size_t j, k;

	for (k = 0; k < nw; k++) {
		for (j = 0; j < n; j++)
			if (!strcmp(st[j].backend, be) &&
			    !strcmp(st[j].server, w[k].server))
				break;
		if (j == n)
			return seterr(why, wlen, "%s/%s is not running", be,
				      w[k].server);
		if ((w[k].addr && !same_addr(w[k].addr, st[j].addr)) ||
		    (w[k].port && atol(w[k].port) != st[j].port))
			return seterr(why, wlen, "%s/%s runs at %s:%ld", be,
				      w[k].server, st[j].addr, st[j].port);
		if (w[k].weight != st[j].weight)
			return seterr(why, wlen, "%s/%s has weight %ld", be,
				      w[k].server, st[j].weight);
		if (!w[k].disabled && (st[j].admin_state & HAP_ADMF_FMAINT))
			return seterr(why, wlen, "%s/%s is in maintenance", be,
				      w[k].server);
	}
	for (j = 0; j < n; j++) {
		if (strcmp(st[j].backend, be))
			continue;
		for (k = 0; k < nw && strcmp(st[j].server, w[k].server); k++)
			;
		if (k == nw)
			return seterr(why, wlen, "%s/%s is still running", be,
				      st[j].server);
	}
	return 0;
}
