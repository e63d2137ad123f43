#include "pipeline.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "fs.h"
#include "vars.h"
#include "xalloc.h"
#include "banned.h"

#define FIXTURES "tests/fixtures"
#define GOOD FIXTURES "/good-pipelines"

/* Two stages: a CodeCommit source bound to a git URL, then body. */
#define HEAD                                                                   \
	"pipeline:\n"                                                          \
	"  name: p\n"                                                          \
	"  stages:\n"                                                          \
	"    - name: S\n"                                                      \
	"      actions:\n"                                                     \
	"        - name: Src\n"                                                \
	"          namespace: SV\n"                                            \
	"          actionTypeId: {category: Source, owner: AWS, provider: "    \
	"CodeCommit, version: '1'}\n"                                          \
	"          configuration: {RepositoryName: r, BranchName: main}\n"     \
	"          outputArtifacts: [{name: A}]\n"                             \
	"    - name: T\n"                                                      \
	"      actions:\n"
#define TAIL "slipway: {sources: {r: 'git@h:r.git'}}\n"
/* An Invoke/Custom/Command action running cmd. */
#define CMDC(name, ro, cmd, extra)                                             \
	"        - name: " name "\n"                                           \
	"          runOrder: " #ro "\n"                                        \
	"          actionTypeId: {category: Invoke, owner: Custom, provider: " \
	"Command, version: '1'}\n"                                             \
	"          configuration: {Command: '" cmd "'}\n" extra
#define CMD(name, ro, extra) CMDC(name, ro, "true", extra)

static void parse_ok(struct pipeline *pl, const char *text)
{
	struct sw_err e = SW_ERR_INIT;

	if (pipeline_parse("p.yml", "/srv/p", text, strlen(text), pl, &e) < 0)
		fail_msg("unexpected error: %s", e.msg);
	assert_int_equal(e.code, 0);
}

/* Parsing must fail with exactly msg, leaving the pipeline released. */
static void parse_err(const char *text, const char *msg)
{
	struct pipeline pl = PIPELINE_INIT;
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(
		pipeline_parse("p.yml", "/srv/p", text, strlen(text), &pl, &e),
		-1);
	assert_int_equal(e.code, ERR_SPEC);
	assert_string_equal(e.msg, msg);
	assert_null(pl.file);
	assert_null(pl.name);
	assert_null(pl.stages);
	assert_int_equal(pl.nr_stages, 0);
	assert_int_equal(pl.warnings.nr, 0);
}

static void test_pipeline__run_order_groups(void **state)
{
	struct pipeline pl = PIPELINE_INIT;
	const struct pl_stage *t;

	(void)state;
	parse_ok(&pl, HEAD CMD("c5", 5, "") CMD("a1", 1, "") CMD("b3", 3, "")
			      CMD("d1", 1, "") CMD("e3", 3, "") TAIL);
	assert_string_equal(pl.name, "p");
	assert_string_equal(pl.dir, "/srv/p");
	assert_int_equal(pl.mode, PL_SUPERSEDED);
	assert_int_equal(pl.nr_stages, 2);
	assert_int_equal(pl.stages[0].nr_groups, 1);
	assert_int_equal(pl.stages[0].actions[0].run_order, 1);
	assert_int_equal(pl.stages[0].actions[0].group, 0);
	t = &pl.stages[1];
	assert_int_equal(t->nr_actions, 5);
	/* 1, 3, 5 with gaps: three groups, in declaration order kept */
	assert_int_equal(t->nr_groups, 3);
	assert_string_equal(t->actions[0].name, "c5");
	assert_int_equal(t->actions[0].group, 2);
	assert_int_equal(t->actions[1].group, 0);
	assert_int_equal(t->actions[2].group, 1);
	assert_int_equal(t->actions[3].group, 0);
	assert_int_equal(t->actions[4].group, 1);
	assert_int_equal(t->actions[4].provider, PL_COMMAND);
	assert_int_equal(t->actions[4].category, PL_INVOKE);
	assert_string_equal(pl_action_config(&t->actions[4], "Command"),
			    "true");
	assert_null(pl_action_config(&t->actions[4], "Other"));
	assert_int_equal(t->on_failure, PL_FAIL);
	assert_false(t->on_failure_set);
	assert_int_equal(pipeline_nr_actions(&pl), 6);
	assert_int_equal(pl.nr_sources, 1);
	assert_true(pl.sources[0].url);
	assert_string_equal(pl.sources[0].target, "git@h:r.git");
	assert_int_equal(pl.stages[0].actions[0].binding, 0);
	assert_int_equal(pl.warnings.nr, 0);
	assert_int_equal(pl.notes.nr, 0);
	pipeline_release(&pl);
	assert_null(pl.name);
	pipeline_release(&pl); /* twice is harmless */
}

