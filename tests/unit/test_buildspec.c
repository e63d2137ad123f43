#include "buildspec.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "banned.h"

#define FIXTURES "tests/fixtures"

static void parse_ok(struct buildspec *bs, const char *text)
{
	struct sw_err e = SW_ERR_INIT;

	if (buildspec_parse("bs.yml", text, strlen(text), bs, &e) < 0)
		fail_msg("unexpected error: %s", e.msg);
	assert_int_equal(e.code, 0);
}

/* Parsing must fail with exactly `msg`. */
static void parse_err(const char *text, const char *msg)
{
	struct buildspec bs = BUILDSPEC_INIT;
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(buildspec_parse("bs.yml", text, strlen(text), &bs, &e),
			 -1);
	assert_int_equal(e.code, ERR_SPEC);
	assert_string_equal(e.msg, msg);
	/* left released */
	assert_null(bs.file);
	assert_null(bs.version);
	assert_int_equal(bs.warnings.nr, 0);
}

/* Parsing must fail with a message that contains `part`. */
static void parse_err_has(const char *text, const char *part)
{
	struct buildspec bs = BUILDSPEC_INIT;
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(buildspec_parse("bs.yml", text, strlen(text), &bs, &e),
			 -1);
	assert_int_equal(e.code, ERR_SPEC);
	if (!strstr(e.msg, part))
		fail_msg("'%s' not in '%s'", part, e.msg);
	assert_int_equal(strncmp(e.msg, "bs.yml:", 7), 0);
}

static const char *var(const struct bs_kvlist *l, const char *name)
{
	for (size_t i = 0; i < l->nr; i++)
		if (!strcmp(l->v[i].name, name))
			return l->v[i].value;
	fail_msg("no variable '%s'", name);
	return NULL;
}

static bool has_warning(const struct buildspec *bs, const char *w)
{
	for (size_t i = 0; i < bs->warnings.nr; i++)
		if (!strcmp(bs->warnings.v[i], w))
			return true;
	return false;
}

static void test_buildspec__minimal(void **state)
{
	struct buildspec bs;

	(void)state;
	parse_ok(&bs, "version: 0.2\nphases:\n  build:\n    commands:\n"
		      "      - make\n      - make test\n");
	assert_string_equal(bs.file, "bs.yml");
	assert_string_equal(bs.version, "0.2");
	assert_int_equal(bs.minor, 2);
	assert_false(bs.phases[BS_INSTALL].present);
	assert_true(bs.phases[BS_BUILD].present);
	assert_int_equal(bs.phases[BS_BUILD].line, 3);
	assert_int_equal(bs.phases[BS_BUILD].col, 3);
	assert_int_equal(bs.phases[BS_BUILD].commands.nr, 2);
	assert_string_equal(bs.phases[BS_BUILD].commands.v[1], "make test");
	assert_null(bs.phases[BS_BUILD].commands.v[2]);
	/* each command's line, for the summary of a failure */
	assert_int_equal(bs.phases[BS_BUILD].command_lines[0], 5);
	assert_int_equal(bs.phases[BS_BUILD].command_lines[1], 6);
	assert_null(bs.phases[BS_BUILD].finally_lines);
	assert_int_equal(bs.phases[BS_BUILD].on_failure, BS_ONFAIL_DEFAULT);
	assert_int_equal(bs.warnings.nr, 0);
	assert_false(bs.has_artifacts);
	assert_int_equal(bs.batch.type, BS_BATCH_NONE);
	buildspec_release(&bs);
	assert_null(bs.file);
	buildspec_release(&bs);
}

static void test_buildspec__phase_names(void **state)
{
	(void)state;
	assert_string_equal(bs_phase_key(BS_INSTALL), "install");
	assert_string_equal(bs_phase_key(BS_POST_BUILD), "post_build");
	assert_string_equal(bs_phase_type(BS_PRE_BUILD), "PRE_BUILD");
	assert_string_equal(bs_phase_type(BS_BUILD), "BUILD");
}

static void test_buildspec__versions(void **state)
{
	static const char *const forms[] = { "0.2", "\"0.2\"", "'0.2'" };
	struct buildspec bs;
	char text[128];

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(text, sizeof(text),
			 "version: %s\nphases: {build: {}}\n", forms[i]);
		parse_ok(&bs, text);
		assert_string_equal(bs.version, "0.2");
		buildspec_release(&bs);
	}
	parse_err("version: 0.3\nphases: {}\n",
		  "bs.yml:1:10: unsupported buildspec version '0.3' (expected "
		  "0.1 or 0.2)");
	parse_err("version: 0.20\nphases: {}\n",
		  "bs.yml:1:10: unsupported buildspec version '0.20' (expected "
		  "0.1 or 0.2)");
	parse_err("phases: {}\n",
		  "bs.yml:1:1: 'version' is required (0.1 or 0.2)");
	parse_err("version: [0.2]\nphases: {}\n",
		  "bs.yml:1:10: 'version' must be a scalar, not a sequence");
	parse_err("", "bs.yml:1:1: buildspec is empty");
	parse_err("- a\n", "bs.yml:1:1: buildspec must be a mapping, not a "
			   "sequence");
}

static void test_buildspec__scalars_kept_as_written(void **state)
{
	struct buildspec bs;

	(void)state;
	parse_ok(&bs, "version: 0.2\nenv:\n  variables:\n    T: true\n"
		      "    N: 9\n    Y: yes\n    F: 1.50\n    E:\n"
		      "    Q: \"quoted\"\n    P: $PATH:/x\n    H: 0x1F\n"
		      "    FOLD: >-\n      a\n      b\n"
		      "phases:\n  build:\n    commands:\n      - true\n"
		      "      - 42\n");
	assert_int_equal(bs.variables.nr, 9);
	assert_string_equal(var(&bs.variables, "T"), "true");
	assert_string_equal(var(&bs.variables, "N"), "9");
	assert_string_equal(var(&bs.variables, "Y"), "yes");
	assert_string_equal(var(&bs.variables, "F"), "1.50");
	assert_string_equal(var(&bs.variables, "E"), "");
	assert_string_equal(var(&bs.variables, "Q"), "quoted");
	assert_string_equal(var(&bs.variables, "P"), "$PATH:/x");
	assert_string_equal(var(&bs.variables, "H"), "0x1F");
	assert_string_equal(var(&bs.variables, "FOLD"), "a b");
	assert_string_equal(bs.variables.v[0].name, "T");
	assert_int_equal(bs.variables.v[0].line, 4);
	assert_int_equal(bs.variables.v[0].col, 5);
	assert_string_equal(bs.phases[BS_BUILD].commands.v[0], "true");
	assert_string_equal(bs.phases[BS_BUILD].commands.v[1], "42");
	buildspec_release(&bs);
}

