#include "group.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "fs.h"
#include "xalloc.h"
#include "banned.h"

#define FIXTURES "tests/fixtures"
#define HEAD "application: webapp\ndeployment-group: staging\n"
#define ONE_HOST "hosts:\n  - name: a\n"

static void parse_ok(struct group *g, const char *text)
{
	struct sw_err e = SW_ERR_INIT;

	if (group_parse("fleet.yml", "/srv/groups", text, strlen(text), g, &e) <
	    0)
		fail_msg("unexpected error: %s", e.msg);
	assert_int_equal(e.code, 0);
}

/* Parsing must fail with exactly `msg`, leaving the group released. */
static void parse_err(const char *text, const char *msg)
{
	struct group g = GROUP_INIT;
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(group_parse("fleet.yml", "/srv/groups", text,
				     strlen(text), &g, &e),
			 -1);
	assert_int_equal(e.code, ERR_SPEC);
	assert_string_equal(e.msg, msg);
	assert_null(g.file);
	assert_null(g.application);
	assert_null(g.hosts);
	assert_null(g.configs);
	assert_int_equal(g.warnings.nr, 0);
}

static void test_group__minimal_defaults(void **state)
{
	struct group g = GROUP_INIT;

	(void)state;
	parse_ok(&g, HEAD ONE_HOST);
	assert_string_equal(g.file, "fleet.yml");
	assert_string_equal(g.dir, "/srv/groups");
	assert_string_equal(g.application, "webapp");
	assert_string_equal(g.name, "staging");
	assert_string_equal(g.id, "b348f39b-f94c-779b-9b6f-809c8cbc3c1b");
	assert_string_equal(g.config, "CodeDeployDefault.OneAtATime");
	assert_int_equal(g.feb, APPSPEC_FEB_UNSET);
	assert_false(g.ignore_application_stop_failures);
	assert_false(g.auto_rollback);
	assert_false(g.load_balancer);
	assert_int_equal(g.nr_hosts, 1);
	assert_string_equal(g.hosts[0].name, "a");
	assert_null(g.hosts[0].root);
	assert_null(g.hosts[0].ssh);
	assert_null(g.hosts[0].ssh_host);
	assert_int_equal(g.hosts[0].ssh_port, 0);
	assert_int_equal(g.hosts[0].tags.nr, 0);
	assert_int_equal(g.hosts[0].line, 4);
	assert_int_equal(g.hosts[0].col, 5);
	assert_int_equal(g.nr_configs, 0);
	assert_int_equal(g.warnings.nr, 0);
	group_release(&g);
	assert_null(g.application);
	group_release(&g); /* twice is harmless */
}

static void test_group__derive_id(void **state)
{
	char *a = group_derive_id("staging"), *b = group_derive_id(""),
	     *c = group_derive_id("staging");

	(void)state;
	assert_string_equal(a, "b348f39b-f94c-779b-9b6f-809c8cbc3c1b");
	assert_string_equal(b, "212f84d9-f22f-f024-f9f8-167156d45d4d");
	assert_string_equal(a, c);
	assert_int_equal(strlen(a), 36);
	free(a);
	free(b);
	free(c);
}

static void test_group__top_level_keys(void **state)
{
	struct group g = GROUP_INIT;

	(void)state;
	parse_ok(&g, HEAD "id: my.group_id-1\n"
			  "deployment-config: CodeDeployDefault.AllAtOnce\n"
			  "file-exists-behavior: RETAIN\n"
			  "ignore-application-stop-failures: Yes\n"
			  "auto-rollback: 'true'\n"
			  "load-balancer: on\n" ONE_HOST);
	assert_string_equal(g.id, "my.group_id-1");
	assert_string_equal(g.config, "CodeDeployDefault.AllAtOnce");
	assert_int_equal(g.feb, APPSPEC_FEB_RETAIN);
	assert_true(g.ignore_application_stop_failures);
	assert_true(g.auto_rollback);
	assert_true(g.load_balancer);
	group_release(&g);

	parse_ok(&g, HEAD "file-exists-behavior: DISALLOW\n"
			  "auto-rollback: no\nload-balancer: OFF\n"
			  "deployment-config: CodeDeployDefault.HalfAtATime\n"
			  "id:\n" ONE_HOST);
	assert_int_equal(g.feb, APPSPEC_FEB_DISALLOW);
	assert_false(g.auto_rollback);
	assert_false(g.load_balancer);
	assert_string_equal(g.config, "CodeDeployDefault.HalfAtATime");
	assert_string_equal(g.id, "b348f39b-f94c-779b-9b6f-809c8cbc3c1b");
	group_release(&g);
}

