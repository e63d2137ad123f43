#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "bundle.h"
#include "fs.h"
#include "xalloc.h"

#include "banned.h"

/*
 * Each test gets <tmp>/{in,out,sentinel}: bundles are made under in/, the
 * destination is out/d/deployment-archive, and after a refusal nothing but
 * an empty out/d may exist besides in/ and an empty sentinel/.
 */
struct fixture {
	char dir[64];
	char *in, *out, *dest, *sentinel;
};

enum fmt { F_ZIP, F_TAR, F_TGZ };

/* One archive entry: type 0 is a regular file with `data`. */
struct ent {
	const char *name;
	mode_t type;
	const char *data; /* file content, or a symlink's target */
	const char *hardlink;
	mode_t perm;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_bundle.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	f->in = fs_join(f->dir, "in");
	f->out = fs_join(f->dir, "out");
	f->sentinel = fs_join(f->dir, "sentinel");
	f->dest = fs_join(f->dir, "out/d/deployment-archive");
	if (mkdir(f->in, 0755) < 0 || mkdir(f->out, 0755) < 0 ||
	    mkdir(f->sentinel, 0755) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	int ret = fs_remove_tree(f->dir, &e);

	free(f->in);
	free(f->out);
	free(f->sentinel);
	free(f->dest);
	free(f);
	return ret;
}

static char *in_path(struct fixture *f, const char *name)
{
	return fs_join(f->in, name);
}

static void make_archive(const char *path, enum fmt fmt, const struct ent *ents,
			 size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	size_t i;

	assert_non_null(a);
	if (fmt == F_ZIP) {
		assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	} else {
		assert_int_equal(archive_write_set_format_pax_restricted(a),
				 ARCHIVE_OK);
		if (fmt == F_TGZ)
			assert_int_equal(archive_write_add_filter_gzip(a),
					 ARCHIVE_OK);
	}
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		const struct ent *x = &ents[i];
		mode_t type = x->type ? x->type : AE_IFREG;
		size_t len = x->data && type == AE_IFREG ? strlen(x->data) : 0;

		archive_entry_clear(ae);
		archive_entry_set_pathname(ae, x->name);
		archive_entry_set_filetype(ae, type);
		archive_entry_set_perm(ae, x->perm	      ? x->perm
					   : type == AE_IFDIR ? 0755
							      : 0644);
		archive_entry_set_mtime(ae, 1500000000 + (time_t)i, 0);
		if (type == AE_IFLNK)
			archive_entry_set_symlink(ae, x->data);
		if (type == AE_IFCHR)
			archive_entry_set_rdev(ae, makedev(1, 3));
		if (x->hardlink)
			archive_entry_set_hardlink(ae, x->hardlink);
		if (type == AE_IFREG && !x->hardlink)
			archive_entry_set_size(ae, (la_int64_t)len);
		assert_true(archive_write_header(a, ae) >= ARCHIVE_WARN);
		if (len)
			assert_int_equal(archive_write_data(a, x->data, len),
					 (la_ssize_t)len);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	archive_entry_free(ae);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static char *read_text(const char *path)
{
	struct sw_err e = SW_ERR_INIT;
	char *data;
	size_t len;

	assert_int_equal(fs_read_file(path, 1 << 20, &data, &len, &e), 0);
	return data;
}

static void assert_dest_file(struct fixture *f, const char *rel,
			     const char *text)
{
	char *p = fs_join(f->dest, rel), *got = read_text(p);

	assert_string_equal(got, text);
	free(got);
	free(p);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* The refusal left nothing behind: no dest, no temp, nothing outside. */
static void assert_clean(struct fixture *f)
{
	char *d = fs_join(f->out, "d");

	assert_false(fs_exists(f->dest));
	assert_int_equal(count_entries(d), 0);
	assert_true(count_entries(f->out) <= 1);
	assert_int_equal(count_entries(f->sentinel), 0);
	assert_int_equal(count_entries(f->dir), 3);
	free(d);
}

/* Unpack that must be refused with code; msg must appear in the error. */
static void refuse(struct fixture *f, const char *bundle,
		   const struct bundle_opts *o, int code, const char *msg)
{
	struct bundle_info info = BUNDLE_INFO_INIT;
	struct sw_err e = SW_ERR_INIT;

	if (bundle_unpack(bundle, f->dest, o, &info, &e) == 0)
		fail_msg("'%s' was not refused", bundle);
	if (e.code != code || !strstr(e.msg, msg))
		fail_msg("want %d '%s', got %d '%s'", code, msg, e.code, e.msg);
	assert_null(strchr(e.msg, '\n'));
	assert_null(info.appspec);
	assert_null(info.wrapper);
	assert_clean(f);
}

static void refuse_archive(struct fixture *f, enum fmt fmt,
			   const struct ent *ents, size_t n, const char *msg)
{
	char *p = in_path(f, fmt == F_ZIP ? "b.zip" : "b.tar");

	make_archive(p, fmt, ents, n);
	refuse(f, p, NULL, ERR_SPEC, msg);
	free(p);
}

static const struct ent basic[] = {
	{ "appspec.yml", 0, "version: 0.0\nos: linux\n", NULL, 0 },
	{ "scripts/", AE_IFDIR, NULL, NULL, 0750 },
	{ "scripts/start.sh", 0, "#!/bin/sh\necho hi\n", NULL, 0755 },
	{ "web/index.html", 0, "<p>hi</p>\n", NULL, 0 },
};

static void unpack_ok(struct fixture *f, const char *bundle,
		      struct bundle_info *info)
{
	struct sw_err e = SW_ERR_INIT;

	if (bundle_unpack(bundle, f->dest, NULL, info, &e) < 0)
		fail_msg("unpack: %s", e.msg);
	assert_int_equal(e.code, 0);
}

static void check_basic(struct fixture *f, const struct bundle_info *info)
{
	char *p = fs_join(f->dest, "scripts/start.sh"), *want;
	struct stat st;

	assert_dest_file(f, "appspec.yml", "version: 0.0\nos: linux\n");
	assert_dest_file(f, "scripts/start.sh", "#!/bin/sh\necho hi\n");
	assert_dest_file(f, "web/index.html", "<p>hi</p>\n");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(st.st_mtime, 1500000002);
	free(p);
	p = fs_join(f->dest, "scripts");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_mtime, 1500000001);
	free(p);
	p = fs_join(f->dest, "web");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	free(p);
	assert_int_equal(stat(f->dest, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	want = fs_join(f->dest, "appspec.yml");
	assert_string_equal(info->appspec, want);
	free(want);
	assert_false(info->hoisted);
	assert_null(info->wrapper);
	/* web/, implied by web/index.html, is not an entry. */
	assert_int_equal(info->entries, 4);
	assert_int_equal(info->bytes, 23 + 18 + 10);
	/* Only the deployment archive was left beside it. */
	p = fs_join(f->out, "d");
	assert_int_equal(count_entries(p), 1);
	free(p);
}

static void test_each_format(struct fixture *f, enum fmt fmt,
			     enum bundle_kind want, const char *name)
{
	struct bundle_info info = BUNDLE_INFO_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *p = in_path(f, name);
	enum bundle_kind kind;

	make_archive(p, fmt, basic, ARRAY_SIZE(basic));
	assert_int_equal(bundle_detect(p, &kind, &e), 0);
	assert_int_equal(kind, want);
	unpack_ok(f, p, &info);
	assert_int_equal(info.kind, want);
	check_basic(f, &info);
	bundle_info_release(&info);
	assert_null(info.appspec);
	free(p);
}

static void test_bundle__zip(void **state)
{
	/* The name says nothing: the content decides. */
	test_each_format(*state, F_ZIP, BUNDLE_ZIP, "bundle.bin");
}

static void test_bundle__tar(void **state)
{
	test_each_format(*state, F_TAR, BUNDLE_TAR, "bundle.zip");
}

static void test_bundle__tgz(void **state)
{
	test_each_format(*state, F_TGZ, BUNDLE_TGZ, "bundle.tgz");
}

static void test_bundle__directory(void **state)
{
	struct fixture *f = *state;
	struct bundle_info info = BUNDLE_INFO_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *src = in_path(f, "src"), *p, *q;
	enum bundle_kind kind;
	struct stat st;

	/* A wrapper directory is not hoisted out of a directory bundle. */
	p = fs_join(src, "app");
	assert_int_equal(fs_mkdir_p(p, 0755, &e), 0);
	q = fs_join(p, "appspec.yml");
	write_file(q, "version: 0.0\n", 13);
	free(q);
	free(p);
	assert_int_equal(bundle_detect(src, &kind, &e), 0);
	assert_int_equal(kind, BUNDLE_DIRECTORY);
	refuse(f, src, NULL, ERR_SPEC, "no appspec.yml at the bundle's root");

	p = fs_join(src, "appspec.yml");
	write_file(p, "version: 0.0\n", 13);
	free(p);
	p = fs_join(src, "link");
	assert_int_equal(symlink("app/appspec.yml", p), 0);
	free(p);
	p = fs_join(src, "app/suid");
	write_file(p, "", 0);
	assert_int_equal(chmod(p, 04755), 0);
	free(p);
	unpack_ok(f, src, &info);
	p = fs_join(f->dest, "app/suid");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	free(p);
	assert_int_equal(info.kind, BUNDLE_DIRECTORY);
	assert_false(info.hoisted);
	assert_int_equal(info.entries, 5);
	assert_int_equal(info.bytes, 26);
	assert_dest_file(f, "app/appspec.yml", "version: 0.0\n");
	assert_dest_file(f, "link", "version: 0.0\n");
	bundle_info_release(&info);
	free(src);
}

static void test_bundle__directory_escaping_link(void **state)
{
	struct fixture *f = *state;
	char *src = in_path(f, "src"), *p;
	struct sw_err e = SW_ERR_INIT;

	assert_int_equal(fs_mkdir_p(src, 0755, &e), 0);
	p = fs_join(src, "appspec.yml");
	write_file(p, "version: 0.0\n", 13);
	free(p);
	p = fs_join(src, "up");
	assert_int_equal(symlink("../../..", p), 0);
	free(p);
	refuse(f, src, NULL, ERR_SPEC, "'up' is a symbolic link to '../../..'");
	free(src);
}

static void test_bundle__hoist(void **state)
{
	struct fixture *f = *state;
	const struct ent ents[] = {
		{ "myapp-1.0/", AE_IFDIR, NULL, NULL, 0700 },
		{ "myapp-1.0/appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "myapp-1.0/bin/run", 0, "run\n", NULL, 0755 },
	};
	struct bundle_info info = BUNDLE_INFO_INIT;
	char *p = in_path(f, "b.tgz"), *want;
	struct stat st;

	make_archive(p, F_TGZ, ents, ARRAY_SIZE(ents));
	unpack_ok(f, p, &info);
	assert_true(info.hoisted);
	assert_string_equal(info.wrapper, "myapp-1.0");
	want = fs_join(f->dest, "appspec.yml");
	assert_string_equal(info.appspec, want);
	free(want);
	assert_dest_file(f, "bin/run", "run\n");
	assert_int_equal(stat(f->dest, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	/* Nothing but the archive was left beside it. */
	want = fs_join(f->out, "d");
	assert_int_equal(count_entries(want), 1);
	free(want);
	bundle_info_release(&info);
	free(p);
}

static void test_bundle__hoist_appspec_yaml_any_case(void **state)
{
	struct fixture *f = *state;
	const struct ent ents[] = {
		{ "w/AppSpec.YAML.txt", 0, "x\n", NULL, 0 },
		{ "w/appspec.yaml", 0, "version: 0.0\n", NULL, 0 },
	};
	struct bundle_info info = BUNDLE_INFO_INIT;
	char *p = in_path(f, "b.zip"), *want;

	make_archive(p, F_ZIP, ents, ARRAY_SIZE(ents));
	unpack_ok(f, p, &info);
	assert_true(info.hoisted);
	want = fs_join(f->dest, "appspec.yaml");
	assert_string_equal(info.appspec, want);
	free(want);
	bundle_info_release(&info);
	free(p);
}

static void test_bundle__no_hoist(void **state)
{
	struct fixture *f = *state;
	const struct ent at_root[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "app/appspec.yml", 0, "inner\n", NULL, 0 },
	};
	const struct ent two_dirs[] = {
		{ "a/appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "b/x", 0, "x\n", NULL, 0 },
	};
	const struct ent dotfile[] = {
		{ "a/appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ ".DS_Store", 0, "x\n", NULL, 0 },
	};
	struct bundle_info info = BUNDLE_INFO_INIT;
	char *p = in_path(f, "b.tar");

	make_archive(p, F_TAR, at_root, ARRAY_SIZE(at_root));
	unpack_ok(f, p, &info);
	assert_false(info.hoisted);
	assert_dest_file(f, "appspec.yml", "version: 0.0\n");
	assert_dest_file(f, "app/appspec.yml", "inner\n");
	bundle_info_release(&info);
	assert_int_equal(fs_remove_tree(f->out, NULL), 0);
	assert_int_equal(mkdir(f->out, 0755), 0);

	make_archive(p, F_TAR, two_dirs, ARRAY_SIZE(two_dirs));
	refuse(f, p, NULL, ERR_SPEC, "no appspec.yml at the bundle's root");
	make_archive(p, F_TAR, dotfile, ARRAY_SIZE(dotfile));
	refuse(f, p, NULL, ERR_SPEC,
	       "did not find an AppSpec file within the unpacked revision "
	       "directory at revision-relative path 'appspec.yml'");
	free(p);
}

static void test_bundle__dot_slash_names(void **state)
{
	struct fixture *f = *state;
	const struct ent ents[] = {
		{ "./", AE_IFDIR, NULL, NULL, 0700 },
		{ "./appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ ".//a/./b", 0, "b\n", NULL, 0 },
		{ "a/b", 0, "b2\n", NULL, 0 }, /* a duplicate replaces */
	};
	struct bundle_info info = BUNDLE_INFO_INIT;
	char *p = in_path(f, "b.tar");

	make_archive(p, F_TAR, ents, ARRAY_SIZE(ents));
	unpack_ok(f, p, &info);
	assert_dest_file(f, "a/b", "b2\n");
	assert_false(info.hoisted);
	bundle_info_release(&info);
	free(p);
}

static void test_bundle__links_inside(void **state)
{
	struct fixture *f = *state;
	const struct ent ents[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "lib/real.so", 0, "elf\n", NULL, 0 },
		{ "lib/cur.so", AE_IFLNK, "real.so", NULL, 0 },
		{ "bin/up", AE_IFLNK, "../lib", NULL, 0 },
		{ "hard", 0, NULL, "lib/real.so", 0 },
	};
	struct bundle_info info = BUNDLE_INFO_INIT;
	char *p = in_path(f, "b.tar"), *a, *b;
	struct stat sa, sb;
	char buf[64];
	ssize_t n;

	make_archive(p, F_TAR, ents, ARRAY_SIZE(ents));
	unpack_ok(f, p, &info);
	assert_dest_file(f, "bin/up/cur.so", "elf\n");
	a = fs_join(f->dest, "lib/cur.so");
	n = readlink(a, buf, sizeof(buf) - 1);
	assert_int_equal(n, 7);
	buf[n] = '\0';
	assert_string_equal(buf, "real.so");
	free(a);
	a = fs_join(f->dest, "lib/real.so");
	b = fs_join(f->dest, "hard");
	assert_int_equal(stat(a, &sa), 0);
	assert_int_equal(stat(b, &sb), 0);
	assert_true(sa.st_ino == sb.st_ino);
	free(a);
	free(b);
	bundle_info_release(&info);
	free(p);
}

static void test_bundle__zip_slip(void **state)
{
	const struct ent ents[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "../evil", 0, "evil\n", NULL, 0 },
	};
	const struct ent deep[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "a/../../../sentinel/x", 0, "evil\n", NULL, 0 },
	};

	refuse_archive(*state, F_ZIP, ents, 2,
		       "entry '../evil' has a '..' component");
	refuse_archive(*state, F_TAR, deep, 2,
		       "entry 'a/../../../sentinel/x' has a '..' component");
}

static void test_bundle__absolute(void **state)
{
	struct fixture *f = *state;
	char *abs = fs_join(f->sentinel, "x");
	const struct ent ents[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ abs, 0, "evil\n", NULL, 0 },
	};
	char want[256];

	snprintf(want, sizeof(want), "entry '%s' is an absolute path", abs);
	refuse_archive(f, F_TAR, ents, 2, want);
	refuse_archive(f, F_ZIP, ents, 2, want);
	free(abs);
}

static void test_bundle__symlink_then_file(void **state)
{
	const struct ent abs[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "link", AE_IFLNK, "/etc", NULL, 0 },
		{ "link/x", 0, "evil\n", NULL, 0 },
	};
	const struct ent rel[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "sub/", AE_IFDIR, NULL, NULL, 0 },
		{ "link", AE_IFLNK, "sub", NULL, 0 },
		{ "link/x", 0, "x\n", NULL, 0 },
	};
	const struct ent file[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "appspec.yml/x", 0, "x\n", NULL, 0 },
	};

	refuse_archive(*state, F_TAR, abs, 3,
		       "entry 'link' is a symbolic link to the absolute path "
		       "'/etc'");
	refuse_archive(*state, F_ZIP, rel, 4,
		       "entry 'link/x' is inside a symbolic link 'link'");
	refuse_archive(*state, F_TAR, file, 2,
		       "entry 'appspec.yml/x' is inside a file 'appspec.yml'");
}

static void test_bundle__symlink_outside(void **state)
{
	const struct ent up[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "a/link", AE_IFLNK, "../../outside", NULL, 0 },
	};
	/* Each link looks inside on its own; followed, they leave. */
	const struct ent chain[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "deep/a", AE_IFLNK, "..", NULL, 0 },
		{ "deep/L", AE_IFLNK, "a/../..", NULL, 0 },
	};
	const struct ent loop[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "a", AE_IFLNK, "b", NULL, 0 },
		{ "b", AE_IFLNK, "a/x", NULL, 0 },
	};

	refuse_archive(*state, F_ZIP, up, 2,
		       "entry 'a/link' is a symbolic link to '../../outside', "
		       "outside the bundle");
	refuse_archive(*state, F_TAR, chain, 3,
		       "entry 'deep/L' is a symbolic link to 'a/../..'");
	refuse_archive(*state, F_TAR, loop, 3,
		       "too many levels of symbolic links");
}