static void test_buildspec__null_commands(void **state)
{
	struct buildspec bs;

	(void)state;
	parse_ok(&bs, "version: 0.2\nphases:\n  build:\n    commands:\n"
		      "      - make\n  post_build:\n    commands:\n");
	assert_true(bs.phases[BS_POST_BUILD].present);
	assert_int_equal(bs.phases[BS_POST_BUILD].commands.nr, 0);
	assert_non_null(bs.phases[BS_POST_BUILD].commands.v);
	assert_int_equal(bs.warnings.nr, 0);
	buildspec_release(&bs);
}

static void test_buildspec__multiline_commands(void **state)
{
	struct buildspec bs;
	const struct strvec *c;

	(void)state;
	parse_ok(&bs, "version: 0.2\nphases:\n  install:\n    commands:\n"
		      "      - |\n        set -e\n        make\n"
		      "      - >\n        echo a\n        b\n"
		      "      - case $(uname -m) in\n           x86_64)\n"
		      "             a=amd64\n             ;;\n"
		      "        esac\n"
		      "      - \"echo \\\"a: b\\\"\"\n");
	c = &bs.phases[BS_INSTALL].commands;
	assert_int_equal(c->nr, 4);
	assert_string_equal(c->v[0], "set -e\nmake\n");
	assert_string_equal(c->v[1], "echo a b\n");
	assert_string_equal(c->v[2], "case $(uname -m) in x86_64) a=amd64 ;; "
				     "esac");
	assert_string_equal(c->v[3], "echo \"a: b\"");
	buildspec_release(&bs);
}

static void test_buildspec__scalar_commands_warns(void **state)
{
	struct buildspec bs;

	(void)state;
	parse_ok(&bs, "version: 0.2\nphases:\n  build:\n    commands: make\n"
		      "    finally: echo done\n");
	assert_int_equal(bs.phases[BS_BUILD].commands.nr, 1);
	assert_string_equal(bs.phases[BS_BUILD].commands.v[0], "make");
	assert_string_equal(bs.phases[BS_BUILD].finally.v[0], "echo done");
	assert_true(has_warning(&bs, "bs.yml:4:15: 'phases.build.commands' "
				     "should be a sequence; taking it as one "
				     "command"));
	assert_int_equal(bs.warnings.nr, 2);
	buildspec_release(&bs);
}

static void test_buildspec__command_not_a_string(void **state)
{
	(void)state;
	parse_err("version: 0.2\nphases:\n  build:\n    commands:\n"
		  "      - echo ok\n      - echo result: done\n",
		  "bs.yml:6:9: a command in 'phases.build.commands' must be a "
		  "string, not a mapping (quote a command that contains ': ')");
	parse_err(
		"version: 0.2\nphases:\n  build:\n    finally:\n"
		"      - [a, b]\n",
		"bs.yml:5:9: a command in 'phases.build.finally' must be a "
		"string, not a sequence (quote a command that contains ': ')");
	parse_err("version: 0.2\nphases:\n  build:\n    commands:\n"
		  "      make: all\n",
		  "bs.yml:5:7: 'phases.build.commands' must be a sequence of "
		  "commands");
}

static void test_buildspec__on_failure_forms(void **state)
{
	static const struct {
		const char *text;
		enum bs_on_failure kind;
		int count;
		const char *regex;
	} cases[] = {
		{ "ABORT", BS_ONFAIL_ABORT, 0, NULL },
		{ "abort", BS_ONFAIL_ABORT, 0, NULL },
		{ "CONTINUE", BS_ONFAIL_CONTINUE, 0, NULL },
		{ "Continue", BS_ONFAIL_CONTINUE, 0, NULL },
		{ "RETRY", BS_ONFAIL_RETRY, 3, NULL },
		{ "Retry", BS_ONFAIL_RETRY, 3, NULL },
		{ "RETRY-4", BS_ONFAIL_RETRY, 4, NULL },
		{ "RETRY-0", BS_ONFAIL_RETRY, 0, NULL },
		{ "RETRY-100", BS_ONFAIL_RETRY, 100, NULL },
		{ "Retry-timeout", BS_ONFAIL_RETRY, 3, "timeout" },
		{ "RETRY-Error.*net", BS_ONFAIL_RETRY, 3, "Error.*net" },
		{ "Retry-3-timeout|reset", BS_ONFAIL_RETRY, 3,
		  "timeout|reset" },
		{ "RETRY-10-20", BS_ONFAIL_RETRY, 10, "20" },
		{ "RETRY-5x", BS_ONFAIL_RETRY, 3, "5x" },
		{ "retry-2-a-b", BS_ONFAIL_RETRY, 2, "a-b" },
	};
	struct buildspec bs;
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bs_phase *ph;

		snprintf(text, sizeof(text),
			 "version: 0.2\nphases:\n  build:\n"
			 "    on-failure: '%s'\n    commands: [make]\n",
			 cases[i].text);
		parse_ok(&bs, text);
		ph = &bs.phases[BS_BUILD];
		assert_int_equal(ph->on_failure, cases[i].kind);
		if (cases[i].kind == BS_ONFAIL_RETRY)
			assert_int_equal(ph->retry_count, cases[i].count);
		if (cases[i].regex)
			assert_string_equal(ph->retry_regex, cases[i].regex);
		else
			assert_null(ph->retry_regex);
		buildspec_release(&bs);
	}
}

