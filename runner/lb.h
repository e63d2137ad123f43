/*
 * lb: the load balancer in front of a deployment group's hosts, an
 * HAProxy driven over its admin socket (runtime API), as CodeDeploy
 * drives an Elastic Load Balancer (docs/loadbalancer.md). Each host is
 * one server of one backend, named as the host.
 *
 *   struct lb lb = LB_INIT;
 *   if (lb_open(&lb, state_dir, &group, true, &note, &e) < 0)
 *           ... ERR_SYSTEM: "load balancer: haproxy ended at start: ..."
 *   lb_block(&lb, "web-1", &note, &e);   -- BlockTraffic
 *   ... the host is deployed ...
 *   lb_allow(&lb, "web-1", &note, &e);   -- AllowTraffic
 *   lb_release(&lb);
 *
 * A managed HAProxy lives in <state>/lb/<group-id>/: haproxy.cfg (made
 * from the group file), admin.sock, haproxy.pid ("PID STARTTIME"),
 * haproxy.log (its output) and hosts (the group's host names, one a
 * line). lb_open starts it in the foreground mode (-db) in a session of
 * its own, not a child of ours, and leaves it running after we end; one
 * already running with the same configuration is used as it is (its
 * servers keep their states), one with another is stopped and started
 * afresh. An existing HAProxy (load-balancer.socket) is only checked:
 * its backend must have a server named as each host.
 *
 * The admin socket is reached through a descriptor of its directory
 * (/proc/self/fd/N/NAME), so a long state path does not matter and a
 * process that entered a host's sandbox reaches it too (lb.dirfd is
 * kept across fork; it is O_CLOEXEC).
 *
 * BlockTraffic: "set server B/S state drain", then "show stat" every
 * 10 ms until the server has no session or the deregistration delay has
 * passed, then "set server B/S state maint". AllowTraffic: "set server
 * B/S health down" when it is in maintenance (so that a stale check
 * result does not count) and "set server B/S state ready", then "show stat" every 10 ms until the
 * server is UP (its health check passed) or health.wait has passed: then
 * ERR_FAILED with the last check's result. A server without a health
 * check ("no check") is ready at once.
 */
#ifndef SW_LB_H
#define SW_LB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"
#include "group.h"

struct lb {
	char *dir; /* managed: <state>/lb/<group-id>; else NULL */
	char *sock; /* the admin socket's path */
	int dirfd; /* its directory (O_PATH) */
	char *sockname; /* its name in there */
	char *backend;
	char *health_path;
	int64_t interval_ms, wait_ms, dereg_ms;
	pid_t pid; /* managed: the running HAProxy */
};

#define LB_INIT                                                                \
	{                                                                      \
		.dirfd = -1                                                    \
	}

/* One server as "show stat" gives it. */
struct lb_server {
	char name[128];
	char addr[128]; /* "127.0.0.1:28081" */
	char status[64]; /* "UP", "DOWN", "MAINT", "DRAIN", "no check" */
	char check[64]; /* the last check: "L7OK", "L4CON" ... */
	char check_info[160]; /* its description and detail */
	unsigned long sessions; /* scur */
};

/* <state>/lb/<group-id> (caller frees). */
char *lb_dir(const char *state_dir, const char *group_id);
/* The managed HAProxy's configuration for g (caller releases out). */
void lb_config_text(const struct group *g, struct buf *out);

/*
 * The load balancer of g (g->lb.haproxy): a managed one started or
 * reused when start, else (start false) it must be running; an existing
 * one must answer. A line on what was done goes to note (may be NULL).
 * ERR_FAILED when a managed one is not running (start false) or an
 * existing one lacks a host's server; ERR_SYSTEM when HAProxy is missing,
 * ends at start or does not answer within 5 s.
 */
int lb_open(struct lb *lb, const char *state_dir, const struct group *g,
	    bool start, struct buf *note, struct sw_err *e);
void lb_release(struct lb *lb);

/* One runtime API command (no newline); its answer in out (cleared). */
int lb_cmd(const struct lb *lb, const char *cmd, struct buf *out,
	   struct sw_err *e);
/* The servers of lb's backend (caller frees *v); or one of them
 * (ERR_FAILED "no server 'x' in backend 'b'"). */
int lb_servers(const struct lb *lb, struct lb_server **v, size_t *nr,
	       struct sw_err *e);
int lb_server_get(const struct lb *lb, const char *name, struct lb_server *s,
		  struct sw_err *e);

/* BlockTraffic and AllowTraffic for the server name (above); what was
 * done, and how long it took, goes to note. */
int lb_block(const struct lb *lb, const char *name, struct buf *note,
	     struct sw_err *e);
int lb_allow(const struct lb *lb, const char *name, struct buf *note,
	     struct sw_err *e);

/* Stop the managed HAProxy of the group whose lb_dir is dir: TERM, 2 s,
 * KILL. *was_running says whether one ran. */
int lb_stop_dir(const char *dir, bool *was_running, struct sw_err *e);
/* Stop every managed HAProxy under <state>/lb one of whose hosts is in
 * names; each stopped one's group id goes to stopped (may be NULL). */
int lb_stop_for_hosts(const char *state_dir, char *const *names, size_t nr,
		      struct strvec *stopped, struct sw_err *e);

#endif
