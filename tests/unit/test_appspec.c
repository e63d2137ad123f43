#include "appspec.h"

#include <dirent.h>
#include <limits.h>
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
#include "yaml.h"
#include "banned.h"

#define FIXTURES "tests/fixtures"
#define HEAD "version: 0.0\nos: linux\n"

static void parse_ok(struct appspec *a, const char *text)
{
	struct sw_err e = SW_ERR_INIT;

	if (appspec_parse("appspec.yml", text, strlen(text), a, &e) < 0)
		fail_msg("unexpected error: %s", e.msg);
	assert_int_equal(e.code, 0);
}

/* Parsing must fail with exactly `msg`, leaving the model released. */
static void parse_err(const char *text, const char *msg)
{
	struct appspec a = APPSPEC_INIT;
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(
		appspec_parse("appspec.yml", text, strlen(text), &a, &e), -1);
	assert_int_equal(e.code, ERR_SPEC);
	assert_string_equal(e.msg, msg);
	assert_null(a.file);
	assert_null(a.version);
	assert_null(a.files);
	assert_int_equal(a.warnings.nr, 0);
}

/* Parsing must fail with a message that contains `part`. */
static void parse_err_has(const char *text, const char *part)
{
	struct appspec a = APPSPEC_INIT;
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(
		appspec_parse("appspec.yml", text, strlen(text), &a, &e), -1);
	assert_int_equal(e.code, ERR_SPEC);
	if (!strstr(e.msg, part))
		fail_msg("'%s' not in '%s'", part, e.msg);
	assert_int_equal(strncmp(e.msg, "appspec.yml:", 12), 0);
	assert_null(a.file);
}

static bool has_warning(const struct appspec *a, const char *w)
{
	for (size_t i = 0; i < a->warnings.nr; i++)
		if (!strcmp(a->warnings.v[i], w))
			return true;
	return false;
}

static void test_appspec__minimal(void **state)
{
	struct appspec a;

	(void)state;
	parse_ok(&a, HEAD);
	assert_string_equal(a.file, "appspec.yml");
	assert_string_equal(a.version, "0.0");
	assert_string_equal(a.os, "linux");
	assert_int_equal(a.nr_files, 0);
	assert_int_equal(a.nr_permissions, 0);
	assert_int_equal(a.file_exists_behavior, APPSPEC_FEB_UNSET);
	assert_int_equal(appspec_nr_hooks(&a), 0);
	for (int ev = 0; ev < APPSPEC_NEVENTS; ev++)
		assert_false(a.hooks[ev].present);
	assert_int_equal(a.warnings.nr, 0);
	appspec_release(&a);
	assert_null(a.file);
	appspec_release(&a);
	appspec_release(NULL);
}

static void test_appspec__version_forms(void **state)
{
	static const char *const good[] = { "0.0", "0", "0.00", "-0.0",
					    "!!float '0.0'" };
	struct appspec a;
	char text[128];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		snprintf(text, sizeof(text), "version: %s\nos: linux\n",
			 good[i]);
		parse_ok(&a, text);
		assert_string_equal(a.version, "0.0");
		appspec_release(&a);
	}
	parse_err("version: 1.0\nos: linux\n",
		  "appspec.yml:1:10: invalid version value (1.0): the appspec "
		  "must specify 0.0 as the version");
	parse_err("version: \"0.0\"\nos: linux\n",
		  "appspec.yml:1:10: invalid version value (0.0): the agent "
		  "reads a quoted version as a string; write version: 0.0 "
		  "without quotes");
	parse_err("os: linux\n", "appspec.yml:1:1: 'version' is required: the "
				 "appspec must specify 0.0 as the version");
	parse_err("version:\nos: linux\n",
		  "appspec.yml:1:1: 'version' is required: the appspec must "
		  "specify 0.0 as the version");
	parse_err("version: [0.0]\nos: linux\n",
		  "appspec.yml:1:10: 'version' must be a scalar, not a "
		  "sequence");
	parse_err_has("version: 0.2\nos: linux\n", "invalid version value");
	parse_err_has("version: 0x0\nos: linux\n", "invalid version value");
}

static void test_appspec__os(void **state)
{
	(void)state;
	parse_err("version: 0.0\nos: windows\n",
		  "appspec.yml:2:5: unsupported operating system (windows): "
		  "only os: linux is supported");
	parse_err("version: 0.0\nos: Linux\n",
		  "appspec.yml:2:5: unsupported operating system (Linux): "
		  "only os: linux is supported");
	parse_err("version: 0.0\n",
		  "appspec.yml:1:1: 'os' is required: unsupported operating "
		  "system (), only os: linux is supported");
	parse_err("version: 0.0\nos: {a: 1}\n",
		  "appspec.yml:2:5: 'os' must be a string, not a mapping");
	parse_err("version: 0.0\nResources:\n  - x: {}\n",
		  "appspec.yml:2:1: 'Resources' belongs to an ECS or Lambda "
		  "appspec: only EC2/on-premises appspecs (os: linux) are "
		  "supported");
}

static void test_appspec__empty_and_not_a_map(void **state)
{
	(void)state;
	parse_err("", "appspec.yml:1:1: appspec is empty: the application "
		      "specification file was empty");
	parse_err("# only a comment\n",
		  "appspec.yml:1:1: appspec is empty: the application "
		  "specification file was empty");
	parse_err("- a\n- b\n",
		  "appspec.yml:1:1: appspec must be a mapping, not a sequence");
	parse_err_has("version: 0.0\n\tos: linux\n", "appspec.yml:2:");
}

static void
test_appspec__duplicate_key_keeps_the_last_as_the_agent(void **state)
{
	struct appspec a;
	const struct appspec_hook *h;

	(void)state;
	/* an appspec that grew by copy and paste: the agent's YAML reader
	 * keeps the last value of a key, so the second AfterInstall runs */
	parse_ok(&a, HEAD "hooks:\n"
			  "  AfterInstall:\n"
			  "    - location: scripts/old.sh\n"
			  "  ApplicationStart:\n"
			  "    - location: scripts/start.sh\n"
			  "      timeout: 10\n"
			  "      timeout: 20\n"
			  "  AfterInstall:\n"
			  "    - location: scripts/new.sh\n");
	h = &a.hooks[APPSPEC_AFTER_INSTALL];
	assert_int_equal(h->nr, 1);
	assert_string_equal(h->scripts[0].location, "scripts/new.sh");
	assert_int_equal(h->line, 10);
	assert_int_equal(a.hooks[APPSPEC_APPLICATION_START].scripts[0].timeout,
			 20);
	assert_true(has_warning(&a, "appspec.yml:9:7: duplicate key "
				    "'timeout': replaces the value at 8:7 (the "
				    "last one wins, as the agent reads it)"));
	assert_true(has_warning(&a, "appspec.yml:10:3: duplicate key "
				    "'AfterInstall': replaces the value at 4:3 "
				    "(the last one wins, as the agent reads "
				    "it)"));
	assert_int_equal(a.warnings.nr, 2);
	appspec_release(&a);

	/* a top-level key twice, the last one is checked */
	parse_ok(&a, HEAD "os: linux\n");
	assert_int_equal(a.warnings.nr, 1);
	appspec_release(&a);
	parse_err_has(HEAD "os: windows\n", "unsupported operating system");
}