static void test_buildspec__on_failure_invalid(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "IGNORE",
		  "invalid 'phases.build.on-failure' value 'IGNORE'" },
		{ "RETRY-101",
		  "invalid retry count in 'phases.build.on-failure' "
		  "value 'RETRY-101' (0 to 100)" },
		{ "RETRY-99999999999999999999", "invalid retry count" },
		{ "RETRY-", "empty retry regex" },
		{ "RETRY-3-", "empty retry regex" },
		{ "RETRY-([", "invalid retry regex '(['" },
		{ "RETRY-2-a{1", "invalid retry regex 'a{1'" },
		{ "ABORTX", "invalid 'phases.build.on-failure' value" },
	};
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text),
			 "version: 0.2\nphases:\n  build:\n"
			 "    on-failure: '%s'\n",
			 cases[i].text);
		parse_err_has(text, cases[i].msg);
		parse_err_has(text, "bs.yml:4:17: ");
	}
	parse_err("version: 0.2\nphases:\n  build:\n    on-failure: [ABORT]\n",
		  "bs.yml:4:17: 'phases.build.on-failure' must be a string");
}

static void test_buildspec__phase_keys(void **state)
{
	struct buildspec bs;

	(void)state;
	parse_ok(&bs, "version: 0.2\nrun-as: builder\nphases:\n  install:\n"
		      "    run-as: root\n    runtime-versions:\n"
		      "      python: 3.10\n      java: corretto17\n"
		      "      nodejs: 18\n"
		      "  build:\n    runtime-versions: {go: 1.21}\n"
		      "    commands: [make]\n  deploy:\n    commands: [x]\n");
	assert_string_equal(bs.run_as, "builder");
	assert_string_equal(bs.phases[BS_INSTALL].run_as, "root");
	assert_null(bs.phases[BS_BUILD].run_as);
	assert_int_equal(bs.phases[BS_INSTALL].runtime_versions.nr, 3);
	assert_string_equal(
		var(&bs.phases[BS_INSTALL].runtime_versions, "python"), "3.10");
	assert_int_equal(bs.phases[BS_BUILD].runtime_versions.nr, 0);
	assert_true(has_warning(&bs, "bs.yml:11:5: 'runtime-versions' is only "
				     "used in install; ignored"));
	assert_true(has_warning(&bs, "bs.yml:13:3: unknown phase 'deploy' "
				     "ignored"));
	buildspec_release(&bs);
}

static void test_buildspec__unknown_keys_warn(void **state)
{
	struct buildspec bs;

	(void)state;
	parse_ok(&bs, "version: 0.2\nfoo: 1\nphases:\n  build:\n"
		      "    commands: [make]\n    bar: 2\n"
		      "artifacts:\n  files: [a]\n  baz: 3\n"
		      "env:\n  variable: {A: b}\n"
		      "proxy:\n  upload-artifacts: yes\n");
	assert_int_equal(bs.warnings.nr, 4);
	assert_string_equal(bs.warnings.v[0],
			    "bs.yml:2:1: unknown key 'foo' ignored");
	assert_string_equal(bs.warnings.v[1],
			    "bs.yml:6:5: unknown key 'bar' ignored");
	assert_string_equal(bs.warnings.v[2],
			    "bs.yml:9:3: unknown key 'baz' ignored");
	assert_string_equal(bs.warnings.v[3],
			    "bs.yml:11:3: unknown key 'variable' ignored (did "
			    "you mean 'variables'?)");
	/* the same four again, for --strict */
	assert_int_equal(bs.unknown_keys.nr, 4);
	assert_string_equal(bs.unknown_keys.v[1], bs.warnings.v[1]);
	buildspec_release(&bs);
}

static void test_buildspec__unknown_keys_suggest(void **state)
{
	struct buildspec bs;

	(void)state;
	parse_ok(&bs, "version: 0.2\nphases:\n  biuld:\n    commands: [a]\n"
		      "  install:\n    comands: [b]\n    finaly: [c]\n"
		      "artifcats:\n  files: [a]\n"
		      "cache:\n  pahts: [x]\n"
		      "reports:\n  r:\n    files: [a]\n    file-fromat: X\n");
	assert_true(has_warning(&bs, "bs.yml:3:3: unknown phase 'biuld' "
				     "ignored (did you mean 'build'?)"));
	assert_true(has_warning(&bs, "bs.yml:6:5: unknown key 'comands' "
				     "ignored (did you mean 'commands'?)"));
	assert_true(has_warning(&bs, "bs.yml:7:5: unknown key 'finaly' "
				     "ignored (did you mean 'finally'?)"));
	assert_true(has_warning(&bs, "bs.yml:8:1: unknown key 'artifcats' "
				     "ignored (did you mean 'artifacts'?)"));
	assert_true(has_warning(&bs, "bs.yml:11:3: unknown key 'pahts' "
				     "ignored (did you mean 'paths'?)"));
	assert_true(has_warning(&bs, "bs.yml:15:5: unknown key 'file-fromat' "
				     "ignored (did you mean 'file-format'?)"));
	assert_int_equal(bs.unknown_keys.nr, bs.warnings.nr);
	buildspec_release(&bs);
}

static void test_buildspec__wrong_types(void **state)
{
	(void)state;
	parse_err("version: 0.2\nphases:\n  - build\n",
		  "bs.yml:3:3: 'phases' must be a mapping");
	parse_err("version: 0.2\nphases:\n  build: make\n",
		  "bs.yml:3:10: 'phases.build' must be a mapping");
	parse_err("version: 0.2\nenv: [a]\nphases: {build: {}}\n",
		  "bs.yml:2:6: 'env' must be a mapping");
	parse_err("version: 0.2\nenv:\n  variables:\n    A: [1]\n"
		  "phases: {build: {}}\n",
		  "bs.yml:4:8: 'env.variables.A' must be a string, not a "
		  "sequence");
	parse_err("version: 0.2\nenv:\n  variables:\n    A:\n      b: c\n"
		  "phases: {build: {}}\n",
		  "bs.yml:5:7: 'env.variables.A' must be a string, not a "
		  "mapping");
	parse_err("version: 0.2\nenv:\n  git-credential-helper: sure\n"
		  "phases: {build: {}}\n",
		  "bs.yml:3:26: 'env.git-credential-helper' must be a boolean "
		  "(yes, no, true, false)");
	parse_err("version: 0.2\nrun-as: [a]\nphases: {build: {}}\n",
		  "bs.yml:2:9: 'run-as' must be a string, not a sequence");
}