static void test_bundle__hard_links(void **state)
{
	const struct ent etc[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "pw", 0, NULL, "/etc/passwd", 0 },
	};
	const struct ent up[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "x", 0, NULL, "../x", 0 },
	};
	const struct ent later[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "x", 0, NULL, "y", 0 },
		{ "y", 0, "y\n", NULL, 0 },
	};
	const struct ent to_dir[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "d/", AE_IFDIR, NULL, NULL, 0 },
		{ "x", 0, NULL, "d", 0 },
	};

	refuse_archive(*state, F_TAR, etc, 2,
		       "entry 'pw' is a hard link to '/etc/passwd', not an "
		       "earlier file of the bundle");
	refuse_archive(*state, F_TAR, up, 2, "'x' is a hard link to '../x'");
	refuse_archive(*state, F_TAR, later, 3, "'x' is a hard link to 'y'");
	refuse_archive(*state, F_TAR, to_dir, 3, "'x' is a hard link to 'd'");
}

static void test_bundle__special_files(void **state)
{
	const struct ent chr[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "dev/null", AE_IFCHR, NULL, NULL, 0666 },
	};
	const struct ent fifo[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "p", AE_IFIFO, NULL, NULL, 0600 },
	};

	refuse_archive(*state, F_TAR, chr, 2,
		       "entry 'dev/null' is a character device");
	refuse_archive(*state, F_TAR, fifo, 2, "entry 'p' is a fifo");
}