static void test_appspec__files(void **state)
{
	struct appspec a;

	(void)state;
	parse_ok(&a, HEAD "files:\n"
			  "  - source: /\n"
			  "    destination: /var/www/html/\n"
			  "  - source: app/index.html\n"
			  "    destination: //srv//app/./x\n"
			  "  - source: /config/app.conf\n"
			  "    destination: /etc\n"
			  "  - source: ./\n"
			  "    destination: /\n");
	assert_int_equal(a.nr_files, 4);
	assert_string_equal(a.files[0].source, ".");
	assert_string_equal(a.files[0].destination, "/var/www/html");
	assert_int_equal(a.files[0].line, 4);
	assert_int_equal(a.files[0].col, 5);
	assert_string_equal(a.files[1].source, "app/index.html");
	assert_string_equal(a.files[1].destination, "/srv/app/x");
	assert_string_equal(a.files[2].source, "config/app.conf");
	assert_string_equal(a.files[2].destination, "/etc");
	assert_string_equal(a.files[3].source, ".");
	assert_string_equal(a.files[3].destination, "/");
	assert_int_equal(a.warnings.nr, 0);
	appspec_release(&a);

	parse_ok(&a, HEAD "files:\n");
	assert_int_equal(a.nr_files, 0);
	appspec_release(&a);
}

static void test_appspec__files_errors(void **state)
{
	(void)state;
	parse_err(HEAD "files:\n  - destination: /x\n",
		  "appspec.yml:4:5: 'files[0]' specifies a destination file, "
		  "but no source file");
	parse_err(HEAD "files:\n  - source: app\n",
		  "appspec.yml:4:5: 'files[0]' specifies only a source file "
		  "(app): add the destination");
	parse_err(HEAD "files:\n  - source: app\n    destination:\n",
		  "appspec.yml:5:5: 'files[0]' specifies only a source file "
		  "(app): add the destination");
	/* the agent installs a relative destination relative to its own
	 * working directory: refused, saying why */
	parse_err(HEAD "files:\n  - source: app\n    destination: var/www\n",
		  "appspec.yml:5:18: 'files[0].destination' must be an "
		  "absolute path (var/www): the agent would install it "
		  "relative to its own working directory "
		  "(/opt/codedeploy-agent, or / under systemd), not to the "
		  "bundle or the application");
	parse_err(HEAD "files:\n  - source: ../etc\n    destination: /x\n",
		  "appspec.yml:4:13: 'files[0].source' must stay inside the "
		  "bundle (../etc)");
	parse_err(HEAD "files:\n  - source: a\n    destination: /var/../etc\n",
		  "appspec.yml:5:18: 'files[0].destination' must not contain "
		  "'..' (/var/../etc)");
	parse_err(HEAD "files:\n  source: a\n",
		  "appspec.yml:4:3: 'files' must be a sequence, not a mapping");
	parse_err(HEAD "files:\n  - a\n",
		  "appspec.yml:4:5: 'files[0]' must be a mapping with 'source' "
		  "and 'destination', not a scalar");
	parse_err(HEAD "files:\n  - source: [a]\n    destination: /x\n",
		  "appspec.yml:4:13: 'files[0].source' must be a string, not a "
		  "sequence");
	parse_err(HEAD "files:\n  - source: \"a\\0b\"\n    destination: /x\n",
		  "appspec.yml:4:13: 'files[0].source' must not contain a NUL "
		  "character");
}

static void test_appspec__file_exists_behavior(void **state)
{
	static const char *const names[] = { "DISALLOW", "OVERWRITE",
					     "RETAIN" };
	struct appspec a;
	char text[128];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(text, sizeof(text), HEAD "file_exists_behavior: %s\n",
			 names[i]);
		parse_ok(&a, text);
		assert_int_equal(a.file_exists_behavior, (int)i + 1);
		assert_string_equal(appspec_feb_name(a.file_exists_behavior),
				    names[i]);
		appspec_release(&a);
	}
	assert_null(appspec_feb_name(APPSPEC_FEB_UNSET));
	parse_ok(&a, HEAD "file_exists_behavior:\n");
	assert_int_equal(a.file_exists_behavior, APPSPEC_FEB_UNSET);
	appspec_release(&a);
	parse_err(HEAD "file_exists_behavior: overwrite\n",
		  "appspec.yml:3:23: an invalid option was specified for "
		  "file_exists_behavior: overwrite (valid options are "
		  "DISALLOW, OVERWRITE and RETAIN)");
	parse_err_has(HEAD "file_exists_behavior: [RETAIN]\n",
		      "file_exists_behavior: sequence");

	/* per file: the agent never reads it there */
	parse_ok(&a, HEAD "files:\n  - source: a\n    destination: /x\n"
			  "    file_exists_behavior: OVERWRITE\n");
	assert_int_equal(a.file_exists_behavior, APPSPEC_FEB_UNSET);
	assert_true(has_warning(&a, "appspec.yml:6:5: 'file_exists_behavior' "
				    "in 'files[0]' ignored: it is a top-level "
				    "key that applies to all files"));
	appspec_release(&a);
}

