/*
 * host: rehearsal hosts, the local hosts a deployment makes under the
 * state directory, and their sandboxes (lib/hostbox.h).
 *
 *   <state>/hosts/<name>/root/             the host's "/"
 *   <state>/hosts/<name>/deployment-root/  the agent's state (inside at
 *                                          /opt/codedeploy-agent/...)
 *   <state>/hosts/<name>/work/             overlay work directories
 *   <state>/hosts/<name>/box.json          its running sandbox: pid,
 *                                          start time, network, address
 *   <state>/hosts/<name>/address           its last address, kept so a
 *                                          restarted host gets it again
 *
 *   struct host_box b = HOST_BOX_INIT;
 *   bool started;
 *   if (host_box_ensure(state_dir, "web-1", true, &b, &started, &e) < 0)
 *           ...                            -- ERR_SYSTEM, why in e
 *   ... b.pid: sandbox_enter(b.pid, ...) runs on the host ...
 *   host_box_release(&b);
 *   host_box_stop(state_dir, "web-1", &e); -- TERM, grace, KILL
 *
 * The network of a host that asks for one: a network namespace with an
 * address 10.213.X.Y/16 on a bridge HOST_BRIDGE made by slipway in this
 * machine's namespace (gateway HOST_GATEWAY, this machine), so hosts
 * reach each other and this machine reaches each of them at its address
 * (four hosts can all serve port 80). Addresses are taken by creating
 * /run/slipway/net/<address> (O_EXCL), released when the host stops, and
 * taken over from a host that died without a stop.
 */
#ifndef SW_HOST_H
#define SW_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "strvec.h"

#define HOST_BRIDGE "slipway0"
#define HOST_GATEWAY "10.213.0.1"

struct host_box {
	pid_t pid; /* the holder; 0: not running */
	unsigned long long start; /* its start time (hostbox_starttime) */
	unsigned long long mntns; /* its mount namespace's inode: what a
				     process that joined it checks */
	bool network; /* a network namespace of its own */
	char *address; /* its address when network, else NULL */
	int64_t started_ms; /* wall clock */
};

#define HOST_BOX_INIT                                                          \
	{                                                                      \
		0, 0, 0, false, NULL, 0                                        \
	}

/* <state>/hosts/<name> (caller frees). */
char *host_dir(const char *state_dir, const char *name);
/* The names of the rehearsal hosts under <state>/hosts, sorted. */
int host_list(const char *state_dir, struct strvec *names, struct sw_err *e);
/* The host's running sandbox; b->pid 0 when it is not running. */
void host_box_get(const char *state_dir, const char *name, struct host_box *b);
/* The host's sandbox, started when it is not running (*started then
 * true); a running one is used as it is, network or not. */
int host_box_ensure(const char *state_dir, const char *name, bool network,
		    struct host_box *b, bool *started, struct sw_err *e);
/* Stop the host's sandbox (0 when it was not running). */
int host_box_stop(const char *state_dir, const char *name, struct sw_err *e);
void host_box_release(struct host_box *b);

#endif