static void test_bundle__type_changes(void **state)
{
	const struct ent dir_then_file[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "www/", AE_IFDIR, NULL, NULL, 0 },
		{ "www", 0, "x\n", NULL, 0 },
	};
	const struct ent implied_then_link[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "www/index.html", 0, "x\n", NULL, 0 },
		{ "www", AE_IFLNK, "appspec.yml", NULL, 0 },
	};

	refuse_archive(*state, F_TAR, dir_then_file, 3,
		       "entry 'www' appears twice, first as a directory, then "
		       "as a file");
	refuse_archive(*state, F_ZIP, implied_then_link, 3,
		       "first as a directory, then as a symbolic link");
}

static void test_bundle__bad_names(void **state)
{
	const struct ent empty[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "", 0, "x\n", NULL, 0 },
	};
	const struct ent ctrl[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "a\nb/../../x", 0, "x\n", NULL, 0 },
	};
	char longname[300];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	const struct ent too_long[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ longname, 0, "x\n", NULL, 0 },
	};

	refuse_archive(*state, F_TAR, empty, 2, "entry 2 has an empty name");
	/* The message stays on one line. */
	refuse_archive(*state, F_TAR, ctrl, 2,
		       "entry 'a\\x0ab/../../x' has a '..' component");
	refuse_archive(*state, F_TAR, too_long, 2, "name too long");
}

