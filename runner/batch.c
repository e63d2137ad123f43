#include "batch.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "env.h"
#include "fs.h"
#include "proc.h"
#include "source.h"
#include "state.h"
#include "xalloc.h"
#include "banned.h"

extern char **environ;

/* ---- the plan ---- */

const char *batch_state_name(enum batch_state st)
{
	static const char *const names[] = { "PENDING",	  "IN_PROGRESS",
					     "SUCCEEDED", "FAILED",
					     "STOPPED",	  "SKIPPED" };

	return (size_t)st < ARRAY_SIZE(names) ? names[st] : "UNKNOWN";
}

static struct batch_task *add_task(struct batch_plan *p)
{
	struct batch_task *t;

	ALLOC_GROW(p->v, p->nr + 1, p->alloc);
	t = &p->v[p->nr++];
	memset(t, 0, sizeof(*t));
	strvec_init(&t->env);
	strvec_init(&t->depend_on);
	t->line = (struct buf)BUF_INIT;
	t->fd = -1;
	return t;
}

static void env_of(struct batch_task *t, const struct bs_batch_env *env)
{
	if (env->image) {
		free(t->image);
		t->image = xstrdup(env->image);
	}
	if (env->compute_type) {
		free(t->compute_type);
		t->compute_type = xstrdup(env->compute_type);
	}
	if (env->fleet) {
		free(t->fleet);
		t->fleet = xstrdup(env->fleet);
	}
	if (env->type) {
		free(t->type);
		t->type = xstrdup(env->type);
	}
	t->privileged_mode |= env->privileged_mode;
	for (size_t i = 0; i < env->variables.nr; i++)
		strvec_pushf(&t->env, "%s=%s", env->variables.v[i].name,
			     env->variables.v[i].value);
}

/*
 * A matrix build's identifier (one rule for every matrix): "build<N>", N
 * its 1-based place in the product, then "_<value>" for each dimension
 * that has more than one value, in the order buildspec, image,
 * compute-type, variables. A value is cut to its letters and digits (a
 * buildspec to its file name without the extension), each run of other
 * characters one '_', at most MATRIX_PART_MAX of them; the whole
 * identifier at most MATRIX_ID_MAX. The number keeps every identifier
 * unique whatever the values; the values make it readable.
 */
#define MATRIX_PART_MAX 24
#define MATRIX_ID_MAX 64

static void id_part(struct buf *id, const char *s, bool stem)
{
	const char *base = s, *end;
	size_t start, room;

	if (stem) {
		const char *slash = strrchr(s, '/');

		base = slash ? slash + 1 : s;
		end = strrchr(base, '.');
		if (!end || end == base)
			end = base + strlen(base);
	} else {
		end = s + strlen(s);
	}
	if (id->len + 2 > MATRIX_ID_MAX)
		return;
	start = id->len;
	room = MATRIX_ID_MAX - id->len - 1;
	if (room > MATRIX_PART_MAX)
		room = MATRIX_PART_MAX;
	buf_addch(id, '_');
	for (const char *c = base; c < end && id->len - start - 1 < room; c++) {
		bool alnum = (*c >= 'A' && *c <= 'Z') ||
			     (*c >= 'a' && *c <= 'z') ||
			     (*c >= '0' && *c <= '9');

		if (alnum)
			buf_addch(id, *c);
		else if (id->ptr[id->len - 1] != '_')
			buf_addch(id, '_');
	}
	while (id->len > start + 1 && id->ptr[id->len - 1] == '_')
		buf_setlen(id, id->len - 1);
	if (id->len == start + 1) /* nothing readable in the value */
		buf_setlen(id, start);
}

static int make_matrix(const struct bs_batch *b, struct batch_plan *p,
		       struct sw_err *e)
{
	size_t total = buildspec_matrix_count(b);
	size_t nd = 3 + b->nr_matrix_vars;
	const struct strvec **dim = xcalloc(nd, sizeof(*dim));
	size_t *at = xcalloc(nd, sizeof(*at));

	if (total > BATCH_MAX_TASKS) {
		free(dim);
		free(at);
		return err_set(e, ERR_SPEC,
			       "build-matrix expands to more than %d builds",
			       BATCH_MAX_TASKS);
	}
	dim[0] = &b->matrix_buildspecs;
	dim[1] = &b->matrix_images;
	dim[2] = &b->matrix_compute_types;
	for (size_t i = 0; i < b->nr_matrix_vars; i++)
		dim[3 + i] = &b->matrix_vars[i].values;
	for (size_t n = 0; n < total; n++) {
		struct batch_task *t = add_task(p);
		struct buf id = BUF_INIT;

		buf_addf(&id, "build%zu", n + 1);
		t->ignore_failure = b->matrix_ignore_failure;
		env_of(t, &b->matrix_static);
		if (dim[0]->nr) {
			t->buildspec = xstrdup(dim[0]->v[at[0]]);
			if (dim[0]->nr > 1)
				id_part(&id, t->buildspec, true);
		}
		if (dim[1]->nr) {
			free(t->image);
			t->image = xstrdup(dim[1]->v[at[1]]);
			if (dim[1]->nr > 1)
				id_part(&id, t->image, false);
		}
		if (dim[2]->nr) {
			free(t->compute_type);
			t->compute_type = xstrdup(dim[2]->v[at[2]]);
			if (dim[2]->nr > 1)
				id_part(&id, t->compute_type, false);
		}
		for (size_t i = 0; i < b->nr_matrix_vars; i++) {
			const char *v = dim[3 + i]->v[at[3 + i]];

			env_set(&t->env, b->matrix_vars[i].name, v);
			if (dim[3 + i]->nr > 1)
				id_part(&id, v, false);
		}
		t->identifier = buf_detach(&id);
		/* the last dimension turns fastest */
		for (size_t d = nd; d-- > 0;) {
			if (!dim[d]->nr)
				continue;
			if (++at[d] < dim[d]->nr)
				break;
			at[d] = 0;
		}
	}
	free(dim);
	free(at);
	return 0;
}