static void test_group__top_level_errors(void **state)
{
	(void)state;
	parse_err("", "fleet.yml:1:1: group file is empty: it needs "
		      "application, deployment-group and hosts");
	parse_err("just a string\n",
		  "fleet.yml:1:1: a group file must be a mapping, not a "
		  "scalar");
	parse_err("deployment-group: s\n" ONE_HOST,
		  "fleet.yml:1:1: 'application' is required: a name");
	parse_err("application:\ndeployment-group: s\n" ONE_HOST,
		  "fleet.yml:1:1: 'application' is required: a name");
	parse_err("application: a\ndeployment-group: \"\"\n" ONE_HOST,
		  "fleet.yml:2:19: 'deployment-group' is required: a name");
	parse_err("application: \"a\\nb\"\ndeployment-group: s\n" ONE_HOST,
		  "fleet.yml:1:14: invalid application (a?b): 1 to 100 "
		  "characters, no control characters");
	parse_err(HEAD "id: a b\n" ONE_HOST,
		  "fleet.yml:3:5: invalid id 'a b': 1 to 128 letters, digits, "
		  "'.', '_' and '-'");
	parse_err(HEAD "id: ..\n" ONE_HOST,
		  "fleet.yml:3:5: invalid id '..': 1 to 128 letters, digits, "
		  "'.', '_' and '-'");
	parse_err(HEAD "file-exists-behavior: Retain\n" ONE_HOST,
		  "fleet.yml:3:23: invalid file-exists-behavior (Retain): "
		  "DISALLOW, OVERWRITE or RETAIN");
	parse_err(HEAD "load-balancer: [x]\n" ONE_HOST,
		  "fleet.yml:3:16: 'load-balancer' must be a boolean (true or "
		  "false), not sequence");
	parse_err(HEAD "deployment-config: Mine\n" ONE_HOST,
		  "fleet.yml:3:20: unknown deployment config 'Mine': use "
		  "CodeDeployDefault.OneAtATime, HalfAtATime, AllAtOnce or a "
		  "name from deployment-configs");
	parse_err(HEAD "deployment-config: ''\n" ONE_HOST,
		  "fleet.yml:3:1: 'deployment-config' is empty: leave it out "
		  "for CodeDeployDefault.OneAtATime");
	parse_err(HEAD, "fleet.yml:1:1: 'hosts' is required: a list of at "
			"least one host (- name: web-1)");
	parse_err(HEAD "hosts:\n",
		  "fleet.yml:3:1: 'hosts' is required: a list of at least one "
		  "host (- name: web-1)");
	parse_err(HEAD "hosts: []\n",
		  "fleet.yml:3:8: 'hosts' is empty: at least one host is "
		  "needed");
}

static void test_group__hosts(void **state)
{
	struct group g = GROUP_INIT;
	struct group_host *h;

	(void)state;
	parse_ok(&g, HEAD "hosts:\n"
			  "  - name: rel\n    root: sub/../web//x/.\n"
			  "  - name: abs\n    root: /data/./web/../w\n"
			  "  - name: up\n    root: ../../../..\n"
			  "  - name: s1\n    ssh: deploy@h.example.com:2222\n"
			  "  - name: s2\n    ssh: h2\n"
			  "  - name: s3\n    ssh: '[::1]'\n"
			  "  - name: s4\n    ssh: u_1@[fe80::1%eth0]:22\n"
			  "  - name: t\n    tags: {zone: a, n: 3, e: , "
			  "'x y': 'p=q'}\n");
	assert_int_equal(g.nr_hosts, 8);
	h = g.hosts;
	assert_string_equal(h[0].root, "/srv/groups/web/x");
	assert_string_equal(h[1].root, "/data/w");
	assert_string_equal(h[2].root, "/");
	assert_string_equal(h[3].ssh, "deploy@h.example.com:2222");
	assert_string_equal(h[3].ssh_user, "deploy");
	assert_string_equal(h[3].ssh_host, "h.example.com");
	assert_int_equal(h[3].ssh_port, 2222);
	assert_null(h[4].ssh_user);
	assert_string_equal(h[4].ssh_host, "h2");
	assert_int_equal(h[4].ssh_port, 0);
	assert_null(h[5].ssh_user);
	assert_string_equal(h[5].ssh_host, "::1");
	assert_int_equal(h[5].ssh_port, 0);
	assert_string_equal(h[6].ssh_user, "u_1");
	assert_string_equal(h[6].ssh_host, "fe80::1%eth0");
	assert_int_equal(h[6].ssh_port, 22);
	assert_int_equal(h[7].tags.nr, 4);
	assert_string_equal(h[7].tags.v[0], "zone=a");
	assert_string_equal(h[7].tags.v[1], "n=3");
	assert_string_equal(h[7].tags.v[2], "e=");
	assert_string_equal(h[7].tags.v[3], "x y=p=q");
	assert_int_equal(h[7].line, 18);
	group_release(&g);
}