static void test_bundle__entry_bound(void **state)
{
	struct fixture *f = *state;
	struct bundle_opts o = BUNDLE_OPTS_INIT;
	struct bundle_info info = BUNDLE_INFO_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct ent ents[12];
	char names[12][16];
	char *p = in_path(f, "b.zip");
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ents); i++) {
		snprintf(names[i], sizeof(names[i]), "f%zu", i);
		ents[i] = (struct ent){ names[i], 0, "x", NULL, 0 };
	}
	ents[0].name = "appspec.yml";
	make_archive(p, F_ZIP, ents, ARRAY_SIZE(ents));
	o.max_entries = 11;
	refuse(f, p, &o, ERR_SPEC, "more than 11 entries");
	o.max_entries = 12;
	assert_int_equal(bundle_unpack(p, f->dest, &o, &info, &e), 0);
	assert_int_equal(info.entries, 12);
	bundle_info_release(&info);
	free(p);
}

static void test_bundle__implied_dirs_count(void **state)
{
	struct fixture *f = *state;
	const struct ent ents[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "a/b/c/d/e/f/g/h/i/j/x", 0, "x", NULL, 0 },
	};
	struct bundle_opts o = BUNDLE_OPTS_INIT;
	char *p = in_path(f, "b.tar");

	make_archive(p, F_TAR, ents, ARRAY_SIZE(ents));
	o.max_entries = 5;
	refuse(f, p, &o, ERR_SPEC, "more than 5 entries");
	free(p);
}

