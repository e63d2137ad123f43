#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "fs.h"
#include "hash.h"
#include "xalloc.h"

struct fixture {
	char dir[32];
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/sw-blob-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;

	fs_remove_tree(f->dir, &e);
	free(f);
	return 0;
}

static char *at(struct fixture *f, const char *rel)
{
	return fs_join(f->dir, rel);
}

static void put(struct fixture *f, const char *rel, const char *data)
{
	struct sw_err e = SW_ERR_INIT;
	char *p = at(f, rel);

	if (fs_write_atomic(p, data, strlen(data), 0644, &e) < 0)
		fail_msg("%s", e.msg);
	free(p);
}

static void test_blob__round_trip_keeps_files_links_and_modes(void **state)
{
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	char hex[65], again[65], file[65],
		*src = at(f, "src"), *tar = at(f, "t.tar"), *dst = at(f, "dst"),
		*p, *data;
	char cwd[4096], cwd2[4096];
	struct stat sb;
	size_t len;

	assert_int_equal(fs_mkdir_p(src, 0755, &e), 0);
	p = at(f, "src/sub");
	assert_int_equal(fs_mkdir_p(p, 0755, &e), 0);
	free(p);
	put(f, "src/a.txt", "alpha\n");
	put(f, "src/sub/run.sh", "#!/bin/sh\n");
	p = at(f, "src/sub/run.sh");
	assert_int_equal(chmod(p, 0755), 0);
	free(p);
	p = at(f, "src/link");
	assert_int_equal(symlink("a.txt", p), 0);
	free(p);

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(blob_pack(src, tar, hex, &e), 0);
	/* the cwd is not changed (a server's threads share it) */
	assert_non_null(getcwd(cwd2, sizeof(cwd2)));
	assert_string_equal(cwd, cwd2);
	assert_true(blob_is_digest(hex));
	assert_int_equal(hash_file_sha256(tar, file, &e), 0);
	assert_string_equal(hex, file);
	assert_int_equal(blob_unpack(tar, dst, &e), 0);
	p = at(f, "dst/a.txt");
	assert_int_equal(fs_read_file(p, 100, &data, &len, &e), 0);
	assert_string_equal(data, "alpha\n");
	free(data);
	free(p);
	p = at(f, "dst/sub/run.sh");
	assert_int_equal(stat(p, &sb), 0);
	assert_true(sb.st_mode & 0100);
	free(p);
	p = at(f, "dst/link");
	assert_int_equal(lstat(p, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	free(p);
	/* an existing dest is refused, nothing half-made left */
	assert_int_equal(blob_unpack(tar, dst, &e), -1);
	err_clear(&e);
	/* packing the copy gives a tar of the same files */
	free(tar);
	tar = at(f, "u.tar");
	assert_int_equal(blob_pack(dst, tar, again, &e), 0);
	free(src);
	free(tar);
	free(dst);
}

static void write_tar(const char *path, const char *name, const char *link)
{
	struct archive *w = archive_write_new();
	struct archive_entry *ent = archive_entry_new();

	archive_write_set_format_pax_restricted(w);
	assert_int_equal(archive_write_open_filename(w, path), ARCHIVE_OK);
	archive_entry_set_pathname(ent, name);
	if (link) {
		archive_entry_set_filetype(ent, AE_IFREG);
		archive_entry_set_hardlink(ent, link);
	} else {
		archive_entry_set_filetype(ent, AE_IFREG);
		archive_entry_set_perm(ent, 0644);
		archive_entry_set_size(ent, 2);
	}
	assert_int_equal(archive_write_header(w, ent), ARCHIVE_OK);
	if (!link)
		archive_write_data(w, "x\n", 2);
	archive_write_close(w);
	archive_write_free(w);
	archive_entry_free(ent);
}

static void test_blob__hostile_names_are_refused(void **state)
{
	static const char *const bad[] = { "../escape", "a/../../escape",
					   "/etc/escape", ".." };
	struct fixture *f = *state;
	struct sw_err e = SW_ERR_INIT;
	char *tar = at(f, "bad.tar"), *dst = at(f, "dst");
	char *esc = at(f, "escape");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_tar(tar, bad[i], NULL);
		assert_int_equal(blob_unpack(tar, dst, &e), -1);
		assert_int_equal(e.code, ERR_SPEC);
		err_clear(&e);
		assert_false(fs_exists(dst));
		assert_false(fs_exists(esc));
	}
	write_tar(tar, "ok", "../../etc/passwd");
	assert_int_equal(blob_unpack(tar, dst, &e), -1);
	err_clear(&e);
	assert_false(fs_exists(dst));
	assert_false(blob_is_digest("ABCDEF"));
	assert_false(blob_is_digest(NULL));
	free(tar);
	free(dst);
	free(esc);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_blob__round_trip_keeps_files_links_and_modes),
		T(test_blob__hostile_names_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
