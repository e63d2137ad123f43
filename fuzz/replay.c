/*
 * replay: a main for a libFuzzer harness without libFuzzer, so that the
 * seed corpora run as tests with the ordinary compiler and no sanitizer.
 *
 *   cc ... -o fuzz_group fuzz/fuzz_group.c fuzz/replay.c <library objects>
 *   fuzz_group fuzz/corpus/group            -- files, or directories of them
 *
 * Each input runs in a child of its own (so one crash does not hide the
 * next) under a time limit. The output is TAP with one test for the whole
 * corpus: a "#" line names every input that crashed, hung or failed, then
 * "ok 1 - NAME: N inputs" or "not ok 1 - NAME: F of N inputs failed".
 * Exit 0 when all passed, 1 when one failed, 2 on a usage or I/O error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banned.h"

/* libFuzzer's own default -timeout is 1200 s; a seed takes milliseconds. */
#define INPUT_SECS 20

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
	unsigned inputs, failed;
};

static int read_all(const char *path, uint8_t **data, size_t *size)
{
	size_t len = 0, alloc = 4096;
	uint8_t *p = malloc(alloc);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (!p || fd < 0)
		goto fail;
	for (;;) {
		if (len == alloc) {
			uint8_t *q = realloc(p, alloc *= 2);

			if (!q)
				goto fail;
			p = q;
		}
		n = read(fd, p + len, alloc - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (!n)
			break;
		len += (size_t)n;
	}
	close(fd);
	*data = p;
	*size = len;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(p);
	return -1;
}

/* Runs the harness on one input in a child; 0 when it returned. */
static int replay_one(const char *path, struct tally *t)
{
	uint8_t *data;
	size_t size;
	pid_t pid;
	int st;

	if (read_all(path, &data, &size) < 0) {
		printf("# %s: cannot read: %s\n", path, strerror(errno));
		return -1;
	}
	t->inputs++;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		printf("# %s: cannot fork: %s\n", path, strerror(errno));
		free(data);
		return -1;
	}
	if (pid == 0) {
		alarm(INPUT_SECS);
		LLVMFuzzerTestOneInput(data, size);
		free(data);
		/* exit, not _exit: a harness may clean up with atexit() */
		exit(0);
	}
	free(data);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st) && !WEXITSTATUS(st))
		return 0;
	t->failed++;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
		printf("# %s: still running after %d s\n", path, INPUT_SECS);
	else if (WIFSIGNALED(st))
		printf("# %s: killed by signal %d (%s)\n", path, WTERMSIG(st),
		       strsignal(WTERMSIG(st)));
	else
		printf("# %s: exit status %d\n", path, WEXITSTATUS(st));
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's entries in name order (a stable report), recursively. */
static int replay_path(const char *path, struct tally *t);

static int replay_dir(const char *path, struct tally *t)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, alloc = 0;
	int ret = 0;

	if (!d) {
		printf("# %s: cannot open: %s\n", path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			names = realloc(names, alloc * sizeof(*names));
			if (!names)
				abort();
		}
		len = strlen(path) + strlen(de->d_name) + 2;
		names[n] = malloc(len);
		if (!names[n])
			abort();
		snprintf(names[n++], len, "%s/%s", path, de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		if (replay_path(names[i], t) < 0)
			ret = -1;
		free(names[i]);
	}
	free(names);
	return ret;
}

static int replay_path(const char *path, struct tally *t)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		printf("# %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return replay_dir(path, t);
	return replay_one(path, t);
}

int main(int argc, char **argv)
{
	struct tally t = { 0, 0 };
	const char *name = strrchr(argv[0], '/');
	int bad = 0;

	name = name ? name + 1 : argv[0];
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", name);
		return 2;
	}
	printf("1..1\n");
	for (int i = 1; i < argc; i++)
		if (replay_path(argv[i], &t) < 0)
			bad = 1;
	if (bad || !t.inputs) {
		printf("not ok 1 - %s: %s\n", name,
		       t.inputs ? "inputs missing" : "no inputs");
		return 2;
	}
	if (t.failed) {
		printf("not ok 1 - %s: %u of %u inputs failed\n", name,
		       t.failed, t.inputs);
		return 1;
	}
	printf("ok 1 - %s: %u inputs\n", name, t.inputs);
	return 0;
}