/*
 * A release pipeline's buildspec that only packages what an earlier
 * action built: env and artifacts, no phases. CodeBuild runs it; only
 * --strict (strict_warnings) says anything.
 */
static void test_buildspec__no_phases_release_pipeline(void **state)
{
	struct buildspec bs;

	(void)state;
	parse_ok(&bs, "version: 0.2\nenv:\n  variables:\n    STAGE: prod\n"
		      "artifacts:\n  files:\n    - '**/*'\n"
		      "  base-directory: dist\n");
	for (int i = 0; i < BS_NPHASES; i++)
		assert_false(bs.phases[i].present);
	assert_true(bs.has_artifacts);
	assert_int_equal(bs.warnings.nr, 0);
	assert_int_equal(bs.strict_warnings.nr, 1);
	assert_string_equal(bs.strict_warnings.v[0],
			    "bs.yml:1:1: no 'phases': the build runs no "
			    "commands");
	buildspec_release(&bs);

	parse_ok(&bs, "version: 0.2\nphases:\nartifacts: {files: [a]}\n");
	assert_int_equal(bs.warnings.nr, 0);
	assert_int_equal(bs.strict_warnings.nr, 1);
	assert_string_equal(bs.strict_warnings.v[0],
			    "bs.yml:2:1: 'phases' is empty: the build runs no "
			    "commands");
	buildspec_release(&bs);

	/* a batch-only file needs no phases and is no slip */
	parse_ok(&bs, "version: 0.2\nbatch:\n  build-list:\n"
		      "    - identifier: a\n");
	assert_int_equal(bs.strict_warnings.nr, 0);
	buildspec_release(&bs);
	parse_ok(&bs, "version: 0.2\nphases: {build: {commands: [make]}}\n");
	assert_int_equal(bs.strict_warnings.nr, 0);
	buildspec_release(&bs);
}

/*
 * CodeBuild's multiple-inputs-and-outputs sample: artifacts has only
 * secondary-artifacts, so there is no primary artifact.
 */
static void test_buildspec__secondary_artifacts_only_multi_in_out(void **state)
{
	struct buildspec bs;

	(void)state;
	parse_ok(&bs, "version: 0.2\nphases:\n  build:\n    commands:\n"
		      "      - cd $CODEBUILD_SRC_DIR\n"
		      "artifacts:\n  secondary-artifacts:\n"
		      "    artifact1:\n"
		      "      base-directory: $CODEBUILD_SRC_DIR\n"
		      "      files:\n        - source1_file\n"
		      "    artifact2:\n"
		      "      base-directory: $CODEBUILD_SRC_DIR_source2\n"
		      "      files:\n        - source2_file\n");
	assert_true(bs.has_artifacts);
	assert_int_equal(bs.artifacts.files.nr, 0);
	assert_int_equal(bs.nr_secondary, 2);
	assert_string_equal(bs.secondary[1].identifier, "artifact2");
	assert_string_equal(bs.secondary[1].base_directory,
			    "$CODEBUILD_SRC_DIR_source2");
	assert_int_equal(bs.warnings.nr, 0);
	assert_int_equal(bs.strict_warnings.nr, 0);
	buildspec_release(&bs);

	/* primary settings with no primary files: a slip --strict shows */
	parse_ok(&bs, "version: 0.2\nphases: {build: {}}\nartifacts:\n"
		      "  name: out\n  discard-paths: yes\n"
		      "  secondary-artifacts:\n    docs:\n"
		      "      files: ['docs/**']\n");
	assert_int_equal(bs.warnings.nr, 0);
	assert_int_equal(bs.strict_warnings.nr, 1);
	assert_string_equal(bs.strict_warnings.v[0],
			    "bs.yml:4:3: 'artifacts.name' applies to no "
			    "artifact: without 'artifacts.files' there is no "
			    "primary artifact");
	buildspec_release(&bs);

	/* an empty secondary-artifacts still leaves files required */
	parse_err("version: 0.2\nphases: {build: {}}\nartifacts:\n"
		  "  secondary-artifacts: {}\n",
		  "bs.yml:4:3: 'artifacts.files' is required");
	/* and a secondary artifact needs its own files */
	parse_err_has("version: 0.2\nphases: {build: {}}\nartifacts:\n"
		      "  secondary-artifacts:\n    x:\n      name: n\n",
		      "bs.yml:6:7: 'artifacts.secondary-artifacts.x.files' is "
		      "required");
}

static void test_buildspec__env(void **state)
{
	struct buildspec bs;

	(void)state;
	parse_ok(&bs, "version: 0.2\nenv:\n  shell: bash\n"
		      "  variables:\n    CODEBUILD_X: 1\n    _ok9: a\n"
		      "  parameter-store:\n    DB: /prod/db\n"
		      "  secrets-manager:\n    TOKEN: prod/api:token key\n"
		      "  exported-variables:\n    - VERSION\n    - AWS_X\n"
		      "  git-credential-helper: yes\n"
		      "phases: {build: {commands: [make]}}\n");
	assert_string_equal(bs.shell, "bash");
	assert_string_equal(var(&bs.variables, "_ok9"), "a");
	assert_string_equal(var(&bs.parameter_store, "DB"), "/prod/db");
	assert_string_equal(var(&bs.secrets_manager, "TOKEN"),
			    "prod/api:token key");
	assert_int_equal(bs.exported_variables.nr, 2);
	assert_string_equal(bs.exported_variables.v[0], "VERSION");
	assert_true(bs.git_credential_helper);
	assert_true(has_warning(&bs, "bs.yml:5:5: variable 'CODEBUILD_X' uses "
				     "the reserved prefix 'CODEBUILD_'"));
	assert_int_equal(bs.warnings.nr, 2);
	buildspec_release(&bs);
}

