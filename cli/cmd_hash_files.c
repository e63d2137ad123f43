/*
 * codebuild-hash-files GLOB...: the SHA-256 that a cache key such as
 * npm-$(codebuild-hash-files package-lock.json) uses, over the files the
 * globs match under the current directory (see cache_hash_files()).
 */
#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "cli.h"
#include "err.h"
#include "banned.h"

int cmd_hash_files(int argc, char **argv)
{
	struct sw_err e = SW_ERR_INIT;
	char hex[65];

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs("usage: codebuild-hash-files GLOB...\n"
		      "Print the SHA-256 over the files the globs match under "
		      "the\n"
		      "current directory (sorted by path: each path, a NUL, "
		      "the\n"
		      "SHA-256 of its content and a newline).\n",
		      argc < 2 ? stderr : stdout);
		return argc < 2 ? ERR_USAGE : 0;
	}
	if (cache_hash_files(".", (const char *const *)argv + 1,
			     (size_t)argc - 1, hex, &e) < 0) {
		fprintf(stderr, "codebuild-hash-files: %s\n", e.msg);
		return e.code ? e.code : ERR_SYSTEM;
	}
	printf("%s\n", hex);
	return 0;
}
