/*
 * slipway host ls|start|stop|rm|exec: the rehearsal hosts of the state
 * directory and their sandboxes (host.h).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cli.h"
#include "fs.h"
#include "host.h"
#include "lb.h"
#include "proc.h"
#include "sandbox.h"
#include "state.h"
#include "xalloc.h"
#include "banned.h"

static const char host_usage[] =
	"usage: slipway host ls [--state-dir DIR]\n"
	"       slipway host start NAME [--host-network private|host]\n"
	"       slipway host stop NAME...\n"
	"       slipway host rm NAME...\n"
	"       slipway host exec [--state-dir DIR] NAME [--] COMMAND "
	"[ARG...]\n"
	"\n"
	"Rehearsal hosts are the local hosts a deployment makes under the "
	"state\n"
	"directory (<state>/hosts/NAME). With deploy --isolation sandbox each "
	"is a\n"
	"sandbox: its root seen as /, this machine's /usr and /etc read-only "
	"under\n"
	"its own changes, its own processes (a daemon started by a hook lives "
	"as\n"
	"long as the host), and with --host-network private its own address.\n"
	"\n"
	"  ls      each host: name, state, pid of its init, address, uptime, "
	"root\n"
	"  start   start a host's sandbox (deploy starts it when needed)\n"
	"  stop    TERM every process of the host, 5 s of grace, then KILL; "
	"its\n"
	"          files stay\n"
	"  rm      stop the host and remove it, files and agent state\n"
	"          (stop and rm also stop the managed load balancer of a\n"
	"          group the host is in)\n"
	"  exec    run COMMAND on the host (started if needed), as root in /;\n"
	"          exec's options go before NAME: what follows is the "
	"command's\n"
	"\n"
	"      --host-network private|host\n"
	"                            start: private gives the host its own "
	"network\n"
	"                            and address (default host)\n"
	"      --state-dir DIR       state directory (default .slipway or\n"
	"                            $SLIPWAY_STATE_DIR)\n"
	"  -h, --help                this help\n"
	"\n"
	"Examples:\n"
	"  slipway host ls\n"
	"  slipway host exec web-1 -- curl -s localhost/health\n"
	"  slipway host stop web-1 web-2\n"
	"\n"
	"Exit status: 0 done, 1 no such host, 2 usage error, 111 system "
	"error;\n"
	"exec: the command's.\n";

enum { OPT_STATE_DIR = 256, OPT_HOST_NETWORK };

static const struct option options[] = {
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "host-network", required_argument, NULL, OPT_HOST_NETWORK },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void show_uptime(int64_t ms, char *out, size_t n)
{
	int64_t s = ms / 1000;

	if (s < 60)
		snprintf(out, n, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, n, "%lldm%02llds", (long long)(s / 60),
			 (long long)(s % 60));
	else
		snprintf(out, n, "%lldh%02lldm", (long long)(s / 3600),
			 (long long)(s / 60 % 60));
}

static int host_ls(const struct state *st)
{
	struct strvec names = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	size_t w = 4;

	if (host_list(st->dir, &names, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		return ERR_SYSTEM;
	}
	for (size_t i = 0; i < names.nr; i++)
		if (strlen(names.v[i]) > w)
			w = strlen(names.v[i]);
	if (names.nr)
		printf("%-*s  %-7s  %7s  %-15s  %-7s  %s\n", (int)w, "NAME",
		       "STATE", "PID", "ADDRESS", "UP", "ROOT");
	for (size_t i = 0; i < names.nr; i++) {
		struct host_box b = HOST_BOX_INIT;
		char pid[16] = "-", up[24] = "-";
		char *root = xasprintf("%s/hosts/%s/root", st->dir, names.v[i]);

		host_box_get(st->dir, names.v[i], &b);
		if (b.pid) {
			snprintf(pid, sizeof(pid), "%d", (int)b.pid);
			show_uptime(proc_wall_ms() - b.started_ms, up,
				    sizeof(up));
		}
		printf("%-*s  %-7s  %7s  %-15s  %-7s  %s\n", (int)w, names.v[i],
		       b.pid ? "running" : "stopped", pid,
		       b.address ? b.address
		       : b.pid	 ? "(machine)"
				 : "-",
		       up, root);
		free(root);
		host_box_release(&b);
	}
	strvec_release(&names);
	return 0;
}

static bool host_exists(const struct state *st, const char *name)
{
	char *root = xasprintf("%s/hosts/%s/root", st->dir, name);
	bool ok = fs_is_dir(root);

	free(root);
	return ok;
}

static int host_start(const struct state *st, const char *name, bool net)
{
	struct host_box b = HOST_BOX_INIT;
	struct sw_err e = SW_ERR_INIT;
	bool started;

	if (host_box_ensure(st->dir, name, net, &b, &started, &e) < 0) {
		fprintf(stderr, "error: host %s: %s\n", name, e.msg);
		return ERR_SYSTEM;
	}
	printf("%s: %s, pid %d%s%s\n", name,
	       started ? "started" : "already running", (int)b.pid,
	       b.address ? ", address " : "", b.address ? b.address : "");
	if (!started && net && !b.network)
		fprintf(stderr,
			"warning: host %s runs without a network of its own: "
			"`slipway host stop %s` first to start it with one\n",
			name, name);
	host_box_release(&b);
	return 0;
}

static int host_stop(const struct state *st, char **names, int n, bool rm)
{
	int status = 0;

	for (int i = 0; i < n; i++) {
		struct sw_err e = SW_ERR_INIT;
		char *hd;

		if (!host_exists(st, names[i])) {
			fprintf(stderr, "error: no host %s in %s/hosts\n",
				names[i], st->dir);
			if (!status)
				status = ERR_FAILED;
			continue;
		}
		if (host_box_stop(st->dir, names[i], &e) < 0) {
			fprintf(stderr, "error: %s\n", e.msg);
			status = ERR_SYSTEM;
			continue;
		}
		if (!rm)
			continue;
		hd = host_dir(st->dir, names[i]);
		if (fs_remove_tree(hd, &e) < 0) {
			fprintf(stderr, "error: %s\n", e.msg);
			status = ERR_SYSTEM;
		}
		free(hd);
	}
	{
		/* a managed load balancer lives as long as its hosts */
		struct strvec stopped = STRVEC_INIT;
		struct sw_err e = SW_ERR_INIT;

		if (lb_stop_for_hosts(st->dir, names, (size_t)n, &stopped, &e) <
		    0) {
			fprintf(stderr, "error: %s\n", e.msg);
			status = ERR_SYSTEM;
		}
		for (size_t i = 0; i < stopped.nr; i++)
			printf("the load balancer of group id %s stopped\n",
			       stopped.v[i]);
		strvec_release(&stopped);
	}
	return status;
}

