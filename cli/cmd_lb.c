/*
 * slipway lb status|stop --group FILE: a deployment group's load balancer
 * as HAProxy sees it, and stopping a managed one (lb.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "group.h"
#include "lb.h"
#include "state.h"
#include "xalloc.h"
#include "banned.h"

static const char lb_usage[] =
	"usage: slipway lb status --group FILE [--state-dir DIR]\n"
	"       slipway lb stop --group FILE [--state-dir DIR]\n"
	"\n"
	"The load balancer of a deployment group (its group file's "
	"load-balancer:\n"
	"an HAProxy that slipway runs, or an existing one reached over its "
	"admin\n"
	"socket); each host is one server of its backend.\n"
	"\n"
	"  status  each server: its target, its state as HAProxy sees it "
	"(UP,\n"
	"          DOWN, MAINT, DRAIN), its open sessions and its last "
	"health\n"
	"          check\n"
	"  stop    stop the HAProxy slipway runs for the group (`slipway "
	"host\n"
	"          stop` of one of its hosts stops it too)\n"
	"\n"
	"      --group FILE          the deployment group file (required)\n"
	"      --state-dir DIR       state directory (default .slipway or\n"
	"                            $SLIPWAY_STATE_DIR)\n"
	"  -h, --help                this help\n"
	"\n"
	"Exit status: 0 done, 1 the load balancer is not running or does not "
	"answer,\n"
	"2 usage error (or a group without a load balancer), 3 invalid group "
	"file,\n"
	"111 system error.\n";

enum { OPT_GROUP = 256, OPT_STATE_DIR };

static const struct option lb_options[] = {
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int lb_status(const struct state *st, const struct group *g)
{
	struct lb lb = LB_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct lb_server *v = NULL;
	size_t nr = 0, w = 6;

	if (lb_open(&lb, st->dir, g, false, NULL, &e) < 0 ||
	    lb_servers(&lb, &v, &nr, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		lb_release(&lb);
		return e.code == ERR_SYSTEM ? ERR_FAILED : e.code;
	}
	for (size_t i = 0; i < nr; i++)
		if (strlen(v[i].name) > w)
			w = strlen(v[i].name);
	printf("%-*s  %-21s  %-9s  %8s  %s\n", (int)w, "SERVER", "TARGET",
	       "STATUS", "SESSIONS", "CHECK");
	for (size_t i = 0; i < nr; i++)
		printf("%-*s  %-21s  %-9s  %8lu  %s%s%s%s\n", (int)w, v[i].name,
		       *v[i].addr ? v[i].addr : "-", v[i].status, v[i].sessions,
		       *v[i].check ? v[i].check : "-",
		       *v[i].check_info ? " (" : "", v[i].check_info,
		       *v[i].check_info ? ")" : "");
	if (g->lb.managed)
		printf("haproxy pid %d, listening on %s, backend %s\n",
		       (int)lb.pid, g->lb.listen, lb.backend);
	else
		printf("haproxy at %s, backend %s\n", lb.sock, lb.backend);
	free(v);
	lb_release(&lb);
	return 0;
}

static int lb_stop(const struct state *st, const struct group *g)
{
	struct sw_err e = SW_ERR_INIT;
	char *dir;
	bool was;
	int ret;

	if (!g->lb.managed) {
		fprintf(stderr,
			"error: the load balancer of group %s is not run by "
			"slipway: stop it as you started it\n",
			g->name);
		return ERR_USAGE;
	}
	dir = lb_dir(st->dir, g->id);
	ret = lb_stop_dir(dir, &was, &e);
	free(dir);
	if (ret < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		return ERR_SYSTEM;
	}
	printf("the load balancer of group %s %s\n", g->name,
	       was ? "stopped" : "was not running");
	return 0;
}

int cmd_lb(int argc, char **argv)
{
	const char *group_file = NULL, *state_dir = NULL, *sub;
	struct state st = STATE_INIT;
	struct group g = GROUP_INIT;
	struct sw_err e = SW_ERR_INIT;
	int c, status;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lb_options, NULL)) != -1) {
		switch (c) {
		case OPT_GROUP:
			group_file = optarg;
			break;
		case OPT_STATE_DIR:
			state_dir = optarg;
			break;
		case 'h':
			fputs(lb_usage, stdout);
			return 0;
		default:
			return cli_usage_error("lb", "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("lb", "status or stop?");
	sub = argv[optind++];
	if (strcmp(sub, "status") && strcmp(sub, "stop"))
		return cli_usage_error("lb", "unknown subcommand '%s'", sub);
	if (optind < argc)
		return cli_usage_error("lb", "unexpected '%s'", argv[optind]);
	if (!group_file)
		return cli_usage_error("lb", "--group FILE is required");
	if (group_load(group_file, &g, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		return e.code;
	}
	if (!g.lb.haproxy) {
		fprintf(stderr,
			"error: group %s has no load balancer (load-balancer: "
			"{kind: haproxy, ...})\n",
			g.name);
		group_release(&g);
		return ERR_USAGE;
	}
	if (state_open(&st, state_dir, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		group_release(&g);
		return ERR_SYSTEM;
	}
	status = !strcmp(sub, "status") ? lb_status(&st, &g) : lb_stop(&st, &g);
	state_release(&st);
	group_release(&g);
	return status;
}
