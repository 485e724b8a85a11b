/* The tools' side of messages and failure: "prog: message[: strerror]"
 * on stderr, dying with the suite's exit codes, allocation that dies
 * when memory runs out, and the check of stdout at exit.  Only tools call
 * these; library code returns a status and fills an error buffer. */
#ifndef EASYLB_TOOL_H
#define EASYLB_TOOL_H

#include <signal.h>

#include "util/util.h"

/* First thing in main: the tool's name for its messages (and getopt's,
 * in argv[0]), and SIGPIPE ignored: a write to a reader that went away
 * fails with EPIPE, which ends the tool quietly (see fshut_stdout), and
 * libcurl ignores SIGPIPE only during its transfers anyway. */
void tool_init(char **argv);
const char *getprogname_(void);
void warnmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warnerr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void die(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void dieerr(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
/* fn(code, message) is called once, by the first die or dieerr after
 * this, once the message is out and before the exit: a tool's last
 * words (hap-reload's --status). */
void tool_on_die(void (*fn)(int code, const char *msg));
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Write stdout out, called at exit by tools that print data.  The one
 * rule of the suite: a reader that went away (EPIPE) ends the tool
 * quietly with EXIT_OK; any other write error dies with EXIT_TEMP. */
void fshut_stdout(void);

/* For a tool whose work must not be cut short: from now on TERM, INT and
 * HUP only set tool_stopping, which the tool reads at points where
 * stopping is safe. */
extern volatile sig_atomic_t tool_stopping;
void tool_defer_stop(void);
/* Run fn(arg), an exit status, in a child process; while that is
 * EXIT_TEMP (worth retrying), run it again after min ms, then twice as
 * long each time up to max, saying so as it does, unless tool_stopping
 * (then nothing is said).  Returns the last status. */
int tool_retry(int (*fn)(void *), void *arg, long long min, long long max);
/* An exclusive flock(2) on path (made when missing), waiting at most ms:
 * its descriptor, close-on-exec.  Dies with EXIT_TEMP, naming holder,
 * when the wait runs out, and at once when tool_stopping is set while
 * it waits (nothing done yet). */
int tool_lock(const char *path, long long ms, const char *holder);

#endif