static void test_buildspec__variable_names(void **state)
{
	(void)state;
	parse_err("version: 0.2\nenv:\n  variables:\n    MY-VAR: 1\n"
		  "phases: {build: {}}\n",
		  "bs.yml:4:5: invalid variable name 'MY-VAR' in "
		  "'env.variables'");
	parse_err_has("version: 0.2\nenv:\n  variables:\n    9A: 1\n"
		      "phases: {build: {}}\n",
		      "invalid variable name '9A'");
	parse_err_has("version: 0.2\nenv:\n  parameter-store:\n    'A B': x\n"
		      "phases: {build: {}}\n",
		      "invalid variable name 'A B' in 'env.parameter-store'");
	parse_err_has("version: 0.2\nenv:\n  exported-variables: [A.B]\n"
		      "phases: {build: {}}\n",
		      "invalid variable name 'A.B'");
	parse_err("version: 0.2\nenv:\n  parameter-store:\n    PW:\n"
		  "phases: {build: {}}\n",
		  "bs.yml:4:5: 'env.parameter-store.PW' must not be empty");
}

static void test_buildspec__version_01(void **state)
{
	struct buildspec bs;

	(void)state;
	parse_ok(&bs,
		 "version: 0.1\nenvironment_variables:\n  plaintext:\n"
		 "    JAVA_HOME: /usr/lib/jvm\n    N: 9\n"
		 "env:\n  variables: {X: y}\n"
		 "phases:\n  build:\n    commands:\n      - mvn install\n");
	assert_string_equal(bs.version, "0.1");
	assert_int_equal(bs.minor, 1);
	assert_int_equal(bs.variables.nr, 2);
	assert_string_equal(var(&bs.variables, "N"), "9");
	assert_true(has_warning(&bs, "bs.yml:6:1: unknown key 'env' ignored "
				     "(version 0.1 uses "
				     "'environment_variables')"));
	buildspec_release(&bs);

	parse_ok(&bs, "version: 0.2\nenvironment_variables:\n  plaintext:\n"
		      "    A: b\nphases: {build: {}}\n");
	assert_int_equal(bs.variables.nr, 0);
	assert_int_equal(bs.warnings.nr, 1);
	buildspec_release(&bs);
}

static void test_buildspec__artifacts(void **state)
{
	struct buildspec bs;
	const struct bs_artifact *a;

	(void)state;
	parse_ok(&bs, "version: 0.2\nphases: {build: {commands: [make]}}\n"
		      "artifacts:\n  files:\n    - '**/*'\n  name: out-$X\n"
		      "  base-directory: dist\n  discard-paths: yes\n"
		      "  exclude-paths: '*.map'\n  enable-symlinks: on\n"
		      "  s3-prefix: p\n  type: zip\n  secondary-artifacts:\n"
		      "    docs:\n      files: docs/**/*\n"
		      "      discard-paths: no\n    bin_1:\n"
		      "      files: [bin/a, bin/b]\n      name: b\n");
	assert_true(bs.has_artifacts);
	a = &bs.artifacts;
	assert_null(a->identifier);
	assert_int_equal(a->files.nr, 1);
	assert_string_equal(a->files.v[0], "**/*");
	assert_string_equal(a->name, "out-$X");
	assert_string_equal(a->base_directory, "dist");
	assert_true(a->discard_paths);
	assert_int_equal(a->exclude_paths.nr, 1);
	assert_true(a->enable_symlinks);
	assert_string_equal(a->s3_prefix, "p");
	assert_int_equal(bs.nr_secondary, 2);
	assert_string_equal(bs.secondary[0].identifier, "docs");
	assert_string_equal(bs.secondary[0].files.v[0], "docs/**/*");
	assert_false(bs.secondary[0].discard_paths);
	assert_int_equal(bs.secondary[1].files.nr, 2);
	assert_int_equal(bs.secondary[1].line, 17);
	assert_true(has_warning(&bs, "bs.yml:12:3: 'artifacts.type' is "
				     "deprecated; ignored"));
	buildspec_release(&bs);

	parse_err("version: 0.2\nphases: {build: {}}\nartifacts:\n  name: x\n",
		  "bs.yml:4:3: 'artifacts.files' is required");
	parse_err(
		"version: 0.2\nphases: {build: {}}\nartifacts:\n  files: []\n",
		"bs.yml:4:10: 'artifacts.files' must not be empty");
	parse_err_has("version: 0.2\nphases: {build: {}}\nartifacts:\n"
		      "  files: [a]\n  secondary-artifacts:\n    x:\n"
		      "      name: n\n",
		      "bs.yml:7:7: 'artifacts.secondary-artifacts.x.files' is "
		      "required");
	parse_err_has("version: 0.2\nphases: {build: {}}\nartifacts:\n"
		      "  files: [a]\n  secondary-artifacts:\n    ../x:\n"
		      "      files: [b]\n",
		      "bs.yml:6:5: invalid artifact identifier '../x'");
	parse_err_has("version: 0.2\nphases: {build: {}}\nartifacts:\n"
		      "  files: [a]\n  enable-symlinks: 2\n",
		      "bs.yml:5:20: 'artifacts.enable-symlinks' must be a "
		      "boolean");
}

static void test_buildspec__reports(void **state)
{
	struct buildspec bs;
	struct buf b = BUF_INIT;
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	parse_ok(&bs, "version: 0.2\nphases: {build: {}}\nreports:\n"
		      "  unit:\n    files: ['**/*.xml']\n"
		      "    base-directory: build\n    discard-paths: yes\n"
		      "  $GROUP:\n    files: cov.xml\n"
		      "    file-format: CoberturaXml\n");
	assert_int_equal(bs.nr_reports, 2);
	assert_string_equal(bs.reports[0].name, "unit");
	assert_string_equal(bs.reports[0].file_format, "JUNITXML");
	assert_true(bs.reports[0].discard_paths);
	assert_string_equal(bs.reports[0].base_directory, "build");
	assert_string_equal(bs.reports[1].name, "$GROUP");
	assert_string_equal(bs.reports[1].file_format, "COBERTURAXML");
	assert_int_equal(bs.reports[1].line, 8);
	buildspec_release(&bs);

	parse_err_has("version: 0.2\nphases: {build: {}}\nreports:\n"
		      "  unit:\n    files: [a]\n    file-format: xunit\n",
		      "bs.yml:6:18: unknown report file-format 'xunit'");
	parse_err("version: 0.2\nphases: {build: {}}\nreports:\n"
		  "  unit:\n    base-directory: b\n",
		  "bs.yml:5:5: 'reports.unit.files' is required");
	parse_err("version: 0.2\nphases: {build: {}}\nreports:\n  unit:\n",
		  "bs.yml:4:3: 'reports.unit' must be a mapping");

	buf_addstr(&b, "version: 0.2\nphases: {build: {}}\nreports:\n");
	for (int i = 0; i < 6; i++)
		buf_addf(&b, "  g%d: {files: [a]}\n", i);
	assert_int_equal(buildspec_parse("bs.yml", b.ptr, b.len, &bs, &e), -1);
	assert_string_equal(e.msg, "bs.yml:9:3: at most 5 report groups are "
				   "allowed");
	buf_release(&b);
}

