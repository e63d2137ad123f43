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
 *   ready_send("<state>/deployments/d-X", READY_CONTINUE, &e);
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

struct ready_wait {
	int rd, wr; /* the FIFO's two ends */
	char *fifo, *lock;
};

#define READY_WAIT_INIT                                                        \
	{                                                                      \
		-1, -1, NULL, NULL                                             \
	}

/* Make dir/control and dir/control.lock and open the FIFO. */
int ready_open(struct ready_wait *w, const char *dir, struct sw_err *e);
/* Wait until a command comes, until_ms (proc_now_ms()) or a stop signal;
 * the FIFO is gone when it returns. A command that came with the
 * deadline wins. */
enum ready_verdict ready_wait(struct ready_wait *w, int64_t until_ms);
void ready_close(struct ready_wait *w);

/* Send cmd (READY_CONTINUE or READY_STOP) to the deployment waiting in
 * dir: 0, or -1 with ERR_FAILED when nothing waits there. */
int ready_send(const char *dir, enum ready_verdict cmd, struct sw_err *e);

#endif
