/* A condition asked again until a deadline: see deadline.h. */
#include <time.h>

#include "deadline.h"
#include "util.h"

enum deadline_end
deadline_wait(long long deadline, deadline_cond *cond, void *arg)
{
	long pause = DEADLINE_PAUSE_MIN;
	struct timespec ts;
	int r;

	for (;;) {
		if ((r = cond(arg)) != 0)
			return r > 0 ? DEADLINE_HELD : DEADLINE_FAILED;
		if (now_ms() + pause >= deadline)
			return DEADLINE_PASSED;
		ts.tv_sec = pause / 1000;
		ts.tv_nsec = pause % 1000 * 1000000L;
		/* A signal only brings the next question forward. */
		nanosleep(&ts, NULL);
		pause = pause * 2 < DEADLINE_PAUSE_MAX ? pause * 2
						       : DEADLINE_PAUSE_MAX;
	}
}
