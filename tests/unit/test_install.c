#include "install.h"

#include <acl/libacl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "appspec.h"
#include "buf.h"
#include "fs.h"
#include "strvec.h"
#include "xalloc.h"

#include "banned.h"

#define HEAD "version: 0.0\nos: linux\n"
#define GROUP "dg-1"

/*
 * Each test gets <tmp>/{root,archive,instr,outside}: root is the host
 * root, archive the unpacked revision, instr the deployment-instructions
 * directory and outside a directory the install must never touch.
 */
struct fixture {
	char dir[64];
	char *root, *archive, *instr, *outside;
	struct strvec notes;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_install.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	f->root = fs_join(f->dir, "root");
	f->archive = fs_join(f->dir, "archive");
	f->instr = fs_join(f->dir, "instr");
	f->outside = fs_join(f->dir, "outside");
	strvec_init(&f->notes);
	if (mkdir(f->root, 0755) < 0 || mkdir(f->archive, 0755) < 0 ||
	    mkdir(f->outside, 0755) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	int ret = fs_remove_tree(f->dir, &e);

	free(f->root);
	free(f->archive);
	free(f->instr);
	free(f->outside);
	strvec_release(&f->notes);
	free(f);
	return ret;
}

static void write_at(const char *path, const char *data, mode_t mode)
{
	char *dir = xstrdup(path);
	struct sw_err e = SW_ERR_INIT;
	int fd;

	*strrchr(dir, '/') = '\0';
	if (fs_mkdir_p(dir, 0755, &e) < 0)
		fail_msg("%s", e.msg);
	free(dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* A file of the revision. */
static void put(struct fixture *f, const char *rel, const char *data,
		mode_t mode)
{
	char *p = fs_join(f->archive, rel);

	write_at(p, data, mode);
	free(p);
}

/* A file on the host, by its host path. */
static void hput(struct fixture *f, const char *host, const char *data)
{
	char *p = fs_join(f->root, host);

	write_at(p, data, 0644);
	free(p);
}

static char *hpath(struct fixture *f, const char *host)
{
	return fs_join(f->root, host);
}

/* The content of a host file, or NULL. */
static char *hread(struct fixture *f, const char *host)
{
	char *p = hpath(f, host);
	struct sw_err e = SW_ERR_INIT;
	char *data = NULL;
	size_t n;

	if (fs_read_file(p, 1 << 20, &data, &n, &e) < 0)
		data = NULL;
	free(p);
	return data;
}

static bool hexists(struct fixture *f, const char *host)
{
	char *p = hpath(f, host);
	bool r = fs_exists(p);

	free(p);
	return r;
}

static mode_t hmode(struct fixture *f, const char *host)
{
	char *p = hpath(f, host);
	struct stat sb;

	assert_int_equal(lstat(p, &sb), 0);
	free(p);
	return sb.st_mode & 07777;
}

static char *instr_file(struct fixture *f, const char *suffix)
{
	char *p = xasprintf("%s/%s%s", f->instr, GROUP, suffix);
	struct sw_err e = SW_ERR_INIT;
	char *data = NULL;
	size_t n;

	if (fs_read_file(p, 1 << 20, &data, &n, &e) < 0)
		data = NULL;
	free(p);
	return data;
}

static void on_note(const char *line, void *data)
{
	struct fixture *f = data;

	strvec_push(&f->notes, line);
}

/* Install with appspec text `yaml` (HEAD prepended); the return value. */
static int run(struct fixture *f, const char *yaml, enum appspec_feb feb,
	       struct install_result *r, struct sw_err *e)
{
	struct appspec a = APPSPEC_INIT;
	struct install_opts o = INSTALL_OPTS_INIT;
	struct sw_err pe = SW_ERR_INIT;
	char *text = xasprintf("%s%s", HEAD, yaml);
	int ret;

	if (appspec_parse("appspec.yml", text, strlen(text), &a, &pe) < 0)
		fail_msg("appspec: %s", pe.msg);
	o.spec = &a;
	o.archive_dir = f->archive;
	o.host_root = f->root;
	o.instructions_dir = f->instr;
	o.group_id = GROUP;
	o.feb = feb;
	o.note = on_note;
	o.note_data = f;
	ret = install_run(&o, r, e);
	appspec_release(&a);
	free(text);
	return ret;
}

static void run_ok(struct fixture *f, const char *yaml, enum appspec_feb feb,
		   struct install_result *r)
{
	struct sw_err e = SW_ERR_INIT;

	if (run(f, yaml, feb, r, &e) < 0)
		fail_msg("install: %s", e.msg);
}

static void run_fail(struct fixture *f, const char *yaml, enum appspec_feb feb,
		     const char *msg)
{
	struct install_result r = INSTALL_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(run(f, yaml, feb, &r, &e), -1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_string_equal(e.msg, msg);
}

static bool dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = true;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

#define WWW_SPEC                                                               \
	"files:\n"                                                             \
	"  - source: app\n"                                                    \
	"    destination: /target/www\n"                                       \
	"  - source: conf/single.conf\n"                                       \
	"    destination: /target/etc\n"

static void make_app(struct fixture *f)
{
	put(f, "appspec.yml", "version: 0.0\n", 0644);
	put(f, "app/index.html", "<h1>v1</h1>\n", 0644);
	put(f, "app/about.html", "about\n", 0644);
	put(f, "app/css/site.css", "body{}\n", 0644);
	put(f, "conf/single.conf", "k=v\n", 0600);
}

static size_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	size_t n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_install__first_install(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;
	size_t nfd;
	char *s;

	make_app(f);
	nfd = count_fds();
	run_ok(f, WWW_SPEC, APPSPEC_FEB_UNSET, &r);
	/* every descriptor opened is closed */
	assert_int_equal(count_fds(), nfd);
	s = hread(f, "/target/www/index.html");
	assert_string_equal(s, "<h1>v1</h1>\n");
	free(s);
	s = hread(f, "/target/www/css/site.css");
	assert_string_equal(s, "body{}\n");
	free(s);
	/* a file source lands at destination/basename */
	s = hread(f, "/target/etc/single.conf");
	assert_string_equal(s, "k=v\n");
	free(s);
	assert_int_equal(hmode(f, "/target/etc/single.conf"), 0600);
	assert_false(hexists(f, "/target/www/app"));
	assert_int_equal(r.copied, 4);
	/* /target, /target/www, /target/www/css, /target/etc */
	assert_int_equal(r.mkdirs, 4);
	assert_int_equal(r.removed, 0);
	assert_true(dir_empty(f->outside));
}

static void test_install__ancestors_recorded_in_order(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;
	char *s;

	make_app(f);
	run_ok(f, WWW_SPEC, APPSPEC_FEB_UNSET, &r);
	s = instr_file(f, "-cleanup");
	assert_non_null(s);
	assert_string_equal(s, "/target\n"
			       "/target/www\n"
			       "/target/www/about.html\n"
			       "/target/www/css\n"
			       "/target/www/css/site.css\n"
			       "/target/www/index.html\n"
			       "/target/etc\n"
			       "/target/etc/single.conf\n");
	free(s);
}

static void test_install__previous_removed_in_reverse(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;
	char *s;

	make_app(f);
	run_ok(f, WWW_SPEC, APPSPEC_FEB_UNSET, &r);
	hput(f, "/target/www/stray.txt", "mine\n");
	/* the second revision has no css/ and no conf */
	{
		char *p = fs_join(f->archive, "app/css/site.css");

		assert_int_equal(unlink(p), 0);
		free(p);
		p = fs_join(f->archive, "app/css");
		assert_int_equal(rmdir(p), 0);
		free(p);
	}
	put(f, "app/index.html", "<h1>v2</h1>\n", 0644);
	run_ok(f,
	       "files:\n"
	       "  - source: app\n"
	       "    destination: /target/www\n",
	       APPSPEC_FEB_UNSET, &r);
	/* files before their directories: css/ could be removed */
	assert_false(hexists(f, "/target/www/css"));
	assert_false(hexists(f, "/target/etc"));
	/* 4 files + css + etc; www and /target kept (stray file) */
	assert_int_equal(r.removed, 6);
	assert_int_equal(r.kept, 2);
	s = hread(f, "/target/www/index.html");
	assert_string_equal(s, "<h1>v2</h1>\n");
	free(s);
	s = hread(f, "/target/www/stray.txt");
	assert_string_equal(s, "mine\n");
	free(s);
	/* www exists now, so it is not recorded again */
	s = instr_file(f, "-cleanup");
	assert_string_equal(s, "/target/www/about.html\n"
			       "/target/www/index.html\n");
	free(s);
}

static void test_install__disallow_after_removal(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;
	char *s;

	make_app(f);
	run_ok(f, WWW_SPEC, APPSPEC_FEB_UNSET, &r);
	hput(f, "/target/www/new.html", "stray\n");
	put(f, "app/new.html", "new\n", 0644);
	run_fail(f, WWW_SPEC, APPSPEC_FEB_UNSET,
		 "The deployment failed because a specified file already "
		 "exists at this location: /target/www/new.html");
	/* the previous install is gone, no cleanup file is left */
	assert_false(hexists(f, "/target/www/index.html"));
	assert_false(hexists(f, "/target/etc"));
	s = instr_file(f, "-cleanup");
	assert_null(s);
	s = hread(f, "/target/www/new.html");
	assert_string_equal(s, "stray\n");
	free(s);
	/* install.json is still the previous one */
	s = instr_file(f, "-install.json");
	assert_non_null(s);
	assert_null(strstr(s, "new.html"));
	free(s);
}

static void test_install__overwrite_records_stray(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;
	char *s, *out, *link;

	make_app(f);
	hput(f, "/target/www/index.html", "old\n");
	/* a symlink at a target is replaced, never written through */
	out = fs_join(f->outside, "victim");
	write_at(out, "outside\n", 0644);
	link = hpath(f, "/target/www/about.html");
	assert_int_equal(symlink(out, link), 0);
	run_ok(f, WWW_SPEC, APPSPEC_FEB_OVERWRITE, &r);
	s = hread(f, "/target/www/index.html");
	assert_string_equal(s, "<h1>v1</h1>\n");
	free(s);
	{
		struct stat sb;

		assert_int_equal(lstat(link, &sb), 0);
		assert_true(S_ISREG(sb.st_mode));
	}
	s = hread(f, "/target/www/about.html");
	assert_string_equal(s, "about\n");
	free(s);
	{
		struct sw_err e = SW_ERR_INIT;
		size_t n;

		assert_int_equal(fs_read_file(out, 100, &s, &n, &e), 0);
		assert_string_equal(s, "outside\n");
		free(s);
	}
	assert_int_equal(r.overwritten, 2);
	s = instr_file(f, "-cleanup");
	assert_non_null(strstr(s, "/target/www/index.html\n"));
	assert_non_null(strstr(s, "/target/www/about.html\n"));
	/* existing directories are never recorded */
	assert_null(strstr(s, "/target\n"));
	assert_null(strstr(s, "/target/www\n"));
	free(s);
	free(out);
	free(link);
}

static void test_install__retain_not_recorded(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;
	char *s;

	make_app(f);
	hput(f, "/target/www/index.html", "old\n");
	run_ok(f, WWW_SPEC, APPSPEC_FEB_RETAIN, &r);
	s = hread(f, "/target/www/index.html");
	assert_string_equal(s, "old\n");
	free(s);
	assert_int_equal(r.retained, 1);
	assert_int_equal(r.copied, 3);
	s = instr_file(f, "-cleanup");
	assert_null(strstr(s, "index.html"));
	assert_non_null(strstr(s, "/target/www/about.html\n"));
	free(s);
}

static void test_install__appspec_feb_wins(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;
	char *s;

	make_app(f);
	hput(f, "/target/www/index.html", "old\n");
	run_ok(f, WWW_SPEC "file_exists_behavior: OVERWRITE\n",
	       APPSPEC_FEB_DISALLOW, &r);
	s = hread(f, "/target/www/index.html");
	assert_string_equal(s, "<h1>v1</h1>\n");
	free(s);
	assert_int_equal(r.overwritten, 1);
	/* an appspec DISALLOW beats an OVERWRITE option too */
	hput(f, "/target/www/new.html", "stray\n");
	put(f, "app/new.html", "new\n", 0644);
	run_fail(f, WWW_SPEC "file_exists_behavior: DISALLOW\n",
		 APPSPEC_FEB_OVERWRITE,
		 "The deployment failed because a specified file already "
		 "exists at this location: /target/www/new.html");
}

static void test_install__two_sources_fail_first(void **state)
{
	struct fixture *f = *state;
	size_t nfd = count_fds();
	char *s;

	put(f, "a/x.txt", "a\n", 0644);
	put(f, "b/x.txt", "b\n", 0644);
	run_fail(f,
		 "files:\n"
		 "  - source: a\n"
		 "    destination: /srv\n"
		 "  - source: b/x.txt\n"
		 "    destination: /srv\n",
		 APPSPEC_FEB_UNSET,
		 "The deployment failed because the application "
		 "specification file specifies two source files named "
		 "b/x.txt and a/x.txt for the same destination (/srv/x.txt)");
	assert_int_equal(count_fds(), nfd);
	assert_true(dir_empty(f->root));
	s = instr_file(f, "-cleanup");
	assert_null(s);
	s = instr_file(f, "-install.json");
	assert_null(s);
}

static void test_install__file_dir_conflicts(void **state)
{
	struct fixture *f = *state;

	put(f, "app/sub/x.txt", "x\n", 0644);
	put(f, "app/f", "f\n", 0644);
	/* a file where a directory must be */
	hput(f, "/srv/sub", "i am a file\n");
	run_fail(f,
		 "files:\n"
		 "  - source: app\n"
		 "    destination: /srv\n",
		 APPSPEC_FEB_OVERWRITE,
		 "The deployment failed because a specified file already "
		 "exists at this location: /srv/sub");
	{
		char *p = hpath(f, "/srv/sub");

		assert_int_equal(unlink(p), 0);
		free(p);
	}
	/* a directory where a file must be */
	{
		char *p = hpath(f, "/srv/f");

		assert_int_equal(mkdir(p, 0755), 0);
		free(p);
	}
	run_fail(f,
		 "files:\n"
		 "  - source: app\n"
		 "    destination: /srv\n",
		 APPSPEC_FEB_OVERWRITE,
		 "cannot install 'app/f' at '/srv/f': a directory is at this "
		 "location");
	assert_false(hexists(f, "/srv/sub"));
}

static void test_install__permissions_patterns(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;

	put(f, "app/index.html", "i\n", 0644);
	put(f, "app/run.sh", "s\n", 0644);
	put(f, "app/sub/deep.html", "d\n", 0644);
	put(f, "app/sub/x.txt", "x\n", 0644);
	put(f, "app2/a.html", "a\n", 0644);
	put(f, "app2/b.txt", "b\n", 0644);
	put(f, "app2/skip.html", "s\n", 0644);
	put(f, "app2/d/c.html", "c\n", 0644);
	put(f, "one.conf", "c\n", 0644);
	run_ok(f,
	       "files:\n"
	       "  - source: app\n"
	       "    destination: /w1\n"
	       "  - source: app2\n"
	       "    destination: /w2\n"
	       "  - source: one.conf\n"
	       "    destination: /etc/app\n"
	       "permissions:\n"
	       "  - object: /w1\n"
	       "    type: [file]\n"
	       "    mode: 600\n"
	       "  - object: /w2\n"
	       "    pattern: \"*.html\"\n"
	       "    except: [skip*]\n"
	       "    mode: 640\n"
	       "  - object: /w2/d\n"
	       "    type: [directory]\n"
	       "    mode: 700\n"
	       "  - object: /etc/app/one.conf\n"
	       "    mode: 400\n",
	       APPSPEC_FEB_UNSET, &r);
	/* "**": every file below, recursively; not directories (type) */
	assert_int_equal(hmode(f, "/w1/index.html"), 0600);
	assert_int_equal(hmode(f, "/w1/sub/deep.html"), 0600);
	assert_int_equal(hmode(f, "/w1/sub/x.txt"), 0600);
	assert_int_not_equal(hmode(f, "/w1/sub"), 0600);
	/* "*.html": immediate children only, except honoured */
	assert_int_equal(hmode(f, "/w2/a.html"), 0640);
	assert_int_equal(hmode(f, "/w2/b.txt"), 0644);
	assert_int_equal(hmode(f, "/w2/skip.html"), 0644);
	assert_int_equal(hmode(f, "/w2/d/c.html"), 0644);
	/* the object itself is never included */
	assert_int_not_equal(hmode(f, "/w2/d"), 0700);
	/* ... unless it is a copied file */
	assert_int_equal(hmode(f, "/etc/app/one.conf"), 0400);
	/* 4 files under /w1, a.html, one.conf */
	assert_int_equal(r.permissions, 6);
}

static void test_install__permissions_errors(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;

	put(f, "app/a.html", "a\n", 0644);
	run_fail(f,
		 "files:\n"
		 "  - source: app\n"
		 "    destination: /w\n"
		 "permissions:\n"
		 "  - object: /w\n"
		 "    mode: 600\n"
		 "  - object: /\n"
		 "    pattern: \"**\"\n"
		 "    type: [file]\n"
		 "    mode: 644\n",
		 APPSPEC_FEB_UNSET,
		 "The deployment failed because the permissions setting for "
		 "(/w/a.html) is specified more than once in the application "
		 "specification file");
	assert_true(dir_empty(f->root));
	run_fail(f,
		 "files:\n"
		 "  - source: app/a.html\n"
		 "    destination: /w\n"
		 "permissions:\n"
		 "  - object: /w/a.html\n"
		 "    pattern: \"*.html\"\n"
		 "    mode: 600\n",
		 APPSPEC_FEB_UNSET,
		 "The deployment failed because the application "
		 "specification file includes an object (/w/a.html) with an "
		 "invalid pattern (*.html), such as a pattern for a file "
		 "applied to a directory");
	/* an unknown owner fails the plan: nothing is written */
	assert_int_equal(run(f,
			     "files:\n"
			     "  - source: app\n"
			     "    destination: /w\n"
			     "permissions:\n"
			     "  - object: /w\n"
			     "    owner: no-such-user-here\n",
			     APPSPEC_FEB_UNSET, &r, &e),
			 -1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_non_null(strstr(e.msg, "no-such-user-here"));
	assert_non_null(strstr(e.msg, "/w/a.html"));
	assert_true(dir_empty(f->root));
}

static void test_install__chown(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;
	struct stat sb;
	char *p;

	if (geteuid() != 0)
		skip();
	put(f, "app/a.html", "a\n", 0644);
	put(f, "app/d/b.html", "b\n", 0644);
	run_ok(f,
	       "files:\n"
	       "  - source: app\n"
	       "    destination: /w\n"
	       "permissions:\n"
	       "  - object: /w\n"
	       "    owner: nobody\n"
	       "    group: nogroup\n"
	       "    mode: 4755\n",
	       APPSPEC_FEB_UNSET, &r);
	p = hpath(f, "/w/d/b.html");
	assert_int_equal(lstat(p, &sb), 0);
	assert_int_equal(sb.st_uid, 65534);
	assert_int_equal(sb.st_gid, 65534);
	/* the setuid bit survives the chown that follows the chmod */
	assert_int_equal(sb.st_mode & 07777, 04755);
	free(p);
	p = hpath(f, "/w/d");
	assert_int_equal(lstat(p, &sb), 0);
	assert_int_equal(sb.st_uid, 65534);
	free(p);
	/* chmod, chown for 3 objects */
	assert_int_equal(r.permissions, 6);
}

static void test_install__mode_mtime_symlink(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;
	struct timespec ts[2] = { { 1000000000, 0 }, { 1234567890, 5000 } };
	char buf[64];
	struct stat sb;
	char *p;
	ssize_t n;

	put(f, "app/run.sh", "#!/bin/sh\n", 0750);
	p = fs_join(f->archive, "app/run.sh");
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	free(p);
	p = fs_join(f->archive, "app/latest");
	assert_int_equal(symlink("run.sh", p), 0);
	free(p);
	p = fs_join(f->archive, "app/dirlink");
	assert_int_equal(symlink("/etc", p), 0);
	free(p);
	run_ok(f,
	       "files:\n"
	       "  - source: app\n"
	       "    destination: /opt/app\n",
	       APPSPEC_FEB_UNSET, &r);
	p = hpath(f, "/opt/app/run.sh");
	assert_int_equal(lstat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0750);
	assert_int_equal(sb.st_mtim.tv_sec, 1234567890);
	assert_int_equal(sb.st_mtim.tv_nsec, 5000);
	free(p);
	p = hpath(f, "/opt/app/latest");
	n = readlink(p, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "run.sh");
	free(p);
	/* a link to a directory is a link too */
	p = hpath(f, "/opt/app/dirlink");
	assert_int_equal(lstat(p, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	free(p);
	assert_int_equal(r.copied, 3);
}

static void test_install__symlink_outside_root(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *p, *probe, *line;

	put(f, "app/index.html", "i\n", 0644);
	/* var -> an absolute directory outside the host root */
	p = hpath(f, "/var");
	assert_int_equal(symlink(f->outside, p), 0);
	free(p);
	assert_int_equal(run(f,
			     "files:\n"
			     "  - source: app\n"
			     "    destination: /var/www\n",
			     APPSPEC_FEB_UNSET, &r, &e),
			 -1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_string_equal(e.msg, "The deployment failed because a "
				   "specified file already exists at this "
				   "location: /var");
	assert_true(dir_empty(f->outside));

	/* a relative link climbing out stops at the root */
	p = hpath(f, "/up");
	assert_int_equal(symlink("../../../../../../..", p), 0);
	free(p);
	run_ok(f,
	       "files:\n"
	       "  - source: app\n"
	       "    destination: /up/esc\n",
	       APPSPEC_FEB_UNSET, &r);
	assert_true(hexists(f, "/esc/index.html"));
	assert_true(dir_empty(f->outside));

	/* www -> /etc: that is the host's /etc, under the root */
	p = hpath(f, "/etc");
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = hpath(f, "/srv");
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	p = hpath(f, "/srv/www");
	assert_int_equal(symlink("/etc", p), 0);
	free(p);
	put(f, "app/slipway-install-test-marker", "m\n", 0644);
	run_ok(f,
	       "files:\n"
	       "  - source: app\n"
	       "    destination: /srv/www\n",
	       APPSPEC_FEB_UNSET, &r);
	assert_true(hexists(f, "/etc/slipway-install-test-marker"));
	assert_false(fs_exists("/etc/slipway-install-test-marker"));
	assert_true(dir_empty(f->outside));

	/* a cleanup entry naming a path outside is resolved inside */
	probe = fs_join(f->outside, "probe");
	write_at(probe, "v\n", 0644);
	p = xasprintf("%s/%s-cleanup", f->instr, GROUP);
	line = xasprintf("%s\n", probe);
	write_at(p, line, 0644);
	free(p);
	free(line);
	run_ok(f, "files: []\n", APPSPEC_FEB_UNSET, &r);
	assert_true(fs_exists(probe));
	free(probe);
}

static void test_install__torn_cleanup_line(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;
	char *p;

	hput(f, "/a", "a");
	hput(f, "/d/b", "b");
	hput(f, "/d/c", "c");
	p = xasprintf("%s/%s-cleanup", f->instr, GROUP);
	write_at(p, "/d\n/a\n/d/b\n\n/missing\n/d/c", 0644);
	run_ok(f, "files: []\n", APPSPEC_FEB_UNSET, &r);
	assert_false(hexists(f, "/a"));
	assert_false(hexists(f, "/d/b"));
	assert_true(hexists(f, "/d/c"));
	assert_true(hexists(f, "/d"));
	assert_int_equal(r.removed, 2);
	assert_int_equal(r.kept, 1);
	/* the old file is gone, the new one is empty */
	free(p);
	p = instr_file(f, "-cleanup");
	assert_string_equal(p, "");
	free(p);
}

static json_object *nth(json_object *arr, size_t i)
{
	return json_object_array_get_idx(arr, i);
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

static void test_install__install_json(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;
	json_object *root, *arr, *o, *acl, *ctx;
	char *s, *src;

	put(f, "app/a.html", "a\n", 0644);
	put(f, "app/d/b.html", "b\n", 0644);
	run_ok(f,
	       "files:\n"
	       "  - source: app\n"
	       "    destination: /w\n"
	       "permissions:\n"
	       "  - object: /w\n"
	       "    pattern: \"*.html\"\n"
	       "    mode: 644\n"
	       "    acls: [\"u:nobody:rw\"]\n"
	       "    context: {name: system_u, type: httpd_sys_content_t}\n"
	       "    owner: root\n",
	       APPSPEC_FEB_UNSET, &r);
	s = instr_file(f, "-install.json");
	assert_non_null(s);
	root = json_tokener_parse(s);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "instructions", &arr));
	assert_int_equal(json_object_array_length(arr), 8);
	o = nth(arr, 0);
	assert_string_equal(jstr(o, "type"), "mkdir");
	assert_string_equal(jstr(o, "directory"), "/w");
	o = nth(arr, 1);
	assert_string_equal(jstr(o, "type"), "copy");
	src = fs_join(f->archive, "app/a.html");
	assert_string_equal(jstr(o, "source"), src);
	free(src);
	assert_string_equal(jstr(o, "destination"), "/w/a.html");
	assert_string_equal(jstr(nth(arr, 2), "directory"), "/w/d");
	assert_string_equal(jstr(nth(arr, 3), "destination"), "/w/d/b.html");
	o = nth(arr, 4);
	assert_string_equal(jstr(o, "type"), "chmod");
	assert_string_equal(jstr(o, "mode"), "0644");
	assert_string_equal(jstr(o, "file"), "/w/a.html");
	o = nth(arr, 5);
	assert_string_equal(jstr(o, "type"), "setfacl");
	assert_true(json_object_object_get_ex(o, "acl", &acl));
	assert_string_equal(json_object_get_string(nth(acl, 0)), "u:nobody:rw");
	o = nth(arr, 6);
	assert_string_equal(jstr(o, "type"), "semanage");
	assert_true(json_object_object_get_ex(o, "context", &ctx));
	assert_string_equal(jstr(ctx, "type"), "httpd_sys_content_t");
	assert_string_equal(jstr(ctx, "user"), "system_u");
	assert_null(jstr(ctx, "range"));
	o = nth(arr, 7);
	assert_string_equal(jstr(o, "type"), "chown");
	assert_string_equal(jstr(o, "owner"), "root");
	assert_null(jstr(o, "group"));
	assert_string_equal(jstr(o, "file"), "/w/a.html");
	/* no escaped slashes, as the agent writes it */
	assert_null(strstr(s, "\\/"));
	json_object_put(root);
	free(s);
	if (access("/sys/fs/selinux/enforce", F_OK) != 0) {
		assert_int_equal(f->notes.nr, 1);
		assert_string_equal(f->notes.v[0],
				    "selinux is not enabled on this host: "
				    "context for /w/a.html skipped");
	}
}

static void test_install__acls(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;
	acl_t acl;
	char *p, *text;

	put(f, "app/a.html", "a\n", 0640);
	put(f, "app/d/b.html", "b\n", 0644);
	run_ok(f,
	       "files:\n"
	       "  - source: app\n"
	       "    destination: /w\n"
	       "permissions:\n"
	       "  - object: /w\n"
	       "    type: [file]\n"
	       "    pattern: \"*.html\"\n"
	       "    acls: [\"u:nobody:rw\"]\n"
	       "  - object: /w\n"
	       "    type: [directory]\n"
	       "    acls: [\"g:nogroup:rx\", \"d:u:nobody:r\"]\n",
	       APPSPEC_FEB_UNSET, &r);
	p = hpath(f, "/w/a.html");
	acl = acl_get_file(p, ACL_TYPE_ACCESS);
	assert_non_null(acl);
	text = acl_to_any_text(acl, NULL, ',', 0);
	assert_string_equal(text,
			    "user::rw-,user:nobody:rw-,group::r--,mask::rw-,"
			    "other::---");
	acl_free(text);
	acl_free(acl);
	free(p);
	p = hpath(f, "/w/d");
	acl = acl_get_file(p, ACL_TYPE_DEFAULT);
	assert_non_null(acl);
	text = acl_to_any_text(acl, NULL, ',', 0);
	assert_string_equal(text, "user::rwx,user:nobody:r--,group::r-x,"
				  "mask::r-x,other::r-x");
	acl_free(text);
	acl_free(acl);
	acl = acl_get_file(p, ACL_TYPE_ACCESS);
	text = acl_to_any_text(acl, NULL, ',', 0);
	assert_non_null(strstr(text, "group:nogroup:r-x"));
	acl_free(text);
	acl_free(acl);
	free(p);
	assert_int_equal(r.permissions, 2);

	/* a default entry on a copied file is refused, before writing */
	run_fail(f,
		 "files:\n"
		 "  - source: app\n"
		 "    destination: /w\n"
		 "permissions:\n"
		 "  - object: /w\n"
		 "    acls: [\"d:u:nobody:r\"]\n",
		 APPSPEC_FEB_UNSET,
		 "The deployment failed because the -d parameter has been "
		 "specified to apply an acl setting to a file (/w/a.html). "
		 "This parameter is supported for directories only");
	assert_true(dir_empty(f->root));
}

/*
 * Many entries, users and groups interleaved out of order, some written
 * twice: the ACL holds one entry per user and group, sorted, each with
 * the permissions written last (as with setfacl -m), the base entries
 * and the mask as for one entry.
 */
static void test_install__acls_many(void **state)
{
	struct fixture *f = *state;
	struct install_result r = INSTALL_RESULT_INIT;
	struct buf spec = BUF_INIT, want = BUF_INIT;
	const unsigned n = 150;
	acl_t acl;
	char *p, *text;

	put(f, "app/a.html", "a\n", 0640);
	buf_addstr(&spec, "files:\n"
			  "  - source: app\n"
			  "    destination: /w\n"
			  "permissions:\n"
			  "  - object: /w/a.html\n"
			  "    acls:\n");
	for (unsigned i = 0; i < n; i++) {
		/* 0, 149, 1, 148, ...: never in order */
		unsigned id = 70000 + (i % 2 ? n - 1 - i / 2 : i / 2);

		buf_addf(&spec, "      - u:%u:r\n      - g:%u:x\n", id, id);
		if (i % 3 == 0)
			buf_addf(&spec, "      - u:%u:rw\n", id);
	}
	run_ok(f, spec.ptr, APPSPEC_FEB_UNSET, &r);

	buf_addstr(&want, "user::rw-");
	for (unsigned id = 70000; id < 70000 + n; id++) {
		unsigned i = id - 70000 < (n + 1) / 2
				     ? 2 * (id - 70000)
				     : 2 * (n - 1 - (id - 70000)) + 1;

		buf_addf(&want, ",user:%u:%s", id, i % 3 ? "r--" : "rw-");
	}
	buf_addstr(&want, ",group::r--");
	for (unsigned id = 70000; id < 70000 + n; id++)
		buf_addf(&want, ",group:%u:--x", id);
	buf_addstr(&want, ",mask::rwx,other::---");

	p = hpath(f, "/w/a.html");
	acl = acl_get_file(p, ACL_TYPE_ACCESS);
	assert_non_null(acl);
	text = acl_to_any_text(acl, NULL, ',', TEXT_NUMERIC_IDS);
	assert_string_equal(text, want.ptr);
	acl_free(text);
	acl_free(acl);
	free(p);
	buf_release(&spec);
	buf_release(&want);
}

static void test_install__cleanup_parse(void **state)
{
	static const char data[] = "/a\n"
				   "\n"
				   "semanage\0/var/www\n"
				   "/b c\n"
				   "/torn";
	struct strvec v = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;

	(void)state;
	assert_int_equal(install_cleanup_parse(data, sizeof(data) - 1, &v, &e),
			 0);
	assert_int_equal(v.nr, 3);
	assert_string_equal(v.v[0], "/a");
	assert_string_equal(v.v[1], "semanage:/var/www");
	assert_string_equal(v.v[2], "/b c");
	strvec_release(&v);

	strvec_init(&v);
	assert_int_equal(install_cleanup_parse("", 0, &v, &e), 0);
	assert_int_equal(v.nr, 0);
	assert_int_equal(install_cleanup_parse("/a\nrel\n", 7, &v, &e), -1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_string_equal(e.msg,
			    "cleanup file line 2 is not an absolute path");
	assert_int_equal(v.nr, 0);
	err_clear(&e);
	assert_int_equal(install_cleanup_parse("semanage\0rel\n", 13, &v, &e),
			 -1);
	strvec_release(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name)                                                                \
	cmocka_unit_test_setup_teardown(test_install__##name, setup, teardown)
		T(first_install),
		T(ancestors_recorded_in_order),
		T(previous_removed_in_reverse),
		T(disallow_after_removal),
		T(overwrite_records_stray),
		T(retain_not_recorded),
		T(appspec_feb_wins),
		T(two_sources_fail_first),
		T(file_dir_conflicts),
		T(permissions_patterns),
		T(permissions_errors),
		T(chown),
		T(mode_mtime_symlink),
		T(symlink_outside_root),
		T(torn_cleanup_line),
		T(install_json),
		T(acls),
		T(acls_many),
		T(cleanup_parse),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