static void test_bundle__size_bound(void **state)
{
	struct fixture *f = *state;
	const struct ent ents[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "big", 0, "0123456789012345678901234567890123456789", NULL,
		  0 },
	};
	struct bundle_opts o = BUNDLE_OPTS_INIT;
	struct bundle_info info = BUNDLE_INFO_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *p = in_path(f, "b.tgz");

	make_archive(p, F_TGZ, ents, ARRAY_SIZE(ents));
	o.max_bytes = 52;
	refuse(f, p, &o, ERR_SPEC,
	       "entry 'big' expands the bundle past 52 bytes "
	       "(--max-bundle-size)");
	o.max_bytes = 53;
	assert_int_equal(bundle_unpack(p, f->dest, &o, &info, &e), 0);
	assert_int_equal(info.bytes, 53);
	bundle_info_release(&info);
	free(p);
}

static void test_bundle__setid(void **state)
{
	struct fixture *f = *state;
	const struct ent ents[] = {
		{ "appspec.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "suid", 0, "x", NULL, 06755 },
		{ "sticky/", AE_IFDIR, NULL, NULL, 01777 },
	};
	struct bundle_opts o = BUNDLE_OPTS_INIT;
	struct bundle_info info = BUNDLE_INFO_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *p = in_path(f, "b.tar"), *q;
	struct stat st;

	make_archive(p, F_TAR, ents, ARRAY_SIZE(ents));
	unpack_ok(f, p, &info);
	q = fs_join(f->dest, "suid");
	assert_int_equal(stat(q, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	free(q);
	q = fs_join(f->dest, "sticky");
	assert_int_equal(stat(q, &st), 0);
	assert_int_equal(st.st_mode & 07777, 01777);
	free(q);
	bundle_info_release(&info);
	assert_int_equal(fs_remove_tree(f->dest, &e), 0);

	o.keep_setid = true;
	assert_int_equal(bundle_unpack(p, f->dest, &o, &info, &e), 0);
	q = fs_join(f->dest, "suid");
	assert_int_equal(stat(q, &st), 0);
	assert_int_equal(st.st_mode & 07777, 06755);
	free(q);
	bundle_info_release(&info);
	free(p);
}

static void damage(const char *path, bool truncate_half)
{
	struct stat st;
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	if (truncate_half) {
		assert_int_equal(ftruncate(fd, st.st_size / 2), 0);
	} else {
		/* Into the first member's data: a CRC or inflate error. */
		assert_int_equal(pwrite(fd, "\xff\xfe\xfd\xfc", 4, 120), 4);
	}
	assert_int_equal(close(fd), 0);
}

static void test_bundle__truncated_and_corrupt(void **state)
{
	struct fixture *f = *state;
	struct ent ents[] = {
		{ "appspec.yml", 0, NULL, NULL, 0 },
		{ "second", 0, "two\n", NULL, 0 },
	};
	char *big = xcalloc(1, 200001), *p;
	size_t i;

	for (i = 0; i < 200000; i++)
		big[i] = (char)('a' + (i * 7919) % 26);
	ents[0].data = big;

	p = in_path(f, "t.tgz");
	make_archive(p, F_TGZ, ents, 2);
	damage(p, true);
	refuse(f, p, NULL, ERR_SPEC, "corrupt");
	free(p);

	p = in_path(f, "t.tar");
	make_archive(p, F_TAR, ents, 2);
	damage(p, true);
	refuse(f, p, NULL, ERR_SPEC, "corrupt");
	free(p);

	p = in_path(f, "t.zip");
	make_archive(p, F_ZIP, ents, 2);
	damage(p, true);
	refuse(f, p, NULL, ERR_SPEC, "");
	free(p);

	p = in_path(f, "c.zip");
	make_archive(p, F_ZIP, ents, 2);
	damage(p, false);
	refuse(f, p, NULL, ERR_SPEC, "corrupt archive at 'appspec.yml'");
	free(p);
	free(big);
}

/* Cut the last n bytes off path. */
static void cut(const char *path, off_t n)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - n), 0);
}