static void test_buildspec__cache(void **state)
{
	struct buildspec bs;

	(void)state;
	parse_ok(&bs, "version: 0.2\nphases: {build: {}}\ncache:\n"
		      "  key: npm-$(hash)\n  fallback-keys: [npm-, n]\n"
		      "  action: Restore\n  paths:\n    - node_modules/**/*\n");
	assert_true(bs.cache.present);
	assert_string_equal(bs.cache.key, "npm-$(hash)");
	assert_int_equal(bs.cache.fallback_keys.nr, 2);
	assert_string_equal(bs.cache.action, "restore");
	assert_int_equal(bs.cache.paths.nr, 1);
	buildspec_release(&bs);

	parse_ok(&bs, "version: 0.2\nphases: {build: {}}\ncache:\n"
		      "  paths: /root/.m2/**/*\n");
	assert_null(bs.cache.action);
	assert_int_equal(bs.cache.paths.nr, 1);
	buildspec_release(&bs);

	parse_err("version: 0.2\nphases: {build: {}}\ncache:\n"
		  "  fallback-keys: [a, b, c, d, e, f]\n",
		  "bs.yml:4:18: at most 5 'cache.fallback-keys' are allowed");
	parse_err("version: 0.2\nphases: {build: {}}\ncache:\n  action: push\n",
		  "bs.yml:4:11: 'cache.action' must be 'restore' or 'save', "
		  "not 'push'");
}

static void test_buildspec__batch_list_unquoted_values(void **state)
{
	struct buildspec bs;
	const struct bs_batch_task *t;

	(void)state;
	parse_ok(&bs, "version: 0.2\nbatch:\n  build-list:\n"
		      "    - identifier: gcc_9\n"
		      "      buildspec: codebuild/spec/b.yml\n"
		      "      debug-session: true\n      env:\n"
		      "        privileged-mode: true\n"
		      "        compute-type: BUILD_GENERAL1_LARGE\n"
		      "        image: img\n        type: LINUX_CONTAINER\n"
		      "        variables:\n          BUILD_S2N: true\n"
		      "          GCC_VERSION: 9\n"
		      "    - identifier: other\n      ignore-failure: yes\n"
		      "      depend-on: [gcc_9]\n"
		      "      env:\n        NAME: stray\n"
		      "phases:\n  build:\n    commands: [make]\n");
	assert_int_equal(bs.batch.type, BS_BATCH_LIST);
	assert_int_equal(bs.batch.nr_tasks, 2);
	t = &bs.batch.tasks[0];
	assert_string_equal(t->identifier, "gcc_9");
	assert_string_equal(t->buildspec, "codebuild/spec/b.yml");
	assert_true(t->debug_session);
	assert_true(t->env.privileged_mode);
	assert_string_equal(t->env.compute_type, "BUILD_GENERAL1_LARGE");
	assert_string_equal(t->env.type, "LINUX_CONTAINER");
	assert_string_equal(var(&t->env.variables, "BUILD_S2N"), "true");
	assert_string_equal(var(&t->env.variables, "GCC_VERSION"), "9");
	t = &bs.batch.tasks[1];
	assert_true(t->ignore_failure);
	assert_int_equal(t->depend_on.nr, 0);
	assert_null(t->buildspec);
	assert_true(has_warning(&bs, "bs.yml:17:7: 'depend-on' is only used in "
				     "build-graph; ignored"));
	assert_true(has_warning(&bs, "bs.yml:19:9: unknown key 'NAME' "
				     "ignored"));
	buildspec_release(&bs);
}

static void test_buildspec__batch_graph(void **state)
{
	struct buildspec bs;

	(void)state;
	/* batch after phases, and no phases needed for a batch-only file */
	parse_ok(&bs, "version: 0.2\nphases: {build: {commands: [make]}}\n"
		      "batch:\n  fast-fail: true\n  build-graph:\n"
		      "    - identifier: d\n      depend-on: [b, c]\n"
		      "    - identifier: b\n      depend-on: a\n"
		      "    - identifier: c\n      depend-on: [a]\n"
		      "    - identifier: a\n");
	assert_int_equal(bs.batch.type, BS_BATCH_GRAPH);
	assert_true(bs.batch.fast_fail);
	assert_int_equal(bs.batch.nr_tasks, 4);
	assert_int_equal(bs.batch.tasks[0].depend_on.nr, 2);
	assert_string_equal(bs.batch.tasks[1].depend_on.v[0], "a");
	buildspec_release(&bs);

	parse_ok(&bs, "version: 0.2\nbatch:\n  build-graph:\n"
		      "    - identifier: only\n");
	assert_false(bs.phases[BS_BUILD].present);
	buildspec_release(&bs);
}

