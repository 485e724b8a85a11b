/* Waiting until something holds, for a bounded time: a lock comes free, a
 * process appears, a server empties.  What can only be asked about, not
 * watched, is asked again and again, quickly at first and then less
 * often, until it holds or the deadline passes. */
#ifndef EASYLB_DEADLINE_H
#define EASYLB_DEADLINE_H

/* The pause between two questions, in ms: short at first, since what is
 * waited for often comes within a millisecond or two, then doubled up to
 * the cap, so that a long wait keeps neither this process nor the one
 * asked busy. */
#define DEADLINE_PAUSE_MIN 1
#define DEADLINE_PAUSE_MAX 50

/* How a deadline_wait ended. */
enum deadline_end {
	DEADLINE_HELD,	 /* the condition held */
	DEADLINE_PASSED, /* the deadline came first */
	DEADLINE_FAILED, /* the condition said it never will hold */
};

/* A condition: 1 when it holds, 0 when not yet, -1 when it never will (an
 * error; the condition keeps its reason in arg or errno). */
typedef int deadline_cond(void *arg);

/* Call cond(arg) until it returns 1 or -1, or deadline (an absolute
 * now_ms() time) passes.  cond is called at once, then after each pause
 * that ends before the deadline: no call starts after it, and
 * DEADLINE_PASSED comes at most one pause early, when the next pause
 * would reach it.  After DEADLINE_FAILED errno is as cond left it. */
enum deadline_end deadline_wait(long long deadline, deadline_cond *cond,
				void *arg);

#endif