static void test_appspec__permissions(void **state)
{
	struct appspec a;
	const struct appspec_permission *p;

	(void)state;
	parse_ok(&a, HEAD "permissions:\n"
			  "  - object: /var/www/html/\n"
			  "    pattern: \"*.php\"\n"
			  "    except: [index.php, \"a*.php\"]\n"
			  "    owner: www-data\n"
			  "    group: web\n"
			  "    mode: 0644\n"
			  "    acls:\n"
			  "      - u:bob:rw\n"
			  "      - d:g:dev:r-x\n"
			  "      - m::6\n"
			  "      - default:user::rwx\n"
			  "    context:\n"
			  "      name: system_u\n"
			  "      type: httpd_sys_content_t\n"
			  "      range: s0-s1:c0.c3,c7\n"
			  "    type: [file]\n"
			  "  - object: /opt/app\n");
	assert_int_equal(a.nr_permissions, 2);
	p = &a.permissions[0];
	assert_string_equal(p->object, "/var/www/html");
	assert_string_equal(p->pattern, "*.php");
	assert_int_equal(p->except.nr, 2);
	assert_string_equal(p->except.v[1], "a*.php");
	assert_string_equal(p->owner, "www-data");
	assert_string_equal(p->group, "web");
	assert_int_equal(p->mode, 0644);
	assert_int_equal(p->acls.nr, 4);
	assert_string_equal(p->acls.v[0], "u:bob:rw");
	assert_true(p->has_context);
	assert_string_equal(p->context_user, "system_u");
	assert_string_equal(p->context_type, "httpd_sys_content_t");
	assert_string_equal(p->context_range, "s0-s1:c0.c3,c7");
	assert_int_equal(p->types, APPSPEC_TYPE_FILE);
	assert_int_equal(p->line, 4);

	/* defaults */
	p = &a.permissions[1];
	assert_string_equal(p->object, "/opt/app");
	assert_string_equal(p->pattern, "**");
	assert_int_equal(p->except.nr, 0);
	assert_null(p->owner);
	assert_null(p->group);
	assert_int_equal(p->mode, -1);
	assert_int_equal(p->acls.nr, 0);
	assert_false(p->has_context);
	assert_null(p->context_user);
	assert_int_equal(p->types, APPSPEC_TYPE_FILE | APPSPEC_TYPE_DIRECTORY);
	assert_int_equal(a.warnings.nr, 0);
	appspec_release(&a);

	/* the docs' key for the SELinux user, and a lone type */
	parse_ok(&a, HEAD "permissions:\n  - object: /a\n"
			  "    context: {user: u, type: t}\n"
			  "    type: directory\n");
	assert_string_equal(a.permissions[0].context_user, "u");
	assert_null(a.permissions[0].context_range);
	assert_int_equal(a.permissions[0].types, APPSPEC_TYPE_DIRECTORY);
	appspec_release(&a);
}

static void test_appspec__mode(void **state)
{
	static const struct {
		const char *text;
		int mode;
	} good[] = { { "0644", 0644 },	{ "644", 0644 },   { "\"0644\"", 0644 },
		     { "'755'", 0755 }, { "4755", 04755 }, { "0400", 0400 },
		     { "000", 0 },	{ "7777", 07777 } };
	struct appspec a;
	char text[160];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		snprintf(text, sizeof(text),
			 HEAD "permissions:\n  - object: /a\n    mode: %s\n",
			 good[i].text);
		parse_ok(&a, text);
		assert_int_equal(a.permissions[0].mode, good[i].mode);
		assert_int_equal(a.warnings.nr, 0);
		appspec_release(&a);
	}
	/* short modes are padded, as the agent does, with a warning */
	parse_ok(&a, HEAD "permissions:\n  - object: /a\n    mode: 44\n");
	assert_int_equal(a.permissions[0].mode, 044);
	assert_true(has_warning(&a, "appspec.yml:5:11: 'permissions[0].mode' "
				    "44 is taken as 0044 (padded with zeros)"));
	appspec_release(&a);

	parse_err(HEAD "permissions:\n  - object: /a\n    mode: 00644\n",
		  "appspec.yml:5:11: the length of a permissions mode (00644) "
		  "is invalid: permissions modes must be between one and four "
		  "characters long");
	parse_err(HEAD "permissions:\n  - object: /a\n    mode: 0648\n",
		  "appspec.yml:5:11: the permissions mode (0648) contains an "
		  "invalid character (8)");
	parse_err_has(HEAD "permissions:\n  - object: /a\n    mode: rw\n",
		      "contains an invalid character (r)");
	parse_err_has(HEAD "permissions:\n  - object: /a\n    mode: -644\n",
		      "invalid character (-)");
	parse_err_has(HEAD "permissions:\n  - object: /a\n    mode: [6]\n",
		      "'permissions[0].mode' must be octal digits, not a "
		      "sequence");
}

static void test_appspec__permissions_errors(void **state)
{
	(void)state;
	parse_err(HEAD "permissions:\n  - owner: root\n",
		  "appspec.yml:4:5: 'permissions[0]' has no object value: a "
		  "permission needs the path it applies to");
	parse_err(HEAD "permissions:\n  - object:\n",
		  "appspec.yml:4:5: 'permissions[0]' has no object value: a "
		  "permission needs the path it applies to");
	parse_err(HEAD "permissions:\n  - object: var/www\n",
		  "appspec.yml:4:13: 'permissions[0].object' must be an "
		  "absolute path (var/www)");
	parse_err(HEAD "permissions:\n  - object: /var/../etc\n",
		  "appspec.yml:4:13: 'permissions[0].object' must not contain "
		  "'..' (/var/../etc)");
	parse_err(HEAD "permissions: {object: /a}\n",
		  "appspec.yml:3:14: 'permissions' must be a sequence, not a "
		  "mapping");
	parse_err(HEAD "permissions:\n  - /a\n",
		  "appspec.yml:4:5: 'permissions[0]' must be a mapping, not a "
		  "scalar");
	parse_err(HEAD "permissions:\n  - object: /a\n    type: [file, link]\n",
		  "appspec.yml:5:11: a permission for an object type not "
		  "supported for permissions (link): 'permissions[0].type' "
		  "takes file and directory");
	parse_err(HEAD "permissions:\n  - object: /a\n    type: []\n",
		  "appspec.yml:5:11: 'permissions[0].type' must name file, "
		  "directory or both");
	parse_err(HEAD "permissions:\n  - object: /a\n    owner: ''\n",
		  "appspec.yml:4:5: 'permissions[0]' has an empty owner or "
		  "group");
	parse_err(HEAD "permissions:\n  - object: /a\n    except: {a: 1}\n",
		  "appspec.yml:5:13: 'permissions[0].except' must be a "
		  "sequence");
	parse_err(HEAD "permissions:\n  - object: /a\n    group: [a]\n",
		  "appspec.yml:5:12: 'permissions[0].group' must be a string, "
		  "not a sequence");
}

