/* hap-certs: keep haproxy's TLS certificates in step with etcd, without a
 * reload.  It reads etcd-watch's records of TLS_PREFIX on a descriptor of
 * its own and keeps every PREFIX/NAME/cert and PREFIX/NAME/key; the pairs
 * that are good are written to DIR (crt/NAME.pem, mode 600, replaced
 * atomically, removed with the certificate; default.pem, the one for
 * clients without SNI; crt-list, all of them) and put into the running
 * haproxy through its runtime API.  Meanwhile it passes the records of
 * the services from its standard input to its standard output, for
 * tmpl --follow, adding at the end of a batch whether HTTPS is on (the
 * key easy-lb:tls): opening or closing the listener is the one change of
 * certificates that needs a new haproxy.cfg.  See hap-certs(1). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "haproxy/haproxy.h"
#include "etcd/records.h"
#include "haproxy/tlscert.h"
#include "hap-certs/pem.h"
#include "tool.h"

static const char usage_line[] =
    "usage: hap-certs -d DIR -s RUNTIME_SOCKET [--from FD] [--prefix PREFIX] [--default NAME] [--status FILE]\n";

/* The key tmpl --follow's data gets: "on" while HTTPS is. */
#define TLS_KEY "easy-lb:tls"
/* A certificate or key larger than this is no certificate. */
#define MAX_PEM (256 * 1024)
/* Warn of a certificate that expires within this many days. */
#define EXPIRY_DAYS 14
/* How long the services may wait for the certificates' first state. */
#define GATE_MS 5000

/* One certificate name: what etcd holds, and the pair that serves. */
struct cert {
	char *name;
	struct buf cert, key; /* as etcd holds them now */
	int have_cert, have_key;
	struct buf pem;	      /* the pair that serves, as written */
	char fp[64];	      /* its first certificate's SHA-1, hex */
	uint64_t sum;	      /* pem's bytes, hashed: the chain counts too */
	int pushed;	      /* haproxy holds pem, as far as we know */
	char *said;	      /* the last warning said of it */
	int serving, written; /* pem serves; and is in DIR */
	long long not_after;  /* of the pair that serves */
	char subject[256];
};

static struct {
	const char *dir, *sock, *prefix, *deflt;
	char *crtdir, *list, *defpem;
	struct cert *c;
	size_t n;
	int on, announced; /* HTTPS on; and as tmpl was told */
	int tls_known;	   /* the certificates' first state came */
	char defname[256]; /* the default's name, "" for none */
	uint64_t defsum;   /* and its pem's sum, as written */
	long long sync_at; /* when to put the set into haproxy, 0: no */
	struct backoff retry;
	int failing; /* a sync failed, said; none succeeded since */
	int swept;   /* what an earlier run left is gone, haproxy synced */
	const char *status; /* --status FILE */
	struct buf said;    /* ... what it holds */
} st;

static void
usage(void)
{
	fputs(usage_line, stderr);
	exit(EXIT_BAD);
}

/* Say msg of certificate c, unless it was the last thing said of it. */
static void
say_once(struct cert *c, const char *msg)
{
	if (c->said && !strcmp(c->said, msg))
		return;
	warnmsg("%s", msg);
	free(c->said);
	c->said = xstrdup(msg);
}

static struct cert *
find(const char *name, size_t len, int make)
{
	struct cert *c;
	size_t i;

	for (i = 0; i < st.n; i++)
		if (strlen(st.c[i].name) == len &&
		    !memcmp(st.c[i].name, name, len))
			return &st.c[i];
	if (!make)
		return NULL;
	if (!(c = array_grow(st.c, st.n, sizeof(*c))))
		die(EXIT_TEMP, "out of memory");
	st.c = c;
	c = &st.c[st.n++];
	memset(c, 0, sizeof(*c));
	c->name = xmalloc(len + 1);
	memcpy(c->name, name, len);
	c->name[len] = '\0';
	return c;
}