static void test_group__host_errors(void **state)
{
	(void)state;
	parse_err(HEAD "hosts:\n  - name: a\n  - name: b\n  - name: a\n",
		  "fleet.yml:6:11: duplicate host name 'a' in 'hosts[2]': "
		  "'hosts[0]' on line 4 has it already");
	parse_err(HEAD "hosts:\n  - name: x\n  - name: b\n  - name: b\n"
		       "  - name: x\n",
		  "fleet.yml:6:11: duplicate host name 'b' in 'hosts[2]': "
		  "'hosts[1]' on line 5 has it already");
	parse_err(HEAD "hosts:\n  - name: a\n  - {}\n",
		  "fleet.yml:5:5: 'hosts[1]' has no name: a host needs one");
	parse_err(HEAD "hosts:\n  - name:\n",
		  "fleet.yml:4:5: 'hosts[0]' has no name: a host needs one");
	parse_err(HEAD "hosts:\n  - name: a b\n",
		  "fleet.yml:4:11: invalid host name 'a b' in 'hosts[0]': 1 to "
		  "64 letters, digits, '.', '_' and '-'");
	parse_err(HEAD "hosts:\n  - name: {a: 1}\n",
		  "fleet.yml:4:11: 'hosts[0].name' must be a string, not a "
		  "mapping");
	parse_err(HEAD "hosts:\n  - name: a\n    ssh: h\n    root: r\n",
		  "fleet.yml:6:11: 'hosts[0].root' must be an absolute path: "
		  "with 'ssh' it is a directory on the remote host");
	parse_err(HEAD "hosts:\n  - name: a\n    root: ''\n",
		  "fleet.yml:5:5: 'hosts[0].root' is empty: leave it out for a "
		  "rehearsal host");
	parse_err(HEAD "hosts:\n  - name: a\n    ssh: 'u@h:'\n",
		  "fleet.yml:5:10: 'hosts[0].ssh' has an invalid port (u@h:): "
		  "1 to 65535");
	parse_err(HEAD "hosts:\n  - name: a\n    ssh: h:+22\n",
		  "fleet.yml:5:10: 'hosts[0].ssh' has an invalid port (h:+22): "
		  "1 to 65535");
	parse_err(HEAD "hosts:\n  - name: a\n    ssh: h:65536\n",
		  "fleet.yml:5:10: 'hosts[0].ssh' has an invalid port "
		  "(h:65536): 1 to 65535");
	parse_err(HEAD "hosts:\n  - name: a\n    ssh: h/x\n",
		  "fleet.yml:5:10: 'hosts[0].ssh' has an invalid host name "
		  "(h/x): no spaces, quotes, '/' or '@'");
	parse_err(HEAD "hosts:\n  - name: a\n    ssh: a@b@c\n",
		  "fleet.yml:5:10: 'hosts[0].ssh' has an invalid host name "
		  "(a@b@c): no spaces, quotes, '/' or '@'");
	parse_err(HEAD "hosts:\n  - name: a\n    ssh: '@h'\n",
		  "fleet.yml:5:10: 'hosts[0].ssh' has an invalid user (@h): "
		  "use letters, digits, '.', '_' and '-'");
	parse_err(HEAD "hosts:\n  - name: a\n    ssh: -l@h\n",
		  "fleet.yml:5:10: 'hosts[0].ssh' has an invalid user (-l@h): "
		  "use letters, digits, '.', '_' and '-'");
	parse_err(HEAD "hosts:\n  - name: a\n    ssh: '[::1'\n",
		  "fleet.yml:5:10: 'hosts[0].ssh' has no ']' after its address "
		  "([::1)");
	parse_err(HEAD "hosts:\n  - name: a\n    ssh: '[::1]x'\n",
		  "fleet.yml:5:10: 'hosts[0].ssh' has text after its address "
		  "([::1]x): write [user@]host[:port]");
	parse_err(HEAD "hosts:\n  - name: a\n    ssh: ''\n",
		  "fleet.yml:5:5: 'hosts[0].ssh' is empty: write "
		  "[user@]host[:port]");
	parse_err(HEAD "hosts:\n  - name: a\n    tags: {'a=b': c}\n",
		  "fleet.yml:5:12: 'hosts[0].tags' has an invalid tag name "
		  "(a=b): not empty, no '=' or control characters");
	parse_err(HEAD "hosts:\n  - name: a\n    tags: {z: [1]}\n",
		  "fleet.yml:5:15: 'hosts[0].tags.z' must be a string, not a "
		  "sequence");
}

/* Many hosts with a repeated name are checked without a quadratic
 * comparison, and the first repeat is the one reported. */
static void test_group__many_hosts(void **state)
{
	struct buf b = BUF_INIT;
	struct group g = GROUP_INIT;
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	buf_addstr(&b, HEAD "hosts:\n");
	for (int i = 0; i < 50000; i++)
		buf_addf(&b, "  - name: h%d\n", i);
	assert_int_equal(group_parse("fleet.yml", "/", b.ptr, b.len, &g, &e),
			 0);
	assert_int_equal(g.nr_hosts, 50000);
	assert_string_equal(g.hosts[49999].name, "h49999");
	group_release(&g);
	buf_addstr(&b, "  - name: h7\n  - name: h3\n");
	assert_int_equal(group_parse("fleet.yml", "/", b.ptr, b.len, &g, &e),
			 -1);
	assert_string_equal(e.msg,
			    "fleet.yml:50004:11: duplicate host name 'h7' in "
			    "'hosts[50000]': 'hosts[7]' on line 11 has it "
			    "already");
	buf_release(&b);
}

