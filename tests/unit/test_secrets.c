#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "mask.h"
#include "secrets.h"
#include "xalloc.h"

static const char good_file[] =
	"parameter-store:\n"
	"  /prod/db/password: s3cr3t\n"
	"  /prod/port: 5432\n"
	"  /prod/empty: ''\n"
	"secrets-manager:\n"
	"  prod/api: '{\"token\": \"tok-123\", \"n\": 5, \"ok\": true,"
	" \"obj\": {\"a\": [1, \"x/y\"]}, \"nil\": null}'\n"
	"  prod/api:token: direct-tok\n"
	"  Github/fgpat: '{\"actions read\": \"ghp_abc\"}'\n"
	"  arn:aws:secretsmanager:us-east-1:123456789012:secret:full-AbCdEf: "
	"by-arn\n"
	"  short: plain-string\n"
	"  notjson: 'not json {'\n";

static void load_good(struct secrets *s)
{
	struct sw_err e = SW_ERR_INIT;

	secrets_init(s);
	assert_int_equal(secrets_load_buffer(s, "secrets.yml", good_file,
					     strlen(good_file), &e),
			 0);
}

/* Expect a lookup to succeed with `want`. */
static void expect_param(struct secrets *s, const char *name, const char *want)
{
	struct sw_err e = SW_ERR_INIT;
	char *v;

	assert_int_equal(secrets_get_parameter(s, name, &v, &e), 0);
	assert_string_equal(v, want);
	free(v);
}

static void expect_secret(struct secrets *s, const char *ref, const char *want)
{
	struct sw_err e = SW_ERR_INIT;
	char *v = NULL;

	if (secrets_get_secret(s, ref, &v, &e) < 0)
		fail_msg("%s: %s", ref, e.msg);
	assert_string_equal(v, want);
	free(v);
}

static void expect_secret_err(struct secrets *s, const char *ref, int code,
			      const char *msg)
{
	struct sw_err e = SW_ERR_INIT;
	char *v = (char *)"x";

	assert_int_equal(secrets_get_secret(s, ref, &v, &e), -1);
	assert_null(v);
	assert_int_equal(e.code, code);
	assert_string_equal(e.msg, msg);
}

static void test_secrets__parameters(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	struct secrets s;
	char *v = (char *)"x";

	(void)state;
	load_good(&s);
	expect_param(&s, "/prod/db/password", "s3cr3t");
	expect_param(&s, "/prod/port", "5432");
	expect_param(&s, "/prod/empty", "");
	assert_int_equal(secrets_get_parameter(&s, "/prod/nope", &v, &e), -1);
	assert_null(v);
	assert_int_equal(e.code, ERR_FAILED);
	assert_string_equal(e.msg, "parameter does not exist: /prod/nope");
	secrets_release(&s);
}

static void test_secrets__secrets_manager(void **state)
{
	struct secrets s;

	(void)state;
	load_good(&s);
	expect_secret(&s, "short", "plain-string");
	expect_secret(&s, "short:", "plain-string");
	/* the id:json-key entry wins over the JSON */
	expect_secret(&s, "prod/api:token", "direct-tok");
	expect_secret(&s, "prod/api:n", "5");
	expect_secret(&s, "prod/api:ok", "true");
	expect_secret(&s, "prod/api:obj", "{\"a\":[1,\"x/y\"]}");
	expect_secret(&s, "prod/api:nil", "null");
	/* version stage and id are accepted and ignored */
	expect_secret(&s, "prod/api:n:AWSCURRENT", "5");
	expect_secret(&s, "prod/api:n::0123-abcd", "5");
	expect_secret(&s, "prod/api:n:AWSPREVIOUS:0123-abcd", "5");
	/* a json-key with a space, split on ':' only */
	expect_secret(&s, "Github/fgpat:actions read", "ghp_abc");
	expect_secret_err(&s, "prod/nope", ERR_FAILED,
			  "secret does not exist: prod/nope");
	expect_secret_err(&s, "prod/api:missing", ERR_FAILED,
			  "json key not found: missing in secret prod/api");
	expect_secret_err(&s, "prod/api:token ", ERR_FAILED,
			  "json key not found: token  in secret prod/api");
	expect_secret_err(&s, "notjson:k", ERR_FAILED,
			  "secret notjson is not a JSON object, cannot read "
			  "key k");
	expect_secret_err(&s, "short:k", ERR_FAILED,
			  "secret short is not a JSON object, cannot read "
			  "key k");
	expect_secret_err(&s, "prod/api:a:b:c:d", ERR_SPEC,
			  "invalid secrets-manager reference "
			  "'prod/api:a:b:c:d': expected "
			  "secret-id:json-key:version-stage:version-id");
	expect_secret_err(&s, ":k", ERR_SPEC,
			  "invalid secrets-manager reference ':k': empty "
			  "secret id");
	secrets_release(&s);
}