/* Record key k (a put of v, or a delete when v is NULL) of the state. */
static void
set_key(const char *k, size_t kn, const char *v, size_t vn)
{
	size_t pn = strlen(st.prefix), nn;
	const char *name, *what;
	struct cert *c;
	int is_cert;

	if (kn <= pn || memcmp(k, st.prefix, pn))
		return;
	name = k + pn;
	what = memchr(name, '/', kn - pn);
	if (!what)
		return;
	nn = (size_t)(what - name);
	what++;
	if (!strncmp(what, "cert", kn - pn - nn - 1) && kn - pn - nn - 1 == 4)
		is_cert = 1;
	else if (!strncmp(what, "key", kn - pn - nn - 1) &&
		 kn - pn - nn - 1 == 3)
		is_cert = 0;
	else
		return;
	if (!good_name(name, nn)) {
		if (v)
			warnmsg(
			    "%.*s: not a certificate name easy-lb accepts (letters, digits, '.', '_', '-'); skipped",
			    (int)kn, k);
		return;
	}
	if (!(c = find(name, nn, v != NULL)))
		return;
	if (is_cert) {
		c->cert.len = 0;
		c->have_cert = v && buf_add(&c->cert, v, vn) == 0;
	} else {
		c->key.len = 0;
		c->have_key = v && buf_add(&c->key, v, vn) == 0;
	}
}

/* Check certificate c's pair as etcd holds it now: a good one serves, a
 * bad one is said (once) and the previous pair, if any, goes on. */
static void
check(struct cert *c)
{
	char err[256], msg[768], date[32];
	struct tlscert_info info;
	enum tlscert_fault f;
	struct buf pem = {0};
	long long days;
	time_t t;

	if (!c->have_cert && !c->have_key) {
		c->serving = 0;
		return;
	}
	if (!c->have_cert || !c->have_key) {
		snprintf(msg, sizeof(msg), "%s%s/%s: missing%s", st.prefix,
			 c->name, c->have_cert ? "key" : "cert",
			 c->serving ? "; the previous pair keeps serving"
				    : "; not served yet");
		say_once(c, msg);
		return;
	}
	if (c->cert.len > MAX_PEM || c->key.len > MAX_PEM) {
		f = c->cert.len > MAX_PEM ? TLSCERT_BADCERT : TLSCERT_BADKEY;
		snprintf(err, sizeof(err), "larger than %d bytes", MAX_PEM);
	} else {
		f = tlscert_check(c->cert.p, c->cert.len, c->key.p, c->key.len,
				  &info, err, sizeof(err));
	}
	if (f != TLSCERT_OK) {
		snprintf(msg, sizeof(msg), "%s%s/%s: %s; %s", st.prefix,
			 c->name, f == TLSCERT_BADCERT ? "cert" : "key", err,
			 c->serving ? "the previous pair keeps serving"
				    : "skipped");
		say_once(c, msg);
		return;
	}
	t = (time_t)info.not_after;
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&t));
	days = (info.not_after - (long long)time(NULL)) / 86400;
	if (info.not_after <= (long long)time(NULL)) {
		snprintf(msg, sizeof(msg), "%s%s/cert: expired %s; served",
			 st.prefix, c->name, date);
		say_once(c, msg);
	} else if (days < EXPIRY_DAYS) {
		snprintf(msg, sizeof(msg),
			 "%s%s/cert: expires %s, in %lld days; served",
			 st.prefix, c->name, date, days);
		say_once(c, msg);
	} else {
		free(c->said);
		c->said = NULL;
	}
	add_pem(&pem, c->cert.p, c->cert.len);
	add_pem(&pem, c->key.p, c->key.len);
	if (!c->serving || pem.len != c->pem.len ||
	    memcmp(pem.p, c->pem.p, pem.len)) {
		buf_free(&c->pem);
		c->pem = pem;
		c->written = c->pushed = 0;
		fingerprint(&c->pem, c->fp, sizeof(c->fp));
		c->sum = fnv1a(FNV1A, c->pem.p, c->pem.len);
	} else {
		buf_free(&pem);
	}
	c->serving = 1;
	c->not_after = info.not_after;
	snprintf(c->subject, sizeof(c->subject), "%s", info.subject);
	flatten_line(c->subject);
}

