/*
 * group: a deployment group file (DESIGN.md "The deployment group file"),
 * what CodeDeploy keeps as a deployment group: the application, the group,
 * its default configuration and options, its hosts, custom configurations.
 *
 *   struct group g = GROUP_INIT;
 *   if (group_load("fleet.yml", &g, &e) < 0)
 *           ... ERR_SPEC: "fleet.yml:7:10: 'hosts[2].ssh' has an invalid
 *               port (h:0): 1 to 65535" (exit 3)
 *   struct dconfig c;
 *   if (group_config(&g, name_or_NULL, &c, &e) < 0)
 *           ... ERR_USAGE: "unknown deployment config 'X'"
 *   ... g.hosts[i].name, .root, .ssh ...
 *   dconfig_release(&c);
 *   group_release(&g);
 *
 *   application: webapp                 # APPLICATION_NAME (required)
 *   deployment-group: staging           # DEPLOYMENT_GROUP_NAME (required)
 *   id: 8a1c...                         # DEPLOYMENT_GROUP_ID (default:
 *                                       #   derived from the group name)
 *   deployment-config: CodeDeployDefault.HalfAtATime   # default OneAtATime
 *   file-exists-behavior: DISALLOW      # DISALLOW|OVERWRITE|RETAIN
 *   ignore-application-stop-failures: false
 *   auto-rollback: true                 # default false
 *   load-balancer: false                # true: the traffic events run
 *                                       # (nothing behind them); or an
 *                                       # HAProxy (docs/loadbalancer.md):
 *   load-balancer:
 *     kind: haproxy                     # the only kind
 *     managed: {listen: 127.0.0.1:8080} # slipway runs a private one, or
 *     # socket: /run/haproxy/admin.sock # an existing one's admin socket
 *     # backend: web                    #   and its backend (required)
 *     port: 28080                       # targets' default port
 *     health: {path: /, interval: 2s, wait: 30s}
 *     deregistration-delay: 300s        # BlockTraffic's longest drain
 *   deployment-type: IN_PLACE           # or BLUE_GREEN (needs an HAProxy):
 *   blue-green:
 *     replacement-hosts:                # as hosts (not over ssh)
 *       - {name: green-1, target: 127.0.0.1:28091}
 *     ready: {action: CONTINUE_DEPLOYMENT}  # or STOP_DEPLOYMENT,
 *                                       # wait: 1h (for deploy continue)
 *     original: {action: TERMINATE, wait: 5s}  # or KEEP_ALIVE
 *   hosts:                              # at least one; names unique
 *     - name: web-1                     # [A-Za-z0-9._-], 1-64
 *     - name: web-2
 *       root: /srv/rehearsal/web-2      # local host rooted there
 *     - name: prod-1
 *       ssh: deploy@prod-1.example.com:22   # [user@]host[:port]
 *       tags: {zone: a}                 # free-form string map
 *       target: 127.0.0.1:28081         # its load balancer server
 *                                       # (default 127.0.0.1:<port>, or
 *                                       # a sandbox's own address:<port>)
 *   deployment-configs:
 *     ThreeQuarters:
 *       minimum-healthy-hosts: {type: FLEET_PERCENT, value: 75}
 *     Canary25:
 *       canary: {percent: 25, bake: 30s, health: ./check.sh}
 *     Linear20:
 *       linear: {percent: 20, interval: 10s, health: ./check.sh}
 *
 * A host with root only is a local host rooted there; with ssh it is a
 * remote host, and root (absolute) is then a directory on that host to
 * use as its filesystem view (default /); with neither it is a
 * rehearsal host under the state directory. Durations are "30s", "10m", "2h",
 * "1h30m", "1m30s" (units h, m, s in that order, each once), or a bare
 * number of SECONDS; at most 720h. A relative root is taken relative to
 * the group file's directory and stored absolute and normalised
 * lexically (it need not exist); health commands run there (with sh -c).
 *
 * Names: application and deployment-group 1-100 characters without
 * control characters; id [A-Za-z0-9._-] 1-128; config names
 * [A-Za-z0-9._-] 1-100, not starting with "CodeDeployDefault." (the
 * built-ins are CodeDeployDefault.OneAtATime, HalfAtATime, AllAtOnce).
 * Host names are not "." or "..". ssh: user [A-Za-z0-9._-]; host without
 * spaces, quotes, '/' or '@', not starting with '-' ("[v6addr]" for an
 * IPv6 address, stored without brackets); port 1-65535.
 * minimum-healthy-hosts: HOST_COUNT value 0-1000000, FLEET_PERCENT
 * 0-100; canary and linear percent 1-100. Tags are strings ("key=value",
 * the key without '='). Booleans are YAML 1.1 (true/false/yes/no/on/off).
 * A target is "addr:port" (an IPv4 address or a name without spaces, port
 * 1-65535); with an HAProxy every host needs one or the balancer's port,
 * and hosts reached over ssh cannot be behind it.
 * Unknown keys are warnings (g.warnings, "file:line:col: unknown key 'x'
 * ignored"), as in the other files.
 */