static void test_pipeline__full_fixture(void **state)
{
	struct pipeline pl = PIPELINE_INIT;
	struct sw_err e = SW_ERR_INIT;
	const struct pl_stage *b, *d;
	const struct pl_action *test, *pkg;
	const struct pl_trigger *tr;
	char *dir = fs_abspath(GOOD), *want;

	(void)state;
	if (pipeline_load(GOOD "/full.yml", &pl, &e) < 0)
		fail_msg("%s", e.msg);
	assert_string_equal(pl.file, GOOD "/full.yml");
	assert_string_equal(pl.dir, dir);
	assert_string_equal(pl.name, "web");
	assert_int_equal(pl.mode, PL_QUEUED);
	assert_int_equal(pl.nr_variables, 2);
	assert_string_equal(pl.variables[0].name, "Env");
	assert_string_equal(pl.variables[0].default_value, "staging");
	assert_string_equal(pl.variables[0].description, "where to deploy");
	assert_null(pl.variables[1].default_value);
	assert_int_equal(pl.nr_stages, 3);
	assert_int_equal(pl.stages[0].nr_actions, 3);
	assert_int_equal(pl.stages[0].actions[1].provider, PL_S3);
	assert_int_equal(pl.stages[0].actions[2].provider, PL_GITHUB);
	assert_string_equal(pl.stages[0].actions[2].owner, "ThirdParty");

	b = &pl.stages[1];
	assert_true(b->on_failure_set);
	assert_int_equal(b->on_failure, PL_RETRY);
	assert_int_equal(b->retry_mode, PL_ALL_ACTIONS);
	assert_int_equal(b->nr_groups, 2);
	test = &b->actions[0];
	assert_int_equal(test->provider, PL_CODEBUILD);
	assert_int_equal(test->category, PL_BUILD);
	assert_int_equal(b->actions[1].category, PL_TEST);
	assert_int_equal(test->group, 0);
	assert_int_equal(b->actions[1].group, 0);
	assert_string_equal(test->namespace, "BuildVariables");
	assert_int_equal(test->nr_inputs, 2);
	assert_string_equal(test->inputs[0].name, "AppSrc");
	assert_int_equal(test->inputs[0].stage, 0);
	assert_int_equal(test->inputs[0].action, 0);
	assert_string_equal(test->inputs[1].name, "ToolsSrc");
	assert_int_equal(test->inputs[1].action, 2);
	assert_int_equal(test->outputs.nr, 1);
	assert_string_equal(test->outputs.v[0], "Built");
	assert_string_equal(pl_action_config(test, "PrimarySource"), "AppSrc");
	assert_string_equal(pl.projects[test->binding].name, "web-build");

	pkg = &b->actions[2];
	assert_int_equal(pkg->provider, PL_COMMANDS);
	assert_int_equal(pkg->run_order, 3);
	assert_int_equal(pkg->group, 1);
	assert_int_equal(pkg->commands.nr, 2);
	assert_string_equal(pkg->commands.v[0], "tar czf site.tgz .");
	assert_int_equal(pkg->output_variables.nr, 1);
	assert_string_equal(pkg->output_variables.v[0], "VERSION");
	assert_int_equal(pkg->nr_env, 2);
	assert_string_equal(pkg->env[0].name, "BUILD_ID");
	assert_string_equal(pkg->env[0].value, "#{BuildVariables.BUILD_ID}");
	assert_false(pkg->env[0].secret);
	assert_true(pkg->env[1].secret);
	assert_int_equal(pkg->files.nr, 1);
	assert_string_equal(pkg->files.v[0], "site.tgz");
	assert_int_equal(pkg->inputs[0].stage, 1);
	assert_int_equal(pkg->inputs[0].action, 0);
	assert_int_equal(pkg->inputs[1].stage, 0);
	assert_int_equal(pkg->inputs[1].action, 1);

	d = &pl.stages[2];
	assert_int_equal(d->on_failure, PL_ROLLBACK);
	assert_int_equal(d->nr_groups, 3);
	assert_int_equal(d->actions[0].provider, PL_MANUAL);
	assert_int_equal(d->actions[0].timeout_minutes, 60);
	assert_int_equal(d->actions[1].provider, PL_CODEDEPLOY);
	assert_string_equal(pl.groups[d->actions[1].binding].name,
			    "webapp/staging");
	want = fs_join(dir, "app/fleet.yml");
	assert_string_equal(pl.groups[d->actions[1].binding].target, want);
	free(want);

	assert_int_equal(pl.nr_triggers, 1);
	tr = &pl.triggers[0];
	assert_string_equal(tr->source_action, "App");
	assert_int_equal(tr->nr_push, 2);
	assert_true(tr->push[0].branches.set);
	assert_int_equal(tr->push[0].branches.includes.nr, 2);
	assert_string_equal(tr->push[0].branches.includes.v[1], "release/**");
	assert_true(tr->push[0].file_paths.set);
	assert_int_equal(tr->push[0].file_paths.includes.nr, 0);
	assert_string_equal(tr->push[0].file_paths.excludes.v[0], "docs/**");
	assert_false(tr->push[0].tags.set);
	assert_string_equal(tr->push[1].tags.includes.v[0], "v*");
	assert_int_equal(tr->nr_pull_request, 1);
	assert_int_equal(tr->pull_request[0].events,
			 PL_EVENT_OPEN | PL_EVENT_UPDATED);

	assert_int_equal(pl.nr_sources, 3);
	want = fs_join(dir, "app");
	assert_string_equal(pl.sources[0].target, want);
	assert_false(pl.sources[0].url);
	assert_string_equal(pl.sources[1].name, "assets/site.zip");
	assert_string_equal(pl.sources[1].target, want);
	free(want);
	assert_true(pl.sources[2].url);
	assert_int_equal(pl.nr_projects, 2);
	assert_string_equal(pl.projects[0].buildspec, "buildspec.yml");
	assert_int_equal(pl.projects[0].env.nr, 1);
	assert_string_equal(pl.projects[0].env.v[0], "STAGE=test");
	assert_string_equal(pl.projects[0].isolation, "dir");
	want = fs_join(dir, "app/secrets.yml");
	assert_string_equal(pl.projects[0].secrets_file, want);
	free(want);
	assert_int_equal(pl.projects[1].runs_on.nr, 1);
	assert_string_equal(pl.projects[1].runs_on.v[0], "linux");
	assert_null(pl.projects[1].secrets_file);
	assert_int_equal(pl.nr_notifications, 1);
	assert_string_equal(pl.notifications[0].command, "./app/notify.sh");
	assert_string_equal(pl.notifications[0].url,
			    "http://127.0.0.1:9000/events");
	assert_int_equal(pl.poll_seconds, 300);
	want = fs_join(dir, "app/webhook-secret");
	assert_string_equal(pl.webhook_secret_file, want);
	free(want);
	want = fs_join(dir, "app/commands-secrets.yml");
	assert_string_equal(pl.secrets_file, want);
	free(want);
	assert_int_equal(pl.warnings.nr, 0);
	assert_int_equal(pl.notes.nr, 0);
	pipeline_release(&pl);
	free(dir);
}