static char *
crtpath(const char *name)
{
	char *p = xmalloc(strlen(st.crtdir) + strlen(name) + 6);

	sprintf(p, "%s/%s.pem", st.crtdir, name);
	return p;
}

/* Write path with data, mode 600, atomically; a failure is said. */
static int
write_secret(const char *path, const struct buf *data)
{
	char err[512];
	int changed;
	mode_t um = umask(077);
	int r = atomic_replace(path, data->p ? data->p : "", data->len,
			       &changed, err, sizeof(err));

	umask(um);
	if (r < 0)
		warnmsg("%s", err);
	else
		chmod(path, 0600);
	return r;
}

/* The serving certificate whose file is path, or NULL. */
static struct cert *
by_path(const char *path, size_t n)
{
	size_t dn = strlen(st.crtdir), i;

	if (n <= dn + 5 || memcmp(path, st.crtdir, dn) || path[dn] != '/' ||
	    memcmp(path + n - 4, ".pem", 4))
		return NULL;
	for (i = 0; i < st.n; i++)
		if (st.c[i].serving && strlen(st.c[i].name) == n - dn - 5 &&
		    !memcmp(st.c[i].name, path + dn + 1, n - dn - 5))
			return &st.c[i];
	return NULL;
}

/* Remove the files of DIR/crt that no serving certificate has: those of
 * certificates deleted while no hap-certs ran, and temporary files left
 * by one that died.  -1 when one stays. */
static int
sweep(void)
{
	DIR *d = opendir(st.crtdir);
	struct dirent *e;
	int ret = 0;

	if (!d && errno == ENOENT)
		return 0;
	if (!d) {
		warnerr("%s", st.crtdir);
		return -1;
	}
	while ((e = readdir(d))) {
		size_t n = strlen(st.crtdir) + strlen(e->d_name) + 2;
		char *p;

		/* (a temporary file of a run that died goes too: it may
		 * hold a key) */
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		p = xmalloc(n);
		snprintf(p, n, "%s/%s", st.crtdir, e->d_name);
		if (!by_path(p, n - 1) && unlink(p) < 0 && errno != ENOENT) {
			warnerr("%s", p);
			ret = -1;
		}
		free(p);
	}
	closedir(d);
	return ret;
}

static int
byname(const void *a, const void *b)
{
	return strcmp(((const struct cert *)a)->name,
		      ((const struct cert *)b)->name);
}

/* Bring DIR in step with the pairs that serve: their files, the default
 * (TLS_DEFAULT, else the first by name) and the list; HTTPS is on once a
 * default is written.  Returns -1 when a file could not be written
 * (tried again later). */
static int
write_dir(void)
{
	struct buf list = {0};
	struct cert *d = NULL;
	int ret = 0;
	size_t i;

	if (st.n > 1)
		qsort(st.c, st.n, sizeof(*st.c), byname);
	for (i = 0; i < st.n; i++) {
		struct cert *c = &st.c[i];
		char *p = crtpath(c->name);

		if (c->serving) {
			if (!c->written && write_secret(p, &c->pem) < 0)
				ret = -1;
			else
				c->written = 1;
			buf_printf(&list, "%s\n", p);
			if (!d || (st.deflt && !strcmp(c->name, st.deflt)))
				d = c;
		}
		free(p);
	}
	/* The list first, then the files it no longer names. */
	if (write_secret(st.list, &list) < 0)
		ret = -1;
	buf_free(&list);
	for (i = 0; i < st.n; i++) {
		char *p = crtpath(st.c[i].name);

		if (!st.c[i].serving && unlink(p) < 0 && errno != ENOENT)
			warnerr("%s", p);
		free(p);
	}
	if (!st.swept && st.tls_known) {
		if (sweep() < 0)
			ret = -1;
		else
			st.swept = 1;
	}
	if (!d) {
		unlink(st.defpem);
		st.defname[0] = '\0';
		st.defsum = 0;
	} else if (strcmp(st.defname, d->name) || st.defsum != d->sum) {
		if (write_secret(st.defpem, &d->pem) < 0)
			return -1;
		snprintf(st.defname, sizeof(st.defname), "%s", d->name);
		st.defsum = d->sum;
	}
	st.on = st.defname[0] != '\0';
	return ret;
}