static void test_group__configs(void **state)
{
	struct group g = GROUP_INIT;
	const struct dconfig *c;

	(void)state;
	parse_ok(&g, HEAD ONE_HOST
		 "deployment-config: L4\n"
		 "deployment-configs:\n"
		 "  P75:\n"
		 "    minimum-healthy-hosts: {type: FLEET_PERCENT, value: 75}\n"
		 "  H0:\n"
		 "    minimum-healthy-hosts: {type: HOST_COUNT, value: 0}\n"
		 "  C1:\n"
		 "    canary: {percent: 100, bake: 30s, health: ./c.sh}\n"
		 "  L1:\n    linear: {percent: 1, interval: 10m}\n"
		 "  L2:\n    linear: {percent: 20, interval: 2h}\n"
		 "  L3:\n    linear: {percent: 20, interval: 1h30m}\n"
		 "  L4:\n    linear: {percent: 20, interval: 90}\n"
		 "  L5:\n    linear: {percent: 20, interval: 1m30s}\n"
		 "  L6:\n    linear: {percent: 20, interval: 0}\n"
		 "  L7:\n    linear: {percent: 20, interval: 720h}\n");
	assert_string_equal(g.config, "L4");
	assert_int_equal(g.nr_configs, 10);
	c = g.configs;
	assert_string_equal(c[0].name, "P75");
	assert_int_equal(c[0].kind, DCONFIG_MIN_HEALTHY);
	assert_int_equal(c[0].min_type, DCONFIG_FLEET_PERCENT);
	assert_int_equal(c[0].min_value, 75);
	assert_null(c[0].health);
	assert_int_equal(c[1].min_type, DCONFIG_HOST_COUNT);
	assert_int_equal(c[1].min_value, 0);
	assert_int_equal(c[2].kind, DCONFIG_CANARY);
	assert_int_equal(c[2].percent, 100);
	assert_int_equal(c[2].interval_ms, 30000);
	assert_string_equal(c[2].health, "./c.sh");
	assert_int_equal(c[3].kind, DCONFIG_LINEAR);
	assert_int_equal(c[3].percent, 1);
	assert_int_equal(c[3].interval_ms, 600000);
	assert_null(c[3].health);
	assert_int_equal(c[4].interval_ms, 7200000);
	assert_int_equal(c[5].interval_ms, 5400000);
	assert_int_equal(c[6].interval_ms, 90000);
	assert_int_equal(c[7].interval_ms, 90000);
	assert_int_equal(c[8].interval_ms, 0);
	assert_int_equal(c[9].interval_ms, 720LL * 3600000);
	group_release(&g);
}

#define CFG HEAD ONE_HOST "deployment-configs:\n  C:\n"

static void test_group__config_errors(void **state)
{
	(void)state;
	parse_err(CFG "    canary: {percent: 5, bake: 721h}\n",
		  "fleet.yml:7:32: 'deployment-configs.C.canary.bake' is too "
		  "long (721h): at most 720h");
	parse_err(CFG "    canary: {percent: 5, bake: 1s1m}\n",
		  "fleet.yml:7:32: 'deployment-configs.C.canary.bake' is not a "
		  "duration (1s1m): write 30s, 10m, 2h, 1h30m or a number of "
		  "seconds");
	parse_err(CFG "    canary: {percent: 5, bake: 1m1m}\n",
		  "fleet.yml:7:32: 'deployment-configs.C.canary.bake' is not a "
		  "duration (1m1m): write 30s, 10m, 2h, 1h30m or a number of "
		  "seconds");
	parse_err(CFG "    canary: {percent: 5, bake: -1s}\n",
		  "fleet.yml:7:32: 'deployment-configs.C.canary.bake' is not a "
		  "duration (-1s): write 30s, 10m, 2h, 1h30m or a number of "
		  "seconds");
	parse_err(CFG "    canary: {percent: 5, bake: ''}\n",
		  "fleet.yml:7:32: 'deployment-configs.C.canary.bake' is not a "
		  "duration (): write 30s, 10m, 2h, 1h30m or a number of "
		  "seconds");
	parse_err(CFG "    canary: {percent: 5, bake: 1m, health: ''}\n",
		  "fleet.yml:7:36: 'deployment-configs.C.canary.health' is "
		  "empty: leave it out or give a command");
	parse_err(CFG "    linear: {percent: 101, interval: 1m}\n",
		  "fleet.yml:7:23: 'deployment-configs.C.linear.percent' must "
		  "be at most 100, not 101");
	parse_err(CFG "    linear: {interval: 1m}\n",
		  "fleet.yml:7:13: 'deployment-configs.C.linear.percent' is "
		  "required: a whole number");
	parse_err(CFG "    linear: {percent: 5}\n",
		  "fleet.yml:7:13: 'deployment-configs.C.linear.interval' is "
		  "required: a duration such as 30s, 10m, 1h30m");
	parse_err(CFG "    linear:\n",
		  "fleet.yml:7:5: 'deployment-configs.C.linear' is empty: it "
		  "needs its settings");
	parse_err(CFG "    linear: 5\n",
		  "fleet.yml:7:13: 'deployment-configs.C.linear' must be a "
		  "mapping {percent: P, interval: D}, not a scalar");
	parse_err(CFG "    minimum-healthy-hosts: {value: 1}\n",
		  "fleet.yml:7:28: 'deployment-configs.C.minimum-healthy-hosts."
		  "type' is required: HOST_COUNT or FLEET_PERCENT");
	parse_err(CFG "    minimum-healthy-hosts: {type: HOST_COUNT, value: "
		      "1.5}\n",
		  "fleet.yml:7:54: 'deployment-configs.C.minimum-healthy-hosts."
		  "value' must be a whole number from 0 to 1000000, not 1.5");
	parse_err(CFG "    minimum-healthy-hosts: {type: HOST_COUNT, value: "
		      "99999999999999999999}\n",
		  "fleet.yml:7:54: 'deployment-configs.C.minimum-healthy-hosts."
		  "value' must be at most 1000000, not 99999999999999999999");
	parse_err(
		CFG "    minimum-healthy-hosts: [1]\n",
		"fleet.yml:7:28: 'deployment-configs.C.minimum-healthy-hosts' "
		"must be a mapping {type: HOST_COUNT or FLEET_PERCENT, value: "
		"N}, not a sequence");
	parse_err(CFG "    {}\n",
		  "fleet.yml:6:3: 'deployment-configs.C' needs one of "
		  "minimum-healthy-hosts, canary or linear");
	parse_err(
		HEAD ONE_HOST "deployment-configs:\n  C:\n",
		"fleet.yml:6:3: 'deployment-configs.C' must be a mapping with "
		"one of minimum-healthy-hosts, canary or linear");
	parse_err(HEAD ONE_HOST "deployment-configs:\n  'a b': {}\n",
		  "fleet.yml:6:3: invalid deployment config name 'a b': 1 to "
		  "100 letters, digits, '.', '_' and '-'");
	parse_err(HEAD ONE_HOST "deployment-configs:\n"
				"  CodeDeployDefault.OneAtATime:\n"
				"    canary: {percent: 5, bake: 1m}\n",
		  "fleet.yml:6:3: deployment config name "
		  "'CodeDeployDefault.OneAtATime' must not start with "
		  "'CodeDeployDefault.' (reserved for the built-in ones)");
}