static void test_secrets__arns(void **state)
{
	const char *arn =
		"arn:aws:secretsmanager:us-east-1:123456789012:secret:";
	struct secrets s;
	char *ref;

	(void)state;
	load_good(&s);
	/* exact ARN in the file */
	ref = xasprintf("%sfull-AbCdEf", arn);
	expect_secret(&s, ref, "by-arn");
	free(ref);
	/* by the name inside it, with the random suffix dropped */
	ref = xasprintf("%sprod/api-Xy12Zw:n", arn);
	expect_secret(&s, ref, "5");
	free(ref);
	ref = xasprintf("%sprod/api:token:AWSCURRENT", arn);
	expect_secret(&s, ref, "direct-tok");
	free(ref);
	ref = xasprintf("%sGithub/fgpat:actions read", arn);
	expect_secret(&s, ref, "ghp_abc");
	free(ref);
	ref = xasprintf("%sgone-AbCdEf", arn);
	{
		char *msg = xasprintf("secret does not exist: %s", ref);

		expect_secret_err(&s, ref, ERR_FAILED, msg);
		free(msg);
	}
	free(ref);
	secrets_release(&s);
}

static void test_secrets__parse_ref(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	char *id, *key, *stage, *ver;

	(void)state;
	assert_int_equal(secrets_parse_ref("arn:aws:secretsmanager:eu-west-1:"
					   "1:secret:a/b-123456:k y::v1",
					   &id, &key, &stage, &ver, &e),
			 0);
	assert_string_equal(id, "arn:aws:secretsmanager:eu-west-1:1:secret:"
				"a/b-123456");
	assert_string_equal(key, "k y");
	assert_null(stage);
	assert_string_equal(ver, "v1");
	free(id);
	free(key);
	free(ver);
	assert_int_equal(
		secrets_parse_ref("arn:aws:short", &id, &key, &stage, &ver, &e),
		0);
	assert_string_equal(id, "arn:aws:short");
	assert_null(key);
	free(id);
	assert_int_equal(secrets_parse_ref("name", &id, &key, &stage, &ver, &e),
			 0);
	assert_string_equal(id, "name");
	assert_null(key);
	assert_null(stage);
	assert_null(ver);
	free(id);
	assert_int_equal(secrets_parse_ref("", &id, &key, &stage, &ver, &e),
			 -1);
	assert_null(id);
	assert_int_equal(e.code, ERR_SPEC);
}

static void test_secrets__malformed_files(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "- a\n- b\n",
		  "s.yml:1:1: the top level must be a mapping, not a "
		  "sequence" },
		{ "parameter-store:\n  a: b\nssm:\n  x: y\n",
		  "s.yml:3:1: unknown key 'ssm' (expected 'parameter-store' "
		  "or 'secrets-manager')" },
		{ "parameter-store:\n  /a: [1, 2]\n",
		  "s.yml:2:7: value of '/a' must be a scalar, not a sequence" },
		{ "secrets-manager:\n  x:\n    y: z\n",
		  "s.yml:3:5: value of 'x' must be a scalar, not a mapping" },
		{ "parameter-store:\n  /a:\n",
		  "s.yml:2:6: value of '/a' is null (write '' for an empty "
		  "value)" },
		{ "parameter-store: [a]\n",
		  "s.yml:1:18: 'parameter-store' must be a mapping, not a "
		  "sequence" },
		{ "parameter-store:\n  a: \"x\\0y\"\n",
		  "s.yml:2:6: value of 'a' contains a NUL byte" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct sw_err e = SW_ERR_INIT;
		struct secrets s = SECRETS_INIT;

		assert_int_equal(secrets_load_buffer(&s, "s.yml", cases[i].text,
						     strlen(cases[i].text), &e),
				 -1);
		assert_int_equal(e.code, ERR_SPEC);
		assert_string_equal(e.msg, cases[i].msg);
		/* nothing of a bad file is kept */
		assert_int_equal(s.params.keys.nr, 0);
		secrets_release(&s);
	}
	/* a YAML syntax error carries its position too */
	{
		struct sw_err e = SW_ERR_INIT;
		struct secrets s = SECRETS_INIT;
		const char *bad = "parameter-store:\n  a: 'open\n";

		assert_int_equal(
			secrets_load_buffer(&s, "s.yml", bad, strlen(bad), &e),
			-1);
		assert_int_equal(e.code, ERR_SPEC);
		assert_true(!strncmp(e.msg, "s.yml:", 6));
		secrets_release(&s);
	}
}