int batch_plan_make(const struct bs_batch *b, struct batch_plan *p,
		    struct sw_err *e)
{
	p->type = b->type;
	p->fast_fail = b->fast_fail;
	switch (b->type) {
	case BS_BATCH_LIST:
	case BS_BATCH_GRAPH:
		for (size_t i = 0; i < b->nr_tasks; i++) {
			const struct bs_batch_task *bt = &b->tasks[i];
			struct batch_task *t = add_task(p);

			t->identifier = xstrdup(bt->identifier);
			t->buildspec = xstrdup_or_null(bt->buildspec);
			t->ignore_failure = bt->ignore_failure;
			env_of(t, &bt->env);
			if (b->type == BS_BATCH_GRAPH)
				strvec_pushv(
					&t->depend_on,
					(const char *const *)bt->depend_on.v);
		}
		for (size_t i = 0; i < p->nr; i++) {
			struct batch_task *t = &p->v[i];

			t->deps =
				xcalloc(t->depend_on.nr + 1, sizeof(*t->deps));
			for (size_t d = 0; d < t->depend_on.nr; d++) {
				long j = batch_plan_find(p, t->depend_on.v[d]);

				if (j < 0)
					return err_set(e, ERR_SPEC,
						       "task '%s' depends on "
						       "unknown identifier "
						       "'%s'",
						       t->identifier,
						       t->depend_on.v[d]);
				t->deps[t->nr_deps++] = (size_t)j;
			}
		}
		return 0;
	case BS_BATCH_MATRIX:
		return make_matrix(b, p, e);
	case BS_BATCH_FANOUT:
		if (b->parallelism > BATCH_MAX_TASKS)
			return err_set(e, ERR_SPEC,
				       "build-fanout parallelism %d is more "
				       "than %d builds",
				       b->parallelism, BATCH_MAX_TASKS);
		for (int i = 0; i < b->parallelism; i++) {
			struct batch_task *t = add_task(p);

			t->identifier = xasprintf("shard_%d", i + 1);
			t->ignore_failure = b->fanout_ignore_failure;
			strvec_pushf(&t->env, "SLIPWAY_SHARD_INDEX=%d", i);
			strvec_pushf(&t->env, "SLIPWAY_SHARD_COUNT=%d",
				     b->parallelism);
		}
		return 0;
	default:
		return err_set(e, ERR_SPEC, "the buildspec has no batch");
	}
}

