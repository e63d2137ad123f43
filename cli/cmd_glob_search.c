/*
 * codebuild-glob-search PATTERN...: the files (never directories) under
 * the current directory that the patterns match, one per line, sorted,
 * as CodeBuild's helper of the same name prints them for
 * codebuild-tests-run --files-search. The pattern language is the
 * artifacts' (lib/glob.h): `*` stays within one name, `**` crosses
 * directories, so `** / __tests__ / *.js` finds every __tests__ directory's
 * .js files, at the top too (the slashes are spaced out in this comment
 * only).
 *
 * A pattern may start with directories that hold no wildcard, absolute
 * (`$CODEBUILD_SRC_DIR/tests/ *.py`) or above the current directory
 * (`../shared/ *.py`): the search starts there and the paths printed keep
 * that start as written. A pattern without a wildcard prints itself when
 * it names a file. When nothing matches, a note goes to stderr, not
 * stdout, so $(codebuild-glob-search ...) is empty; the status is still 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "cli.h"
#include "err.h"
#include "glob.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

static const char glob_search_usage[] =
	"usage: codebuild-glob-search PATTERN...\n"
	"\n"
	"Print the files under the current directory that the patterns "
	"match,\n"
	"one per line, sorted; directories are left out. '*' matches within\n"
	"one name, '**' across directories. Quote the patterns so that the\n"
	"shell does not expand them.\n";

/* A file, or a symlink to one: what a test runner can be handed. */
static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The length of the pattern's leading wildcard-free directories, with
 * their slash ("tests/" of "tests/ ** / *.py", "/" of "/ *.py"), or 0.
 */
static size_t literal_prefix(const char *pattern)
{
	size_t keep = 0;

	for (const char *p = pattern, *slash; (slash = strchr(p, '/'));
	     p = slash + 1) {
		char *comp = xstrndup(p, (size_t)(slash - p));
		bool magic = glob_has_magic(comp);

		free(comp);
		if (magic)
			break;
		keep = (size_t)(slash - pattern) + 1;
	}
	return keep;
}

static int search(const char *pattern, struct strvec *out, struct sw_err *e)
{
	size_t n = literal_prefix(pattern);
	char *base = n ? xstrndup(pattern, n) : xstrdup(".");
	const char *rest = pattern + n;
	struct strvec found = STRVEC_INIT;
	struct stat st;
	int ret = -1;

	if (!glob_has_magic(rest)) {
		/* No wildcard anywhere: the file itself, if it is one. */
		if (is_file(pattern))
			strvec_push(out, pattern);
		ret = 0;
		goto out;
	}
	if (stat(base, &st) < 0 || !S_ISDIR(st.st_mode)) {
		ret = 0; /* nothing there: no match, as for a shell */
		goto out;
	}
	if (glob_expand(base, rest, &found, e) < 0)
		goto out;
	for (size_t i = 0; i < found.nr; i++) {
		char *path = xasprintf("%.*s%s", (int)n, pattern, found.v[i]);

		/* glob_expand() takes a named directory's contents; a
		 * search names only what the pattern itself matches. */
		if (glob_match(rest, found.v[i]) && is_file(path))
			strvec_push_nodup(out, path);
		else
			free(path);
	}
	ret = 0;
out:
	strvec_release(&found);
	free(base);
	return ret;
}

int cmd_glob_search(int argc, char **argv)
{
	struct strvec files = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	int status = 0;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(glob_search_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? ERR_USAGE : 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!*argv[i]) {
			fputs("codebuild-glob-search: empty pattern\n", stderr);
			status = ERR_USAGE;
			goto out;
		}
		if (search(argv[i], &files, &e) < 0) {
			fprintf(stderr, "codebuild-glob-search: %s\n", e.msg);
			status = e.code == ERR_SYSTEM ? ERR_SYSTEM : ERR_USAGE;
			goto out;
		}
	}
	if (!files.nr) {
		fputs("codebuild-glob-search: no files found matching the "
		      "given patterns\n",
		      stderr);
		goto out;
	}
	qsort(files.v, files.nr, sizeof(*files.v), cmp_str);
	for (size_t i = 0; i < files.nr; i++)
		if (!i || strcmp(files.v[i], files.v[i - 1]))
			printf("%s\n", files.v[i]);
	if (fflush(stdout) != 0) {
		perror("codebuild-glob-search: stdout");
		status = ERR_SYSTEM;
	}
out:
	strvec_release(&files);
	return status;
}
