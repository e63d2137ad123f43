/*
 * libFuzzer harness for bundle unpacking: any input, as a bundle file,
 * must be unpacked or refused with ERR_SPEC and a one-line message, never
 * crash, and never leave anything outside the destination (on a refusal,
 * not even the destination). Links in an unpacked tree stay inside it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"
#include "fs.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed expectation: say which, then crash for libFuzzer. */
#define EXPECT(cond)                                                           \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_bundle.c:%d: failed: %s\n",      \
				__LINE__, #cond);                              \
			__builtin_trap();                                      \
		}                                                              \
	} while (0)

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	EXPECT(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Every link under dir that resolves lands under root; no devices. */
static void check_tree(const char *root, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t rlen = strlen(root);

	EXPECT(d);
	while ((de = readdir(d))) {
		char *p, real[PATH_MAX];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		p = fs_join(dir, de->d_name);
		EXPECT(lstat(p, &st) == 0);
		EXPECT(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
		       S_ISLNK(st.st_mode));
		EXPECT(S_ISDIR(st.st_mode) ||
		       !(st.st_mode & (S_ISUID | S_ISGID)));
		if (S_ISLNK(st.st_mode) && realpath(p, real))
			EXPECT(!strncmp(real, root, rlen) &&
			       (!real[rlen] || real[rlen] == '/'));
		if (S_ISDIR(st.st_mode))
			check_tree(root, p);
		free(p);
	}
	closedir(d);
}

static char base[] = "/tmp/fuzz_bundle.XXXXXX";

static void remove_base(void)
{
	fs_remove_tree(base, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *in, *box, *dest;
	struct bundle_opts o = BUNDLE_OPTS_INIT;
	struct bundle_info info = BUNDLE_INFO_INIT;
	struct sw_err e = SW_ERR_INIT;
	int fd, rc;

	if (!in) {
		EXPECT(mkdtemp(base));
		atexit(remove_base);
		in = fs_join(base, "in.bin");
		box = fs_join(base, "box");
		dest = fs_join(box, "deployment-archive");
	}
	fd = open(in, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	EXPECT(fd >= 0);
	EXPECT(write(fd, data, size) == (ssize_t)size);
	EXPECT(close(fd) == 0);
	EXPECT(mkdir(box, 0755) == 0);

	o.max_entries = 256;
	o.max_bytes = 1 << 20;
	rc = bundle_unpack(in, dest, &o, &info, &e);
	if (rc < 0) {
		if (e.code != ERR_SPEC)
			fprintf(stderr, "error %d: %s\n", e.code, e.msg);
		EXPECT(e.code == ERR_SPEC && e.msg[0]);
		EXPECT(!strchr(e.msg, '\n'));
		EXPECT(!info.appspec && !info.wrapper);
		EXPECT(count_entries(box) == 0);
	} else {
		struct stat st;
		char real[PATH_MAX];

		EXPECT(!e.code && info.appspec);
		EXPECT(lstat(info.appspec, &st) == 0);
		EXPECT(info.entries <= o.max_entries);
		EXPECT(info.bytes <= o.max_bytes);
		EXPECT(count_entries(box) == 1);
		EXPECT(realpath(dest, real));
		check_tree(real, dest);
	}
	/* Nothing but the input and the box beside them. */
	EXPECT(count_entries(base) == 2);
	bundle_info_release(&info);
	err_clear(&e);
	EXPECT(fs_remove_tree(box, &e) == 0);
	return 0;
}