#ifndef SW_GROUP_H
#define SW_GROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "appspec.h"
#include "dconfig.h"
#include "err.h"
#include "strvec.h"

struct group_host {
	char *name;
	char *root; /* absolute, or NULL */
	char *ssh; /* "[user@]host[:port]" as written, or NULL */
	char *ssh_user; /* parsed from ssh: NULL when not given */
	char *ssh_host;
	int ssh_port; /* 0 when not given */
	struct strvec tags; /* "key=value" */
	char *target; /* "addr:port": the load balancer's server, or NULL */
	/* no target given: 127.0.0.1:<port> here; a deployment makes it the
	 * host's own address when it is a sandbox with a network */
	bool target_default;
	bool replacement; /* one of blue-green.replacement-hosts */
	int line, col; /* of the host's mapping */
};

/* load-balancer: {kind: haproxy, ...}: an HAProxy in front of the hosts. */
struct group_lb {
	bool haproxy; /* configured (else none) */
	bool managed; /* slipway runs it */
	char *listen; /* managed: "addr:port" it listens on */
	char *socket; /* existing: its admin socket, absolute */
	char *backend; /* its backend ("slipway" for a managed one) */
	unsigned port; /* the targets' default port; 0: none */
	char *health_path; /* "/" */
	int64_t health_interval_ms; /* 2 s */
	int64_t health_wait_ms; /* AllowTraffic's bound: 30 s */
	int64_t deregistration_delay_ms; /* 300 s, as ELB's */
};

struct group {
	char *file; /* as given to group_load */
	char *dir; /* the file's directory, absolute */
	char *application;
	char *name; /* deployment-group */
	char *id; /* DEPLOYMENT_GROUP_ID: given or derived */
	char *config; /* deployment-config name (default OneAtATime) */
	enum appspec_feb feb; /* UNSET when not given */
	bool ignore_application_stop_failures;
	bool auto_rollback;
	bool load_balancer; /* the traffic events run (true with lb too) */
	struct group_lb lb;
	/* deployment-type: BLUE_GREEN; the replacement hosts are the last
	 * nr_replacements of hosts (replacement set) */
	bool blue_green;
	size_t nr_replacements;
	/* blue-green.ready.action STOP_DEPLOYMENT: the replacement fleet,
	 * installed, waits up to ready_wait_ms for `deploy continue` */
	bool ready_stop;
	int64_t ready_wait_ms;
	bool terminate; /* blue-green.original.action TERMINATE */
	int64_t original_wait_ms; /* blue-green.original.wait */
	struct group_host *hosts;
	size_t nr_hosts, alloc_hosts;
	struct dconfig *configs; /* custom ones */
	size_t nr_configs, alloc_configs;
	struct strvec warnings;
	/* The warnings about unknown keys, again: --strict makes them
	 * errors. */
	struct strvec unknown_keys;
};

#define GROUP_INIT                                                             \
	{                                                                      \
		NULL                                                           \
	}

/* Parse a group file; on failure *g is released. */
int group_load(const char *path, struct group *g, struct sw_err *e);
/* From memory, for tests and the fuzzer; name is used in messages and
 * dir for relative paths (NULL: name's directory). */
int group_parse(const char *name, const char *dir, const char *data, size_t len,
		struct group *g, struct sw_err *e);
void group_release(struct group *g);

/*
 * The configuration called name (NULL: g->config): a custom one of the
 * group or a built-in one. Fills *c (a deep copy the caller releases);
 * -1 with ERR_USAGE "unknown deployment config 'X'" when there is none.
 */
int group_config(const struct group *g, const char *name, struct dconfig *c,
		 struct sw_err *e);

/* A UUID-shaped DEPLOYMENT_GROUP_ID derived from a group's name, the same
 * as `slipway deploy --deployment-group NAME` derives. Caller frees. */
char *group_derive_id(const char *name);

#endif