static void test_appspec__acls(void **state)
{
	static const char *const good[] = {
		"u:bob:rwx", "user:bob:7", "g:dev:r--",	    "group:dev:-",
		"bob:rw",    "d:u:bob:r",  "default:g:x:",  "d:u::rwx",
		"m::rw",     "mask::r",	   "d:o::r",	    "u:mask:r",
		"d:m::rx",   "u:other:rw", "default:u:a:0",
	};
	static const struct {
		const char *acl, *msg;
	} bad[] = {
		{ "rw", "invalid acl entry (rw)" },
		{ "a:b:c:d:e", "invalid acl entry (a:b:c:d:e)" },
		{ "x:u:bob:r", "invalid acl entry (x:u:bob:r)" },
		{ "d:d:bob:r", "invalid acl entry (d:d:bob:r)" },
		{ "z:bob:r", "invalid acl entry (z:bob:r)" },
		{ "m:bob:r", "invalid acl entry (m:bob:r)" },
		{ "o:bob:r", "invalid acl entry (o:bob:r)" },
		{ "u::rw", "use mode to set the base acl entry (u::rw)" },
		{ "g::r", "use mode to set the base acl entry (g::r)" },
		{ "o::r", "use mode to set the base acl entry (o::r)" },
		{ "u:bob:rwz", "the access control list (ACL) entry u:bob:rwz "
			       "contains an invalid character (z)" },
		{ "u:bob:8", "contains an invalid character (8)" },
		{ "u:bob:77", "contains an invalid character (7)" },
	};
	struct appspec a;
	char text[200];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		snprintf(text, sizeof(text),
			 HEAD
			 "permissions:\n  - object: /a\n    acls: ['%s']\n",
			 good[i]);
		parse_ok(&a, text);
		assert_string_equal(a.permissions[0].acls.v[0], good[i]);
		appspec_release(&a);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(text, sizeof(text),
			 HEAD
			 "permissions:\n  - object: /a\n    acls: ['%s']\n",
			 bad[i].acl);
		parse_err_has(text, bad[i].msg);
		parse_err_has(text, "appspec.yml:5:12: ");
	}
	/* a single entry is a list of one */
	parse_ok(&a, HEAD "permissions:\n  - object: /a\n    acls: u:x:r\n");
	assert_int_equal(a.permissions[0].acls.nr, 1);
	appspec_release(&a);
}

static void test_appspec__context(void **state)
{
	static const char *const good[] = { "s0",	   "s0-s15",
					    "s0:c0",	   "s0:c0.c1023",
					    "s1-s2:c1,c3", "s0:c0.c2,c5.c7" };
	static const char *const bad[] = {
		"",	    "x0",	"s",	       "s0-",
		"s2-s1",    "s0:",	"s0:c",	       "s0:c1024",
		"s0:c2.c1", "s0:c1,c1", "s0:c0.c3,c2", "s0:x1",
		"s0:c1,",   "s-1",	"s0:c1.c2.c3"
	};
	struct appspec a;
	char text[200];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		snprintf(text, sizeof(text),
			 HEAD "permissions:\n  - object: /a\n"
			      "    context: {type: t, range: '%s'}\n",
			 good[i]);
		parse_ok(&a, text);
		assert_string_equal(a.permissions[0].context_range, good[i]);
		appspec_release(&a);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(text, sizeof(text),
			 HEAD "permissions:\n  - object: /a\n"
			      "    context: {type: t, range: '%s'}\n",
			 bad[i]);
		parse_err_has(text,
			      strstr(bad[i], "c1,c1") || strstr(bad[i], "c3,c2")
				      ? "duplicate categories"
				      : "problem with the SELinux range");
	}
	parse_err(HEAD "permissions:\n  - object: /a\n    context: {name: u}\n",
		  "appspec.yml:5:5: 'permissions[0].context' specifies an "
		  "invalid context type: 'type' is required");
	parse_err(HEAD "permissions:\n  - object: /a\n"
		       "    context: {name: u, user: v, type: t}\n",
		  "appspec.yml:5:24: 'permissions[0].context' has both 'name' "
		  "and 'user' (the SELinux user; give one)");
	parse_err(HEAD "permissions:\n  - object: /a\n    context: t\n",
		  "appspec.yml:5:14: 'permissions[0].context' must be a "
		  "mapping, not a scalar");
}

static void test_appspec__hooks(void **state)
{
	struct appspec a;
	const struct appspec_hook *h;

	(void)state;
	parse_ok(&a, HEAD "hooks:\n"
			  "  BeforeInstall:\n"
			  "    - location: scripts/install_dependencies\n"
			  "      timeout: 300\n"
			  "      runas: root\n"
			  "    - location: \"  /scripts//prepare.sh  \"\n"
			  "  AfterInstall:\n"
			  "    - location: scripts/a.sh\n"
			  "      sudo: true\n"
			  "      runas: '  '\n"
			  "  ApplicationStart:\n"
			  "  ValidateService: ~\n");
	h = &a.hooks[APPSPEC_BEFORE_INSTALL];
	assert_true(h->present);
	assert_int_equal(h->line, 4);
	assert_int_equal(h->nr, 2);
	assert_string_equal(h->scripts[0].location,
			    "scripts/install_dependencies");
	assert_int_equal(h->scripts[0].timeout, 300);
	assert_string_equal(h->scripts[0].runas, "root");
	assert_false(h->scripts[0].sudo);
	/* kept as written: the agent shows it so (resolved the same) */
	assert_string_equal(h->scripts[1].location, "/scripts//prepare.sh");
	assert_int_equal(h->scripts[1].timeout, APPSPEC_DEFAULT_TIMEOUT);
	assert_null(h->scripts[1].runas);
	assert_int_equal(h->scripts[1].line, 8);
	h = &a.hooks[APPSPEC_AFTER_INSTALL];
	assert_int_equal(h->nr, 1);
	assert_true(h->scripts[0].sudo);
	assert_null(h->scripts[0].runas);
	assert_true(a.hooks[APPSPEC_APPLICATION_START].present);
	assert_int_equal(a.hooks[APPSPEC_APPLICATION_START].nr, 0);
	assert_true(a.hooks[APPSPEC_VALIDATE_SERVICE].present);
	assert_false(a.hooks[APPSPEC_APPLICATION_STOP].present);
	assert_int_equal(appspec_nr_hooks(&a), 2);
	assert_true(has_warning(&a, "appspec.yml:8:17: "
				    "'hooks.BeforeInstall[1].location' is "
				    "taken relative to the bundle root, as the "
				    "agent does (/scripts//prepare.sh)"));
	assert_int_equal(a.warnings.nr, 1);
	appspec_release(&a);
}

