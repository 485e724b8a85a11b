/* The library's small helpers: error buffers, growable buffers, number
 * parsing, whole-file reads, atomic file replacement, the clock and the
 * pacing of batches.  Nothing here exits or prints. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

int
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Make room for n more bytes (and a NUL) in b; -1 when out of memory. */
static int
buf_room(struct buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 256;
	char *q;

	if (b->len + n + 1 <= b->cap)
		return 0;
	while (cap < b->len + n + 1)
		cap *= 2;
	if (b->mapped) {
		if (!(q = malloc(cap)))
			return -1;
		memcpy(q, b->p, b->len);
		munmap(b->p, b->mapped);
		b->mapped = 0;
	} else if (!(q = realloc(b->p, cap))) {
		return -1;
	}
	b->p = q;
	b->cap = cap;
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_room(b, n) < 0)
		return -1;
	if (n && p)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

void *
array_grow(void *p, size_t n, size_t size)
{
	size_t cap;

	if (n < 8 ? n != 0 : (n & (n - 1)) != 0)
		return p;
	cap = n < 8 ? 8 : 2 * n;
	if (size && cap > SIZE_MAX / size)
		return NULL;
	return realloc(p, cap * size);
}

int
buf_add_max(struct buf *b, const void *p, size_t n, size_t max)
{
	if (n > max || b->len > max - n)
		return 1;
	return buf_add(b, p, n) < 0 ? -1 : 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list again;
	char tmp[256];
	int n;

	va_copy(again, ap);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	if (n < 0 || (size_t)n < sizeof(tmp)) {
		va_end(again);
		return n < 0 ? -1 : buf_add(b, tmp, n);
	}
	/* Too long for the stack buffer: format straight into b. */
	if (buf_add(b, NULL, n) < 0) {
		va_end(again);
		return -1;
	}
	b->len -= n;
	vsnprintf(b->p + b->len, n + 1, fmt, again);
	va_end(again);
	b->len += n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

void
buf_free(struct buf *b)
{
	if (b->mapped)
		munmap(b->p, b->mapped);
	else
		free(b->p);
	b->mapped = 0;
	b->p = NULL;
	b->len = b->cap = 0;
}

char *
buf_line(const struct buf *b, size_t from)
{
	/* (an empty buffer may have no p, which memchr must not see) */
	if (from >= b->len)
		return NULL;
	return memchr(b->p + from, '\n', b->len - from);
}

int
parse_ll(const char *s, long long min, long long max, long long *out,
	 const char **errstr)
{
	char *end;
	long long v;

	errno = 0;
	if (!s || !*s) {
		*errstr = "invalid";
		return -1;
	}
	v = strtoll(s, &end, 10);
	if (*end || end == s) {
		*errstr = "invalid";
		return -1;
	}
	if ((v == LLONG_MIN && errno == ERANGE) || v < min) {
		*errstr = "too small";
		return -1;
	}
	if ((v == LLONG_MAX && errno == ERANGE) || v > max) {
		*errstr = "too large";
		return -1;
	}
	*out = v;
	*errstr = NULL;
	return 0;
}

uint64_t
fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n--)
		h = (h ^ *s++) * 0x100000001b3ULL;
	return h;
}

int
bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c ? c : (an > bn) - (an < bn);
}

const char *
fact_line(const struct buf *b, const char *word, int nth, size_t *n)
{
	size_t wl = strlen(word);
	const char *s = b->p, *nl;

	for (; s && *s; s = nl + 1) {
		if (!(nl = strchr(s, '\n')))
			nl = s + strlen(s);
		if ((size_t)(nl - s) > wl && !memcmp(s, word, wl) &&
		    s[wl] == ' ' && nth-- == 0) {
			*n = (size_t)(nl - s - wl - 1);
			return s + wl + 1;
		}
		if (!*nl)
			break;
	}
	return NULL;
}

void
flatten_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

