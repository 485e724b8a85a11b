/* A condition asked again until a deadline: see deadline.h. */
#include "util/deadline.h"
#include "util/util.h"

enum deadline_end
deadline_wait(long long deadline, deadline_cond *cond, void *arg)
{
	struct backoff pause;
	int r;

	backoff_init(&pause, DEADLINE_PAUSE_MIN, DEADLINE_PAUSE_MAX);
	for (;;) {
		if ((r = cond(arg)) != 0)
			return r > 0 ? DEADLINE_HELD : DEADLINE_FAILED;
		if (now_ms() + backoff_peek(&pause) >= deadline)
			return DEADLINE_PASSED;
		sleep_ms(backoff_next(&pause));
	}
}