static void test_pipeline__get_pipeline_json(void **state)
{
	struct pipeline pl = PIPELINE_INIT;
	struct sw_err e = SW_ERR_INIT;
	const struct pl_action *src, *bld;

	(void)state;
	if (pipeline_load(GOOD "/get-pipeline.json", &pl, &e) < 0)
		fail_msg("%s", e.msg);
	assert_string_equal(pl.name, "MyPipeline");
	assert_int_equal(pl.nr_stages, 2);
	src = &pl.stages[0].actions[0];
	assert_int_equal(src->provider, PL_CODESTAR);
	assert_int_equal(src->nr_inputs, 0);
	assert_string_equal(pl_action_config(src, "FullRepositoryId"), "o/r");
	assert_int_equal(pl.stages[0].on_failure, PL_RETRY);
	assert_int_equal(pl.stages[0].retry_mode, PL_FAILED_ACTIONS);
	bld = &pl.stages[1].actions[0];
	assert_int_equal(bld->line, 46);
	assert_int_equal(bld->col, 21);
	assert_int_equal(pl.nr_variables, 1);
	assert_int_equal(pl.triggers[0].pull_request[0].events,
			 PL_EVENT_CLOSED);
	assert_string_equal(pl.triggers[0].push[0].branches.excludes.v[0],
			    "feature-branch");
	/* every AWS-only key in one note, at the first of them */
	assert_int_equal(pl.notes.nr, 1);
	assert_string_equal(pl.notes.v[0],
			    GOOD "/get-pipeline.json:4:9: AWS-only keys "
				 "ignored: roleArn, artifactStore, version, "
				 "pipelineType, region");
	assert_int_equal(pl.warnings.nr, 0);
	pipeline_release(&pl);
}

