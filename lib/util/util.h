/* Small helpers of the library: the suite's exit codes, error buffers,
 * growable buffers, number parsing, whole-file reads, atomic file
 * replacement, the clock and pacing.  Nothing here exits or prints: the
 * tools' side of that is tools/common/tool.h. */
#ifndef EASYLB_UTIL_H
#define EASYLB_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One exit-code scheme for the whole suite (see every man page). */
enum {
	EXIT_OK = 0,	 /* done */
	EXIT_NO = 1,	 /* a negative answer: not found, rejected, ... */
	EXIT_BAD = 100,	 /* usage or bad input: permanent, do not retry */
	EXIT_TEMP = 111, /* system, network or I/O failure: worth retrying */
};

/* Fill err (size errlen) like snprintf; returns -1 so that library code
 * can write "return seterr(err, errlen, ...)". */
int seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A growable byte buffer, always NUL-terminated after len bytes.  One
 * that read_file mapped (mapped: the length of that mapping, private and
 * writable) turns into an ordinary one the first time it grows. */
struct buf {
	char *p;
	size_t len, cap;
	size_t mapped;
};
int buf_add(struct buf *b, const void *p, size_t n); /* -1 on ENOMEM */
/* buf_add, unless b would grow past max bytes: then 1, b as it was. */
int buf_add_max(struct buf *b, const void *p, size_t n, size_t max);
int buf_puts(struct buf *b, const char *s);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_free(struct buf *b);
/* The first newline in b at or after from, or NULL. */
char *buf_line(const struct buf *b, size_t from);

/* Parse a decimal integer in [min, max]; returns 0 or -1 (errstr set to
 * "invalid", "too small" or "too large"), like OpenBSD's strtonum. */
int parse_ll(const char *s, long long min, long long max, long long *out,
	     const char **errstr);

/* Room for element n of the array p of n elements of size bytes, whose
 * capacity follows from n: 8, then 16, 32 ... as it reaches each.  The
 * one way the library's arrays grow, one element at a time (bytes go
 * in a struct buf).  Returns the array, moved or not, or NULL when out
 * of memory, p untouched. */
void *array_grow(void *p, size_t n, size_t size);

/* FNV-1a of p[0, n), going on from h (FNV1A to begin with): a hash for
 * tables of names and keys. */
#define FNV1A 0xcbf29ce484222325ULL
uint64_t fnv1a(uint64_t h, const void *p, size_t n);

/* Byte order of a[0..an) and b[0..bn), a prefix first: <0, 0, >0. */
int bytes_cmp(const char *a, size_t an, const char *b, size_t bn);

/* Write all n bytes of p to fd, through interrupted writes; -1 with
 * errno set on failure. */
int write_full(int fd, const char *p, size_t n);

/* The nth line (from 0) of the text in b that starts with word and a
 * space: the rest of it (borrowed, *n bytes, up to its newline); NULL
 * when there is none.  The status files' reader (a line a fact). */
const char *fact_line(const struct buf *b, const char *word, int nth,
		      size_t *n);
/* Every control character of s (below 0x20, and DEL) a space: a message
 * that must stay one line of such a file. */
void flatten_line(char *s);

/* Read a whole file descriptor into b; -1 with errno set on failure. */
int read_all(int fd, struct buf *b);
/* Read a whole file ("-" is stdin) into b, empty before; a regular file
 * of 64 KiB or more is mapped (see struct buf).  -1 with err filled on
 * failure. */
int read_file(const char *path, struct buf *b, char *err, size_t errlen);

/* Replace path with data atomically: a temporary file in the same
 * directory, fsync, rename, fsync of the directory.  The mode of the old
 * file is kept (new files get 0644 less the umask).  When the file already
 * holds exactly data nothing is written and *changed is 0.  Returns 0, or
 * -1 with err filled and the old file untouched. */
int atomic_replace(const char *path, const void *data, size_t len, int *changed,
		   char *err, size_t errlen);
/* The same, without comparing: the caller knows path holds something
 * else. */
int atomic_write(const char *path, const void *data, size_t len, char *err,
		 size_t errlen);
/* The same, not synced: for a note of what is going on (a status file),
 * which a crash of the machine may lose but a reader never sees half
 * written. */
int atomic_note(const char *path, const void *data, size_t len, char *err,
		size_t errlen);

/* atomic_replace without its syncs, for a file that must be in place at
 * once and durable only a moment later: sync_file then syncs path and
 * its directory (0, or -1 with err filled). */
int atomic_replace_unsynced(const char *path, const void *data, size_t len,
			    int *changed, char *err, size_t errlen);
int sync_file(const char *path, char *err, size_t errlen);

/* Write data to path in place, mode 0600, without a temporary file or
 * fsync: for scratch files that nothing relies on once written (a
 * candidate to validate).  Returns 0, or -1 with err filled and path
 * removed. */
int write_scratch(const char *path, const void *data, size_t len, char *err,
		  size_t errlen);
/* The same in two steps, so that the room is known to be there before
 * something that must not happen without the file: reserve_scratch
 * creates path (emptied) with len bytes allocated and returns its
 * descriptor; -1 with err filled when it cannot (no room); -2 when the
 * file system allocates nothing ahead (then write_scratch it at once).
 * write_reserved writes data (len bytes, at most the reserved length)
 * through that descriptor and closes it: 0, or -1 with err filled and
 * path removed. */
int reserve_scratch(const char *path, size_t len, char *err, size_t errlen);
int write_reserved(int fd, const char *path, const void *data, size_t len,
		   char *err, size_t errlen);

/* Monotonic clock in milliseconds. */
long long now_ms(void);
/* Sleep ms milliseconds, through signals that interrupt it. */
void sleep_ms(long long ms);

/* Pauses that grow, for retries and polls: the first is min ms, each one
 * after twice the last, up to max; a success starts again from min. */
struct backoff {
	long long min, max, next;
};
void backoff_init(struct backoff *b, long long min, long long max);
/* The pause to make now, in ms; the one after will be longer. */
long long backoff_next(struct backoff *b);
/* The pause backoff_next would give, without taking it. */
long long backoff_peek(const struct backoff *b);
void backoff_reset(struct backoff *b);

/* Pacing of a stream of batches into outputs (a line, a render): the
 * first batch after a quiet spell (no output for debounce ms) is due at
 * once; the batches that follow it closely are due together once none
 * has come for debounce ms, or maxwait ms after the first of them. */
struct pace {
	long long debounce, maxwait;
	long long first; /* the first batch waiting, 0 for none */
	long long last;	 /* when the wait ends, less debounce */
	long long out;	 /* the last output */
	int lead;	 /* the batch waiting came after a quiet spell */
};
/* maxwait 0: 10 times debounce, at least 1 s.  The first batch is due at
 * once. */
void pace_init(struct pace *p, long long debounce, long long maxwait);
/* A batch came in at now. */
void pace_in(struct pace *p, long long now);
/* In how many ms the batches waiting are due (0: now), -1 when none. */
long long pace_due(const struct pace *p, long long now);
/* They went out at now. */
void pace_done(struct pace *p, long long now);

#endif