static void test_buildspec__batch_graph_errors(void **state)
{
	(void)state;
	parse_err("version: 0.2\nbatch:\n  build-graph:\n"
		  "    - identifier: a\n      depend-on: [b]\n"
		  "    - identifier: b\n      depend-on: [c]\n"
		  "    - identifier: c\n      depend-on: [a]\n"
		  "    - identifier: z\n      depend-on: [a]\n",
		  "bs.yml:4:7: dependency cycle in 'batch.build-graph' "
		  "involving 'a': 'a' -> 'b' -> 'c' -> 'a'");
	parse_err("version: 0.2\nbatch:\n  build-graph:\n"
		  "    - identifier: ok\n    - identifier: me\n"
		  "      depend-on: me\n",
		  "bs.yml:5:7: dependency cycle in 'batch.build-graph' "
		  "involving 'me': 'me' -> 'me'");
	parse_err("version: 0.2\nbatch:\n  build-graph:\n"
		  "    - identifier: a\n      depend-on:\n        - zz\n",
		  "bs.yml:6:9: task 'a' depends on unknown identifier 'zz'");
	parse_err("version: 0.2\nbatch:\n  build-graph:\n"
		  "    - identifier: a\n    - identifier: b\n"
		  "    - identifier: a\n",
		  "bs.yml:6:7: duplicate batch identifier 'a' in "
		  "'batch.build-graph'");
	parse_err("version: 0.2\nbatch:\n  build-list:\n"
		  "    - identifier: my-id\n",
		  "bs.yml:4:19: invalid batch identifier 'my-id' (letters, "
		  "digits and '_' only)");
	parse_err("version: 0.2\nbatch:\n  build-list:\n"
		  "    - buildspec: x.yml\n",
		  "bs.yml:4:7: 'batch.build-list' task needs an 'identifier'");
	parse_err("version: 0.2\nbatch:\n  build-list:\n    - a\n",
		  "bs.yml:4:7: 'batch.build-list' items must be mappings, not "
		  "a scalar");
	parse_err("version: 0.2\nbatch:\n  build-list: []\n",
		  "bs.yml:3:15: 'batch.build-list' must not be empty");
	parse_err("version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n"
		  "      env:\n        fleet: f\n        compute-type: c\n",
		  "bs.yml:7:9: 'batch.build-list.env' cannot have both "
		  "'compute-type' and 'fleet'");
}

static void test_buildspec__batch_types(void **state)
{
	struct buildspec bs;
	const struct bs_batch *b;

	(void)state;
	parse_ok(&bs, "version: 0.2\nbatch:\n  build-matrix:\n    static:\n"
		      "      ignore-failure: true\n      env:\n"
		      "        type: LINUX_CONTAINER\n"
		      "        privileged-mode: yes\n"
		      "        compute-type: BUILD_GENERAL1_SMALL\n"
		      "    dynamic:\n      buildspec: [a.yml, b.yml]\n"
		      "      env:\n        compute-type: [S, M]\n"
		      "        image: img\n        variables:\n"
		      "          MY_VAR: [V1, V2, 3]\n          ONE: x\n");
	b = &bs.batch;
	assert_int_equal(b->type, BS_BATCH_MATRIX);
	assert_true(b->matrix_ignore_failure);
	assert_true(b->matrix_static.privileged_mode);
	assert_string_equal(b->matrix_static.compute_type,
			    "BUILD_GENERAL1_SMALL");
	assert_int_equal(b->matrix_buildspecs.nr, 2);
	assert_int_equal(b->matrix_compute_types.nr, 2);
	assert_int_equal(b->matrix_images.nr, 1);
	assert_int_equal(b->nr_matrix_vars, 2);
	assert_string_equal(b->matrix_vars[0].name, "MY_VAR");
	assert_int_equal(b->matrix_vars[0].values.nr, 3);
	assert_string_equal(b->matrix_vars[0].values.v[2], "3");
	assert_int_equal(b->matrix_vars[1].values.nr, 1);
	buildspec_release(&bs);

	parse_ok(&bs, "version: 0.2\nbatch:\n  build-fanout:\n"
		      "    parallelism: 5\n    ignore-failure: true\n");
	assert_int_equal(bs.batch.type, BS_BATCH_FANOUT);
	assert_int_equal(bs.batch.parallelism, 5);
	assert_true(bs.batch.fanout_ignore_failure);
	buildspec_release(&bs);

	parse_err("version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n"
		  "  build-graph:\n    - identifier: b\n",
		  "bs.yml:5:3: only one batch type is allowed ('build-graph' "
		  "after another batch type)");
	parse_err("version: 0.2\nbatch:\n  fast-fail: no\n",
		  "bs.yml:3:3: 'batch' needs one of build-list, build-graph, "
		  "build-matrix or build-fanout");
	parse_err("version: 0.2\nbatch:\n  build-fanout:\n    parallelism: 0\n",
		  "bs.yml:4:18: 'batch.build-fanout.parallelism' must be an "
		  "integer from 1 to 1000, not '0'");
	parse_err("version: 0.2\nbatch:\n  build-fanout:\n    parallelism: "
		  "1001\n",
		  "bs.yml:4:18: 'batch.build-fanout.parallelism' must be an "
		  "integer from 1 to 1000, not '1001'");
	parse_err_has("version: 0.2\nbatch:\n  build-fanout:\n"
		      "    parallelism: 99999999999999999999\n",
		      "'batch.build-fanout.parallelism' must be an integer");
	parse_err_has("version: 0.2\nbatch:\n  build-fanout:\n"
		      "    parallelism: -3\n",
		      "bs.yml:4:18: 'batch.build-fanout.parallelism' must be "
		      "an integer");
	parse_err("version: 0.2\nbatch:\n  build-fanout:\n"
		  "    ignore-failure: no\n",
		  "bs.yml:4:5: 'batch.build-fanout.parallelism' is required");
	parse_err("version: 0.2\nbatch:\n  fast-fail: often\n",
		  "bs.yml:3:14: 'batch.fast-fail' must be a boolean (yes, no, "
		  "true, false)");
}

static void test_buildspec__yaml_features(void **state)
{
	struct buildspec bs;

	(void)state;
	parse_ok(&bs, "version: 0.2\nx-cmds: &c [make, make test]\n"
		      "x-env: &e {A: a, B: b}\n"
		      "env:\n  variables:\n    <<: *e\n    B: override\n"
		      "phases:\n  build:\n    commands: *c\n"
		      "  post_build:\n    commands: *c\n");
	assert_int_equal(bs.phases[BS_BUILD].commands.nr, 2);
	assert_int_equal(bs.phases[BS_POST_BUILD].commands.nr, 2);
	assert_string_equal(var(&bs.variables, "A"), "a");
	assert_string_equal(var(&bs.variables, "B"), "override");
	assert_int_equal(bs.variables.nr, 2);
	buildspec_release(&bs);

	parse_err("version: 0.2\nphases:\n  build:\n    commands: [a]\n"
		  "  build:\n    commands: [b]\n",
		  "bs.yml:5:3: duplicate key 'build'");
	parse_err("version: 0.2\nphases:\n  build:\n    commands: *x\n",
		  "bs.yml:4:15: undefined alias 'x'");
	parse_err("version: 0.2\nphases:\n\tbuild: {}\n",
		  "bs.yml:3:1: found character that cannot start any token "
		  "(while scanning for the next token started at 3:1)");
}