/* --status FILE: a line for each certificate that serves, replaced
 * whole when one comes, goes or changes (for easy-lb status):
 *   cert NAME NOT_AFTER SUBJECT
 * NOT_AFTER in seconds since the epoch, SUBJECT as one line. */
static void
note_status(void)
{
	struct buf b = {0};
	char err[512];
	size_t i;

	if (!st.status)
		return;
	for (i = 0; i < st.n; i++) {
		struct cert *c = &st.c[i];

		if (!c->serving)
			continue;
		buf_printf(&b, "cert %s %lld %s\n", c->name, c->not_after,
			   c->subject);
	}
	buf_add(&b, NULL, 0);
	if (!b.p)
		die(EXIT_TEMP, "out of memory");
	if (st.said.p && b.len == st.said.len &&
	    !memcmp(b.p, st.said.p, b.len)) {
		buf_free(&b);
		return;
	}
	if (atomic_note(st.status, b.p, b.len, err, sizeof(err)) < 0) {
		warnmsg("--status: %s", err);
		buf_free(&b);
		return;
	}
	buf_free(&st.said);
	st.said = b;
}

/* Remove what is gone for good from the state (no cert, no key, no pair). */
static void
forget(void)
{
	size_t i, j;

	for (i = j = 0; i < st.n; i++) {
		struct cert *c = &st.c[i];

		if (c->have_cert || c->have_key || c->serving) {
			st.c[j++] = *c;
			continue;
		}
		buf_free(&c->cert);
		buf_free(&c->key);
		buf_free(&c->pem);
		free(c->said);
		free(c->name);
	}
	st.n = j;
}

/* A runtime API command: its reply in r; 0, or -1 with why said. */
static int
rt(struct buf *r, const char *cmd, const char *name)
{
	char err[512];

	r->len = 0;
	if (hap_command(st.sock, cmd, now_ms() + 5000, r, err, sizeof(err)) <
	    0) {
		warnmsg("%s: %s", name, err);
		return -1;
	}
	return 0;
}

/* A runtime command whose reply must hold ok. */
static int
rt_ok(struct buf *r, const char *cmd, const char *name, const char *ok)
{
	if (rt(r, cmd, name) < 0)
		return -1;
	/* (haproxy's refusal of a delete says "... in use, can't be
	 * deleted!") */
	if (r->p && strstr(r->p, ok) && !strstr(r->p, "can't"))
		return 0;
	warnmsg("%s: haproxy said: %.*s", name,
		(int)strcspn(r->p ? r->p : "", "\n"), r->p ? r->p : "");
	return -1;
}

/* The fingerprint haproxy has of the certificate file path ("" when it
 * has none). */
static void
loaded_fp(struct buf *r, const char *path, char *out, size_t outlen)
{
	char cmd[PATH_MAX + 32];
	const char *p;

	*out = '\0';
	snprintf(cmd, sizeof(cmd), "show ssl cert %s", path);
	if (rt(r, cmd, path) < 0 || !r->p ||
	    !(p = strstr(r->p, "SHA1 FingerPrint: ")))
		return;
	p += strlen("SHA1 FingerPrint: ");
	snprintf(out, outlen, "%.*s", (int)strcspn(p, "\r\n"), p);
}

/* Put certificate file path into haproxy with content pem: a new store
 * (added to the list), or a transaction on the one it has. */