static void test_group__config_lookup(void **state)
{
	struct group g = GROUP_INIT;
	struct dconfig c = DCONFIG_INIT;
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	parse_ok(&g, HEAD ONE_HOST
		 "deployment-config: Canary\n"
		 "deployment-configs:\n"
		 "  Canary:\n"
		 "    canary: {percent: 10, bake: 1m, health: ./h.sh}\n");
	assert_int_equal(group_config(&g, NULL, &c, &e), 0);
	group_release(&g);
	/* a deep copy: still whole once the group is gone */
	assert_string_equal(c.name, "Canary");
	assert_int_equal(c.kind, DCONFIG_CANARY);
	assert_int_equal(c.percent, 10);
	assert_int_equal(c.interval_ms, 60000);
	assert_string_equal(c.health, "./h.sh");
	dconfig_release(&c);

	parse_ok(&g, HEAD ONE_HOST);
	assert_int_equal(group_config(&g, NULL, &c, &e), 0);
	assert_string_equal(c.name, "CodeDeployDefault.OneAtATime");
	assert_int_equal(c.kind, DCONFIG_MIN_HEALTHY);
	dconfig_release(&c);
	assert_int_equal(
		group_config(&g, "CodeDeployDefault.HalfAtATime", &c, &e), 0);
	assert_string_equal(c.name, "CodeDeployDefault.HalfAtATime");
	assert_int_equal(c.min_type, DCONFIG_FLEET_PERCENT);
	assert_int_equal(c.min_value, 50);
	dconfig_release(&c);
	assert_int_equal(group_config(&g, "Nope", &c, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	assert_string_equal(e.msg, "unknown deployment config 'Nope'");
	group_release(&g);
}

static void test_group__unknown_keys_warn(void **state)
{
	struct group g = GROUP_INIT;

	(void)state;
	parse_ok(&g, HEAD "Auto_Rollback: true\nextra: 1\n"
			  "hosts:\n  - name: a\n    port: 22\n"
			  "deployment-configs:\n  C:\n"
			  "    canary: {percent: 5, bake: 1m, wait: 2}\n"
			  "    note: x\n");
	assert_int_equal(g.warnings.nr, 5);
	assert_string_equal(
		g.warnings.v[0],
		"fleet.yml:3:1: unknown key 'Auto_Rollback' ignored "
		"(did you mean 'auto-rollback'?)");
	assert_string_equal(g.warnings.v[1],
			    "fleet.yml:4:1: unknown key 'extra' ignored");
	assert_string_equal(g.warnings.v[2],
			    "fleet.yml:11:5: unknown key 'note' in "
			    "'deployment-configs.C' ignored");
	assert_string_equal(g.warnings.v[3],
			    "fleet.yml:10:36: unknown key 'wait' in "
			    "'deployment-configs.C.canary' ignored");
	assert_string_equal(g.warnings.v[4],
			    "fleet.yml:7:5: unknown key 'port' in 'hosts[0]' "
			    "ignored");
	assert_false(g.auto_rollback);
	group_release(&g);
}

static void test_group__unknown_keys_suggest(void **state)
{
	struct group g = GROUP_INIT;

	(void)state;
	parse_ok(&g, HEAD "auto-rolback: true\n"
			  "hosts:\n  - name: a\n    sssh: x@y\n");
	assert_int_equal(g.warnings.nr, 2);
	assert_string_equal(g.warnings.v[0],
			    "fleet.yml:3:1: unknown key 'auto-rolback' ignored "
			    "(did you mean 'auto-rollback'?)");
	assert_string_equal(g.warnings.v[1],
			    "fleet.yml:6:5: unknown key 'sssh' in 'hosts[0]' "
			    "ignored (did you mean 'ssh'?)");
	/* the same again, for --strict */
	assert_int_equal(g.unknown_keys.nr, 2);
	assert_string_equal(g.unknown_keys.v[1], g.warnings.v[1]);
	group_release(&g);
}

static void test_group__load_file(void **state)
{
	char tmpl[] = "/tmp/test_group.XXXXXX";
	char *dir = mkdtemp(tmpl), *path, *sub;
	struct group g = GROUP_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char text[] = HEAD "hosts:\n  - name: a\n    root: r\n";

	(void)state;
	assert_non_null(dir);
	sub = fs_join(dir, "g");
	assert_int_equal(mkdir(sub, 0700), 0);
	path = fs_join(sub, "fleet.yml");
	assert_int_equal(fs_write_atomic(path, text, strlen(text), 0644, &e),
			 0);
	assert_int_equal(group_load(path, &g, &e), 0);
	assert_string_equal(g.file, path);
	assert_string_equal(g.dir, sub);
	free(path);
	path = fs_join(sub, "r");
	assert_string_equal(g.hosts[0].root, path);
	group_release(&g);
	free(path);

	path = fs_join(sub, "missing.yml");
	assert_int_equal(group_load(path, &g, &e), -1);
	assert_int_not_equal(e.code, 0);
	assert_null(g.file);
	free(path);
	err_clear(&e);

	path = fs_join(sub, "fleet.yml");
	assert_int_equal(unlink(path), 0);
	free(path);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(dir), 0);
	free(sub);
}

/* The "# expect:" text of a fixture's first line, or "". */
static void first_line_expect(const char *data, size_t len, char *out,
			      size_t size)
{
	const char *nl = memchr(data, '\n', len);
	size_t n = nl ? (size_t)(nl - data) : len;

	out[0] = '\0';
	if (n < 10 || memcmp(data, "# expect: ", 10))
		return;
	n -= 10;
	if (n >= size)
		n = size - 1;
	memcpy(out, data + 10, n);
	out[n] = '\0';
}

static void test_group__good_fixtures(void **state)
{
	DIR *d = opendir(FIXTURES "/good-groups");
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		struct group g;
		struct sw_err e = SW_ERR_INIT;
		struct dconfig c = DCONFIG_INIT;
		char *path;

		if (de->d_name[0] == '.')
			continue;
		path = fs_join(FIXTURES "/good-groups", de->d_name);
		if (group_load(path, &g, &e) < 0)
			fail_msg("%s: %s", path, e.msg);
		assert_true(g.nr_hosts > 0);
		assert_int_equal(group_config(&g, NULL, &c, &e), 0);
		assert_string_equal(c.name, g.config);
		dconfig_release(&c);
		group_release(&g);
		free(path);
		n++;
	}
	closedir(d);
	assert_true(n >= 4);
}