void batch_plan_release(struct batch_plan *p)
{
	for (size_t i = 0; i < p->nr; i++) {
		struct batch_task *t = &p->v[i];

		free(t->identifier);
		free(t->buildspec);
		strvec_release(&t->env);
		strvec_release(&t->depend_on);
		free(t->deps);
		free(t->image);
		free(t->compute_type);
		free(t->fleet);
		free(t->type);
		buf_release(&t->line);
		free(t->report);
		free(t->build_id);
		free(t->build_arn);
		free(t->build_status);
		free(t->artifact);
		if (t->fd >= 0)
			close(t->fd);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

long batch_plan_find(const struct batch_plan *p, const char *identifier)
{
	for (size_t i = 0; i < p->nr; i++)
		if (p->v[i].identifier &&
		    !strcmp(p->v[i].identifier, identifier))
			return (long)i;
	return -1;
}

static bool satisfied(const struct batch_task *t)
{
	return t->state == BT_SUCCEEDED ||
	       (t->state == BT_FAILED && t->ignore_failure);
}

static bool settled(const struct batch_task *t)
{
	return t->state != BT_PENDING && t->state != BT_RUNNING;
}

long batch_plan_next(const struct batch_plan *p)
{
	for (size_t i = 0; i < p->nr; i++) {
		const struct batch_task *t = &p->v[i];
		bool ready = t->state == BT_PENDING;

		for (size_t d = 0; ready && d < t->nr_deps; d++)
			ready = satisfied(&p->v[t->deps[d]]);
		if (ready)
			return (long)i;
	}
	return -1;
}

void batch_plan_finish(struct batch_plan *p, size_t i, enum batch_state st)
{
	bool changed = true;

	p->v[i].state = st;
	while (changed) {
		changed = false;
		for (size_t k = 0; k < p->nr; k++) {
			struct batch_task *t = &p->v[k];

			if (t->state != BT_PENDING)
				continue;
			for (size_t d = 0; d < t->nr_deps; d++) {
				const struct batch_task *dep =
					&p->v[t->deps[d]];

				if (settled(dep) && !satisfied(dep)) {
					t->state = BT_SKIPPED;
					changed = true;
					break;
				}
			}
		}
	}
}

size_t batch_plan_skip_pending(struct batch_plan *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nr; i++)
		if (p->v[i].state == BT_PENDING) {
			p->v[i].state = BT_SKIPPED;
			n++;
		}
	return n;
}

bool batch_plan_succeeded(const struct batch_plan *p)
{
	for (size_t i = 0; i < p->nr; i++)
		if (!satisfied(&p->v[i]))
			return false;
	return true;
}

/* ---- sharding (codebuild-tests-run) ---- */

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

void batch_shard_files(const struct strvec *files, size_t index, size_t count,
		       bool stability, struct strvec *out)
{
	char **v = xcalloc(files->nr + 1, sizeof(*v));

	if (!count)
		count = 1;
	for (size_t i = 0; i < files->nr; i++)
		v[i] = files->v[i];
	qsort(v, files->nr, sizeof(*v), str_cmp);
	for (size_t i = 0, k = 0; i < files->nr; i++) {
		size_t shard;

		if (i && !strcmp(v[i], v[i - 1]))
			continue; /* a name listed twice runs once */
		shard = stability ? (size_t)(fnv1a(v[i]) % count) : k % count;
		k++;
		if (shard == index)
			strvec_push(out, v[i]);
	}
	free(v);
}

static const char tests_run_usage[] =
	"usage: codebuild-tests-run --test-command CMD --files-search CMD\n"
	"                           [--sharding-strategy "
	"equal-distribution|stability]\n"
	"\n"
	"Run CMD with this shard's test files appended (and in\n"
	"CODEBUILD_CURRENT_SHARD_FILES, one per line). The files are the\n"
	"lines --files-search prints, e.g. \"codebuild-glob-search\n"
	"'tests/**/test_*.py'\"; the shard comes from the batch\n"
	"(SLIPWAY_SHARD_INDEX of SLIPWAY_SHARD_COUNT; one shard outside a\n"
	"build-fanout).\n";

/* Run `sh -c cmd`, its stdout into out. Returns the wait status. */
static int capture(const char *cmd, struct buf *out)
{
	int p[2], st;
	pid_t pid;
	char chunk[8192];
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		buf_add(out, chunk, (size_t)n);
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

int batch_tests_run_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "test-command", required_argument, NULL, 't' },
		{ "files-search", required_argument, NULL, 'f' },
		{ "sharding-strategy", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *test = NULL, *search = NULL,
		   *ix = getenv("SLIPWAY_SHARD_"
				"INDEX");
	const char *cnt = getenv("SLIPWAY_SHARD_COUNT");
	bool stability = false;
	struct buf list = BUF_INIT, cmd = BUF_INIT, joined = BUF_INIT;
	struct strvec files = STRVEC_INIT, mine = STRVEC_INIT;
	size_t index = ix ? strtoul(ix, NULL, 10) : 0;
	size_t count = cnt ? strtoul(cnt, NULL, 10) : 1;
	int c, st;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			test = optarg;
			break;
		case 'f':
			search = optarg;
			break;
		case 's':
			if (!strcmp(optarg, "stability"))
				stability = true;
			else if (strcmp(optarg, "equal-distribution")) {
				fprintf(stderr,
					"codebuild-tests-run: "
					"--sharding-strategy must be "
					"equal-distribution or stability, not "
					"'%s'\n",
					optarg);
				return ERR_USAGE;
			}
			break;
		case 'h':
			fputs(tests_run_usage, stdout);
			return 0;
		default:
			fputs(tests_run_usage, stderr);
			return ERR_USAGE;
		}
	}
	if (!test || !search || optind < argc) {
		fputs(tests_run_usage, stderr);
		return ERR_USAGE;
	}
	if (!count || index >= count) {
		index = 0;
		count = 1;
	}
	st = capture(search, &list);
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr,
			"codebuild-tests-run: files search failed: %s\n",
			search);
		buf_release(&list);
		return ERR_FAILED;
	}
	for (char *s = list.ptr, *nl; s && *s; s = nl ? nl + 1 : NULL) {
		nl = strchr(s, '\n');
		if (nl)
			*nl = '\0';
		if (*s)
			strvec_push(&files, s);
	}
	batch_shard_files(&files, index, count, stability, &mine);
	fprintf(stderr,
		"codebuild-tests-run: shard %zu of %zu: %zu of %zu test "
		"files\n",
		index + 1, count, mine.nr, files.nr);
	buf_addstr(&cmd, test);
	for (size_t i = 0; i < mine.nr; i++) {
		buf_addch(&cmd, ' ');
		buf_add_shquote(&cmd, mine.v[i]);
		buf_addf(&joined, "%s%s", i ? "\n" : "", mine.v[i]);
	}
	setenv("CODEBUILD_CURRENT_SHARD_FILES", buf_cstr(&joined), 1);
	fflush(NULL);
	if (!mine.nr) {
		fputs("codebuild-tests-run: no test files for this shard\n",
		      stderr);
		st = 0;
	} else {
		execl("/bin/sh", "sh", "-c", buf_cstr(&cmd), (char *)NULL);
		fprintf(stderr, "codebuild-tests-run: cannot run /bin/sh: %s\n",
			strerror(errno));
		st = ERR_SYSTEM;
	}
	buf_release(&list);
	buf_release(&cmd);
	buf_release(&joined);
	strvec_release(&files);
	strvec_release(&mine);
	return st;
}

/* ---- running a batch ---- */

struct bphase {
	const char *type;
	int64_t start, end;
	const char *status; /* NULL: the last entry */
};

struct brun {
	const struct batch_opts *bo;
	struct state st;
	struct buildspec bs;
	bool have_bs;
	bool fetched; /* the source was fetched to read the buildspec */
	struct batch_plan plan;
	char *project, *id, *arn, *dir;
	char *spec; /* the batch's buildspec, relative to the source */
	char *ref; /* pinned to the commit the batchspec came from */
	char *source_version, *resolved;
	char *location; /* the source as the report names it */
	char *artifacts; /* absolute -o, or NULL */
	int log_fd;
	size_t width;
	bool live, shown;
	size_t jobs, running;
	bool stopping, fast_failed;
	int stop_signal;
	int64_t start_ms, end_ms;
	struct bphase phases[8];
	size_t nr_phases;
};

static void phase_open(struct brun *b, const char *type)
{
	struct bphase *p = &b->phases[b->nr_phases++];

	if (b->nr_phases > 1 && !b->phases[b->nr_phases - 2].end)
		b->phases[b->nr_phases - 2].end = proc_wall_ms();
	p->type = type;
	p->start = proc_wall_ms();
	p->status = "SUCCEEDED";
}

