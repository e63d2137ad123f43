/*
 * ready: a blue/green deployment waiting for someone, as CodeDeploy's
 * do with ready.action STOP_DEPLOYMENT (deploymentWaitType READY_WAIT):
 * its replacement fleet is installed, the traffic has not moved, and
 * `slipway deploy continue ID` (ContinueDeployment) or `slipway deploy
 * stop ID` (StopDeployment) from another terminal decides.
 *
 *   struct ready_wait w = READY_WAIT_INIT;
 *   if (ready_open(&w, dep_dir, &e) < 0) ...       -- the deployment's
 *   enum ready_verdict v = ready_wait(&w, until);  -- then it waits
 *   ready_close(&w);
 *
 *   ready_send("<state>/deployments/d-X", READY_CONTINUE, &kind, &e);
 *
 * The same serves a deployment whose original fleet waits original.wait
 * before it is terminated (deploymentWaitType TERMINATION_WAIT): there
 * the deployment polls (ready_poll) while its hosts run, and a continue
 * cuts the wait short; a stop is refused.
 *
 * In the deployment's directory: `control`, a FIFO the waiting process
 * reads (it holds a writing end too, so that it never sees an end of
 * file), and `control.lock`. A command is one byte written into the
 * FIFO under an flock of control.lock; the waiting process, once it
 * stops waiting (a command, the deadline, a stop signal), takes the same
 * lock, reads what is left in the FIFO, closes and removes it. So a
 * command either reaches the deployment or is refused (nobody reads
 * the FIFO: ENXIO), never lost in between; a deployment killed while it
 * waited leaves a FIFO nobody reads, which refuses commands too.
 */
#ifndef SW_READY_H
#define SW_READY_H

#include <stdint.h>

#include "err.h"

enum ready_verdict {
	READY_CONTINUE = 'c', /* ContinueDeployment: move the traffic */
	READY_STOP = 's', /* StopDeployment */
	READY_EXPIRED = 't', /* ready.wait passed: Stopped */
	READY_SIGNAL = 'i', /* a stop signal (proc_stop_signal) */
};

/* What it waits for (CodeDeploy's deploymentWaitType). */
enum ready_kind {
	READY_READY_WAIT, /* the traffic to move */
	READY_TERMINATION_WAIT, /* original.wait, before TERMINATE */
};

struct ready_wait {
	int rd, wr; /* the FIFO's two ends */
	char *fifo, *lock;
};

#define READY_WAIT_INIT                                                        \
	{                                                                      \
		-1, -1, NULL, NULL                                             \
	}

/* Make dir/control and dir/control.lock (which says what it waits for)
 * and open the FIFO. */
int ready_open(struct ready_wait *w, const char *dir, enum ready_kind kind,
	       struct sw_err *e);
/* Wait until a command comes, until_ms (proc_now_ms()) or a stop signal;
 * the FIFO is gone when it returns. A command that came with the
 * deadline wins. */
enum ready_verdict ready_wait(struct ready_wait *w, int64_t until_ms);
/* Or by hand: a command come so far (0: none), without blocking; then
 * the end, under the lock (cmd: what ready_poll gave, v: the verdict
 * when no command came). */
int ready_poll(struct ready_wait *w);
enum ready_verdict ready_finish(struct ready_wait *w, int cmd,
				enum ready_verdict v);
void ready_close(struct ready_wait *w);

/* Send cmd (READY_CONTINUE or READY_STOP) to the deployment waiting in
 * dir, *kind what it waits for: 0, or -1 with ERR_FAILED when nothing
 * waits there (or a stop during a TERMINATION_WAIT). */
int ready_send(const char *dir, enum ready_verdict cmd, enum ready_kind *kind,
	       struct sw_err *e);

#endif