static void test_appspec__every_scriptable_event(void **state)
{
	struct appspec a;
	struct buf b = BUF_INIT;
	int n = 0;

	(void)state;
	buf_addstr(&b, HEAD "hooks:\n");
	for (int ev = 0; ev < APPSPEC_NEVENTS; ev++) {
		if (!appspec_event_scriptable(ev))
			continue;
		buf_addf(&b, "  %s:\n    - location: s/%d.sh\n",
			 appspec_event_name(ev), ev);
		n++;
	}
	assert_int_equal(n, 9);
	parse_ok(&a, buf_cstr(&b));
	assert_int_equal(appspec_nr_hooks(&a), 9);
	assert_string_equal(
		a.hooks[APPSPEC_AFTER_ALLOW_TRAFFIC].scripts[0].location,
		"s/13.sh");
	appspec_release(&a);
	buf_release(&b);
}

static void test_appspec__event_names(void **state)
{
	enum appspec_event ev;

	(void)state;
	assert_string_equal(appspec_event_name(APPSPEC_START), "Start");
	assert_string_equal(appspec_event_name(APPSPEC_APPLICATION_STOP),
			    "ApplicationStop");
	assert_string_equal(appspec_event_name(APPSPEC_END), "End");
	assert_string_equal(appspec_event_name(APPSPEC_NEVENTS), "Unknown");
	assert_int_equal(appspec_event_from_name("ValidateService", &ev), 0);
	assert_int_equal(ev, APPSPEC_VALIDATE_SERVICE);
	assert_int_equal(appspec_event_from_name("Install", &ev), 0);
	assert_int_equal(ev, APPSPEC_INSTALL);
	assert_int_equal(appspec_event_from_name("validateservice", &ev), -1);
	assert_int_equal(appspec_event_from_name("", &ev), -1);
	for (int i = 0; i < APPSPEC_NEVENTS; i++) {
		assert_int_equal(
			appspec_event_from_name(appspec_event_name(i), &ev), 0);
		assert_int_equal(ev, i);
	}
	assert_false(appspec_event_scriptable(APPSPEC_START));
	assert_false(appspec_event_scriptable(APPSPEC_DOWNLOAD_BUNDLE));
	assert_false(appspec_event_scriptable(APPSPEC_INSTALL));
	assert_false(appspec_event_scriptable(APPSPEC_BLOCK_TRAFFIC));
	assert_false(appspec_event_scriptable(APPSPEC_ALLOW_TRAFFIC));
	assert_false(appspec_event_scriptable(APPSPEC_END));
	assert_false(appspec_event_scriptable(APPSPEC_NEVENTS));
	assert_true(appspec_event_scriptable(APPSPEC_BEFORE_BLOCK_TRAFFIC));
	/* the run order of an in-place deployment */
	assert_true(APPSPEC_AFTER_BLOCK_TRAFFIC < APPSPEC_APPLICATION_STOP);
	assert_true(APPSPEC_APPLICATION_STOP < APPSPEC_DOWNLOAD_BUNDLE);
	assert_true(APPSPEC_VALIDATE_SERVICE < APPSPEC_BEFORE_ALLOW_TRAFFIC);
}

static void test_appspec__hooks_errors(void **state)
{
	(void)state;
	parse_err(HEAD "hooks:\n  AfterInstal:\n    - location: a\n"
		       "  Bogus: ~\n",
		  "appspec.yml:4:3: appspec.yml file contains unknown "
		  "lifecycle events: [AfterInstal, Bogus] (scriptable: "
		  "ApplicationStop, BeforeInstall, AfterInstall, "
		  "ApplicationStart, ValidateService, BeforeBlockTraffic, "
		  "AfterBlockTraffic, BeforeAllowTraffic, AfterAllowTraffic)");
	/* a long list of unknown names is cut short */
	parse_err_has(HEAD "hooks: {e1: ~, e2: ~, e3: ~, e4: ~, e5: ~, e6: ~, "
			   "e7: ~, e8: ~, e9: ~, e10: ~}\n",
		      "unknown lifecycle events: [e1, e2, e3, e4, e5, e6, e7, "
		      "e8, ...] (scriptable:");
	parse_err(HEAD "hooks:\n  Install:\n    - location: a\n",
		  "appspec.yml:4:3: lifecycle event 'Install' is reserved for "
		  "CodeDeploy and cannot run scripts");
	parse_err_has(HEAD "hooks:\n  DownloadBundle: ~\n", "'DownloadBundle' "
							    "is reserved");
	parse_err_has(HEAD "hooks:\n  AllowTraffic: ~\n", "'AllowTraffic' is "
							  "reserved");
	parse_err_has(HEAD "hooks:\n  BlockTraffic: ~\n", "'BlockTraffic' is "
							  "reserved");
	parse_err_has(HEAD "hooks:\n  Start: ~\n", "'Start' is reserved");
	parse_err(HEAD "hooks:\n  AfterInstall: scripts/a.sh\n",
		  "appspec.yml:4:17: 'hooks.AfterInstall' must be a sequence "
		  "of scripts (- location: ...), not a scalar");
	parse_err(HEAD "hooks:\n  AfterInstall:\n    - scripts/a.sh\n",
		  "appspec.yml:5:7: a script in 'hooks.AfterInstall' must be a "
		  "mapping with 'location', not a scalar");
	parse_err(HEAD "hooks:\n  AfterInstall:\n    - timeout: 30\n",
		  "appspec.yml:5:7: 'hooks.AfterInstall[0]' specifies a script "
		  "with no location value");
	parse_err(HEAD "hooks:\n  AfterInstall:\n    - location: '   '\n",
		  "appspec.yml:5:17: 'hooks.AfterInstall[0]' specifies a "
		  "script with no location value");
	parse_err(HEAD "hooks:\n  AfterInstall:\n    - location: ../x.sh\n",
		  "appspec.yml:5:17: 'hooks.AfterInstall[0].location' must "
		  "stay inside the bundle (../x.sh)");
	parse_err(HEAD "hooks:\n  AfterInstall:\n    - location: /\n",
		  "appspec.yml:5:17: 'hooks.AfterInstall[0].location' must "
		  "name a script in the bundle (/)");
	parse_err(HEAD "hooks: [AfterInstall]\n",
		  "appspec.yml:3:8: 'hooks' must be a mapping of lifecycle "
		  "events to scripts, not a sequence");
	parse_err(HEAD "hooks:\n  AfterInstall:\n    - location: a\n"
		       "      sudo: maybe\n",
		  "appspec.yml:6:13: 'hooks.AfterInstall[0].sudo' must be a "
		  "boolean (true or false)");
	parse_err(HEAD "hooks:\n  AfterInstall:\n    - location: a\n"
		       "      runas: [a]\n",
		  "appspec.yml:6:14: 'hooks.AfterInstall[0].runas' must be a "
		  "string, not a sequence");
}