static int
put_cert(struct buf *r, const char *path, const struct buf *pem, int isnew)
{
	struct buf cmd = {0};
	int ret = -1;

	if (isnew) {
		buf_printf(&cmd, "new ssl cert %s", path);
		if (rt_ok(r, cmd.p, path, "New empty") < 0)
			goto out;
		cmd.len = 0;
	}
	buf_printf(&cmd, "set ssl cert %s <<\n", path);
	buf_add(&cmd, pem->p, pem->len);
	if (rt_ok(r, cmd.p, path, "Transaction") < 0)
		goto out;
	cmd.len = 0;
	buf_printf(&cmd, "commit ssl cert %s", path);
	if (rt_ok(r, cmd.p, path, "Success") < 0) {
		cmd.len = 0;
		buf_printf(&cmd, "abort ssl cert %s", path);
		rt(r, cmd.p, path);
		goto out;
	}
	if (isnew) {
		cmd.len = 0;
		buf_printf(&cmd, "add ssl crt-list %s %s", st.list, path);
		if (rt_ok(r, cmd.p, path, "Success") < 0)
			goto out;
	}
	ret = 0;
out:
	/* A new store left out of the list would be taken for one in it
	 * by the next attempt: it goes (should it be in the list after
	 * all, the next attempt finds it missing and adds it whole). */
	if (ret < 0 && isnew) {
		cmd.len = 0;
		buf_printf(&cmd, "del ssl crt-list %s %s", st.list, path);
		rt(r, cmd.p, path);
		cmd.len = 0;
		buf_printf(&cmd, "del ssl cert %s", path);
		rt(r, cmd.p, path);
	}
	buf_free(&cmd);
	return ret;
}

/* Take certificate file path out of haproxy. */
static int
drop_cert(struct buf *r, const char *path)
{
	char cmd[2 * PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "del ssl crt-list %s %s", st.list, path);
	if (rt_ok(r, cmd, path, "deleted") < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "del ssl cert %s", path);
	return rt_ok(r, cmd, path, "deleted");
}

/* Make what haproxy holds of the certificates what DIR holds: each added,
 * changed or removed at run time.  Nothing when haproxy has no TLS
 * listener yet (the reload that opens one loads DIR as it is).  0, or
 * -1 to try again later. */