/*
 * A bundle expanding to many times its size is refused, naming the
 * entry that took it past the ratio, in a zip and in a tar.gz; one below
 * the floor is not judged.
 */
static void test_bundle__ratio_bound(void **state)
{
	struct fixture *f = *state;
	struct ent ents[] = {
		{ "appspec.yml", 0, "version: 0.0\nos: linux\n", NULL, 0 },
		{ "fill", 0, NULL, NULL, 0 },
	};
	struct bundle_opts o = BUNDLE_OPTS_INIT;
	struct bundle_info info = BUNDLE_INFO_INIT;
	struct sw_err e = SW_ERR_INIT;
	const size_t big = 2 << 20, small = BUNDLE_RATIO_FLOOR / 2;
	char *fill = xcalloc(1, big + 1), *p;

	memset(fill, 'a', big);
	ents[1].data = fill;
	for (int fmt = F_ZIP; fmt <= F_TGZ; fmt += F_TGZ - F_ZIP) {
		p = in_path(f, fmt == F_ZIP ? "r.zip" : "r.tgz");
		make_archive(p, (enum fmt)fmt, ents, ARRAY_SIZE(ents));
		o.max_ratio = 100;
		refuse(f, p, &o, ERR_SPEC,
		       "entry 'fill' expands the bundle past 100 times its "
		       "size of ");
		o.max_ratio = 100000;
		assert_int_equal(bundle_unpack(p, f->dest, &o, &info, &e), 0);
		assert_int_equal(info.bytes, big + 23);
		bundle_info_release(&info);
		assert_int_equal(fs_remove_tree(f->dest, &e), 0);
		free(p);
	}

	/* below the floor, a ratio is no sign of a bomb */
	fill[small] = '\0';
	p = in_path(f, "s.zip");
	make_archive(p, F_ZIP, ents, ARRAY_SIZE(ents));
	o.max_ratio = 10;
	assert_int_equal(bundle_unpack(p, f->dest, &o, &info, &e), 0);
	assert_int_equal(info.bytes, small + 23);
	bundle_info_release(&info);
	free(p);
	free(fill);
}