static void test_group__full_fixture(void **state)
{
	struct group g = GROUP_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *dir = fs_abspath(FIXTURES "/good-groups"), *want;

	(void)state;
	assert_int_equal(group_load(FIXTURES "/good-groups/full.yml", &g, &e),
			 0);
	assert_string_equal(g.dir, dir);
	assert_string_equal(g.application, "webapp");
	assert_string_equal(g.name, "staging");
	assert_string_equal(g.id, "8a1c2f3e-staging.1");
	assert_string_equal(g.config, "Canary25");
	assert_int_equal(g.feb, APPSPEC_FEB_OVERWRITE);
	assert_true(g.ignore_application_stop_failures);
	assert_true(g.auto_rollback);
	assert_true(g.load_balancer);
	assert_int_equal(g.nr_hosts, 6);
	want = xasprintf("%s/rehearsal/web-2", dir);
	assert_string_equal(g.hosts[1].root, want);
	free(want);
	assert_string_equal(g.hosts[2].root, "/srv/rehearsal/web-3");
	assert_int_equal(g.hosts[2].tags.nr, 2);
	assert_string_equal(g.hosts[3].ssh_user, "deploy");
	assert_string_equal(g.hosts[3].ssh_host, "prod-1.example.com");
	assert_int_equal(g.hosts[3].ssh_port, 2222);
	assert_string_equal(g.hosts[3].tags.v[1], "weight=10");
	assert_string_equal(g.hosts[5].ssh_host, "2001:db8::1");
	assert_int_equal(g.nr_configs, 4);
	assert_string_equal(g.configs[3].name, "Linear20");
	assert_int_equal(g.configs[3].interval_ms, 5400000);
	assert_int_equal(g.warnings.nr, 0);
	group_release(&g);
	free(dir);
}

static void test_group__bad_fixtures(void **state)
{
	DIR *d = opendir(FIXTURES "/bad-groups");
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		struct group g;
		struct sw_err e = SW_ERR_INIT;
		char *path, *data = NULL, expect[256];
		size_t len = 0;

		if (de->d_name[0] == '.')
			continue;
		path = fs_join(FIXTURES "/bad-groups", de->d_name);
		assert_int_equal(fs_read_file(path, 1 << 24, &data, &len, &e),
				 0);
		first_line_expect(data, len, expect, sizeof(expect));
		if (!expect[0])
			fail_msg("%s: no '# expect:' line", path);
		if (group_parse(path, "/srv", data, len, &g, &e) == 0)
			fail_msg("%s: parsed", path);
		assert_int_equal(e.code, ERR_SPEC);
		if (!strstr(e.msg, expect))
			fail_msg("%s: '%s' not in '%s'", path, expect, e.msg);
		if (strncmp(e.msg, path, strlen(path)) ||
		    e.msg[strlen(path)] != ':')
			fail_msg("%s: error does not name it: %s", path, e.msg);
		assert_null(g.file);
		free(data);
		free(path);
		n++;
	}
	closedir(d);
	assert_true(n >= 25);
}