static int host_exec(const struct state *st, const char *name, char **argv)
{
	static const char *const keep[] = { "TERM", "LANG", "LC_ALL", NULL };
	struct host_box b = HOST_BOX_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct strvec env = STRVEC_INIT;
	bool started;

	if (!host_exists(st, name)) {
		fprintf(stderr, "error: no host %s in %s/hosts\n", name,
			st->dir);
		return ERR_FAILED;
	}
	if (host_box_ensure(st->dir, name, false, &b, &started, &e) < 0) {
		fprintf(stderr, "error: host %s: %s\n", name, e.msg);
		return ERR_SYSTEM;
	}
	strvec_push(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
			  "/usr/bin:/sbin:/bin");
	strvec_push(&env, "HOME=/root");
	strvec_push(&env, "USER=root");
	for (const char *const *k = keep; *k; k++)
		if (getenv(*k))
			strvec_pushf(&env, "%s=%s", *k, getenv(*k));
	fflush(NULL);
	if (sandbox_enter(b.pid, -1) < 0) {
		fprintf(stderr, "error: host %s: cannot enter it: %s\n", name,
			strerror(errno));
		return ERR_SYSTEM;
	}
	/* on the host, in a child of ours: the command */
	if (chdir("/") < 0)
		_exit(ERR_SYSTEM);
	execvpe(argv[0], argv, env.v);
	fprintf(stderr, "error: host %s: cannot run '%s': %s\n", name, argv[0],
		strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int cmd_host(int argc, char **argv)
{
	const char *state_dir = NULL, *sub = NULL;
	struct state st = STATE_INIT;
	struct sw_err e = SW_ERR_INIT;
	bool net = false, is_exec = false;
	int c, status = 0;

	/* exec's COMMAND has options of its own: parse in order, stop at
	 * NAME; the others take options anywhere */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--state-dir") ||
		    !strcmp(argv[i], "--host-network")) {
			i++;
		} else if (argv[i][0] != '-') {
			is_exec = !strcmp(argv[i], "exec");
			break;
		}
	}
	optind = 1;
	opterr = 0;
	for (int pass = 0; pass < (is_exec ? 2 : 1); pass++) {
		while ((c = getopt_long(argc, argv, is_exec ? "+h" : "h",
					options, NULL)) != -1) {
			switch (c) {
			case OPT_STATE_DIR:
				state_dir = optarg;
				break;
			case OPT_HOST_NETWORK:
				if (cli_host_network_option("host", optarg,
							    &net))
					return ERR_USAGE;
				break;
			case 'h':
				fputs(host_usage, stdout);
				return 0;
			default:
				return cli_bad_option("host", argv[optind - 1],
						      options);
			}
		}
		if (optind >= argc)
			return cli_usage_error("host",
					       pass ? "exec: a host NAME is "
						      "required"
						    : "ls, start, stop, rm or "
						      "exec?");
		if (pass == 0)
			sub = argv[optind++];
	}
	if (strcmp(sub, "ls") && strcmp(sub, "start") && strcmp(sub, "stop") &&
	    strcmp(sub, "rm") && strcmp(sub, "exec"))
		return cli_unknown_subcommand(
			"host", sub,
			(const char *const[]){ "ls", "start", "stop", "rm",
					       "exec", NULL });
	if (!strcmp(sub, "ls") && optind < argc)
		return cli_usage_error("host", "unexpected '%s'", argv[optind]);
	if (strcmp(sub, "ls") && optind >= argc)
		return cli_usage_error("host", "%s: a host NAME is required",
				       sub);
	for (int i = optind; strcmp(sub, "ls") && i < argc; i++) {
		if (!agent_id_ok(argv[i]))
			return cli_usage_error("host", "invalid host name '%s'",
					       argv[i]);
		if (strcmp(sub, "stop") && strcmp(sub, "rm"))
			break;
	}
	if (!strcmp(sub, "start") && argc - optind > 1)
		return cli_usage_error("host", "start: one host at a time");
	if (!strcmp(sub, "exec")) {
		if (optind + 1 < argc && !strcmp(argv[optind + 1], "--"))
			memmove(&argv[optind + 1], &argv[optind + 2],
				(size_t)(argc - optind - 1) * sizeof(*argv));
		if (!argv[optind + 1])
			return cli_usage_error("host",
					       "exec: a COMMAND is required");
	}
	if (state_open(&st, state_dir, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		return ERR_SYSTEM;
	}
	if (!strcmp(sub, "ls"))
		status = host_ls(&st);
	else if (!strcmp(sub, "start"))
		status = host_start(&st, argv[optind], net);
	else if (!strcmp(sub, "stop") || !strcmp(sub, "rm"))
		status = host_stop(&st, &argv[optind], argc - optind,
				   !strcmp(sub, "rm"));
	else
		status = host_exec(&st, argv[optind], &argv[optind + 1]);
	state_release(&st);
	return status;
}