/*
 * A zip whose central directory is cut short, or missing, is refused
 * (the streaming reader took it from its local headers, unzip does not).
 */
static void test_bundle__zip_truncated_directory(void **state)
{
	struct fixture *f = *state;
	char *p = in_path(f, "t.zip");
	off_t n[] = { 1, 22, 60 };

	for (size_t i = 0; i < ARRAY_SIZE(n); i++) {
		make_archive(p, F_ZIP, basic, ARRAY_SIZE(basic));
		cut(p, n[i]);
		refuse(f, p, NULL, ERR_SPEC,
		       "corrupt zip archive: no central directory");
	}
	free(p);
}

static void test_bundle__empty(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	enum bundle_kind kind;
	char *p = in_path(f, "empty.tar");

	make_archive(p, F_TAR, NULL, 0);
	refuse(f, p, NULL, ERR_SPEC,
	       "no appspec.yml at the bundle's root: did not find an AppSpec "
	       "file");
	make_archive(p, F_ZIP, NULL, 0);
	assert_int_equal(bundle_detect(p, &kind, &e), 0);
	assert_int_equal(kind, BUNDLE_ZIP);
	refuse(f, p, NULL, ERR_SPEC, "no appspec.yml at the bundle's root");
	write_file(p, "", 0);
	refuse(f, p, NULL, ERR_SPEC,
	       "not a zip, tar or tar.gz bundle (found an empty file)");
	free(p);
}