static void test_group__load_balancer(void **state)
{
	struct group g = GROUP_INIT;

	(void)state;
	parse_ok(&g, HEAD "load-balancer:\n"
			  "  kind: haproxy\n"
			  "  managed: {listen: 127.0.0.1:8080}\n"
			  "  port: 28080\n"
			  "  health: {path: /health, interval: 250ms}\n"
			  "  deregistration-delay: 5s\n"
			  "hosts:\n"
			  "  - name: a\n"
			  "  - name: b\n"
			  "    target: localhost:9001\n");
	assert_true(g.load_balancer);
	assert_true(g.lb.haproxy);
	assert_true(g.lb.managed);
	assert_string_equal(g.lb.listen, "127.0.0.1:8080");
	assert_string_equal(g.lb.backend, "slipway");
	assert_string_equal(g.lb.health_path, "/health");
	assert_int_equal(g.lb.health_interval_ms, 250);
	assert_int_equal(g.lb.health_wait_ms, 30000);
	assert_int_equal(g.lb.deregistration_delay_ms, 5000);
	assert_string_equal(g.hosts[0].target, "127.0.0.1:28080");
	assert_string_equal(g.hosts[1].target, "localhost:9001");
	group_release(&g);

	/* an existing one: its socket relative to the file, its backend */
	parse_ok(&g, HEAD "load-balancer:\n"
			  "  kind: haproxy\n"
			  "  socket: run/admin.sock\n"
			  "  backend: web\n"
			  "hosts:\n"
			  "  - name: a\n"
			  "    target: 10.0.0.1:80\n");
	assert_false(g.lb.managed);
	assert_string_equal(g.lb.socket, "/srv/groups/run/admin.sock");
	assert_string_equal(g.lb.backend, "web");
	assert_int_equal(g.lb.deregistration_delay_ms, 300000);
	group_release(&g);

	/* the old boolean still runs the traffic events alone */
	parse_ok(&g, HEAD "load-balancer: true\n" ONE_HOST);
	assert_true(g.load_balancer);
	assert_false(g.lb.haproxy);
	group_release(&g);
}

static void test_group__load_balancer_errors(void **state)
{
	(void)state;
	parse_err(HEAD "load-balancer: {kind: nginx}\n" ONE_HOST,
		  "fleet.yml:3:23: unknown load balancer kind 'nginx' in "
		  "'load-balancer.kind': haproxy is the only one");
	parse_err(HEAD "load-balancer: {kind: haproxy}\n" ONE_HOST,
		  "fleet.yml:3:16: 'load-balancer' needs 'managed: {listen: "
		  "ADDR:PORT}' (slipway runs an HAProxy) or 'socket' and "
		  "'backend' (an existing one)");
	parse_err(HEAD "load-balancer: {kind: haproxy, managed: {listen: "
		       "x}}\n" ONE_HOST,
		  "fleet.yml:3:50: 'load-balancer.managed.listen' must be "
		  "address:port (127.0.0.1:28081), not 'x'");
	parse_err(HEAD "load-balancer: {kind: haproxy, socket: /s}\n" ONE_HOST,
		  "fleet.yml:3:16: 'load-balancer.backend' is required with "
		  "'socket': the name of the HAProxy backend whose servers "
		  "are the hosts");
	parse_err(HEAD "load-balancer: {kind: haproxy, managed: {listen: "
		       "127.0.0.1:1}}\n" ONE_HOST,
		  "fleet.yml:5:5: 'hosts[0]' (a) has no 'target' and "
		  "'load-balancer' no 'port': where does its traffic go?");
	parse_err(HEAD "load-balancer: {kind: haproxy, port: 80, managed: "
		       "{listen: 127.0.0.1:1}}\n"
		       "hosts:\n  - name: a\n    ssh: h\n",
		  "fleet.yml:6:10: 'hosts[0]' is reached over ssh: behind "
		  "'load-balancer' it needs a 'target' (address:port), or an "
		  "IPv4 address in 'ssh' and the balancer's 'port'");
	parse_err(HEAD "load-balancer: {kind: haproxy, managed: {listen: "
		       "127.0.0.1:1}}\n"
		       "hosts:\n  - name: a\n    ssh: 10.0.0.11\n",
		  "fleet.yml:6:10: 'hosts[0]' is reached over ssh: behind "
		  "'load-balancer' it needs a 'target' (address:port), or an "
		  "IPv4 address in 'ssh' and the balancer's 'port'");
	parse_err(HEAD
		  "load-balancer: {kind: haproxy, port: 80, managed: "
		  "{listen: 127.0.0.1:1}, health: {interval: 5ms}}\n" ONE_HOST,
		  "fleet.yml:3:93: 'load-balancer.health.interval' must be at "
		  "least 100ms");
	parse_err(HEAD ONE_HOST "    target: 127.0.0.1:0\n",
		  "fleet.yml:5:13: 'hosts[0].target' must be address:port "
		  "(127.0.0.1:28081), not '127.0.0.1:0'");
}

#define BG_LB                                                                  \
	"deployment-type: BLUE_GREEN\n"                                        \
	"load-balancer: {kind: haproxy, port: 80, managed: {listen: "          \
	"127.0.0.1:1}}\n"