static void test_secrets__empty_and_later_files(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	struct secrets s = SECRETS_INIT;
	const char *second = "parameter-store:\n  /prod/port: '6543'\n"
			     "secrets-manager:\n";

	(void)state;
	assert_int_equal(secrets_load_buffer(&s, "empty.yml", "", 0, &e), 0);
	assert_int_equal(
		secrets_load_buffer(&s, "c.yml", "# nothing\n", 10, &e), 0);
	assert_int_equal(secrets_load_buffer(&s, "s.yml", good_file,
					     strlen(good_file), &e),
			 0);
	assert_int_equal(
		secrets_load_buffer(&s, "t.yml", second, strlen(second), &e),
		0);
	expect_param(&s, "/prod/port", "6543");
	expect_param(&s, "/prod/db/password", "s3cr3t");
	secrets_release(&s);
}

static void test_secrets__load_file(void **state)
{
	char dir[] = "/tmp/test_secrets.XXXXXX";
	struct sw_err e = SW_ERR_INIT;
	struct secrets s = SECRETS_INIT;
	char *path;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/secrets.yml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("parameter-store:\n  p: v\nbogus: 1\n", f);
	fclose(f);
	assert_int_equal(secrets_load_file(&s, path, &e), -1);
	assert_int_equal(e.code, ERR_SPEC);
	assert_non_null(strstr(e.msg, "secrets.yml:3:1: unknown key 'bogus'"));
	unlink(path);
	err_clear(&e);
	assert_int_equal(secrets_load_file(&s, path, &e), -1);
	assert_int_not_equal(e.code, 0);
	free(path);
	rmdir(dir);
	secrets_release(&s);
}

/* The provider command, as a script made here. */
struct cmdenv {
	char dir[64];
	char *script, *log, *big;
};