static void test_bundle__not_an_archive(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	enum bundle_kind kind = BUNDLE_ZIP;
	char *p = in_path(f, "notes.zip");

	write_file(p, "hello, world\n", 13);
	assert_int_equal(bundle_detect(p, &kind, &e), -1);
	assert_int_equal(e.code, ERR_SPEC);
	assert_int_equal(kind, BUNDLE_UNKNOWN);
	refuse(f, p, NULL, ERR_SPEC,
	       "not a zip, tar or tar.gz bundle (found text)");
	write_file(p,
		   "\xfd"
		   "7zXZ\0\0\x04\xe6\xd6\xb4\x46\x02\x00",
		   14);
	refuse(f, p, NULL, ERR_SPEC, "(found xz-compressed data)");
	write_file(p,
		   "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00"
		   "\x00\x00\x00\x00\x00\x00\x00\x00",
		   20);
	refuse(f, p, NULL, ERR_SPEC, "gzip-compressed data that is not a tar");
	free(p);
	p = in_path(f, "missing.zip");
	refuse(f, p, NULL, ERR_SYSTEM, "cannot read bundle");
	free(p);
}

static void test_bundle__dest_exists(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	char *p = in_path(f, "b.tar"), *keep;

	make_archive(p, F_TAR, basic, ARRAY_SIZE(basic));
	assert_int_equal(fs_mkdir_p(f->dest, 0755, &e), 0);
	keep = fs_join(f->dest, "keep");
	write_file(keep, "k", 1);
	assert_int_equal(bundle_unpack(p, f->dest, NULL, NULL, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_non_null(strstr(e.msg, "already exists"));
	assert_true(fs_exists(keep));
	free(keep);
	free(p);
}

static void test_bundle__custom_appspec_name(void **state)
{
	struct fixture *f = *state;
	const struct ent ents[] = {
		{ "deploy.yml", 0, "version: 0.0\n", NULL, 0 },
		{ "appspec.yml", 0, "other\n", NULL, 0 },
	};
	struct bundle_opts o = BUNDLE_OPTS_INIT;
	struct bundle_info info = BUNDLE_INFO_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *p = in_path(f, "b.zip"), *want;

	make_archive(p, F_ZIP, ents, ARRAY_SIZE(ents));
	o.appspec_name = "deploy.yml";
	assert_int_equal(bundle_unpack(p, f->dest, &o, &info, &e), 0);
	want = fs_join(f->dest, "deploy.yml");
	assert_string_equal(info.appspec, want);
	free(want);
	bundle_info_release(&info);
	free(p);
}

static void test_bundle__kind_names(void **state)
{
	(void)state;
	assert_string_equal(bundle_kind_name(BUNDLE_DIRECTORY), "directory");
	assert_string_equal(bundle_kind_name(BUNDLE_ZIP), "zip");
	assert_string_equal(bundle_kind_name(BUNDLE_TAR), "tar");
	assert_string_equal(bundle_kind_name(BUNDLE_TGZ), "tgz");
	assert_string_equal(bundle_kind_name(BUNDLE_UNKNOWN), "unknown");
	bundle_info_release(NULL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_bundle__zip),
		T(test_bundle__tar),
		T(test_bundle__tgz),
		T(test_bundle__directory),
		T(test_bundle__directory_escaping_link),
		T(test_bundle__hoist),
		T(test_bundle__hoist_appspec_yaml_any_case),
		T(test_bundle__no_hoist),
		T(test_bundle__dot_slash_names),
		T(test_bundle__links_inside),
		T(test_bundle__zip_slip),
		T(test_bundle__absolute),
		T(test_bundle__symlink_then_file),
		T(test_bundle__symlink_outside),
		T(test_bundle__hard_links),
		T(test_bundle__special_files),
		T(test_bundle__type_changes),
		T(test_bundle__bad_names),
		T(test_bundle__entry_bound),
		T(test_bundle__implied_dirs_count),
		T(test_bundle__size_bound),
		T(test_bundle__setid),
		T(test_bundle__truncated_and_corrupt),
		T(test_bundle__ratio_bound),
		T(test_bundle__zip_truncated_directory),
		T(test_bundle__empty),
		T(test_bundle__not_an_archive),
		T(test_bundle__dest_exists),
		T(test_bundle__custom_appspec_name),
		T(test_bundle__kind_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