static void test_appspec__timeouts(void **state)
{
	static const char *const bad[] = { "0",		"-5",
					   "0.5",	"abc",
					   "''",	"99999999999999999999",
					   "\"0s\"",	".inf",
					   "!!str 0x10" };
	struct appspec a;
	char text[200];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(text, sizeof(text),
			 HEAD "hooks:\n  AfterInstall:\n    - location: a\n"
			      "      timeout: %s\n",
			 bad[i]);
		parse_err_has(text, "an invalid timeout value");
		parse_err_has(text, "appspec.yml:6:16: ");
	}
	parse_err(HEAD "hooks:\n  AfterInstall:\n    - location: a\n"
		       "      timeout: [1]\n",
		  "appspec.yml:6:16: an invalid timeout value was provided for "
		  "a script in 'hooks.AfterInstall[0]': a number of seconds, "
		  "not a sequence");
	parse_ok(&a, HEAD "hooks:\n  AfterInstall:\n    - location: a\n"
			  "      timeout: \"+60\"\n    - location: b\n"
			  "      timeout:\n");
	assert_int_equal(a.hooks[APPSPEC_AFTER_INSTALL].scripts[0].timeout, 60);
	assert_int_equal(a.hooks[APPSPEC_AFTER_INSTALL].scripts[1].timeout,
			 APPSPEC_DEFAULT_TIMEOUT);
	assert_int_equal(a.warnings.nr, 0);
	appspec_release(&a);

	parse_err(HEAD "hooks:\n  AfterInstall:\n    - location: a\n"
		       "      timeout: yes\n",
		  "appspec.yml:6:16: an invalid timeout value (yes) was "
		  "provided for a script in 'hooks.AfterInstall[0]': a number "
		  "of seconds, not a boolean");

	/* more than the service's hour: accepted, as the agent does */
	parse_ok(&a, HEAD "hooks:\n  AfterInstall:\n    - location: a\n"
			  "      timeout: 7200\n");
	assert_int_equal(a.hooks[APPSPEC_AFTER_INSTALL].scripts[0].timeout,
			 7200);
	assert_true(has_warning(&a, "appspec.yml:6:16: 'hooks.AfterInstall[0]' "
				    "timeout 7200 is more than 3600 seconds: "
				    "the service fails an event that runs "
				    "longer"));
	appspec_release(&a);
	parse_ok(&a, HEAD "hooks:\n  AfterInstall:\n    - location: a\n"
			  "      timeout: 2000\n    - location: b\n"
			  "      timeout: 2000\n");
	assert_true(has_warning(&a, "appspec.yml:4:3: the timeouts of "
				    "'hooks.AfterInstall' add up to 4000 "
				    "seconds: the service fails an event that "
				    "runs longer than 3600"));
	appspec_release(&a);
}

/* What the agent's `timeout.to_i` makes of a value, and the warning. */
static void timeout_is(const char *text, unsigned want, bool warns)
{
	struct appspec a;
	char yml[200];

	snprintf(yml, sizeof(yml),
		 HEAD "hooks:\n  AfterInstall:\n    - location: a\n"
		      "      timeout: %s\n",
		 text);
	parse_ok(&a, yml);
	if (a.hooks[APPSPEC_AFTER_INSTALL].scripts[0].timeout != want)
		fail_msg("timeout: %s is %u, want %u", text,
			 a.hooks[APPSPEC_AFTER_INSTALL].scripts[0].timeout,
			 want);
	if (warns != (a.warnings.nr == 1 &&
		      strstr(a.warnings.v[0], "as the agent reads it (Ruby's "
					      "to_i)")))
		fail_msg("timeout: %s: %zu warnings, want %s", text,
			 a.warnings.nr, warns ? "one" : "none");
	appspec_release(&a);
}

static void test_appspec__timeout_written_as_the_agent_reads_it(void **state)
{
	(void)state;
	/* appspecs in the wild: "30s" as a duration, 2.5 as a fraction;
	 * the agent's to_i makes them 30 and 2 seconds */
	timeout_is("\"30s\"", 30, true);
	timeout_is("30s", 30, true);
	timeout_is("2.5", 2, true);
	timeout_is("'300'", 300, false);
	timeout_is("\" 45 \"", 45, true);
	timeout_is("1e3", 1, true); /* a string to YAML 1.1: "1e3".to_i */
	timeout_is("1.0e+3", 1000, true);
	timeout_is("1_000", 1000, true);
	timeout_is("030", 24, true); /* YAML 1.1 octal */
	timeout_is("0x3c", 60, true);
	timeout_is("1:30", 90, true); /* base 60 */
	timeout_is("3.", 3, true);
	timeout_is("+60", 60, false);
	timeout_is("60", 60, false);

	/* "5m" meant five minutes; the agent runs the hook for 5 seconds:
	 * accepted as the agent does, and the warning says what to write */
	timeout_is("5m", 5, true);
	{
		struct appspec a;

		parse_ok(&a, HEAD "hooks:\n  AfterInstall:\n    - location: a\n"
				  "      timeout: \"5m\"\n");
		assert_true(has_warning(
			&a, "appspec.yml:6:16: timeout \"5m\" in "
			    "'hooks.AfterInstall[0]' is read as 5 seconds, as "
			    "the agent reads it (Ruby's to_i), not 5 minutes: "
			    "write 300 for that"));
		appspec_release(&a);
	}
}

static void test_appspec__unknown_keys_suggest(void **state)
{
	struct appspec a;

	(void)state;
	parse_ok(&a, HEAD "fiels:\n  - source: a\n    destination: /b\n"
			  "hooks:\n  AfterInstall:\n    - location: a\n"
			  "      timout: 5\n");
	assert_true(has_warning(&a, "appspec.yml:3:1: unknown key 'fiels' "
				    "ignored (did you mean 'files'?)"));
	assert_true(has_warning(&a, "appspec.yml:9:7: unknown key 'timout' "
				    "ignored (did you mean 'timeout'?)"));
	assert_int_equal(a.warnings.nr, 2);
	assert_int_equal(a.unknown_keys.nr, 2);
	appspec_release(&a);
}