static void cmdenv_setup(struct cmdenv *c)
{
	FILE *f;

	snprintf(c->dir, sizeof(c->dir), "/tmp/test_secrets.XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	c->script = xasprintf("%s/lookup.sh", c->dir);
	c->log = xasprintf("%s/calls", c->dir);
	c->big = xasprintf("%s/big", c->dir);
	f = fopen(c->script, "w");
	assert_non_null(f);
	fprintf(f,
		"#!/bin/sh\n"
		"echo \"$1 $2 $#\" >> '%s'\n"
		"case \"$1:$2\" in\n"
		"parameter-store:/cmd/pw) echo 'cmd pw' ;;\n"
		"parameter-store:/cmd/two) printf 'a\\n\\n' ;;\n"
		"parameter-store:/cmd/none) printf 'raw' ;;\n"
		"parameter-store:/cmd/stdin) cat ;;\n"
		"parameter-store:/cmd/huge) head -c 2000000 /dev/zero "
		"| tr '\\0' x ;;\n"
		"parameter-store:/prod/db/password) echo 'from-cmd' ;;\n"
		"secrets-manager:cmd/json) echo '{\"user name\": \"bob\"}' ;;\n"
		"*) echo \"no such thing: $2\" >&2; exit 1 ;;\n"
		"esac\n",
		c->log);
	fclose(f);
	assert_int_equal(chmod(c->script, 0755), 0);
}

static void cmdenv_teardown(struct cmdenv *c)
{
	unlink(c->script);
	unlink(c->log);
	unlink(c->big);
	rmdir(c->dir);
	free(c->script);
	free(c->log);
	free(c->big);
}

static size_t count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int ch;

	if (!f)
		return 0;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static void test_secrets__command(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	struct secrets s;
	struct cmdenv c;
	char *v = NULL, *cmd;

	(void)state;
	cmdenv_setup(&c);
	load_good(&s);
	/* a command with an argument of its own; "$@" comes after it */
	cmd = xasprintf("'%s'", c.script);
	secrets_set_command(&s, cmd);
	free(cmd);

	expect_param(&s, "/cmd/pw", "cmd pw");
	/* only one trailing newline goes */
	expect_param(&s, "/cmd/two", "a\n");
	expect_param(&s, "/cmd/none", "raw");
	/* stdin is /dev/null, the lookup never waits for the terminal */
	expect_param(&s, "/cmd/stdin", "");
	/* the file answers first */
	expect_param(&s, "/prod/db/password", "s3cr3t");
	expect_secret(&s, "cmd/json:user name", "bob");
	expect_secret(&s, "cmd/json", "{\"user name\": \"bob\"}");
	/* kind, name, and nothing else as arguments */
	assert_int_equal(count_lines(c.log), 5);
	/* answers are cached */
	expect_param(&s, "/cmd/pw", "cmd pw");
	assert_int_equal(count_lines(c.log), 5);

	assert_int_equal(secrets_get_parameter(&s, "/cmd/missing", &v, &e), -1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_string_equal(e.msg, "parameter does not exist: /cmd/missing");
	err_clear(&e);
	expect_secret_err(&s, "cmd/gone:k", ERR_FAILED,
			  "secret does not exist: cmd/gone");
	expect_secret_err(&s, "cmd/json:nope", ERR_FAILED,
			  "json key not found: nope in secret cmd/json");

	assert_int_equal(secrets_get_parameter(&s, "/cmd/huge", &v, &e), -1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_non_null(strstr(e.msg, "larger than"));
	err_clear(&e);
	{
		FILE *f = fopen(c.log, "r");
		char line[256];

		assert_non_null(f);
		assert_non_null(fgets(line, sizeof(line), f));
		assert_string_equal(line, "parameter-store /cmd/pw 2\n");
		fclose(f);
	}
	secrets_release(&s);
	cmdenv_teardown(&c);
}

static void test_secrets__command_with_shell_syntax(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	struct secrets s = SECRETS_INIT;
	char *v = NULL;

	(void)state;
	/* the command is shell text: a function and its arguments */
	secrets_set_command(&s, "f() { test \"$1\" = parameter-store && "
				"printf '%s' \"v-$2\"; }; f");
	expect_param(&s, "a b", "v-a b");
	expect_secret_err(&s, "x", ERR_FAILED, "secret does not exist: x");
	/* death by a signal is an error, not "does not exist" */
	secrets_set_command(&s, "kill -9 $$; :");
	assert_int_equal(secrets_get_parameter(&s, "k", &v, &e), -1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_string_equal(e.msg, "secrets command: killed by signal 9 "
				   "looking up parameter-store 'k'");
	err_clear(&e);
	secrets_set_command(&s, NULL);
	assert_int_equal(secrets_get_parameter(&s, "zzz", &v, &e), -1);
	assert_string_equal(e.msg, "parameter does not exist: zzz");
	secrets_release(&s);
}

static void test_secrets__values_are_masked(void **state)
{
	struct mask m = MASK_INIT;
	struct secrets s;
	char *out;

	(void)state;
	load_good(&s);
	secrets_set_mask(&s, &m);
	expect_param(&s, "/prod/db/password", "s3cr3t");
	expect_secret(&s, "Github/fgpat:actions read", "ghp_abc");
	out = mask_string(&m, "pw s3cr3t tok ghp_abc");
	assert_string_equal(out, "pw *** tok ***");
	free(out);
	secrets_release(&s);
	mask_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secrets__parameters),
		cmocka_unit_test(test_secrets__secrets_manager),
		cmocka_unit_test(test_secrets__arns),
		cmocka_unit_test(test_secrets__parse_ref),
		cmocka_unit_test(test_secrets__malformed_files),
		cmocka_unit_test(test_secrets__empty_and_later_files),
		cmocka_unit_test(test_secrets__load_file),
		cmocka_unit_test(test_secrets__command),
		cmocka_unit_test(test_secrets__command_with_shell_syntax),
		cmocka_unit_test(test_secrets__values_are_masked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