static void live_clear(struct brun *b)
{
	if (b->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		b->shown = false;
	}
}

static void live_draw(struct brun *b)
{
	size_t n[6] = { 0 };

	if (!b->live)
		return;
	for (size_t i = 0; i < b->plan.nr; i++)
		n[b->plan.v[i].state]++;
	fprintf(stderr,
		"\r\033[Kbatch %s: %zu succeeded, %zu running, %zu failed, "
		"%zu stopped, %zu skipped, %zu pending",
		b->id, n[BT_SUCCEEDED], n[BT_RUNNING], n[BT_FAILED],
		n[BT_STOPPED], n[BT_SKIPPED], n[BT_PENDING]);
	fflush(stderr);
	b->shown = true;
}

static void write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

/* "<who> | text" to stdout and batch.log. */
static void out_line(struct brun *b, const char *who, const char *s, size_t len)
{
	struct buf l = BUF_INIT;

	buf_addf(&l, "%-*s | ", (int)b->width, who);
	buf_add(&l, s, len);
	buf_addch(&l, '\n');
	live_clear(b);
	write_all(STDOUT_FILENO, l.ptr, l.len);
	if (b->log_fd >= 0)
		write_all(b->log_fd, l.ptr, l.len);
	buf_release(&l);
}

static void say(struct brun *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(struct brun *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	out_line(b, "batch", s, strlen(s));
	free(s);
}

static void feed(struct brun *b, struct batch_task *t, const char *data,
		 size_t len)
{
	char *nl;

	buf_add(&t->line, data, len);
	while (t->line.len &&
	       (nl = memchr(t->line.ptr, '\n', t->line.len)) != NULL) {
		size_t n = (size_t)(nl - t->line.ptr);

		out_line(b, t->identifier, t->line.ptr, n);
		buf_consume(&t->line, n + 1);
	}
}

static void drain(struct brun *b, struct batch_task *t)
{
	char chunk[65536];

	while (t->fd >= 0) {
		ssize_t n = read(t->fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(t->fd);
			t->fd = -1;
			break;
		}
		feed(b, t, chunk, (size_t)n);
	}
}

/* ---- reports ---- */

static const char *jget(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *jtime(int64_t ms)
{
	char txt[32];

	snprintf(txt, sizeof(txt), "%lld.%03lld", (long long)(ms / 1000),
		 (long long)(ms % 1000));
	return json_object_new_double_s((double)ms / 1000.0, txt);
}

static struct json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static void add(struct json_object *o, const char *k, struct json_object *v)
{
	if (v)
		json_object_object_add(o, k, v);
}

/* In the child: buildBatchArn and batchBuildIdentifier into both copies
 * of the build's report. */
static void patch_report(struct brun *b, const struct batch_task *t)
{
	struct json_object *o = json_object_from_file(t->report);
	const char *id = jget(o, "id");
	char *dir = id ? state_build_dir(&b->st, id) : NULL;
	char *paths[2] = { t->report,
			   dir ? fs_join(dir, "report.json") : NULL };

	if (o) {
		add(o, "buildBatchArn", json_object_new_string(b->arn));
		add(o, "batchBuildIdentifier",
		    json_object_new_string(t->identifier));
		for (size_t i = 0; i < 2; i++) {
			const char *text;
			struct sw_err e = SW_ERR_INIT;

			if (!paths[i] || !fs_exists(paths[i]))
				continue;
			text = json_object_to_json_string_ext(
				o, JSON_C_TO_STRING_PRETTY |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
			fs_write_atomic(paths[i], text, strlen(text), 0644, &e);
		}
		json_object_put(o);
	}
	free(dir);
	free(paths[1]);
}

static void read_build_report(struct batch_task *t)
{
	struct json_object *o = json_object_from_file(t->report), *a;

	if (!o)
		return;
	t->build_id = xstrdup_or_null(jget(o, "id"));
	t->build_arn = xstrdup_or_null(jget(o, "arn"));
	free(t->build_status);
	t->build_status = xstrdup_or_null(jget(o, "buildStatus"));
	if (json_object_object_get_ex(o, "artifacts", &a))
		t->artifact = xstrdup_or_null(jget(a, "location"));
	json_object_put(o);
}

static char *batch_json(struct brun *b)
{
	struct json_object *o = json_object_new_object();
	struct json_object *phases = json_object_new_array();
	struct json_object *groups = json_object_new_array();
	struct json_object *src = json_object_new_object();
	static const char *const types[] = { "", "BUILD_LIST", "BUILD_GRAPH",
					     "BUILD_MATRIX", "BUILD_FANOUT" };
	const char *status = b->phases[b->nr_phases - 1].type;
	char *text;

	add(o, "id", jstr(b->id));
	add(o, "arn", jstr(b->arn));
	add(o, "projectName", jstr(b->project));
	add(o, "buildBatchStatus", jstr(status));
	add(o, "currentPhase", jstr(status));
	add(o, "complete", json_object_new_boolean(1));
	add(o, "startTime", jtime(b->start_ms));
	add(o, "endTime", jtime(b->end_ms));
	add(o, "sourceVersion", jstr(b->source_version));
	add(o, "resolvedSourceVersion", jstr(b->resolved));
	add(src, "type", json_object_new_string(b->resolved ? "GIT" : "LOCAL"));
	add(src, "location", jstr(b->location));
	add(src, "buildspec", jstr(b->spec));
	add(o, "source", src);
	add(o, "batchType", jstr(types[b->plan.type]));
	add(o, "fastFail", json_object_new_boolean(b->plan.fast_fail));
	add(o, "concurrency", json_object_new_int64((int64_t)b->jobs));
	for (size_t i = 0; i < b->nr_phases; i++) {
		struct json_object *p = json_object_new_object();
		const struct bphase *ph = &b->phases[i];

		add(p, "phaseType", jstr(ph->type));
		add(p, "startTime", jtime(ph->start));
		if (i + 1 < b->nr_phases) {
			add(p, "phaseStatus", jstr(ph->status));
			add(p, "endTime", jtime(ph->end));
			add(p, "durationInSeconds",
			    json_object_new_int64((ph->end - ph->start) /
						  1000));
		}
		json_object_array_add(phases, p);
	}
	add(o, "phases", phases);
	for (size_t i = 0; i < b->plan.nr; i++) {
		const struct batch_task *t = &b->plan.v[i];
		struct json_object *g = json_object_new_object();
		struct json_object *deps = json_object_new_array();
		struct json_object *vars = json_object_new_array();
		struct json_object *env = json_object_new_object();

		add(g, "identifier", jstr(t->identifier));
		for (size_t d = 0; d < t->depend_on.nr; d++)
			json_object_array_add(deps, jstr(t->depend_on.v[d]));
		add(g, "dependsOn", deps);
		add(g, "ignoreFailure",
		    json_object_new_boolean(t->ignore_failure));
		add(g, "status",
		    jstr(t->state == BT_SKIPPED ? "SKIPPED"
			 : t->build_status	? t->build_status
						: batch_state_name(t->state)));
		add(g, "buildspec",
		    jstr(t->buildspec ? t->buildspec : b->spec));
		for (size_t k = 0; k < t->env.nr; k++) {
			struct json_object *v = json_object_new_object();
			const char *eq = strchr(t->env.v[k], '=');

			add(v, "name",
			    json_object_new_string_len(
				    t->env.v[k], (int)(eq - t->env.v[k])));
			add(v, "value", jstr(eq + 1));
			json_object_array_add(vars, v);
		}
		add(env, "type", jstr(t->type));
		add(env, "image", jstr(t->image));
		add(env, "computeType", jstr(t->compute_type));
		add(env, "fleet", jstr(t->fleet));
		add(env, "privilegedMode",
		    json_object_new_boolean(t->privileged_mode));
		add(env, "environmentVariables", vars);
		add(g, "environment", env);
		if (t->start_ms) {
			struct json_object *s = json_object_new_object();

			add(s, "id", jstr(t->build_id));
			add(s, "arn", jstr(t->build_arn));
			add(s, "requestedOn", jtime(t->start_ms));
			add(s, "buildStatus",
			    jstr(t->build_status ? t->build_status
						 : batch_state_name(t->state)));
			if (t->artifact) {
				struct json_object *a =
					json_object_new_object();

				add(a, "location", jstr(t->artifact));
				add(s, "primaryArtifact", a);
			}
			add(s, "report", jstr(t->report));
			add(g, "currentBuildSummary", s);
		}
		json_object_array_add(groups, g);
	}
	add(o, "buildGroups", groups);
	text = xasprintf("%s\n",
			 json_object_to_json_string_ext(
				 o, JSON_C_TO_STRING_PRETTY |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

static int write_reports(struct brun *b, struct sw_err *e)
{
	char *text = batch_json(b);
	char *path = fs_join(b->dir, "report.json");
	int ret = fs_write_atomic(path, text, strlen(text), 0644, e);

	if (!ret && b->bo->build->report)
		ret = fs_write_atomic(b->bo->build->report, text, strlen(text),
				      0644, e);
	free(path);
	free(text);
	return ret;
}

/* ---- finding the batch ---- */

/* A bare repository: HEAD and objects/ at the top. */
static bool bare_repo(const char *dir)
{
	char *head = fs_join(dir, "HEAD"), *obj = fs_join(dir, "objects");
	bool r = fs_exists(head) && fs_is_dir(obj);

	free(head);
	free(obj);
	return r;
}

/* The ref and versions the tasks build: the commit sr resolved. */
static void pin_source(struct brun *b, const struct source_result *sr)
{
	b->resolved = xstrdup_or_null(sr->resolved_version);
	b->source_version = xstrdup_or_null(sr->source_version);
	if (b->resolved && !sr->worktree)
		b->ref = xstrdup(b->resolved);
}

/*
 * A git source through the mirror: the buildspec read from the commit,
 * no file written. 1 read (or absent, or the source cannot be fetched:
 * the build will say why), 2 only a checkout can tell.
 */
static int read_from_mirror(struct brun *b, struct source_opts *so)
{
	struct source_result sr = SOURCE_RESULT_INIT;
	struct sw_err pe = SW_ERR_INIT;
	struct buf text = BUF_INIT;
	int rc = source_read_file(so, b->spec, &text, &sr, &pe);

	b->fetched = true;
	if (rc == 1 && buildspec_parse(b->spec, text.ptr ? text.ptr : "",
				       text.len, &b->bs, &pe) == 0)
		b->have_bs = true;
	if (rc == 0 || rc == 1)
		pin_source(b, &sr);
	source_result_release(&sr);
	buf_release(&text);
	/* a source that cannot be fetched: the build says why */
	return rc == 2 ? 2 : 1;
}

/*
 * Load the buildspec as the build would see it: straight from a local
 * directory, from the mirror's commit for a git source, else from a
 * checkout made for the purpose (then removed), the ref pinned to the
 * commit it came from so that every task builds the same tree. 1: it has
 * a batch, 0: not (or cannot tell: the build will say why), -1: a system
 * error.
 */
static int load_batchspec(struct brun *b, struct sw_err *e)
{
	const struct build_opts *o = b->bo->build;
	const char *source = o->source ? o->source : ".";
	struct sw_err pe = SW_ERR_INIT;
	struct source_opts so = SOURCE_OPTS_INIT;
	char *path, *mirrors = fs_join(b->st.dir, "sources");
	int ret = 0;

	b->spec = xstrdup(o->buildspec ? o->buildspec : "buildspec.yml");
	b->location = source_is_git_url(source) ? xstrdup(source)
						: fs_abspath(source);
	if (o->buildspec && o->buildspec[0] == '/')
		path = xstrdup(o->buildspec);
	else
		path = fs_join(source, b->spec);
	so.source = source;
	so.ref = o->ref;
	so.mirror_dir = mirrors;
	so.no_cache = o->no_cache;
	so.no_spare = true;
	so.worktree = o->worktree;
	if (!source_is_git_url(source) && fs_is_dir(source) &&
	    (fs_exists(path) || !bare_repo(source))) {
		if (fs_exists(path) && buildspec_load(path, &b->bs, &pe) == 0) {
			b->have_bs = true;
		}
	} else if (!(o->buildspec && o->buildspec[0] == '/') &&
		   source_readable(&so) && read_from_mirror(b, &so) == 1) {
		/* read from the commit */
	} else {
		struct source_result sr = SOURCE_RESULT_INIT;
		const char *exclude[3] = { NULL, NULL, NULL };
		char *uuid = state_uuid();
		char *probe =
			xasprintf("%s/batches/.probe-%s", b->st.dir, uuid);
		char *spec;

		free(uuid);
		b->fetched = true;
		so.dest = probe;
		exclude[0] = b->st.dir;
		exclude[1] = o->artifacts_dir;
		so.exclude = exclude;
		if (fs_mkdir_p(probe, 0755, e) < 0) {
			ret = -1;
		} else if (source_fetch(&so, &sr, &pe) == 0) {
			spec = o->buildspec && o->buildspec[0] == '/'
				       ? xstrdup(o->buildspec)
				       : fs_join(probe, b->spec);
			if (buildspec_load(spec, &b->bs, &pe) == 0)
				b->have_bs = true;
			free(spec);
			free(b->resolved);
			free(b->source_version);
			free(b->ref);
			b->ref = NULL;
			pin_source(b, &sr);
		}
		source_result_release(&sr);
		fs_remove_tree(probe, &pe);
		free(probe);
	}
	free(mirrors);
	free(path);
	if (ret < 0)
		return -1;
	return b->have_bs && b->bs.batch.type != BS_BATCH_NONE;
}

/* ---- one task ---- */

static void task_opts(struct brun *b, const struct batch_task *t,
		      struct build_opts *o)
{
	*o = *b->bo->build;
	strvec_init(&o->env);
	strvec_pushv(&o->env, (const char *const *)b->bo->build->env.v);
	strvec_pushv(&o->env, (const char *const *)t->env.v);
	if (t->buildspec)
		o->buildspec = t->buildspec;
	if (b->ref)
		o->ref = b->ref;
	o->batch_identifier = t->identifier;
}

static void child_main(struct brun *b, struct batch_task *t, int wfd,
		       pid_t parent)
{
	struct build_opts o;
	struct sw_err e = SW_ERR_INIT;
	char *art = b->artifacts ? fs_join(b->artifacts, t->identifier) : NULL;
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int status = ERR_SYSTEM;

	for (size_t i = 0; i < b->plan.nr; i++)
		if (b->plan.v[i].fd >= 0)
			close(b->plan.v[i].fd);
	if (b->log_fd >= 0)
		close(b->log_fd);
	if (devnull >= 0)
		dup2(devnull, STDIN_FILENO);
	dup2(wfd, STDOUT_FILENO);
	dup2(wfd, STDERR_FILENO);
	if (proc_signals_after_fork(&e) < 0)
		_exit(ERR_SYSTEM);
	/* the batch's death, even by SIGKILL, stops the build as a TERM */
	proc_die_with_parent(parent, SIGTERM);
	task_opts(b, t, &o);
	/* the batch's tasks have no terminal: CodeBuild's lines, no pause */
	o.brk.mode = BREAK_NONE;
	o.output = BUILD_OUTPUT_CODEBUILD;
	o.artifacts_dir = art;
	o.report = t->report;
	build_run(&o, &status);
	patch_report(b, t);
	fflush(NULL);
	_exit(status & 0xff);
}

static int task_start(struct brun *b, struct batch_task *t, struct sw_err *e)
{
	int p[2];
	pid_t parent, pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return err_sys(e, "cannot create a pipe");
	free(t->report);
	t->report = xasprintf("%s/builds/%s.json", b->dir, t->identifier);
	t->start_ms = proc_wall_ms();
	fflush(NULL);
	parent = getpid();
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return err_sys(e, "cannot fork the build of %s", t->identifier);
	}
	if (pid == 0) {
		close(p[0]);
		child_main(b, t, p[1], parent);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	t->pid = pid;
	t->fd = p[0];
	t->state = BT_RUNNING;
	b->running++;
	return 0;
}

static void stop_running(struct brun *b, int sig)
{
	for (size_t i = 0; i < b->plan.nr; i++)
		if (b->plan.v[i].state == BT_RUNNING && b->plan.v[i].pid > 0)
			kill(b->plan.v[i].pid, sig);
}

static void task_ended(struct brun *b, struct batch_task *t, int wst)
{
	enum batch_state st;

	drain(b, t);
	if (t->fd >= 0) {
		/* something the build left holds the pipe: stop reading */
		close(t->fd);
		t->fd = -1;
	}
	if (t->line.len) {
		out_line(b, t->identifier, t->line.ptr, t->line.len);
		buf_clear(&t->line);
	}
	t->end_ms = proc_wall_ms();
	t->pid = 0;
	b->running--;
	read_build_report(t);
	if (!t->build_status) {
		t->build_status = xstrdup("FAULT");
		say(b, "%s: the build ended (%s %d) without a report",
		    t->identifier, WIFSIGNALED(wst) ? "signal" : "exit status",
		    WIFSIGNALED(wst) ? WTERMSIG(wst) : WEXITSTATUS(wst));
	}
	if (!strcmp(t->build_status, "SUCCEEDED"))
		st = BT_SUCCEEDED;
	else if (!strcmp(t->build_status, "STOPPED"))
		st = BT_STOPPED;
	else
		st = BT_FAILED;
	batch_plan_finish(&b->plan, (size_t)(t - b->plan.v), st);
	if (st == BT_FAILED && !t->ignore_failure && b->plan.fast_fail &&
	    !b->fast_failed && !b->stopping) {
		size_t skipped = batch_plan_skip_pending(&b->plan);

		b->fast_failed = true;
		say(b,
		    "fast-fail: %s failed; stopping %zu running build(s), "
		    "skipping %zu",
		    t->identifier, b->running, skipped);
		stop_running(b, SIGTERM);
	}
}

static void reap(struct brun *b)
{
	for (;;) {
		int wst;
		pid_t pid = waitpid(-1, &wst, WNOHANG);

		if (pid <= 0)
			break;
		for (size_t i = 0; i < b->plan.nr; i++)
			if (b->plan.v[i].state == BT_RUNNING &&
			    b->plan.v[i].pid == pid) {
				task_ended(b, &b->plan.v[i], wst);
				break;
			}
	}
}

static void wait_some(struct brun *b)
{
	struct pollfd *p = xcalloc(b->plan.nr + 1, sizeof(*p));
	struct batch_task **who = xcalloc(b->plan.nr + 1, sizeof(*who));
	size_t n = 0;

	for (size_t i = 0; i < b->plan.nr; i++)
		if (b->plan.v[i].fd >= 0) {
			p[n].fd = b->plan.v[i].fd;
			p[n].events = POLLIN;
			who[n++] = &b->plan.v[i];
		}
	if (proc_sigfd() >= 0) {
		p[n].fd = proc_sigfd();
		p[n].events = POLLIN;
		who[n++] = NULL;
	}
	if (poll(p, n, 1000) > 0) {
		for (size_t i = 0; i < n; i++) {
			if (!p[i].revents)
				continue;
			if (!who[i])
				proc_sigfd_drain();
			else
				drain(b, who[i]);
		}
	}
	free(p);
	free(who);
}

static void interrupt(struct brun *b)
{
	if (b->stopping)
		return;
	b->stopping = true;
	b->stop_signal = proc_stop_signal();
	say(b, "stopped by signal %d: stopping %zu running build(s)",
	    b->stop_signal, b->running);
	batch_plan_skip_pending(&b->plan);
	stop_running(b, SIGTERM);
}

static int run_tasks(struct brun *b, struct sw_err *e)
{
	for (;;) {
		while (!b->stopping && b->running < b->jobs) {
			long i = batch_plan_next(&b->plan);

			if (i < 0)
				break;
			if (task_start(b, &b->plan.v[i], e) < 0) {
				batch_plan_finish(&b->plan, (size_t)i,
						  BT_FAILED);
				interrupt(b);
				break;
			}
		}
		live_draw(b);
		if (!b->running) {
			/* what could never start (a failed dependency) */
			batch_plan_skip_pending(&b->plan);
			break;
		}
		wait_some(b);
		reap(b);
		if (proc_stop_signal())
			interrupt(b);
	}
	live_clear(b);
	return 0;
}

static void notice_ignored_env(struct brun *b)
{
	for (size_t i = 0; i < b->plan.nr; i++) {
		const struct batch_task *t = &b->plan.v[i];

		if (t->image || t->compute_type || t->fleet) {
			say(b, "env image, compute-type and fleet are recorded "
			       "in the report and otherwise ignored: builds "
			       "run on this machine");
			return;
		}
	}
}

static int prepare(struct brun *b, struct sw_err *e)
{
	const struct build_opts *o = b->bo->build;
	char *uuid = state_uuid(), *name, *link, *logp, *builds;
	int ret = 0;

	b->project = source_project_name(o->source ? o->source : ".");
	b->id = xasprintf("%s:%s", b->project, uuid);
	b->arn = xasprintf("arn:aws:codebuild:%s:000000000000:build-batch/%s",
			   env_region((const char *const *)environ), b->id);
	name = state_build_name(b->id);
	b->dir = xasprintf("%s/batches/%s", b->st.dir, name);
	link = xasprintf("%s/batches/%s", b->st.dir, b->id);
	builds = fs_join(b->dir, "builds");
	if (fs_mkdir_p(builds, 0755, e) < 0)
		ret = -1;
	else if (symlink(name, link) < 0 && errno != EEXIST)
		ret = err_sys(e, "cannot create '%s'", link);
	logp = fs_join(b->dir, "batch.log");
	if (!ret) {
		/* locked while the batch runs: `slipway prune` leaves it */
		b->log_fd = fs_create_locked(logp, 0644, e);
		if (b->log_fd < 0)
			ret = -1;
	}
	free(uuid);
	free(name);
	free(link);
	free(logp);
	free(builds);
	return ret;
}

static void final_summary(struct brun *b, const char *status)
{
	size_t n[6] = { 0 };

	for (size_t i = 0; i < b->plan.nr; i++)
		n[b->plan.v[i].state]++;
	for (size_t i = 0; i < b->plan.nr; i++) {
		const struct batch_task *t = &b->plan.v[i];

		fprintf(stderr, "  %-*s %-10s %6.1fs%s%s%s\n", (int)b->width,
			t->identifier,
			t->state == BT_SKIPPED ? "SKIPPED"
			: t->build_status      ? t->build_status
					       : batch_state_name(t->state),
			t->start_ms ? (double)(t->end_ms - t->start_ms) / 1000.0
				    : 0.0,
			t->build_id ? "  " : "", t->build_id ? t->build_id : "",
			t->ignore_failure && t->state == BT_FAILED
				? "  (failure ignored)"
				: "");
	}
	fprintf(stderr,
		"slipway: batch %s %s in %.1fs: %zu succeeded, %zu failed, "
		"%zu stopped, %zu skipped\n",
		b->id, status, (double)(b->end_ms - b->start_ms) / 1000.0,
		n[BT_SUCCEEDED], n[BT_FAILED], n[BT_STOPPED], n[BT_SKIPPED]);
}

/* --batch-task ID: that task alone, as a normal build. */
static int run_one(struct brun *b, int *status)
{
	long i = batch_plan_find(&b->plan, b->bo->task);
	struct build_opts o;

	if (i < 0) {
		struct buf ids = BUF_INIT;

		for (size_t k = 0; k < b->plan.nr && k < 20; k++)
			buf_addf(&ids, "%s%s", k ? ", " : "",
				 b->plan.v[k].identifier);
		fprintf(stderr,
			"error: --batch-task: no task '%s' in the batch "
			"(tasks: %s%s)\n",
			b->bo->task, buf_cstr(&ids),
			b->plan.nr > 20 ? ", ..." : "");
		buf_release(&ids);
		*status = ERR_USAGE;
		return 1;
	}
	task_opts(b, &b->plan.v[i], &o);
	build_run(&o, status);
	strvec_release(&o.env);
	return 1;
}

static int run_batch(struct brun *b, int *status, struct sw_err *e)
{
	const char *final;

	if (prepare(b, e) < 0)
		return -1;
	for (size_t i = 0; i < b->plan.nr; i++) {
		size_t w = strlen(b->plan.v[i].identifier);

		if (w > b->width)
			b->width = w;
	}
	if (b->width < 5)
		b->width = 5;
	b->live = !b->bo->build->quiet && isatty(STDERR_FILENO);
	if (b->bo->build->artifacts_dir)
		b->artifacts = fs_abspath(b->bo->build->artifacts_dir);
	say(b, "batch %s: %zu build(s), at most %zu at a time%s", b->id,
	    b->plan.nr, b->jobs, b->plan.fast_fail ? ", fast-fail" : "");
	notice_ignored_env(b);
	phase_open(b, "IN_PROGRESS");
	run_tasks(b, e);
	if (b->stopping)
		b->phases[b->nr_phases - 1].status = "STOPPED";
	else if (!batch_plan_succeeded(&b->plan))
		b->phases[b->nr_phases - 1].status = "FAILED";
	if (b->artifacts) {
		phase_open(b, "COMBINE_ARTIFACTS");
		say(b, "artifacts of each build are in %s/<identifier>",
		    b->artifacts);
	}
	final = b->stopping			 ? "STOPPED"
		: batch_plan_succeeded(&b->plan) ? "SUCCEEDED"
						 : "FAILED";
	phase_open(b, final);
	b->end_ms = proc_wall_ms();
	if (write_reports(b, e) < 0) {
		fprintf(stderr, "error: cannot write the batch report: %s\n",
			e->msg);
		*status = ERR_SYSTEM;
	} else {
		*status = strcmp(final, "SUCCEEDED") ? ERR_FAILED : 0;
	}
	final_summary(b, final);
	return 0;
}

int batch_run(struct batch_opts *bo, int *status)
{
	struct brun b;
	struct sw_err e = SW_ERR_INIT;
	int rc, ret = 1;
	long cpus;

	memset(&b, 0, sizeof(b));
	b.bo = bo;
	b.log_fd = -1;
	b.plan = (struct batch_plan)BATCH_PLAN_INIT;
	b.start_ms = proc_wall_ms();
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	b.jobs = bo->jobs > 0 ? (size_t)bo->jobs : cpus > 0 ? (size_t)cpus : 1;
	if (proc_signals_init(&e) < 0 ||
	    state_open(&b.st, bo->build->state_dir, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		*status = e.code ? e.code : ERR_SYSTEM;
		goto out;
	}
	phase_open(&b, "SUBMITTED");
	phase_open(&b, "DOWNLOAD_BATCHSPEC");
	rc = load_batchspec(&b, &e);
	if (rc <= 0) {
		if (rc < 0) {
			fprintf(stderr, "error: %s\n", e.msg);
			*status = e.code ? e.code : ERR_SYSTEM;
		} else if (bo->task) {
			fprintf(stderr,
				"error: --batch-task: %s has no batch "
				"section\n",
				b.spec);
			*status = ERR_USAGE;
		} else {
			ret = 0;
			if (b.fetched)
				bo->fetched_ms = b.start_ms;
		}
		goto out;
	}
	if (batch_plan_make(&b.bs.batch, &b.plan, &e) < 0) {
		fprintf(stderr, "error: %s: %s\n", b.spec, e.msg);
		*status = e.code;
		goto out;
	}
	if (bo->task) {
		run_one(&b, status);
		goto out;
	}
	if (run_batch(&b, status, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		*status = e.code ? e.code : ERR_SYSTEM;
	}
out:
	if (b.have_bs)
		buildspec_release(&b.bs);
	batch_plan_release(&b.plan);
	if (b.log_fd >= 0)
		close(b.log_fd);
	state_release(&b.st);
	free(b.project);
	free(b.id);
	free(b.arn);
	free(b.dir);
	free(b.spec);
	free(b.ref);
	free(b.source_version);
	free(b.resolved);
	free(b.location);
	free(b.artifacts);
	return ret;
}