static void test_appspec__unknown_keys_warn(void **state)
{
	struct appspec a;

	(void)state;
	parse_ok(&a, HEAD "Hooks:\n  AfterInstall: x\n"
			  "extra: 1\n"
			  "files:\n  - source: a\n    destination: /b\n"
			  "    Source: c\n"
			  "permissions:\n  - object: /b\n    recursive: yes\n"
			  "    context: {type: t, role: r}\n"
			  "hooks:\n  AfterInstall:\n    - location: a\n"
			  "      Timeout: 5\n");
	assert_true(has_warning(&a, "appspec.yml:3:1: unknown key 'Hooks' "
				    "ignored (keys are case-sensitive: did "
				    "you mean 'hooks'?)"));
	assert_true(has_warning(
		&a, "appspec.yml:5:1: unknown key 'extra' ignored"));
	assert_true(has_warning(&a, "appspec.yml:9:5: unknown key 'Source' "
				    "ignored (keys are case-sensitive: did "
				    "you mean 'source'?)"));
	assert_true(has_warning(
		&a, "appspec.yml:12:5: unknown key 'recursive' ignored"));
	assert_true(has_warning(
		&a, "appspec.yml:13:24: unknown key 'role' ignored"));
	assert_true(has_warning(&a, "appspec.yml:17:7: unknown key 'Timeout' "
				    "ignored (keys are case-sensitive: did "
				    "you mean 'timeout'?)"));
	assert_int_equal(a.warnings.nr, 6);
	assert_int_equal(a.hooks[APPSPEC_AFTER_INSTALL].scripts[0].timeout,
			 APPSPEC_DEFAULT_TIMEOUT);
	appspec_release(&a);
}

static void test_appspec__yaml_features(void **state)
{
	struct appspec a;

	(void)state;
	/* anchors, aliases and merge keys, as real appspecs use them */
	parse_ok(&a,
		 HEAD "x-script: &s {location: scripts/a.sh, timeout: 60}\n"
		      "hooks:\n"
		      "  AfterInstall:\n    - *s\n"
		      "  ApplicationStart:\n    - <<: *s\n      timeout: 5\n");
	assert_int_equal(a.hooks[APPSPEC_AFTER_INSTALL].scripts[0].timeout, 60);
	assert_int_equal(a.hooks[APPSPEC_APPLICATION_START].scripts[0].timeout,
			 5);
	assert_string_equal(
		a.hooks[APPSPEC_APPLICATION_START].scripts[0].location,
		"scripts/a.sh");
	assert_int_equal(a.warnings.nr, 1); /* x-script */
	appspec_release(&a);
	/* a flow-style appspec (JSON is YAML) */
	parse_ok(&a, "{\"version\": 0.0, \"os\": \"linux\", \"files\": "
		     "[{\"source\": \"/\", \"destination\": \"/srv\"}]}");
	assert_int_equal(a.nr_files, 1);
	appspec_release(&a);
	parse_err_has("version: 0.0\nos: linux\nhooks:\n  a: &a [*a]\n",
		      "appspec.yml:4:");
}