static void test_pipeline__warnings(void **state)
{
	struct pipeline pl = PIPELINE_INIT;

	(void)state;
	parse_ok(&pl,
		 "x-top: 1\n" HEAD CMD("c", 1, "          notes: hi\n") TAIL);
	assert_int_equal(pl.warnings.nr, 2);
	assert_string_equal(pl.warnings.v[0],
			    "p.yml:1:1: unknown key 'x-top' ignored");
	assert_string_equal(pl.warnings.v[1],
			    "p.yml:18:11: unknown key 'notes' in "
			    "'stages[1].actions[0]' ignored");
	pipeline_release(&pl);
}

static void test_pipeline__errors(void **state)
{
	(void)state;
	parse_err("pipeline: {name: p}\n",
		  "p.yml:1:11: 'pipeline.stages' is required");
	parse_err("name: p\n",
		  "p.yml:1:1: a pipeline file is a mapping with a 'pipeline' "
		  "key");
	parse_err(HEAD CMD("c", 1, "          outputArtifacts: [{name: A}]\n")
			  TAIL,
		  "p.yml:17:36: output artifact 'A' of 'T.c' is already the "
		  "output of 'S.Src'");
	parse_err(HEAD CMD("c", 1, "          namespace: A\n") TAIL,
		  "p.yml:17:22: namespace 'A' of 'T.c' is also an artifact "
		  "name");
	parse_err(HEAD CMD("c", 1, "") CMD("c", 2, "") TAIL,
		  "p.yml:17:17: duplicate action name 'c' in stage 'T': line "
		  "13 has it already");
	parse_err(HEAD CMD("c", 1, "") "slipway: {sources: {s: 'git@h:r'}}\n",
		  "p.yml:9:43: source 'r' of 'S.Src' is not bound: add it "
		  "under 'slipway.sources'");
	parse_err(HEAD CMD("c", 1, "") "slipway: {sources: {r: missing}}\n",
		  "p.yml:17:24: 'slipway.sources.r': no such file or "
		  "directory: missing");
}

/* 11 stages of 46 approvals after the source: 507 actions. */
static void test_pipeline__at_most_500_actions(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	buf_addstr(&b, HEAD);
	for (int s = 0; s < 11; s++) {
		if (s)
			buf_addf(&b, "    - name: T%d\n      actions:\n", s);
		for (int a = 0; a < 46; a++)
			buf_addf(&b,
				 "        - {name: a%d, actionTypeId: "
				 "{category: "
				 "Approval, owner: AWS, provider: Manual, "
				 "version: '1'}}\n",
				 a);
	}
	buf_addstr(&b, TAIL);
	parse_err(b.ptr, "p.yml:491:7: a pipeline holds at most 500 actions");
	buf_release(&b);
}