int
read_all(int fd, struct buf *b)
{
	struct stat st;
	ssize_t n;

	/* Read straight into b; a regular file into a buffer of its size. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    buf_room(b, (size_t)st.st_size + 1) < 0) {
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		/* (room for one byte more than a regular file holds: the
		 * read that finds the end needs no larger buffer) */
		if (b->cap - b->len < 2 && buf_room(b, 65536) < 0) {
			errno = ENOMEM;
			return -1;
		}
		n = read(fd, b->p + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	if (buf_add(b, NULL, 0) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* A regular file of size bytes into an empty b, mapped: a file of
 * megabytes (a configuration of 100,000 servers) is there at once,
 * where a read would copy it into memory touched a page at a time.  The
 * mapping is private, so b may be written, and a page longer than the
 * file when it fills its last page, so that b->p[size] is a NUL like
 * every buffer's.  Files this program reads are replaced by rename,
 * never cut short in place (which would fault a mapping's reader).
 * Returns 0, or -1 where a read must do. */
static int
map_in(int fd, size_t size, struct buf *b)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len;
	char *p;

	if (b->p || size < 65536 || size > SIZE_MAX - 2 * page)
		return -1;
	len = (size + 1 + page - 1) / page * page;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return -1;
	if (mmap(p, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd,
		 0) == MAP_FAILED) {
		munmap(p, len);
		return -1;
	}
	b->p = p;
	b->len = size;
	b->cap = len;
	b->mapped = len;
	return 0;
}

int
read_file(const char *path, struct buf *b, char *err, size_t errlen)
{
	struct stat st;
	int fd = 0, r;

	if (strcmp(path, "-") && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return seterr(err, errlen, "%s: %s", path, strerror(errno));
	if (fd != 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    map_in(fd, (size_t)st.st_size, b) == 0) {
		close(fd);
		return 0;
	}
	r = read_all(fd, b);
	if (r < 0)
		seterr(err, errlen, "%s: %s",
		       strcmp(path, "-") ? path : "stdin", strerror(errno));
	if (fd != 0)
		close(fd);
	return r;
}

/* Compare the file at path with data, a piece at a time; 1 if
 * identical, 0 otherwise. */
static int
same_content(const char *path, const char *data, size_t len)
{
	char tmp[65536];
	struct stat st;
	size_t at = 0;
	ssize_t n;
	int fd, same = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size == len) {
		for (;;) {
			n = read(fd, tmp, sizeof(tmp));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || (size_t)n > len - at ||
			    memcmp(tmp, data + at, (size_t)n))
				break;
			at += (size_t)n;
		}
		same = n == 0 && at == len;
	}
	close(fd);
	return same;
}

int
write_full(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

int
write_scratch(const char *path, const void *data, size_t len, char *err,
	      size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return seterr(err, errlen, "%s: %s", path, strerror(errno));
	return write_reserved(fd, path, data, len, err, errlen);
}

int
reserve_scratch(const char *path, size_t len, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return seterr(err, errlen, "%s: %s", path, strerror(errno));
	if (!len || fallocate(fd, 0, 0, (off_t)len) == 0)
		return fd;
	if (errno == EOPNOTSUPP || errno == ENOSYS) {
		close(fd);
		return -2;
	}
	seterr(err, errlen, "%s: %s", path, strerror(errno));
	close(fd);
	unlink(path);
	return -1;
}

int
write_reserved(int fd, const char *path, const void *data, size_t len,
	       char *err, size_t errlen)
{
	if (write_full(fd, data, len) < 0 || ftruncate(fd, (off_t)len) < 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) < 0) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

static int replace_whole(const char *path, const void *data, size_t len,
			 int sync, char *err, size_t errlen);

/* atomic_replace, synced or not. */
static int
replace_other(const char *path, const void *data, size_t len, int sync,
	      int *changed, char *err, size_t errlen)
{
	if (changed)
		*changed = 0;
	if (same_content(path, data, len))
		return 0;
	if (replace_whole(path, data, len, sync, err, errlen) < 0)
		return -1;
	if (changed)
		*changed = 1;
	return 0;
}

int
atomic_replace(const char *path, const void *data, size_t len, int *changed,
	       char *err, size_t errlen)
{
	return replace_other(path, data, len, 1, changed, err, errlen);
}

/* Sync directory dir, where a file was renamed: what fails is not said
 * (the file's own sync is what a caller checks). */
static void
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* atomic_write, and atomic_note when sync is 0. */
static int
replace_whole(const char *path, const void *data, size_t len, int sync,
	      char *err, size_t errlen)
{
	char *d1 = NULL, *b1 = NULL, *tmp = NULL;
	const char *dir, *base;
	struct stat st;
	mode_t mode, um;
	int fd = -1, ret = -1;

	if (!(d1 = strdup(path)) || !(b1 = strdup(path))) {
		seterr(err, errlen, "%s: out of memory", path);
		goto out;
	}
	dir = dirname(d1);
	base = basename(b1);
	if (!(tmp = malloc(strlen(dir) + strlen(base) + 16))) {
		seterr(err, errlen, "%s: out of memory", path);
		goto out;
	}
	sprintf(tmp, "%s/.%s.XXXXXX", dir, base);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		seterr(err, errlen, "%s: cannot create temporary file: %s",
		       path, strerror(errno));
		goto out;
	}
	if (stat(path, &st) == 0) {
		mode = st.st_mode & 07777;
	} else {
		um = umask(0);
		umask(um);
		mode = 0644 & ~um;
	}
	/* Messages name path first: the temporary file is gone with the
	 * failure, and path is the file its reader knows and is left as it
	 * was. */
	if (write_full(fd, data, len) < 0 || fchmod(fd, mode) < 0) {
		seterr(err, errlen, "%s: cannot write %s: %s", path, tmp,
		       strerror(errno));
		goto out;
	}
	if (sync && fsync(fd) < 0) {
		seterr(err, errlen, "%s: cannot sync %s: %s", path, tmp,
		       strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		seterr(err, errlen, "%s: cannot write %s: %s", path, tmp,
		       strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		seterr(err, errlen, "%s: rename: %s", path, strerror(errno));
		goto out;
	}
	/* The rename is durable only once the directory is synced. */
	if (sync)
		sync_dir(dir);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0 && tmp)
		unlink(tmp);
	free(tmp);
	free(d1);
	free(b1);
	return ret;
}

int
atomic_write(const char *path, const void *data, size_t len, char *err,
	     size_t errlen)
{
	return replace_whole(path, data, len, 1, err, errlen);
}

int
atomic_note(const char *path, const void *data, size_t len, char *err,
	    size_t errlen)
{
	return replace_whole(path, data, len, 0, err, errlen);
}

int
atomic_replace_unsynced(const char *path, const void *data, size_t len,
			int *changed, char *err, size_t errlen)
{
	return replace_other(path, data, len, 0, changed, err, errlen);
}

int
sync_file(const char *path, char *err, size_t errlen)
{
	char *d1 = strdup(path);
	int fd, r = 0;

	if (!d1)
		return seterr(err, errlen, "%s: out of memory", path);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fsync(fd) < 0) {
		r = seterr(err, errlen, "%s: cannot sync: %s", path,
			   strerror(errno));
	} else {
		sync_dir(dirname(d1));
	}
	if (fd >= 0)
		close(fd);
	free(d1);
	return r;
}

long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
sleep_ms(long long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void
backoff_init(struct backoff *b, long long min, long long max)
{
	b->min = min;
	b->max = max < min ? min : max;
	b->next = min;
}

long long
backoff_next(struct backoff *b)
{
	long long now = b->next;

	b->next = b->next > b->max / 2 ? b->max : b->next * 2;
	return now;
}

long long
backoff_peek(const struct backoff *b)
{
	return b->next;
}

void
backoff_reset(struct backoff *b)
{
	b->next = b->min;
}

void
pace_init(struct pace *p, long long debounce, long long maxwait)
{
	p->debounce = debounce;
	p->maxwait =
	    maxwait ? maxwait : (debounce * 10 > 1000 ? debounce * 10 : 1000);
	p->first = 0;
	p->lead = 0;
	p->out = now_ms() - debounce;
}

void
pace_in(struct pace *p, long long now)
{
	if (!p->first) {
		p->first = now;
		p->lead = now - p->out >= p->debounce;
	}
	/* After a quiet spell the batch is due at once, whatever comes
	 * right behind it; otherwise each batch puts the output off. */
	p->last = p->lead ? now - p->debounce : now;
}

long long
pace_due(const struct pace *p, long long now)
{
	long long due;

	if (!p->first)
		return -1;
	due = p->last + p->debounce;
	if (p->first + p->maxwait < due)
		due = p->first + p->maxwait;
	return due > now ? due - now : 0;
}

void
pace_done(struct pace *p, long long now)
{
	p->first = 0;
	p->lead = 0;
	p->out = now;
}