static void test_appspec__load_file(void **state)
{
	char dir[] = "/tmp/test_appspec.XXXXXX";
	struct appspec a = APPSPEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *path = NULL, *p;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));

	/* none there */
	assert_int_equal(appspec_find(dir, &path, &e), -1);
	assert_int_equal(e.code, ERR_SPEC);
	assert_non_null(strstr(e.msg, "did not find an AppSpec file within "
				      "the unpacked revision directory"));
	assert_null(path);
	err_clear(&e);

	/* a directory named appspec.yml does not count */
	p = fs_join(dir, "appspec.yml");
	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(appspec_find(dir, &path, &e), -1);
	assert_int_equal(e.code, ERR_SPEC);
	err_clear(&e);
	assert_int_equal(rmdir(p), 0);
	free(p);

	/* appspec.yaml alone */
	p = fs_join(dir, "appspec.yaml");
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(HEAD "hooks:\n  AfterInstall:\n    - location: a.sh\n", f);
	fclose(f);
	assert_int_equal(appspec_find(dir, &path, &e), 0);
	assert_string_equal(path, p);
	assert_int_equal(appspec_load(path, &a, &e), 0);
	assert_string_equal(a.file, p);
	assert_int_equal(appspec_nr_hooks(&a), 1);
	appspec_release(&a);
	free(path);

	/* both: appspec.yml wins */
	free(p);
	p = fs_join(dir, "appspec.yml");
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("version: 0.0\nos: windows\n", f);
	fclose(f);
	assert_int_equal(appspec_find(dir, &path, &e), 0);
	assert_string_equal(path, p);
	assert_int_equal(appspec_load(path, &a, &e), -1);
	assert_int_equal(e.code, ERR_SPEC);
	assert_non_null(strstr(e.msg, ":2:5: unsupported operating system "
				      "(windows)"));
	assert_null(a.file);
	assert_int_equal(strncmp(e.msg, p, strlen(p)), 0);
	err_clear(&e);
	free(path);
	assert_int_equal(unlink(p), 0);
	free(p);
	p = fs_join(dir, "appspec.yaml");
	assert_int_equal(unlink(p), 0);
	free(p);

	/* a missing file and a missing directory are system errors */
	p = fs_join(dir, "nope.yml");
	assert_int_equal(appspec_load(p, &a, &e), -1);
	assert_int_not_equal(e.code, 0);
	err_clear(&e);
	assert_int_equal(appspec_find(p, &path, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_null(path);
	err_clear(&e);
	free(p);

	/* a file is no bundle directory */
	p = fs_join(dir, "file");
	f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(appspec_find(p, &path, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_null(path);
	err_clear(&e);
	assert_int_equal(unlink(p), 0);
	free(p);
	assert_int_equal(rmdir(dir), 0);
}

/*
 * Paths the host cannot name are refused where they are written: a
 * component over NAME_MAX, a path of PATH_MAX bytes or more. At the
 * bounds they pass.
 */
static void test_appspec__path_limits(void **state)
{
	struct appspec a = APPSPEC_INIT;
	struct buf y = BUF_INIT, name = BUF_INIT, path = BUF_INIT;

	(void)state;
	for (int i = 0; i < NAME_MAX; i++)
		buf_addch(&name, 'n');
	/* 1365 times "/dd": 4095 bytes, the longest PATH_MAX allows */
	buf_addstr(&path, "/dd");
	for (int i = 0; i < 1364; i++)
		buf_addstr(&path, "/dd");
	assert_int_equal(path.len, PATH_MAX - 1);

	buf_addf(&y, HEAD "files:\n  - source: %s\n    destination: %s\n",
		 name.ptr, path.ptr);
	buf_addf(&y, "  - source: app\n    destination: /x/%s\n", name.ptr);
	buf_addf(&y, "permissions:\n  - object: %s\n", path.ptr);
	buf_addf(&y, "hooks:\n  AfterInstall:\n    - location: %s\n", name.ptr);
	parse_ok(&a, y.ptr);
	assert_int_equal(a.nr_files, 2);
	appspec_release(&a);

	buf_clear(&y);
	buf_addf(&y, HEAD "files:\n  - source: app\n    destination: %sd\n",
		 path.ptr);
	parse_err(y.ptr, "appspec.yml:5:18: 'files[0].destination' is 4096 "
			 "bytes long, more than 4095 (PATH_MAX)");
	buf_clear(&y);
	buf_addf(&y, HEAD "files:\n  - source: app/%sn\n    destination: /\n",
		 name.ptr);
	parse_err_has(y.ptr, "appspec.yml:4:13: 'files[0].source' has a "
			     "component of 256 bytes, more than 255 "
			     "(NAME_MAX): nnn");
	buf_clear(&y);
	buf_addf(&y, HEAD "permissions:\n  - object: /%sn\n", name.ptr);
	parse_err_has(y.ptr, "appspec.yml:4:13: 'permissions[0].object' has "
			     "a component of 256 bytes");
	buf_clear(&y);
	buf_addf(&y, HEAD "hooks:\n  AfterInstall:\n    - location: %s\n",
		 path.ptr + 1);
	parse_ok(&a, y.ptr);
	appspec_release(&a);
	buf_clear(&y);
	buf_addf(&y, HEAD "hooks:\n  AfterInstall:\n    - location: a%s\n",
		 path.ptr);
	parse_err(y.ptr, "appspec.yml:5:17: 'hooks.AfterInstall[0].location' "
			 "is 4096 bytes long, more than 4095 (PATH_MAX)");
	buf_release(&y);
	buf_release(&name);
	buf_release(&path);
}

/*
 * One bound on an appspec's size for a file and a buffer (validate and a
 * deployment): over 16 MiB is ERR_SPEC, named as the caller names it.
 */
static void test_appspec__size_bound(void **state)
{
	char dir[] = "/tmp/test_appspec.XXXXXX";
	struct appspec a = APPSPEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	size_t len = YAML_MAX_FILE + 1;
	char *big = xmalloc(len), *p;
	FILE *f;

	(void)state;
	memset(big, '#', len);
	memcpy(big, HEAD, strlen(HEAD));
	big[strlen(HEAD)] = '#';
	assert_int_equal(appspec_parse("appspec.yml", big, len, &a, &e), -1);
	assert_int_equal(e.code, ERR_SPEC);
	assert_string_equal(e.msg, "appspec.yml: file too large (over 16 MiB)");
	err_clear(&e);

	assert_non_null(mkdtemp(dir));
	p = fs_join(dir, "appspec.yml");
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(big, 1, len, f), len);
	fclose(f);
	assert_int_equal(appspec_load_as(p, "bundle.zip: appspec.yml", &a, &e),
			 -1);
	assert_int_equal(e.code, ERR_SPEC);
	assert_string_equal(e.msg, "bundle.zip: appspec.yml: file too large "
				   "(over 16 MiB)");
	err_clear(&e);
	/* at the bound, it is read (and its one line is a comment) */
	assert_int_equal(truncate(p, YAML_MAX_FILE), 0);
	assert_int_equal(appspec_load_as(p, "x/appspec.yml", &a, &e), 0);
	assert_string_equal(a.file, "x/appspec.yml");
	appspec_release(&a);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(rmdir(dir), 0);
	free(p);
	free(big);
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

static void test_appspec__good_fixtures(void **state)
{
	DIR *d = opendir(FIXTURES "/good-appspecs");
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		struct appspec a;
		struct sw_err e = SW_ERR_INIT;
		char *path;

		if (de->d_name[0] == '.')
			continue;
		path = fs_join(FIXTURES "/good-appspecs", de->d_name);
		if (appspec_load(path, &a, &e) < 0)
			fail_msg("%s: %s", path, e.msg);
		assert_string_equal(a.os, "linux");
		appspec_release(&a);
		free(path);
		n++;
	}
	closedir(d);
	assert_true(n >= 8);
}

static void test_appspec__bad_fixtures(void **state)
{
	DIR *d = opendir(FIXTURES "/bad-appspecs");
	struct dirent *de;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		struct appspec a;
		struct sw_err e = SW_ERR_INIT;
		char *path, *data = NULL, expect[256];
		size_t len = 0;

		if (de->d_name[0] == '.')
			continue;
		path = fs_join(FIXTURES "/bad-appspecs", de->d_name);
		assert_int_equal(fs_read_file(path, 1 << 24, &data, &len, &e),
				 0);
		first_line_expect(data, len, expect, sizeof(expect));
		if (!expect[0])
			fail_msg("%s: no '# expect:' line", path);
		if (appspec_parse(path, data, len, &a, &e) == 0)
			fail_msg("%s: parsed", path);
		assert_int_equal(e.code, ERR_SPEC);
		if (!strstr(e.msg, expect))
			fail_msg("%s: '%s' not in '%s'", path, expect, e.msg);
		if (strncmp(e.msg, path, strlen(path)) ||
		    e.msg[strlen(path)] != ':')
			fail_msg("%s: error does not name it: %s", path, e.msg);
		assert_null(a.file);
		free(data);
		free(path);
		n++;
	}
	closedir(d);
	assert_true(n >= 30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_appspec__minimal),
		cmocka_unit_test(test_appspec__version_forms),
		cmocka_unit_test(test_appspec__os),
		cmocka_unit_test(test_appspec__empty_and_not_a_map),
		cmocka_unit_test(
			test_appspec__duplicate_key_keeps_the_last_as_the_agent),
		cmocka_unit_test(test_appspec__files),
		cmocka_unit_test(test_appspec__files_errors),
		cmocka_unit_test(test_appspec__path_limits),
		cmocka_unit_test(test_appspec__size_bound),
		cmocka_unit_test(test_appspec__file_exists_behavior),
		cmocka_unit_test(test_appspec__permissions),
		cmocka_unit_test(test_appspec__mode),
		cmocka_unit_test(test_appspec__permissions_errors),
		cmocka_unit_test(test_appspec__acls),
		cmocka_unit_test(test_appspec__context),
		cmocka_unit_test(test_appspec__hooks),
		cmocka_unit_test(test_appspec__every_scriptable_event),
		cmocka_unit_test(test_appspec__event_names),
		cmocka_unit_test(test_appspec__hooks_errors),
		cmocka_unit_test(test_appspec__timeouts),
		cmocka_unit_test(
			test_appspec__timeout_written_as_the_agent_reads_it),
		cmocka_unit_test(test_appspec__unknown_keys_warn),
		cmocka_unit_test(test_appspec__unknown_keys_suggest),
		cmocka_unit_test(test_appspec__yaml_features),
		cmocka_unit_test(test_appspec__load_file),
		cmocka_unit_test(test_appspec__good_fixtures),
		cmocka_unit_test(test_appspec__bad_fixtures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