static void test_buildspec__nul_in_values(void **state)
{
	(void)state;
	parse_err("version: 0.2\nphases:\n  build:\n    commands:\n"
		  "      - \"a\\0b\"\n",
		  "bs.yml:5:9: a command in 'phases.build.commands' must not "
		  "contain a NUL character");
	parse_err_has(
		"version: 0.2\nenv:\n  variables:\n    \"A\\0B\": x\n"
		"phases: {build: {}}\n",
		"bs.yml:4:5: 'env.variables' keys must not contain a NUL");
}

static void test_buildspec__load_file(void **state)
{
	char dir[] = "/tmp/test_buildspec.XXXXXX", path[80];
	struct buildspec bs = BUILDSPEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/buildspec.yml", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("version: 0.2\nphases:\n  build:\n    commands: [make]", fp);
	fclose(fp);
	assert_int_equal(buildspec_load(path, &bs, &e), 0);
	assert_string_equal(bs.file, path);
	assert_int_equal(bs.phases[BS_BUILD].commands.nr, 1);
	buildspec_release(&bs);

	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("version: 0.2\nphases: [x]\n", fp);
	fclose(fp);
	assert_int_equal(buildspec_load(path, &bs, &e), -1);
	assert_int_equal(strncmp(e.msg, path, strlen(path)), 0);
	assert_string_equal(e.msg + strlen(path),
			    ":2:9: 'phases' must be a mapping");
	assert_null(bs.file);
	unlink(path);
	err_clear(&e);
	assert_int_equal(buildspec_load(path, &bs, &e), -1);
	assert_int_equal(e.code, ERR_SPEC);
	assert_int_equal(rmdir(dir), 0);
}

static char *read_all(const char *path, size_t *len)
{
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *fp = fopen(path, "rb");

	assert_non_null(fp);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(&b, chunk, n);
	fclose(fp);
	*len = b.len;
	return buf_detach(&b);
}

/* Every fixture: good ones parse, bad ones fail as their header says. */
static void check_fixtures(const char *sub, bool good)
{
	char dirpath[256], path[512];
	struct dirent *de;
	size_t seen = 0;
	DIR *d;

	snprintf(dirpath, sizeof(dirpath), "%s/%s", FIXTURES, sub);
	d = opendir(dirpath);
	if (!d)
		skip();
	while ((de = readdir(d))) {
		struct buildspec bs = BUILDSPEC_INIT;
		struct sw_err e = SW_ERR_INIT;
		const char *expect;
		char *data;
		size_t len;
		int rc;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirpath, de->d_name);
		data = read_all(path, &len);
		rc = buildspec_parse(path, data, len, &bs, &e);
		seen++;
		if (good) {
			if (rc < 0)
				fail_msg("%s: %s", path, e.msg);
			buildspec_release(&bs);
			free(data);
			continue;
		}
		if (rc == 0)
			fail_msg("%s: parsed but should not", path);
		assert_int_equal(e.code, ERR_SPEC);
		if (strncmp(e.msg, path, strlen(path)) ||
		    e.msg[strlen(path)] != ':')
			fail_msg("%s: no position in '%s'", path, e.msg);
		if (!strncmp(data, "# expect: ", 10)) {
			char *want = data + 10, *nl = strchr(want, '\n');

			if (nl)
				*nl = '\0';
			expect = want;
			if (!strstr(e.msg, expect))
				fail_msg("%s: '%s' not in '%s'", path, expect,
					 e.msg);
		}
		free(data);
	}
	closedir(d);
	assert_true(seen >= (good ? 10u : 35u));
}

static void test_buildspec__good_fixtures(void **state)
{
	(void)state;
	check_fixtures("good-buildspecs", true);
}

static void test_buildspec__bad_fixtures(void **state)
{
	(void)state;
	check_fixtures("bad-buildspecs", false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buildspec__minimal),
		cmocka_unit_test(test_buildspec__phase_names),
		cmocka_unit_test(test_buildspec__versions),
		cmocka_unit_test(test_buildspec__scalars_kept_as_written),
		cmocka_unit_test(test_buildspec__null_commands),
		cmocka_unit_test(test_buildspec__multiline_commands),
		cmocka_unit_test(test_buildspec__scalar_commands_warns),
		cmocka_unit_test(test_buildspec__command_not_a_string),
		cmocka_unit_test(test_buildspec__on_failure_forms),
		cmocka_unit_test(test_buildspec__on_failure_invalid),
		cmocka_unit_test(test_buildspec__phase_keys),
		cmocka_unit_test(test_buildspec__unknown_keys_warn),
		cmocka_unit_test(test_buildspec__unknown_keys_suggest),
		cmocka_unit_test(test_buildspec__wrong_types),
		cmocka_unit_test(test_buildspec__env),
		cmocka_unit_test(test_buildspec__variable_names),
		cmocka_unit_test(test_buildspec__version_01),
		cmocka_unit_test(test_buildspec__artifacts),
		cmocka_unit_test(test_buildspec__no_phases_release_pipeline),
		cmocka_unit_test(
			test_buildspec__secondary_artifacts_only_multi_in_out),
		cmocka_unit_test(test_buildspec__reports),
		cmocka_unit_test(test_buildspec__cache),
		cmocka_unit_test(test_buildspec__batch_list_unquoted_values),
		cmocka_unit_test(test_buildspec__batch_graph),
		cmocka_unit_test(test_buildspec__batch_graph_errors),
		cmocka_unit_test(test_buildspec__batch_types),
		cmocka_unit_test(test_buildspec__yaml_features),
		cmocka_unit_test(test_buildspec__nul_in_values),
		cmocka_unit_test(test_buildspec__load_file),
		cmocka_unit_test(test_buildspec__good_fixtures),
		cmocka_unit_test(test_buildspec__bad_fixtures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