/* 51 triggers: the count is refused before anything else (50 source
 * actions at most, so one of them has two). */
static void test_pipeline__at_most_50_triggers(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	buf_addstr(&b, "pipeline:\n  name: p\n  stages:\n"
		       "    - name: S\n      actions:\n");
	for (int a = 0; a < 50; a++)
		buf_addf(&b,
			 "        - {name: s%d, actionTypeId: {category: "
			 "Source, "
			 "owner: AWS, provider: CodeCommit, version: '1'}, "
			 "configuration: {RepositoryName: r, BranchName: b}, "
			 "outputArtifacts: [{name: o%d}]}\n",
			 a, a);
	buf_addstr(&b, "    - name: T\n      actions:\n" CMD(
			       "c", 1, "") "  triggers:\n");
	for (int a = 0; a < 51; a++)
		buf_addf(&b,
			 "    - {providerType: CodeStarSourceConnection, "
			 "gitConfiguration: {sourceActionName: s%d}}\n",
			 a % 50);
	buf_addstr(&b, TAIL);
	parse_err(b.ptr, "p.yml:63:5: 'triggers' must hold at most 50 entries");
	buf_release(&b);
}

static void test_pipeline__artifact_flow(void **state)
{
	struct pipeline pl = PIPELINE_INIT;
	const struct pl_action *c;

	(void)state;
	/* a lower runOrder of the same stage feeds a higher one */
	parse_ok(&pl,
		 HEAD CMD("c", 2, "          inputArtifacts: [{name: B}]\n")
			 CMD("d", 1,
			     "          inputArtifacts: [{name: A}]\n"
			     "          outputArtifacts: [{name: B}]\n") TAIL);
	c = &pl.stages[1].actions[0];
	assert_int_equal(c->inputs[0].stage, 1);
	assert_int_equal(c->inputs[0].action, 1);
	pipeline_release(&pl);
	/* the same runOrder does not */
	parse_err(HEAD CMD("c", 1, "          inputArtifacts: [{name: B}]\n")
			  CMD("d", 1,
			      "          outputArtifacts: [{name: B}]\n") TAIL,
		  "p.yml:17:35: input artifact 'B' of 'T.c' is the output of "
		  "'T.d', which does not run earlier");
}

static void test_pipeline__variable_refs(void **state)
{
	struct pipeline pl = PIPELINE_INIT;

	(void)state;
	/* a source's own keys, any key of a Command (known at run time) */
	parse_ok(&pl, HEAD CMDC("c", 1,
				"echo #{SV.CommitId} "
				"#{codepipeline.PipelineExecutionId}",
				"          namespace: CV\n")
			      CMDC("d", 2, "echo #{CV.anything}", "") TAIL);
	pipeline_release(&pl);
	parse_err(HEAD CMDC("c", 1, "#{SV.CommitUrl}", "") TAIL,
		  "p.yml:16:36: unknown variable '#{SV.CommitUrl}': a "
		  "CodeCommit action does not output it");
	parse_err(HEAD CMDC("c", 1, "#{variables.X}", "") TAIL,
		  "p.yml:16:36: unknown variable '#{variables.X}': no pipeline "
		  "variable 'X' is declared");
	parse_err(HEAD CMDC("c", 1, "#{CV.x}", "          namespace: CV\n")
			  TAIL,
		  "p.yml:16:36: '#{CV.x}' refers to 'T.c', which does not run "
		  "earlier");
}

static void test_pipeline__commands_output_without_files(void **state)
{
	struct pipeline pl = PIPELINE_INIT;
	const struct pl_action *c;

	(void)state;
	parse_ok(&pl, HEAD "        - name: c\n"
			   "          actionTypeId: {category: Compute, owner: "
			   "AWS, provider: Commands, version: '1'}\n"
			   "          commands: [make]\n"
			   "          inputArtifacts: [{name: A}]\n"
			   "          outputArtifacts: [{name: Dist}]\n" TAIL);
	c = &pl.stages[1].actions[0];
	assert_int_equal(c->provider, PL_COMMANDS);
	assert_int_equal(c->outputs.nr, 1);
	assert_int_equal(c->files.nr, 0);
	assert_int_equal(c->nr_env, 0);
	assert_int_equal(c->output_variables.nr, 0);
	pipeline_release(&pl);
}