static int
sync_haproxy(void)
{
	struct buf r = {0}, have = {0};
	char fp[64], *path;
	const char *l, *e;
	int ret = 0, ok;
	size_t i;

	/* No socket: no haproxy yet, and the one that starts loads DIR. */
	if (access(st.sock, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (rt(&r, "show ssl cert", "show ssl cert") < 0) {
		buf_free(&r);
		return -1;
	}
	buf_add(&have, r.p ? r.p : "", r.len);
	if (!have.p || !strstr(have.p, st.defpem)) {
		/* The reload that opens a TLS listener loads DIR. */
		for (i = 0; i < st.n; i++)
			st.c[i].pushed = st.c[i].serving;
		goto out;
	}
	/* What haproxy has and DIR has no more goes. */
	for (l = have.p; *l; l = *e ? e + 1 : e) {
		e = l + strcspn(l, "\n");
		if ((size_t)(e - l) > strlen(st.crtdir) &&
		    !memcmp(l, st.crtdir, strlen(st.crtdir)) &&
		    !by_path(l, (size_t)(e - l))) {
			path = xmalloc((size_t)(e - l) + 1);
			memcpy(path, l, (size_t)(e - l));
			path[e - l] = '\0';
			if (drop_cert(&r, path) < 0)
				ret = -1;
			free(path);
		}
	}
	/* What DIR has comes, new or changed. */
	for (i = 0; i < st.n; i++) {
		struct cert *c = &st.c[i];
		char line[PATH_MAX + 2];

		if (!c->serving)
			continue;
		path = crtpath(c->name);
		snprintf(line, sizeof(line), "\n%s\n", path);
		/* (the fingerprint is the first certificate's: a pair not
		 * known to be pushed goes again, for its chain) */
		ok = 1;
		if (!strstr(have.p, line)) {
			ok = put_cert(&r, path, &c->pem, 1) == 0;
		} else {
			loaded_fp(&r, path, fp, sizeof(fp));
			if (strcmp(fp, c->fp) || !c->pushed)
				ok = put_cert(&r, path, &c->pem, 0) == 0;
		}
		if (!strcmp(c->name, st.defname)) {
			loaded_fp(&r, st.defpem, fp, sizeof(fp));
			if ((strcmp(fp, c->fp) || !c->pushed) &&
			    put_cert(&r, st.defpem, &c->pem, 0) < 0)
				ok = 0;
		}
		c->pushed = ok;
		if (!ok)
			ret = -1;
		free(path);
	}
out:
	buf_free(&r);
	buf_free(&have);
	return ret;
}

/* The certificates' state changed: check, write, and put into haproxy
 * what changed (HTTPS staying on; turning it on or off takes a new
 * haproxy.cfg, which tmpl is told of). */
static void
settle(void)
{
	int was_on = st.on, first = !st.swept;
	size_t i;

	for (i = 0; i < st.n; i++)
		check(&st.c[i]);
	/* (the first state after a start is put into a running haproxy as
	 * well: what changed while no hap-certs ran) */
	if (write_dir() < 0 || (was_on && st.on) || (first && st.swept)) {
		backoff_reset(&st.retry);
		st.sync_at = now_ms();
	}
	forget();
	note_status();
}

/* etcd holds no certificate any more (as far as we may know). */
static void
forget_all(void)
{
	size_t i;

	for (i = 0; i < st.n; i++)
		st.c[i].have_cert = st.c[i].have_key = 0;
}

/* One of TLS_PREFIX's records, as etcd-watch wrote it. */
static void
tls_record(const char *line, size_t n, long long *lineno)
{
	struct buf msg = {0};
	char err[512];
	struct rec r;
	int i, ret;

	++*lineno;
	if ((ret = rec_parse(line, n, &r, err, sizeof(err))) < 0)
		die(EXIT_BAD, "certificates:%lld: %s", *lineno, err);
	if (ret == 0 && (r.type == REC_PUT || r.type == REC_DELETE) &&
	    jv_get_kind(r.key) == JV_KIND_STRING)
		set_key(jv_string_value(r.key),
			(size_t)jv_string_length_bytes(jv_copy(r.key)),
			r.type == REC_PUT ? jv_string_value(r.value) : NULL,
			r.type == REC_PUT
			    ? (size_t)jv_string_length_bytes(jv_copy(r.value))
			    : 0);
	if (ret == 0 && r.type == REC_RESYNC) {
		jv keys = jv_keys(jv_copy(r.kvs));
		int nk = jv_array_length(jv_copy(keys));

		forget_all();
		for (i = 0; i < nk; i++) {
			jv k = jv_array_get(jv_copy(keys), i);
			jv v = jv_object_get(jv_copy(r.kvs), jv_copy(k));

			if (jv_get_kind(v) == JV_KIND_STRING)
				set_key(
				    jv_string_value(k),
				    (size_t)jv_string_length_bytes(jv_copy(k)),
				    jv_string_value(v),
				    (size_t)jv_string_length_bytes(jv_copy(v)));
			jv_free(k);
			jv_free(v);
		}
		jv_free(keys);
	}
	/* (an entry that is not UTF-8 is no certificate) */
	for (i = 0; i < rec_nleft(&r); i++) {
		jv_free(rec_left(&r, i, &msg));
		warnmsg("%s", msg.p ? msg.p : "not UTF-8");
		msg.len = 0;
	}
	buf_free(&msg);
	if (ret == 0 && (r.type == REC_PROGRESS || r.type == REC_RESYNC)) {
		st.tls_known = 1;
		settle();
	}
	rec_free(&r);
}

/* Write b out to the services' reader; a reader gone ends us quietly. */
static void
out(const struct buf *b)
{
	if (b->len && write_full(1, b->p, b->len) < 0) {
		if (errno == EPIPE)
			exit(EXIT_OK);
		dieerr(EXIT_TEMP, "write error on stdout");
	}
}

/* Tell tmpl whether HTTPS is on, at the end of a batch of revision rev:
 * the record of TLS_KEY and a progress record, appended to b. */
static void
announce(struct buf *b, long long rev, int force)
{
	if (!force && st.announced == st.on)
		return;
	if (st.on)
		rec_put(b, TLS_KEY, strlen(TLS_KEY), "on", 2, rev);
	else if (st.announced)
		rec_delete(b, TLS_KEY, strlen(TLS_KEY), rev);
	else
		return;
	rec_progress(b, rev);
	st.announced = st.on;
}

/* Pass the complete lines of in (from start) through, announcing after a
 * batch ends; the position of the first incomplete line is returned. */
static size_t
pass(struct buf *in, size_t start, long long *rev, int *boundary)
{
	struct buf o = {0};
	char *nl;

	while ((nl = buf_line(in, start))) {
		size_t n = (size_t)(nl - in->p) - start + 1;
		long long r;
		enum rec_type t = rec_peek(in->p + start, n - 1, &r);

		buf_add(&o, in->p + start, n);
		start += n;
		if (t == REC_PROGRESS || t == REC_RESYNC) {
			*rev = r;
			*boundary = 1;
			/* a resync replaces tmpl's whole state, ours too */
			announce(&o, r, t == REC_RESYNC);
		} else if (t != REC_LOST && t != REC_WATCHING) {
			/* (the watch's state comes between batches) */
			*boundary = 0;
		}
	}
	out(&o);
	buf_free(&o);
	return start;
}

/* Read what fd has into b; 0 at its end. */
static ssize_t
fill(int fd, struct buf *b)
{
	char chunk[65536];
	ssize_t r = read(fd, chunk, sizeof(chunk));

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (r < 0)
		dieerr(EXIT_TEMP, "read");
	if (r > 0 && buf_add(b, chunk, (size_t)r) < 0)
		die(EXIT_TEMP, "out of memory");
	return r;
}

static void
drop(struct buf *b, size_t *start)
{
	if (*start == 0)
		return; /* (nothing read yet, maybe no b->p at all) */
	memmove(b->p, b->p + *start, b->len - *start);
	b->len -= *start;
	*start = 0;
}

static void
run(int tlsfd)
{
	struct buf in = {0}, tin = {0};
	size_t start = 0, tstart = 0;
	long long rev = 0, lineno = 0, gate = now_ms() + GATE_MS;
	int boundary = 0, seen = 0;

	for (;;) {
		struct pollfd p[3] = {
		    {-1, POLLIN, 0}, {tlsfd, POLLIN, 0}, {1, 0, 0}};
		long long now = now_ms(), wait = -1;
		int open = st.tls_known || tlsfd < 0 || now >= gate;
		char *nl;

		if (open)
			p[0].fd = 0;
		if (!open)
			wait = gate - now;
		if (st.sync_at && (wait < 0 || st.sync_at - now < wait))
			wait = st.sync_at > now ? st.sync_at - now : 0;
		if (poll(p, 3, wait < 0 ? -1 : (int)wait) < 0 && errno != EINTR)
			dieerr(EXIT_TEMP, "poll");
		if (p[2].revents & (POLLERR | POLLHUP))
			exit(EXIT_OK);
		if (tlsfd >= 0 && (p[1].revents & (POLLIN | POLLHUP))) {
			if (fill(tlsfd, &tin) == 0) {
				close(tlsfd);
				tlsfd = -1;
			}
			/* TLS_PREFIX cannot be read (the reason is
			 * etcd-watch's): HTTPS off.  Unless the services
			 * ended too: the pipeline is going, and their end,
			 * below, ends this tool as when it is read first. */
			if (tlsfd < 0 && !(open && (p[0].revents & POLLHUP))) {
				warnmsg(
				    "the certificates' records ended: HTTPS is off");
				st.tls_known = 1;
				forget_all();
				settle();
			}
			while ((nl = buf_line(&tin, tstart))) {
				tls_record(tin.p + tstart,
					   (size_t)(nl - tin.p) - tstart,
					   &lineno);
				tstart = (size_t)(nl - tin.p) + 1;
			}
			drop(&tin, &tstart);
		}
		if (open && (p[0].revents & (POLLIN | POLLHUP))) {
			if (fill(0, &in) == 0) {
				out(&in);
				exit(EXIT_OK);
			}
			start = pass(&in, start, &rev, &boundary);
			drop(&in, &start);
			seen = seen || rev > 0;
		}
		/* A change of HTTPS waits for the end of a batch of the
		 * services and for their first state. */
		if (seen && boundary && st.announced != st.on) {
			struct buf o = {0};

			announce(&o, rev, 0);
			out(&o);
			buf_free(&o);
		}
		if (st.sync_at && now_ms() >= st.sync_at) {
			/* Tried again later (every 8 s at most).  Said when it
			 * begins and when it ends, never with a promise of the
			 * next try, which the services' end may come before. */
			if (write_dir() < 0 || (st.on && sync_haproxy() < 0)) {
				if (!st.failing)
					warnmsg(
					    "certificates: not in step with %s",
					    st.prefix);
				st.failing = 1;
				st.sync_at = now_ms() + backoff_next(&st.retry);
			} else {
				if (st.failing)
					warnmsg("certificates: in step again");
				st.failing = 0;
				st.sync_at = 0;
			}
		}
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"default", required_argument, NULL, 'D'},
	    {"from", required_argument, NULL, 'F'},
	    {"prefix", required_argument, NULL, 'P'},
	    {"status", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	long long fd = 3;
	const char *es;
	size_t pn;
	int c;

	tool_init(argv);
	st.prefix = "/tls/";
	while ((c = getopt_long(argc, argv, "d:hs:", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			st.dir = optarg;
			break;
		case 'D':
			st.deflt = *optarg ? optarg : NULL;
			break;
		case 'F':
			if (parse_ll(optarg, 0, 1023, &fd, &es) < 0)
				die(EXIT_BAD, "--from %s: %s", optarg, es);
			break;
		case 'h':
			fputs(usage_line, stdout);
			fshut_stdout();
			return EXIT_OK;
		case 'P':
			st.prefix = optarg;
			break;
		case 's':
			st.sock = optarg;
			break;
		case 'S':
			st.status = optarg;
			break;
		case 'V':
			puts("hap-certs " VERSION);
			fshut_stdout();
			return EXIT_OK;
		default:
			usage();
		}
	}
	if (optind != argc || !st.dir || !st.sock)
		usage();
	/* The prefix always ends with '/': /tls and /tls/ are one. */
	pn = strlen(st.prefix);
	if (!pn || st.prefix[pn - 1] != '/') {
		char *p = xmalloc(pn + 2);

		sprintf(p, "%s/", st.prefix);
		st.prefix = p;
	}
	st.crtdir = xmalloc(strlen(st.dir) + 8);
	sprintf(st.crtdir, "%s/crt", st.dir);
	st.list = xmalloc(strlen(st.dir) + 16);
	sprintf(st.list, "%s/crt-list", st.dir);
	st.defpem = xmalloc(strlen(st.dir) + 16);
	sprintf(st.defpem, "%s/default.pem", st.dir);
	if ((mkdir(st.dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(st.crtdir, 0700) < 0 && errno != EEXIST))
		dieerr(EXIT_TEMP, "%s", st.crtdir);
	backoff_init(&st.retry, 1000, 8000);
	if (fcntl((int)fd, F_GETFD) < 0)
		fd = -1;
	run((int)fd);
	return EXIT_OK;
}