static void test_group__blue_green(void **state)
{
	struct group g = GROUP_INIT;

	(void)state;
	parse_ok(&g, HEAD BG_LB "blue-green:\n"
				"  replacement-hosts:\n"
				"    - {name: g1, target: 127.0.0.1:9001}\n"
				"    - name: g2\n"
				"  original: {action: KEEP_ALIVE}\n"
				"hosts: [{name: b1}]\n");
	assert_true(g.blue_green);
	assert_int_equal(g.nr_hosts, 3);
	assert_int_equal(g.nr_replacements, 2);
	assert_false(g.hosts[0].replacement);
	assert_string_equal(g.hosts[1].name, "g1");
	assert_true(g.hosts[1].replacement);
	assert_string_equal(g.hosts[2].target, "127.0.0.1:80");
	assert_true(g.hosts[2].target_default);
	assert_false(g.hosts[1].target_default);
	assert_false(g.terminate);
	group_release(&g);

	parse_ok(&g, HEAD BG_LB "blue-green:\n"
				"  replacement-hosts: [{name: g1}]\n"
				"  original: {wait: 2m}\n"
				"hosts: [{name: b1}]\n");
	assert_true(g.terminate);
	assert_int_equal(g.original_wait_ms, 120000);
	assert_false(g.ready_stop);
	group_release(&g);

	parse_ok(&g, HEAD BG_LB "blue-green:\n"
				"  replacement-hosts: [{name: g1}]\n"
				"  ready: {action: STOP_DEPLOYMENT}\n"
				"hosts: [{name: b1}]\n");
	assert_true(g.ready_stop);
	assert_int_equal(g.ready_wait_ms, 3600000);
	group_release(&g);

	parse_ok(&g,
		 HEAD BG_LB "blue-green:\n"
			    "  replacement-hosts: [{name: g1}]\n"
			    "  ready: {action: STOP_DEPLOYMENT, wait: 300ms}\n"
			    "hosts: [{name: b1}]\n");
	assert_true(g.ready_stop);
	assert_int_equal(g.ready_wait_ms, 300);
	group_release(&g);

	/* in place, a host over ssh with a target of its own */
	parse_ok(&g, HEAD "load-balancer: {kind: haproxy, managed: {listen: "
			  "127.0.0.1:1}}\n"
			  "hosts:\n  - {name: a, ssh: h, target: "
			  "10.0.0.2:80}\n");
	assert_string_equal(g.hosts[0].target, "10.0.0.2:80");
	assert_false(g.hosts[0].target_default);
	group_release(&g);

	/* over ssh at an IPv4 address: that address and the port */
	parse_ok(&g,
		 HEAD "load-balancer: {kind: haproxy, port: 8080, "
		      "managed: {listen: 127.0.0.1:1}}\n"
		      "hosts:\n  - {name: a, ssh: deploy@10.0.0.11:2222}\n");
	assert_string_equal(g.hosts[0].target, "10.0.0.11:8080");
	assert_true(g.hosts[0].target_default);
	group_release(&g);
}

static void test_group__blue_green_errors(void **state)
{
	(void)state;
	parse_err(HEAD "deployment-type: BLUE_GREEN\n" ONE_HOST,
		  "fleet.yml:3:18: a BLUE_GREEN deployment moves traffic: the "
		  "group needs a 'load-balancer' (kind: haproxy)");
	parse_err(HEAD "deployment-type: ROLLING\n" ONE_HOST,
		  "fleet.yml:3:18: 'deployment-type' must be IN_PLACE or "
		  "BLUE_GREEN, not 'ROLLING'");
	parse_err(HEAD BG_LB ONE_HOST,
		  "fleet.yml:3:18: a BLUE_GREEN deployment needs 'blue-green' "
		  "with 'replacement-hosts'");
	parse_err(HEAD BG_LB
		  "blue-green: {replacement-hosts: [{name: a}]}\n" ONE_HOST,
		  "fleet.yml:5:41: duplicate host name 'a' in "
		  "'blue-green.replacement-hosts[0]': the two fleets are "
		  "distinct hosts");
	parse_err(HEAD BG_LB "blue-green:\n"
			     "  replacement-hosts: [{name: g}]\n"
			     "  original: {action: STOP}\n" ONE_HOST,
		  "fleet.yml:7:22: 'blue-green.original.action' must be "
		  "TERMINATE or KEEP_ALIVE, not 'STOP'");
	parse_err(HEAD BG_LB "blue-green:\n"
			     "  replacement-hosts: [{name: g, ssh: h, target: "
			     "10.0.0.2:80}]\n" ONE_HOST,
		  "fleet.yml:6:38: 'blue-green.replacement-hosts[0]' is "
		  "reached over ssh: the hosts of a BLUE_GREEN deployment "
		  "must be local");
	parse_err(HEAD BG_LB
		  "blue-green:\n"
		  "  replacement-hosts: [{name: g}]\n"
		  "  ready: {action: STOP_DEPLOYMENT, wait: 0}\n" ONE_HOST,
		  "fleet.yml:7:42: 'blue-green.ready.wait' must be more than "
		  "0: how long the replacement fleet waits for `slipway "
		  "deploy continue`");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group__minimal_defaults),
		cmocka_unit_test(test_group__derive_id),
		cmocka_unit_test(test_group__top_level_keys),
		cmocka_unit_test(test_group__top_level_errors),
		cmocka_unit_test(test_group__hosts),
		cmocka_unit_test(test_group__host_errors),
		cmocka_unit_test(test_group__many_hosts),
		cmocka_unit_test(test_group__configs),
		cmocka_unit_test(test_group__config_errors),
		cmocka_unit_test(test_group__config_lookup),
		cmocka_unit_test(test_group__unknown_keys_warn),
		cmocka_unit_test(test_group__unknown_keys_suggest),
		cmocka_unit_test(test_group__load_file),
		cmocka_unit_test(test_group__good_fixtures),
		cmocka_unit_test(test_group__full_fixture),
		cmocka_unit_test(test_group__bad_fixtures),
		cmocka_unit_test(test_group__load_balancer),
		cmocka_unit_test(test_group__load_balancer_errors),
		cmocka_unit_test(test_group__blue_green),
		cmocka_unit_test(test_group__blue_green_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