static void test_pipeline__vars_scanner(void **state)
{
	struct plvar_ref r;
	size_t pos = 0;
	const char *s = "a #{SV.CommitId}-#{variables.E@v} #";

	(void)state;
	assert_int_equal(plvar_next(s, &pos, &r), 1);
	assert_string_equal(r.ns, "SV");
	assert_string_equal(r.key, "CommitId");
	assert_int_equal(r.start, 2);
	assert_int_equal(r.end, 16);
	assert_int_equal(plvar_next(s, &pos, &r), 1);
	assert_string_equal(r.ns, "variables");
	assert_string_equal(r.key, "E@v");
	assert_int_equal(plvar_next(s, &pos, &r), 0);
	pos = 0;
	assert_int_equal(plvar_next("x #{ns}", &pos, &r), -1);
	assert_int_equal(r.start, 2);
	pos = 0;
	assert_int_equal(plvar_next("#{ns.key", &pos, &r), -1);
	pos = 0;
	assert_int_equal(plvar_next("#{.key}", &pos, &r), -1);
	pos = 0;
	assert_int_equal(plvar_next("#{a b.c}", &pos, &r), -1);
	pos = 0;
	assert_int_equal(plvar_next("no refs { } #", &pos, &r), 0);
}

/* The "# expect: " text of the first line, or "". */
static void first_line_expect(const char *data, size_t len, char *out,
			      size_t size)
{
	const char *nl = memchr(data, '\n', len);
	size_t n = nl ? (size_t)(nl - data) : len;

	out[0] = '\0';
	if (n < 10 || strncmp(data, "# expect: ", 10))
		return;
	n -= 10;
	if (n >= size)
		n = size - 1;
	memcpy(out, data + 10, n);
	out[n] = '\0';
}

static void test_pipeline__bad_fixtures(void **state)
{
	DIR *d = opendir(FIXTURES "/bad-pipelines");
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		struct pipeline pl;
		struct sw_err e = SW_ERR_INIT;
		char *path, *want;
		char expect[512];
		char *data = NULL;
		size_t len = 0;

		if (de->d_name[0] == '.')
			continue;
		path = fs_join(FIXTURES "/bad-pipelines", de->d_name);
		assert_int_equal(fs_read_file(path, 1 << 24, &data, &len, &e),
				 0);
		first_line_expect(data, len, expect, sizeof(expect));
		if (!expect[0])
			fail_msg("%s: no '# expect:' line", path);
		if (pipeline_load(path, &pl, &e) == 0)
			fail_msg("%s: parsed", path);
		assert_int_equal(e.code, ERR_SPEC);
		want = xasprintf("%s:%s", path, expect);
		if (strncmp(e.msg, want, strlen(want)))
			fail_msg("%s: '%s' is not '%s...'", path, e.msg, want);
		assert_null(pl.file);
		assert_null(pl.stages);
		free(want);
		free(data);
		free(path);
		n++;
	}
	closedir(d);
	assert_true(n >= 90);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipeline__run_order_groups),
		cmocka_unit_test(test_pipeline__full_fixture),
		cmocka_unit_test(test_pipeline__get_pipeline_json),
		cmocka_unit_test(test_pipeline__warnings),
		cmocka_unit_test(test_pipeline__errors),
		cmocka_unit_test(test_pipeline__at_most_500_actions),
		cmocka_unit_test(test_pipeline__at_most_50_triggers),
		cmocka_unit_test(test_pipeline__artifact_flow),
		cmocka_unit_test(test_pipeline__variable_refs),
		cmocka_unit_test(test_pipeline__commands_output_without_files),
		cmocka_unit_test(test_pipeline__vars_scanner),
		cmocka_unit_test(test_pipeline__bad_fixtures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
