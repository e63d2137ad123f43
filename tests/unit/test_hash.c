#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "banned.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sw-hash-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void test_hash__known_vectors(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	char hex[HASH_HEX_MAX];

	(void)state;
	assert_int_equal(hash_buf(HASH_SHA256, "", 0, hex, &e), 0);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
				 "27ae41e4649b934ca495991b7852b855");
	assert_int_equal(hash_buf(HASH_SHA256, "abc", 3, hex, &e), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
				 "b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(hash_buf(HASH_MD5, "", 0, hex, &e), 0);
	assert_string_equal(hex, "d41d8cd98f00b204e9800998ecf8427e");
	assert_int_equal(hash_buf(HASH_MD5, "abc", 3, hex, &e), 0);
	assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
}

static void test_hash__streaming_equals_oneshot(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	struct hash_ctx h = HASH_CTX_INIT;
	const char *msg = "the quick brown fox jumps over the lazy dog";
	char a[HASH_HEX_MAX], b[HASH_HEX_MAX];

	(void)state;
	assert_int_equal(hash_init(&h, HASH_SHA256, &e), 0);
	for (const char *p = msg; *p; p += 5) {
		size_t n = strlen(p) < 5 ? strlen(p) : 5;
		assert_int_equal(hash_update(&h, p, n, &e), 0);
		if (n < 5)
			break;
	}
	assert_int_equal(hash_final(&h, a, &e), 0);
	hash_release(&h);
	assert_int_equal(hash_buf(HASH_SHA256, msg, strlen(msg), b, &e), 0);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), 64);
}

static void test_hash__file_both_digests(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	char path[128], sha[HASH_SHA256_HEX], md5[HASH_MD5_HEX];
	char sha2[HASH_SHA256_HEX], ref[HASH_HEX_MAX];
	size_t len = 200 * 1024 + 17; /* several 64 KiB reads + a tail */
	unsigned char *data = malloc(len);

	(void)state;
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 31 + (i >> 9));
	snprintf(path, sizeof(path), "%s/blob", tmpdir);
	write_file(path, data, len);

	assert_int_equal(hash_file(path, sha, md5, &e), 0);
	assert_int_equal(hash_buf(HASH_SHA256, data, len, ref, &e), 0);
	assert_string_equal(sha, ref);
	assert_int_equal(hash_buf(HASH_MD5, data, len, ref, &e), 0);
	assert_string_equal(md5, ref);
	assert_int_equal(hash_file_sha256(path, sha2, &e), 0);
	assert_string_equal(sha2, sha);
	assert_int_equal(e.code, 0);
	unlink(path);
	free(data);
}

static void test_hash__missing_file(void **state)
{
	struct sw_err e = SW_ERR_INIT;
	char path[128], sha[HASH_SHA256_HEX];

	(void)state;
	snprintf(path, sizeof(path), "%s/nope", tmpdir);
	assert_int_equal(hash_file_sha256(path, sha, &e), -1);
	assert_int_equal(e.code, ERR_SYSTEM);
	assert_non_null(strstr(e.msg, "nope"));
	assert_non_null(strstr(e.msg, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash__known_vectors),
		cmocka_unit_test(test_hash__streaming_equals_oneshot),
		cmocka_unit_test(test_hash__file_both_digests),
		cmocka_unit_test(test_hash__missing_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
