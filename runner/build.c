#include "build.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts.h"
#include "buildspec.h"
#include "cache.h"
#include "env.h"
#include "envfile.h"
#include "fs.h"
#include "html.h"
#include "index.h"
#include "layout.h"
#include "mirror.h"
#include "log.h"
#include "mask.h"
#include "mountns.h"
#include "pause.h"
#include "proc.h"
#include "report.h"
#include "resume.h"
#include "retire.h"
#include "sandbox.h"
#include "secrets.h"
#include "shell.h"
#include "source.h"
#include "state.h"
#include "xalloc.h"
#include "banned.h"

extern char **environ;

#define DEFAULT_TIMEOUT_MS (60LL * 60 * 1000)
/* where a sandbox shows <build>/codebuild/output (layout.h) */
#define SANDBOX_OUTPUT "/codebuild/output"
#define GROUP_GRACE_MS 2000

/* Everything one build holds while it runs. */
struct run {
	const struct build_opts *o;
	struct build_result *res;
	struct state st;
	struct buildspec bs;
	bool have_bs;
	struct mask mask;
	struct log log;
	int log_fd;
	struct strvec env;
	struct shell sh;
	bool have_shell;
	struct proc_group group;
	char *uuid;
	int exit_status;
	enum phase_status final; /* how the build ends */
	bool skip_to_finalizing;
	struct cache cache;
	bool have_cache;
	/* a mount namespace of the build's own, for overlay restores */
	struct mountns mns;
	char *overlay_off; /* why there is none, or NULL */
	char *cache_key; /* expanded before INSTALL, used by the save too */
	struct strvec cache_fallbacks;
	char *sandbox_src; /* CODEBUILD_SRC_DIR inside the sandbox, or NULL */
	char *out_dir; /* <build>/codebuild/output: /codebuild/output inside */
	char *src_name; /* "src<N>", the sources' directory under out_dir */
	struct sandbox sandbox;
	/* sandboxed: absolute cache paths live under it, mounted inside */
	char *cache_root;
	struct shell_user cb_user; /* codebuild-user, when the sandbox has it */
	bool have_cb_user;
	/* report.json's space, set aside before anything can fill the disk */
	struct fs_reserve report_rv;
	bool disk_noted; /* the reason already says what could not be written */
	struct resume_rec from; /* --from / --phase: the kept build's record */
	char *from_out; /* its codebuild/output */
	char *resume_cwd; /* where the first command runs, or NULL */
	/* the first failed command (borrowed from bs), for the summary */
	const char *failed_phase, *failed_command;
	int failed_line, failed_status;
};

static void set_reason(struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_reason(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->res->reason)
		return;
	va_start(ap, fmt);
	r->res->reason = xvasprintf(fmt, ap);
	va_end(ap);
}

static void fail(struct run *r, enum phase_status st, int status)
{
	if (r->final == PHASE_SUCCEEDED) {
		r->final = st;
		r->exit_status = status;
	}
}

/*
 * slipway could not write one of the build's own records (its log, its
 * report): the build faults, and the reason says so first, the way an
 * operator must read it ("no space left on device ..."), then why the
 * build had already failed, if it had.
 */
static void record_fault(struct run *r, int err, const char *what)
{
	const char *why = err == ENOSPC || err == EDQUOT
				  ? "no space left on device"
				  : strerror(err);
	char *old = r->res->reason;

	if (r->disk_noted)
		return;
	r->disk_noted = true;
	r->res->reason = old ? xasprintf("%s in %s: %s incomplete; %s", why,
					 r->st.dir, what, old)
			     : xasprintf("%s in %s: %s incomplete", why,
					 r->st.dir, what);
	free(old);
	if (r->final == PHASE_SUCCEEDED || r->final == PHASE_FAILED) {
		r->final = PHASE_FAULT;
		r->exit_status = ERR_SYSTEM;
	}
}

static char *initiator(void)
{
	const char *u = getenv("USER");
	struct passwd *pw;

	if (u && *u)
		return xstrdup(u);
	pw = getpwuid(geteuid());
	return xstrdup(pw ? pw->pw_name : "local");
}

/* ---- DOWNLOAD_SOURCE: source, buildspec, environment ---- */

static int resolve_secrets(struct run *r, struct phase_rec *p)
{
	struct secrets s = SECRETS_INIT;
	struct sw_err e = SW_ERR_INIT;
	const struct bs_kvlist *lists[2] = { &r->bs.parameter_store,
					     &r->bs.secrets_manager };
	const struct strvec *opts[2] = { &r->o->parameter_env,
					 &r->o->secret_env };
	int ret = 0;

	if (!lists[0]->nr && !lists[1]->nr && !opts[0]->nr && !opts[1]->nr)
		return 0;
	secrets_init(&s);
	secrets_set_mask(&s, &r->mask);
	if (r->o->secrets_file &&
	    secrets_load_file(&s, r->o->secrets_file, &e) < 0) {
		log_agent(&r->log, "%s", e.msg);
		phase_end(p, PHASE_FAILED, "CLIENT_ERROR", e.msg, &r->log);
		set_reason(r, "%s", e.msg);
		fail(r, PHASE_FAILED, e.code);
		secrets_release(&s);
		return -1;
	}
	if (r->o->secrets_command)
		secrets_set_command(&s, r->o->secrets_command);
	for (int k = 0; k < 2 && !ret; k++) {
		for (size_t i = 0; i < lists[k]->nr; i++) {
			const struct bs_kv *kv = &lists[k]->v[i];
			char *value = NULL;
			int rc = k == 0 ? secrets_get_parameter(&s, kv->value,
								&value, &e)
					: secrets_get_secret(&s, kv->value,
							     &value, &e);

			if (rc < 0) {
				const char *code =
					k == 0 ? "Decrypted Variables Error"
					       : "Secrets Manager Error";

				phase_end(p, PHASE_FAILED, code, e.msg,
					  &r->log);
				set_reason(r, "%s: %s", code, e.msg);
				fail(r, PHASE_FAILED, ERR_FAILED);
				ret = -1;
				break;
			}
			env_set(&r->env, kv->name, value);
			free(value);
		}
	}
	/* then the command line's, which win over the buildspec's */
	for (int k = 0; k < 2 && !ret; k++) {
		for (size_t i = 0; i < opts[k]->nr; i++) {
			const char *nv = opts[k]->v[i], *eq = strchr(nv, '=');
			char *name = xstrndup(nv, eq - nv), *value = NULL;
			int rc = k == 0 ? secrets_get_parameter(&s, eq + 1,
								&value, &e)
					: secrets_get_secret(&s, eq + 1, &value,
							     &e);

			if (rc < 0) {
				const char *code =
					k == 0 ? "Decrypted Variables Error"
					       : "Secrets Manager Error";

				phase_end(p, PHASE_FAILED, code, e.msg,
					  &r->log);
				set_reason(r, "%s: %s: %s", code, name, e.msg);
				fail(r, PHASE_FAILED, ERR_FAILED);
				free(name);
				ret = -1;
				break;
			}
			env_set(&r->env, name, value);
			free(name);
			free(value);
		}
	}
	secrets_release(&s);
	return ret;
}

/*
 * CODEBUILD_BUILD_URL: the build's own page, report.html beside its
 * report (written when the build ends), as a file:// URL with every byte
 * but unreserved ones and '/' percent-encoded. Caller frees.
 */
static char *build_url(const char *build_dir)
{
	static const char hex[] = "0123456789ABCDEF";
	char *abs = fs_abspath(build_dir);
	struct buf b = BUF_INIT;

	buf_addstr(&b, "file://");
	for (const unsigned char *c = (const unsigned char *)abs; *c; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		    (*c >= '0' && *c <= '9') || strchr("-._~/", *c)) {
			buf_addch(&b, *c);
		} else {
			buf_addch(&b, '%');
			buf_addch(&b, hex[*c >> 4]);
			buf_addch(&b, hex[*c & 15]);
		}
	}
	buf_addstr(&b, "/report.html");
	free(abs);
	return buf_detach(&b);
}

/* CODEBUILD_SRC_DIR_<id> and its companions, per secondary source. */
static void secondary_env(struct run *r)
{
	for (size_t i = 0; i < r->res->nr_secondary; i++) {
		const struct build_source *s = &r->res->secondary[i];
		const char *version = s->source_version
					      ? s->source_version
					      : s->resolved_source_version;
		char *n = xasprintf("CODEBUILD_SRC_DIR_%s", s->id);

		env_set(&r->env, n, s->build_dir);
		free(n);
		n = xasprintf("CODEBUILD_SOURCE_VERSION_%s", s->id);
		env_set(&r->env, n, version ? version : "");
		free(n);
		n = xasprintf("CODEBUILD_SOURCE_REPO_URL_%s", s->id);
		env_set(&r->env, n, s->location);
		free(n);
	}
}

/* Where a sandboxed build finds the ssh agent (SSH_AUTH_SOCK). */
#define AGENT_AT "/run/slipway/ssh-agent.sock"

/*
 * The ssh agent's socket for git-credential-helper, absolute and
 * symlink-free, or NULL when SSH_AUTH_SOCK names no socket.
 */
static char *agent_socket(void)
{
	const char *sock = getenv("SSH_AUTH_SOCK");
	char *real;
	struct stat st;

	if (!sock || sock[0] != '/')
		return NULL;
	real = realpath(sock, NULL);
	if (!real || stat(real, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		free(real);
		return NULL;
	}
	return real;
}

/*
 * git-credential-helper: yes. CodeBuild lets the build's git commands use
 * the credentials it fetched the source with; slipway's are the ssh
 * agent (SSH_AUTH_SOCK), so the build gets that agent's socket: in dir
 * isolation where it is, in the sandbox the socket alone at AGENT_AT
 * (agent_bind()), not its directory. The agent signs; no key is readable.
 */
static void credential_env(struct run *r)
{
	char *sock;

	if (!r->bs.git_credential_helper)
		return;
	sock = agent_socket();
	if (!sock) {
		log_agent(&r->log, "git-credential-helper: no ssh agent "
				   "(SSH_AUTH_SOCK) to offer the build's git "
				   "commands");
		return;
	}
	env_set(&r->env, "SSH_AUTH_SOCK",
		r->sandbox_src ? AGENT_AT : getenv("SSH_AUTH_SOCK"));
	log_agent(&r->log,
		  "git-credential-helper: the build's git commands use the "
		  "ssh agent at %s%s%s",
		  getenv("SSH_AUTH_SOCK"), r->sandbox_src ? ", as " : "",
		  r->sandbox_src ? AGENT_AT : "");
	free(sock);
}

static int build_env(struct run *r, struct phase_rec *p)
{
	struct build_result *res = r->res;
	struct env_codebuild cb = { 0 };
	struct sw_err e = SW_ERR_INIT;
	struct strvec names = STRVEC_INIT, values = STRVEC_INIT;
	char *url;

	env_base(&r->env, r->o->inherit_env, (const char *const *)environ);
	cb.build_id = res->id;
	cb.build_arn = res->arn;
	cb.build_number = res->number;
	cb.src_dir = r->sandbox_src ? r->sandbox_src : res->src_dir;
	cb.start_ms = res->start_ms;
	cb.initiator = res->initiator;
	cb.region = env_region((const char *const *)environ);
	cb.source_version = res->source_version;
	cb.resolved_source_version = res->resolved_source_version;
	cb.source_repo_url = res->repo_url;
	cb.log_path = r->uuid;
	url = build_url(res->build_dir);
	cb.build_url = url;
	env_add_codebuild(&r->env, &cb);
	free(url);
	secondary_env(r);
	credential_env(r);
	if (r->o->batch_identifier)
		env_set(&r->env, "CODEBUILD_BATCH_BUILD_IDENTIFIER",
			r->o->batch_identifier);
	/* lowest first: buildspec, secrets, env file, command line */
	for (size_t i = 0; i < r->bs.variables.nr; i++) {
		const struct bs_kv *kv = &r->bs.variables.v[i];

		if (!strncmp(kv->name, "CODEBUILD_", 10))
			continue; /* reserved; the parser warned */
		env_set(&r->env, kv->name, kv->value);
	}
	if (resolve_secrets(r, p) < 0)
		return -1;
	if (r->o->env_file) {
		if (envfile_load(r->o->env_file, &names, &values, &e) < 0) {
			phase_end(p, PHASE_FAILED, "CLIENT_ERROR", e.msg,
				  &r->log);
			set_reason(r, "%s", e.msg);
			fail(r, PHASE_FAILED, e.code);
			strvec_release(&names);
			strvec_release(&values);
			return -1;
		}
		for (size_t i = 0; i < names.nr; i++)
			env_set(&r->env, names.v[i], values.v[i]);
		strvec_release(&names);
		strvec_release(&values);
	}
	for (size_t i = 0; i < r->o->env.nr; i++) {
		char *name, *value;

		if (env_parse_assignment(r->o->env.v[i], &name, &value, &e) < 0)
			continue; /* checked by the command line */
		env_set(&r->env, name, value);
		free(name);
		free(value);
	}
	return 0;
}

/*
 * The build's own helpers (codebuild-hash-files, codebuild-tests-run,
 * codebuild-glob-search) are slipway under another name, in <build>/bin,
 * put at the end of PATH.
 */
static void add_helpers(struct run *r)
{
	char *bin = fs_join(r->res->build_dir, "bin");
	char *link = fs_join(bin, "codebuild-hash-files");
	char *tests = fs_join(bin, "codebuild-tests-run");
	char *globs = fs_join(bin, "codebuild-glob-search");
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct sw_err e = SW_ERR_INIT;
	const char *path = env_get(&r->env, "PATH");

	if (n > 0 && fs_mkdir_p(bin, 0755, &e) == 0) {
		self[n] = '\0';
		if (symlink(self, tests) < 0 && errno != EEXIST)
			log_agent(&r->log, "Warning: cannot create %s", tests);
		if (symlink(self, globs) < 0 && errno != EEXIST)
			log_agent(&r->log, "Warning: cannot create %s", globs);
		if (symlink(self, link) == 0 || errno == EEXIST) {
			char *p = xasprintf("%s%s%s", path ? path : "",
					    path && *path ? ":" : "", bin);

			env_set(&r->env, "PATH", p);
			free(p);
		}
	}
	free(bin);
	free(link);
	free(tests);
	free(globs);
}

static void log_phases_found(struct run *r)
{
	int n = 0;

	for (int i = 0; i < BS_NPHASES; i++)
		n += r->bs.phases[i].present;
	log_agent(&r->log, "Phases found in YAML: %d", n);
	for (int i = 0; i < BS_NPHASES; i++)
		if (r->bs.phases[i].present)
			log_agent(&r->log, " %s: %zu commands",
				  bs_phase_type(i),
				  r->bs.phases[i].commands.nr);
}

/* A batch section where this build does not run it: say so, once. */
static void log_unsupported(struct run *r)
{
	static const char *const batch[] = { "", "build-list", "build-graph",
					     "build-matrix", "build-fanout" };

	if (r->bs.batch.type != BS_BATCH_NONE && r->o->batch_identifier)
		log_agent(&r->log,
			  "Batch task %s: the batch section is not "
			  "run again inside it",
			  r->o->batch_identifier);
	else if (r->bs.batch.type != BS_BATCH_NONE)
		log_agent(&r->log,
			  "Batch section (%s): running this buildspec's own "
			  "phases as one build ('slipway build' runs the "
			  "batch)",
			  batch[r->bs.batch.type]);
}

/*
 * A plain directory (no git, so no commit) gets the SHA-256 of its
 * content as its source version (CODEBUILD_SOURCE_VERSION, or
 * CODEBUILD_SOURCE_VERSION_<ID> for a secondary source, and the report's
 * sourceVersion): what `codebuild-hash-files '**' '/' '*'` prints in the
 * source directory before the build (spaced out here, as a C comment
 * cannot hold it). As for CodeBuild's S3 sources, there is no resolved
 * version. NULL (with a warning in the log) when it cannot be read.
 */
static char *dir_source_version(struct run *r, const char *dir,
				const char *what)
{
	static const char *const all[] = { "**/*" };
	struct sw_err e = SW_ERR_INIT;
	char hex[65];

	if (cache_hash_files(dir, all, 1, hex, &e) < 0) {
		log_agent(&r->log, "Warning: no source version%s: %s", what,
			  e.msg);
		return NULL;
	}
	log_agent(&r->log, "Source version%s: content SHA-256 %s", what, hex);
	return xstrdup(hex);
}

/* The directories above path, made as needed. */
static int mkdir_parent(const char *path, struct sw_err *e)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int ret = 0;

	if (slash && slash != dir) {
		*slash = '\0';
		ret = fs_mkdir_p(dir, 0755, e);
	}
	free(dir);
	return ret;
}

/*
 * Where secondary source s goes, relative to the output directory: beside
 * a primary at its forge path when s has one too (CodeBuild's layout, a
 * GOPATH), else src<N>/secSrc/<id> (CodeBuild's local agent's). Never
 * inside or above a source placed before.
 */
static char *secondary_rel(const struct run *r, const char *source,
			   const char *id, const struct strvec *taken)
{
	char *plain = xasprintf("%s/src", r->src_name);
	char *repo = NULL, *rel = NULL;

	if (strcmp(taken->v[0], plain) && source_is_git_url(source))
		repo = layout_repo_path(source);
	if (repo) {
		rel = xasprintf("%s/src/%s", r->src_name, repo);
		for (size_t i = 0; rel && i < taken->nr; i++)
			if (layout_overlaps(rel, taken->v[i])) {
				free(rel);
				rel = NULL;
			}
	}
	free(repo);
	free(plain);
	return rel ? rel : xasprintf("%s/secSrc/%s", r->src_name, id);
}

/* DOWNLOAD_SOURCE ends with the fetch's error e. */
static void source_failed(struct run *r, struct phase_rec *p,
			  const struct sw_err *e)
{
	phase_end(p, e->code == ERR_SYSTEM ? PHASE_FAULT : PHASE_FAILED,
		  "CLIENT_ERROR", e->msg, &r->log);
	set_reason(r, "%s", e->msg);
	fail(r, PHASE_FAILED,
	     e->code == ERR_USAGE    ? ERR_USAGE
	     : e->code == ERR_SYSTEM ? ERR_SYSTEM
				     : ERR_FAILED);
}

/* The secondary sources, each into its own directory, after the primary. */
static int fetch_secondaries(struct run *r, struct phase_rec *p)
{
	const struct build_opts *o = r->o;
	struct build_result *res = r->res;
	struct strvec taken = STRVEC_INIT;
	char *mirrors = fs_join(r->st.dir, "sources");
	int ret = 0;

	if (!o->nr_secondary)
		goto out;
	strvec_push(&taken, res->src_dir + strlen(r->out_dir) + 1);
	res->secondary = xcalloc(o->nr_secondary, sizeof(*res->secondary));
	for (size_t i = 0; i < o->nr_secondary; i++) {
		const struct layout_secondary *s = &o->secondary[i];
		struct build_source *b = &res->secondary[res->nr_secondary++];
		struct source_opts so = SOURCE_OPTS_INIT;
		struct source_result sr = SOURCE_RESULT_INIT;
		struct sw_err e = SW_ERR_INIT;
		char *rel = secondary_rel(r, s->source, s->id, &taken), *sum;

		b->id = xstrdup(s->id);
		b->dir = fs_join(r->out_dir, rel);
		b->build_dir = r->sandbox_src
				       ? xasprintf("%s/%s", SANDBOX_OUTPUT, rel)
				       : xstrdup(b->dir);
		strvec_push(&taken, rel);
		free(rel);
		so.source = s->source;
		so.ref = s->ref;
		so.dest = b->dir;
		so.progress = !o->quiet && isatty(STDERR_FILENO);
		so.mirror_dir = mirrors;
		so.no_cache = o->no_cache;
		if (mkdir_parent(b->dir, &e) < 0 ||
		    source_fetch(&so, &sr, &e) < 0) {
			err_prefix(&e, "secondary source '%s'", s->id);
			source_failed(r, p, &e);
			source_result_release(&sr);
			ret = -1;
			goto out;
		}
		b->location = sr.repo_url ? xstrdup(sr.repo_url)
					  : fs_abspath(s->source);
		b->source_version = xstrdup_or_null(sr.source_version);
		b->resolved_source_version =
			xstrdup_or_null(sr.resolved_version);
		if (!b->source_version && !b->resolved_source_version) {
			char *what = xasprintf(" of '%s'", b->id);

			b->source_version = dir_source_version(r, b->dir, what);
			free(what);
		}
		sum = source_cache_summary(&sr);
		if (sum)
			log_agent(&r->log, "%s", sum);
		free(sum);
		source_result_release(&sr);
	}
out:
	free(mirrors);
	strvec_release(&taken);
	return ret;
}

/* A kept build's path in a value, made this build's. */
static char *rebase(const struct run *r, const char *v)
{
	const char *src = r->sandbox_src ? r->sandbox_src : r->res->src_dir;
	char *a = resume_rebase(v, r->from.build_src, src);
	char *b = resume_rebase(a, r->from.build_dir, r->res->build_dir);

	free(a);
	return b;
}

/*
 * --from / --phase: the variables the kept build had as the phase
 * started, over this build's own (its CODEBUILD_* and secrets stay this
 * build's; -e still wins), and the directory it was in.
 */
static void resume_env(struct run *r)
{
	struct sw_err e = SW_ERR_INIT;
	size_t n = 0;

	for (size_t i = 0; i < r->from.env.nr; i++) {
		const char *kv = r->from.env.v[i], *eq = strchr(kv, '=');
		char *name, *value;

		if (!eq || eq == kv)
			continue;
		name = xstrndup(kv, (size_t)(eq - kv));
		if (!strncmp(name, "CODEBUILD_", 10) &&
		    (env_get(&r->env, name) ||
		     !strcmp(name, "CODEBUILD_BUILD_SUCCEEDING") ||
		     !strcmp(name, "CODEBUILD_LAST_EXIT"))) {
			free(name);
			continue;
		}
		value = rebase(r, eq + 1);
		env_set(&r->env, name, value);
		free(name);
		free(value);
		n++;
	}
	for (size_t i = 0; i < r->o->env.nr; i++) {
		char *name, *value;

		if (env_parse_assignment(r->o->env.v[i], &name, &value, &e) < 0)
			continue;
		env_set(&r->env, name, value);
		free(name);
		free(value);
	}
	if (r->from.cwd)
		r->resume_cwd = rebase(r, r->from.cwd);
	log_agent(&r->log,
		  "Restored %zu variables and the directory %s of build %s "
		  "as phase %s started",
		  n, r->resume_cwd ? r->resume_cwd : "(the source's)",
		  r->res->from_build, r->res->from_phase);
}

/*
 * As each phase starts: the carried variables and directory, for a later
 * --from (resume.h). Secrets are left out: a resumed build resolves them
 * again.
 */
static void save_phase(int id, void *data)
{
	struct run *r = data;
	struct build_result *res = r->res;
	struct resume_rec rec = RESUME_REC_INIT;
	struct sw_err e = SW_ERR_INIT;
	const struct strvec *env =
		r->sh.persist ? &r->sh.env : &r->sh.first_env;
	const struct bs_kvlist *secret[2] = { &r->bs.parameter_store,
					      &r->bs.secrets_manager };

	for (size_t i = 0; i < env->nr; i++) {
		const char *kv = env->v[i], *eq = strchr(kv, '=');
		bool skip = !eq;
		char *masked;

		for (int k = 0; !skip && k < 2; k++)
			for (size_t j = 0; !skip && j < secret[k]->nr; j++) {
				size_t l = strlen(secret[k]->v[j].name);

				skip = (size_t)(eq - kv) == l &&
				       !strncmp(kv, secret[k]->v[j].name, l);
			}
		if (skip)
			continue;
		masked = mask_string(&r->mask, eq + 1);
		if (!strcmp(masked, eq + 1))
			strvec_push(&rec.env, kv);
		free(masked);
	}
	rec.build_id = res->id;
	rec.project = res->project;
	rec.phase = (char *)bs_phase_type(id);
	rec.src_dir = res->src_dir;
	rec.build_src = r->sandbox_src ? r->sandbox_src : res->src_dir;
	rec.build_dir = res->build_dir;
	rec.cwd = r->sh.persist ? r->sh.cwd : r->sh.first_cwd;
	rec.repo_url = res->repo_url;
	rec.source_version = res->source_version;
	rec.resolved_source_version = res->resolved_source_version;
	rec.buildspec = res->buildspec;
	if (resume_save(res->build_dir, &rec, &e) < 0)
		log_agent(&r->log,
			  "Warning: no record of phase %s for --from: %s",
			  rec.phase, e.msg);
	strvec_release(&rec.env);
}

/*
 * A message about the build's copy of a file ("<src>/buildspec.yml:3:5:
 * ...") names the user's file instead: under a local source as the user
 * named it ("app/buildspec.yml:3:5: ..."), else relative to the
 * repository's root. The caller frees it.
 */
static char *user_file_msg(const struct build_opts *o, const char *src_dir,
			   const char *msg)
{
	size_t sl = strlen(src_dir);
	const char *src = o->source ? o->source : ".";

	if (strncmp(msg, src_dir, sl) || msg[sl] != '/')
		return xstrdup(msg);
	msg += sl + 1;
	if (source_is_git_url(src) || !strcmp(src, "."))
		return xstrdup(msg);
	return xasprintf("%s%s%s", src, src[strlen(src) - 1] == '/' ? "" : "/",
			 msg);
}

static int download_source(struct run *r)
{
	const struct build_opts *o = r->o;
	struct build_result *res = r->res;
	struct source_opts so = SOURCE_OPTS_INIT;
	struct source_result sr = SOURCE_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct phase_rec *p;
	const char *exclude[3] = { NULL, NULL, NULL };
	char *spec, *mirrors, *summary;
	int rc;

	if (o->submitted_ms) {
		/* what the user waited for before build_run(), counted */
		p = phase_begin(&res->phases, "PROVISIONING", NULL);
		p->start_ms = res->start_ms;
		phase_end(p, PHASE_SUCCEEDED, NULL, NULL, NULL);
		log_agent(&r->log,
			  "Provisioning took %.3f s (the buildspec read from "
			  "the source to look for a batch section)",
			  (double)(p->end_ms - p->start_ms) / 1000.0);
	}
	log_agent(&r->log, "Waiting for DOWNLOAD_SOURCE");
	p = phase_begin(&res->phases, "DOWNLOAD_SOURCE", NULL);
	log_agent(&r->log, "Phase is DOWNLOAD_SOURCE");
	so.source = o->source;
	so.ref = o->ref;
	so.dest = res->src_dir;
	if (mkdir_parent(res->src_dir, &e) < 0) {
		phase_end(p, PHASE_FAULT, "CLIENT_ERROR", e.msg, &r->log);
		set_reason(r, "%s", e.msg);
		fail(r, PHASE_FAULT, ERR_SYSTEM);
		return -1;
	}
	so.progress = !o->quiet && isatty(STDERR_FILENO);
	so.worktree = o->worktree;
	so.no_spare = true; /* started below, once old trees are retired */
	exclude[0] = r->st.dir;
	exclude[1] = o->artifacts_dir;
	so.exclude = exclude;
	mirrors = fs_join(r->st.dir, "sources");
	so.mirror_dir = mirrors;
	so.no_cache = o->no_cache;
	if (o->resume) {
		/* the kept tree as it is now, fixes included */
		fs_remove_tree(r->out_dir, &e);
		err_clear(&e);
		log_agent(&r->log,
			  "Source: the files of build %s as they are now, "
			  "from phase %s%s",
			  res->from_build, res->from_phase,
			  o->one_phase ? " alone" : "");
		rc = fs_copy_tree(r->from_out, r->out_dir, NULL, &e);
		if (!rc) {
			sr.repo_url = xstrdup_or_null(r->from.repo_url);
			sr.source_version =
				xstrdup_or_null(r->from.source_version);
			sr.resolved_version = xstrdup_or_null(
				r->from.resolved_source_version);
		}
	} else {
		rc = source_fetch(&so, &sr, &e);
	}
	free(mirrors);
	if (rc < 0) {
		source_failed(r, p, &e);
		source_result_release(&sr);
		return -1;
	}
	res->repo_url =
		sr.repo_url ? xstrdup(sr.repo_url) : fs_abspath(o->source);
	res->source_version = xstrdup_or_null(sr.source_version);
	res->resolved_source_version = xstrdup_or_null(sr.resolved_version);
	summary = source_cache_summary(&sr);
	if (summary)
		log_agent(&r->log, "%s", summary);
	free(summary);
	if (fetch_secondaries(r, p) < 0) {
		source_result_release(&sr);
		return -1;
	}
	if (source_note_tree(res->build_dir, res->src_dir, &sr, &e) < 0) {
		log_agent(&r->log, "Warning: %s", e.msg);
		err_clear(&e);
	}
	/*
	 * Old builds' trees go to the trash, deleted in the background; a
	 * source tree goes to its pool, the next build's.
	 */
	if (retire_old_builds_with(r->st.dir, res->project, -1,
				   source_recycle_build, r->st.dir, &e) < 0) {
		log_agent(&r->log, "Warning: %s", e.msg);
		err_clear(&e);
	}
	source_spare_start(&sr);
	if (sr.uncommitted && sr.worktree)
		log_agent(&r->log, "Building the work tree as it is, "
				   "uncommitted changes included (--committed "
				   "builds the last commit)");
	else if (sr.uncommitted && o->committed)
		log_agent(&r->log,
			  "Warning: %s has uncommitted changes, which "
			  "--committed leaves out",
			  o->source ? o->source : ".");
	else if (sr.uncommitted)
		log_agent(&r->log,
			  "Warning: %s has uncommitted changes, which a clone "
			  "leaves out; use --worktree to build the work tree "
			  "as it is",
			  o->source ? o->source : ".");
	source_result_release(&sr);
	if (!res->source_version && !res->resolved_source_version)
		res->source_version = dir_source_version(r, res->src_dir, "");
	if (res->resolved_source_version)
		log_agent(&r->log, "Source version %s resolved to %s",
			  res->source_version ? res->source_version : "HEAD",
			  res->resolved_source_version);
	log_agent(&r->log, "CODEBUILD_SRC_DIR=%s",
		  r->sandbox_src ? r->sandbox_src : res->src_dir);
	for (size_t i = 0; i < res->nr_secondary; i++)
		log_agent(&r->log, "CODEBUILD_SRC_DIR_%s=%s",
			  res->secondary[i].id, res->secondary[i].build_dir);

	spec = o->buildspec && o->buildspec[0] == '/'
		       ? xstrdup(o->buildspec)
		       : fs_join(res->src_dir,
				 o->buildspec ? o->buildspec : "buildspec.yml");
	res->buildspec = xstrdup(o->buildspec ? o->buildspec : "buildspec.yml");
	log_agent(&r->log, "YAML location is %s", spec);
	if (buildspec_load(spec, &r->bs, &e) < 0) {
		char *msg = user_file_msg(o, res->src_dir, e.msg);

		phase_end(p, PHASE_FAILED, "YAML_FILE_ERROR", msg, &r->log);
		set_reason(r, "YAML_FILE_ERROR: %s", msg);
		fail(r, PHASE_FAILED, e.code == ERR_SPEC ? ERR_SPEC : e.code);
		free(msg);
		free(spec);
		return -1;
	}
	free(spec);
	r->have_bs = true;
	for (size_t i = 0; i < r->bs.warnings.nr; i++) {
		char *msg = user_file_msg(o, res->src_dir, r->bs.warnings.v[i]);

		log_agent(&r->log, "Warning: %s", msg);
		free(msg);
	}
	if (o->strict && r->bs.unknown_keys.nr) {
		/* --strict: the first unknown key fails the build */
		char *msg =
			user_file_msg(o, res->src_dir, r->bs.unknown_keys.v[0]);
		char *ign = strstr(msg, " ignored");

		if (ign)
			memmove(ign, ign + 8, strlen(ign + 8) + 1);
		phase_end(p, PHASE_FAILED, "YAML_FILE_ERROR", msg, &r->log);
		set_reason(r, "YAML_FILE_ERROR: %s (--strict)", msg);
		fail(r, PHASE_FAILED, ERR_SPEC);
		free(msg);
		return -1;
	}
	for (size_t i = 0; o->strict && i < r->bs.strict_warnings.nr; i++) {
		char *msg = user_file_msg(o, res->src_dir,
					  r->bs.strict_warnings.v[i]);

		log_agent(&r->log, "Warning: %s", msg);
		free(msg);
	}
	log_agent(&r->log, "Processing environment variables");
	if (build_env(r, p) < 0)
		return -1;
	add_helpers(r);
	if (o->resume)
		resume_env(r);
	if (!r->bs.phases[BS_INSTALL].runtime_versions.nr)
		log_agent(&r->log, "No runtime version selected in buildspec.");
	log_agent(&r->log, "Moving to directory %s",
		  r->sandbox_src ? r->sandbox_src : res->src_dir);
	log_phases_found(r);
	log_unsupported(r);
	return 0; /* the caller ends DOWNLOAD_SOURCE after the cache */
}

/* ---- the build cache ---- */

/* A cache restore or save on a terminal: a line after the first half
 * second, redrawn at most ten times a second, cleared at the end. */
struct cache_progress {
	int64_t start, last;
	bool drawn;
};

static void cache_progress_cb(const char *what, size_t done, size_t total,
			      void *data)
{
	struct cache_progress *p = data;
	int64_t now = proc_now_ms();

	if (now - p->start < 500 || (now - p->last < 100 && done < total))
		return;
	p->last = now;
	p->drawn = true;
	fprintf(stderr, "\r\033[Kcache: %s %zu of %zu files (%zu%%)", what,
		done, total, total ? done * 100 / total : 100);
	fflush(stderr);
}

static void cache_progress_end(struct cache_progress *p)
{
	if (p->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	p->drawn = false;
}

static void cache_spec_of(const struct run *r, struct cache_spec *spec)
{
	spec->key = r->cache_key;
	spec->fallback_keys = (const char *const *)r->cache_fallbacks.v;
	spec->nfallback = r->cache_fallbacks.nr;
	spec->action = r->bs.cache.action;
	spec->paths = (const char *const *)r->bs.cache.paths.v;
	spec->npaths = r->bs.cache.paths.nr;
	spec->project = r->res->project;
	spec->abs_root = r->cache_root;
}

/*
 * Overlay restores need a mount namespace of the build's own, entered
 * before the shell starts so that every command is in it, and before
 * the cache is opened (mountns.h), and left when the build is over
 * (nothing of it is ever mounted where the machine sees it, even if
 * slipway is killed). Not for --no-cache or SLIPWAY_CACHE_LINK=copy|link;
 * for a resumed build only when the earlier one restored by overlay.
 */
static void cache_ns_enter(struct run *r)
{
	const char *mode = getenv("SLIPWAY_CACHE_LINK");
	struct sw_err e = SW_ERR_INIT;

	if (r->o->resume) {
		/* to mount the earlier build's overlays again */
		char *old = fs_join(r->from.build_dir, "cache-overlay");
		bool had = fs_exists(old);

		free(old);
		if (!had)
			return;
	} else if (!r->bs.cache.present || !r->bs.cache.paths.nr ||
		   r->o->no_cache ||
		   (mode && *mode && strcmp(mode, "auto") &&
		    strcmp(mode, "overlay"))) {
		return;
	}
	if (mountns_enter(&r->mns, &e) < 0)
		r->overlay_off = xstrdup(e.msg);
}

/*
 * Sandboxed, the overlays restored in our namespace are mounted at their
 * places in the sandbox's too: all or none. -1 when one cannot be, with
 * those grafted before it detached again; *stuck when one of those
 * cannot be (inside the sandbox it would stay an overlay whose changes
 * nothing outside sees: the build must not go on).
 */
static int cache_graft(struct run *r, const struct strvec *mounts, bool *stuck,
		       struct sw_err *e)
{
	size_t nsrc = strlen(r->res->src_dir);
	size_t nroot = r->cache_root ? strlen(r->cache_root) : 0;
	struct strvec at = STRVEC_INIT;
	size_t done = 0;
	int ret = -1;

	*stuck = false;
	if (!r->sandbox.pid)
		return 0;
	for (size_t i = 0; i < mounts->nr; i++) {
		const char *m = mounts->v[i];

		if (!strncmp(m, r->res->src_dir, nsrc) &&
		    (m[nsrc] == '/' || !m[nsrc]) && r->sandbox_src)
			strvec_push_nodup(&at, xasprintf("%s%s", r->sandbox_src,
							 m + nsrc));
		else if (nroot && !strncmp(m, r->cache_root, nroot) &&
			 m[nroot] == '/')
			strvec_push(&at, m + nroot);
		else {
			err_set(e, ERR_SYSTEM,
				"'%s' has no place in the sandbox", m);
			goto out;
		}
	}
	for (; done < mounts->nr; done++)
		if (mountns_graft(r->sandbox.pid, mounts->v[done], at.v[done],
				  e) < 0)
			break;
	if (done == mounts->nr) {
		ret = 0;
		goto out;
	}
	while (done-- > 0) {
		struct sw_err ue = SW_ERR_INIT;

		if (mountns_ungraft(r->sandbox.pid, at.v[done], &ue) < 0) {
			char *why = xstrdup(e->msg);

			err_clear(e);
			err_set(e, ERR_SYSTEM,
				"%s, and '%s' stays mounted in the sandbox: "
				"%s",
				why, mounts->v[done], ue.msg);
			free(why);
			*stuck = true;
			break;
		}
	}
out:
	strvec_release(&at);
	return ret;
}

static void cache_log(struct run *r, struct cache_result *cr, int rc,
		      const struct sw_err *e, char **desc)
{
	struct buf line = BUF_INIT;

	if (rc < 0)
		log_agent(&r->log, "Warning: cache: %s", e->msg);
	for (size_t i = 0; i < cr->warnings.nr; i++)
		log_agent(&r->log, "Warning: cache: %s", cr->warnings.v[i]);
	cache_result_describe(cr, &line);
	if (line.len)
		log_agent(&r->log, "%s", line.ptr);
	free(*desc);
	*desc = buf_detach(&line);
}

/*
 * Resumed from a build that restored its cache by overlay: its cached
 * directories lived in a mount namespace gone with it; mounted again,
 * its changes on top of the entry's tree, they are as it left them.
 * None is when one cannot be. -1 (e set) when the build must not go on.
 */
static int cache_resume_overlays(struct run *r, struct sw_err *fe)
{
	char *old = fs_join(r->from.build_dir, "cache-overlay");
	char *dir = fs_join(r->res->build_dir, "cache-overlay");
	struct strvec mounts = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT, ign = SW_ERR_INIT;
	bool stuck = false;
	int ret = 0;

	if (!fs_exists(old))
		goto out;
	if (!mountns_active(&r->mns)) {
		err_set(&e, ERR_SYSTEM, "%s",
			r->overlay_off ? r->overlay_off : "no mount namespace");
		goto fail;
	}
	if (cache_open(&r->cache, r->st.dir, &e) < 0)
		goto fail;
	if (cache_overlay_again(&r->cache, old, r->from.build_dir,
				r->res->build_dir, &r->mns, dir, &mounts,
				&e) < 0 ||
	    cache_graft(r, &mounts, &stuck, &e) < 0) {
		if (stuck) {
			ret = err_set(fe, ERR_SYSTEM, "cache: %s", e.msg);
			goto out;
		}
		/* Mounted nowhere, nor again by a build resumed from this
		 * one. */
		cache_release(&r->cache);
		mountns_leave(&r->mns);
		fs_remove_tree(dir, &ign);
		goto fail;
	}
	log_agent(&r->log,
		  "Cached directories of build %s mounted as it left them",
		  r->res->from_build);
	goto out;
fail:
	log_agent(&r->log,
		  "Warning: cache: build %s restored its cache by overlay and "
		  "its cached directories cannot be mounted again (%s): they "
		  "are not among the kept files (its changes to them are in "
		  "%s)",
		  r->res->from_build, e.msg, old);
out:
	strvec_release(&mounts);
	free(old);
	free(dir);
	return ret;
}

/*
 * Before INSTALL: expand the key (the build's shell, so that
 * $(codebuild-hash-files ...) works) and restore. A cache problem is a
 * warning, never a failed build, but for a cached directory left in the
 * sandbox as an overlay nothing outside sees: -1 (e set).
 */
static int cache_restore_step(struct run *r, struct sw_err *fe)
{
	struct cache_progress progress = { 0, 0, false };
	struct cache_spec spec = CACHE_SPEC_INIT;
	struct cache_result cr = CACHE_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct strvec in = STRVEC_INIT;
	char **x = NULL, *overlay_dir = NULL;
	bool stuck = false;
	int rc, graft = 0, ret = 0;

	if (!r->bs.cache.present || !r->bs.cache.paths.nr)
		return 0;
	if (r->o->no_cache) {
		log_agent(&r->log, "Cache disabled by --no-cache");
		return 0;
	}
	if (r->o->resume) {
		log_agent(&r->log, "Cache not used: the kept files are "
				   "what the earlier phases left");
		return cache_resume_overlays(r, fe);
	}
	strvec_push(&in, r->bs.cache.key ? r->bs.cache.key : "");
	strvec_pushv(&in, (const char *const *)r->bs.cache.fallback_keys.v);
	if (shell_expand(&r->sh, (const char *const *)in.v, in.nr, &x, &e) <
	    0) {
		log_agent(&r->log, "Warning: cache: key: %s; cache skipped",
			  e.msg);
		strvec_release(&in);
		return 0;
	}
	r->cache_key = *x[0] ? x[0] : NULL;
	if (!r->cache_key)
		free(x[0]);
	for (size_t i = 1; i < in.nr; i++)
		strvec_push_nodup(&r->cache_fallbacks, x[i]);
	free(x);
	strvec_release(&in);
	if (cache_open(&r->cache, r->st.dir, &e) < 0) {
		log_agent(&r->log, "Warning: cache: %s; cache skipped", e.msg);
		return 0;
	}
	r->have_cache = true;
	cache_spec_of(r, &spec);
	if (!r->o->quiet && isatty(STDERR_FILENO)) {
		progress.start = proc_now_ms();
		spec.progress = cache_progress_cb;
		spec.progress_data = &progress;
	}
	if (mountns_active(&r->mns)) {
		overlay_dir = fs_join(r->res->build_dir, "cache-overlay");
		spec.ns = &r->mns;
		spec.overlay_dir = overlay_dir;
	}
	spec.overlay_off = r->overlay_off;
	rc = cache_restore(&r->cache, &spec, r->res->src_dir, &cr, &e);
	if (rc == 0 && cr.mounts.nr)
		graft = cache_graft(r, &cr.mounts, &stuck, &e);
	if (graft < 0 && stuck) {
		r->have_cache = false; /* nothing of it saved */
		ret = err_set(fe, ERR_SYSTEM, "cache: %s", e.msg);
	} else if (graft < 0) {
		/* The commands would not see them: the usual way instead. */
		char *why = xstrdup(e.msg);

		err_clear(&e);
		/* Opened inside: its directories must be opened again. */
		cache_release(&r->cache);
		mountns_leave(&r->mns);
		cache_result_release(&cr);
		spec.ns = NULL;
		spec.overlay_off = why;
		rc = cache_open(&r->cache, r->st.dir, &e);
		if (rc == 0)
			rc = cache_restore(&r->cache, &spec, r->res->src_dir,
					   &cr, &e);
		else
			r->have_cache = false;
		free(why);
	}
	cache_progress_end(&progress);
	if (!ret)
		cache_log(r, &cr, rc, &e, &r->res->cache_restore);
	cache_result_release(&cr);
	free(overlay_dir);
	return ret;
}

/* After POST_BUILD, when it ran. */
static void cache_save_step(struct run *r)
{
	struct cache_progress progress = { 0, 0, false };
	struct cache_spec spec = CACHE_SPEC_INIT;
	struct cache_result cr = CACHE_RESULT_INIT;
	struct sw_err e = SW_ERR_INIT;
	int rc;

	if (!r->have_cache)
		return;
	cache_spec_of(r, &spec);
	if (!r->o->quiet && isatty(STDERR_FILENO)) {
		progress.start = proc_now_ms();
		spec.progress = cache_progress_cb;
		spec.progress_data = &progress;
	}
	/* Its next restore mounts the tree: made now, in the background. */
	if (mountns_active(&r->mns)) {
		spec.ns = &r->mns;
		spec.tree_at_save = true;
	}
	rc = cache_save(&r->cache, &spec, r->res->src_dir, &cr, &e);
	cache_progress_end(&progress);
	cache_log(r, &cr, rc, &e, &r->res->cache_save);
	cache_result_release(&cr);
}

/* ---- test and coverage reports ---- */

/* Paths expanded in a sandbox name its sources; slipway reads the host's. */
static void to_host_paths(const struct run *r, char **v, size_t n)
{
	size_t l = r->sandbox_src ? strlen(SANDBOX_OUTPUT) : 0;

	for (size_t i = 0; l && i < n; i++) {
		char *h;

		if (strncmp(v[i], SANDBOX_OUTPUT, l) ||
		    (v[i][l] != '/' && v[i][l]))
			continue;
		h = xasprintf("%s%s", r->out_dir, v[i] + l);
		free(v[i]);
		v[i] = h;
	}
}

/*
 * After the build phases, even when BUILD failed: read each report
 * group's files. A bad report file is a warning, never a failed build.
 */
static void process_reports(struct run *r)
{
	size_t n = r->bs.nr_reports;

	if (!n)
		return;
	r->res->reports = xcalloc(n, sizeof(*r->res->reports));
	for (size_t i = 0; i < n; i++) {
		const struct bs_report_group *g = &r->bs.reports[i];
		struct report_result *rr = &r->res->reports[i];
		struct bs_report_group x = *g;
		struct strvec in = STRVEC_INIT;
		struct sw_err e = SW_ERR_INIT;
		char **out = NULL;

		*rr = (struct report_result)REPORT_RESULT_INIT;
		r->res->nr_reports++;
		strvec_push(&in, g->name);
		strvec_push(&in, g->base_directory ? g->base_directory : "");
		strvec_pushv(&in, (const char *const *)g->files.v);
		if (shell_expand(&r->sh, (const char *const *)in.v, in.nr, &out,
				 &e) < 0) {
			log_agent(&r->log, "Warning: report group %s: %s",
				  g->name, e.msg);
			strvec_release(&in);
			continue;
		}
		to_host_paths(r, out, in.nr);
		x.name = out[0];
		x.base_directory = *out[1] ? out[1] : NULL;
		x.files.v = out + 2;
		x.files.nr = in.nr - 2;
		if (reports_process(&x, r->res->src_dir, rr, &e) < 0)
			log_agent(&r->log, "Warning: report group %s: %s",
				  x.name, e.msg);
		for (size_t k = 0; k < in.nr; k++)
			free(out[k]);
		free(out);
		strvec_release(&in);
	}
}

/* ---- UPLOAD_ARTIFACTS ---- */

static int expand_artifact(struct run *r, const struct bs_artifact *in,
			   struct bs_artifact *out, struct sw_err *e)
{
	struct strvec all = STRVEC_INIT;
	char **x = NULL;
	size_t k = 0;

	memset(out, 0, sizeof(*out));
	strvec_pushv(&all, (const char *const *)in->files.v);
	strvec_pushv(&all, (const char *const *)in->exclude_paths.v);
	strvec_push(&all, in->base_directory ? in->base_directory : "");
	strvec_push(&all, in->name ? in->name : "");
	if (shell_expand(&r->sh, (const char *const *)all.v, all.nr, &x, e) <
	    0) {
		strvec_release(&all);
		return -1;
	}
	to_host_paths(r, x, all.nr);
	for (size_t i = 0; i < in->files.nr; i++)
		strvec_push_nodup(&out->files, x[k++]);
	for (size_t i = 0; i < in->exclude_paths.nr; i++)
		strvec_push_nodup(&out->exclude_paths, x[k++]);
	out->base_directory = x[k++];
	if (!*out->base_directory) {
		free(out->base_directory);
		out->base_directory = NULL;
	}
	out->name = x[k++];
	out->identifier = xstrdup_or_null(in->identifier);
	out->discard_paths = in->discard_paths;
	out->enable_symlinks = in->enable_symlinks;
	free(x);
	strvec_release(&all);
	return 0;
}

static void artifact_release(struct bs_artifact *a)
{
	strvec_release(&a->files);
	strvec_release(&a->exclude_paths);
	free(a->base_directory);
	free(a->name);
	free(a->identifier);
}

/* A progress line on a terminal while a large artifact is packed. */
struct pack_progress {
	const char *name;
	int64_t started;
	bool drawn;
};

static void pack_progress(uint64_t done, uint64_t total, size_t files_done,
			  size_t files_total, void *data)
{
	struct pack_progress *pp = data;

	/* Quick ones never show a line. */
	if (proc_now_ms() - pp->started < 300)
		return;
	fprintf(stderr, "\rpacking %s: %3d%% (%zu/%zu files, %.1f MB)",
		pp->name, total ? (int)(done * 100 / total) : 100, files_done,
		files_total, (double)done / 1e6);
	fflush(stderr);
	pp->drawn = true;
}

/*
 * The source an artifact is taken from: the secondary source its
 * base-directory names ("$CODEBUILD_SRC_DIR_<id>/dist", as CodeBuild's
 * multiple-inputs sample does), else the primary.
 */
static const char *artifact_root(const struct run *r,
				 const struct bs_artifact *a)
{
	const char *bd = a->base_directory;

	for (size_t i = 0; bd && bd[0] == '/' && i < r->res->nr_secondary;
	     i++) {
		const char *dir = r->res->secondary[i].dir;
		char *norm = fs_abspath(bd);
		bool in = layout_overlaps(norm, dir) &&
			  strlen(norm) >= strlen(dir);

		free(norm);
		if (in)
			return dir;
	}
	return r->res->src_dir;
}

/*
 * A checkout's .git borrows the source cache's objects; one that an
 * artifact ships gets its own copies first (mirror_standalone()), so the
 * artifact is a whole repository. Returns 1 when a .git changed (the
 * list is to be collected again), 0 when none did, -1 on error.
 */
static int shipped_git_standalone(struct run *r, const char *root,
				  const struct artifact_list *l,
				  struct sw_err *e)
{
	struct strvec done = STRVEC_INIT;
	char *sources = fs_join(r->st.dir, "sources");
	size_t rootlen = strlen(root);
	int ret = 0;

	for (size_t i = 0; ret >= 0 && i < l->nr; i++) {
		const char *p = l->v[i].path, *g;
		char *git;
		bool changed;

		if (strncmp(p, root, rootlen) || p[rootlen] != '/')
			continue;
		g = strstr(p + rootlen, "/.git/");
		if (!g)
			continue;
		git = xstrndup(p, (size_t)(g - p) + 5);
		if (strvec_find(&done, git) >= 0) {
			free(git);
			continue;
		}
		if (mirror_standalone(git, root, sources, &changed, e) < 0) {
			ret = -1;
		} else if (changed) {
			log_agent(&r->log,
				  "Copied the source cache's objects into %s "
				  "for the artifact",
				  git);
			ret = 1;
		}
		strvec_push(&done, git);
		free(git);
	}
	strvec_release(&done);
	free(sources);
	return ret;
}

static int upload_one(struct run *r, const struct bs_artifact *spec,
		      const char *outdir, struct sw_err *e)
{
	struct bs_artifact a;
	struct artifact_list list = { 0 };
	struct artifact_write_opts wo = ARTIFACT_WRITE_OPTS_INIT;
	struct pack_progress pp = { NULL, proc_now_ms(), false };
	bool progress_on = !r->o->quiet && isatty(STDERR_FILENO);
	struct artifact_digest d;
	struct build_artifact *ba;
	char *dest = NULL;
	int ret = -1, rc;

	if (expand_artifact(r, spec, &a, e) < 0)
		return -1;
	log_agent(&r->log, "Expanding base directory path: %s",
		  a.base_directory ? a.base_directory : ".");
	log_agent(&r->log, "Assembling file list");
	for (size_t i = 0; i < a.files.nr; i++)
		log_agent(&r->log, "Expanding %s", a.files.v[i]);
	if (artifacts_collect(&a, artifact_root(r, &a), &list, e) < 0)
		goto out;
	rc = shipped_git_standalone(r, artifact_root(r, &a), &list, e);
	if (rc < 0)
		goto out;
	if (rc > 0) {
		artifact_list_release(&list);
		memset(&list, 0, sizeof(list));
		if (artifacts_collect(&a, artifact_root(r, &a), &list, e) < 0)
			goto out;
	}
	if (!list.nr) {
		for (size_t i = 0; i < a.files.nr; i++)
			log_agent(&r->log, "Skipping invalid file path %s",
				  a.files.v[i]);
		err_set(e, ERR_FAILED, "no matching artifact paths found");
		goto out;
	}
	log_agent(&r->log, "Found %zu file(s)", list.nr);
	dest = xasprintf("%s/%s%s", outdir,
			 a.identifier ? a.identifier : "artifacts",
			 artifact_packaging_ext(r->o->packaging));
	wo.progress = progress_on ? pack_progress : NULL;
	wo.data = &pp;
	pp.name = strrchr(dest, '/') + 1;
	rc = artifacts_write(&list, dest, r->o->packaging, &wo, &d, e);
	if (pp.drawn)
		fputs("\r\033[K", stderr);
	if (rc < 0)
		goto out;
	ALLOC_GROW(r->res->artifacts, r->res->nr_artifacts + 1,
		   r->res->alloc_artifacts);
	ba = &r->res->artifacts[r->res->nr_artifacts++];
	memset(ba, 0, sizeof(*ba));
	ba->identifier = xstrdup_or_null(a.identifier);
	ba->packaging = artifact_packaging_name(r->o->packaging);
	ba->location = dest;
	dest = NULL;
	ba->sha256 = xstrdup(d.sha256);
	ba->md5 = xstrdup(d.md5);
	ba->size = (long long)d.size;
	ba->files = d.files;
	log_agent(&r->log, "Artifact %s: %s (%lld bytes, sha256 %s)",
		  a.identifier ? a.identifier : "primary", ba->location,
		  ba->size, ba->sha256);
	ret = 0;
out:
	free(dest);
	artifact_list_release(&list);
	artifact_release(&a);
	return ret;
}

/* What builds killed while writing to the same -o directory left. */
static void sweep_outdir(struct run *r, const char *outdir)
{
	struct fs_sweep sw = { 0 };
	struct sw_err e = SW_ERR_INIT;

	if (fs_sweep_stale_tmp(outdir, 0, NULL, &sw, &e) < 0)
		log_agent(&r->log, "Warning: %s", e.msg);
	else if (sw.files)
		log_agent(&r->log,
			  "Removed %zu temporary file%s (%.1f MB) that killed "
			  "builds left in %s",
			  sw.files, sw.files == 1 ? "" : "s",
			  (double)sw.bytes / 1e6, outdir);
}

static void upload_artifacts(struct run *r)
{
	struct sw_err e = SW_ERR_INIT;
	struct phase_rec *p =
		phase_begin(&r->res->phases, "UPLOAD_ARTIFACTS", &r->log);
	char *outdir = r->o->artifacts_dir
			       ? fs_abspath(r->o->artifacts_dir)
			       : fs_join(r->res->build_dir, "artifacts");
	int ret = 0;

	if (r->bs.has_artifacts || r->bs.nr_secondary) {
		ret = fs_mkdir_p(outdir, 0755, &e);
		if (!ret && r->o->artifacts_dir)
			sweep_outdir(r, outdir);
		if (!ret && r->bs.has_artifacts && r->bs.artifacts.files.nr)
			ret = upload_one(r, &r->bs.artifacts, outdir, &e);
		for (size_t i = 0; !ret && i < r->bs.nr_secondary; i++)
			ret = upload_one(r, &r->bs.secondary[i], outdir, &e);
	}
	if (ret < 0) {
		bool sys = e.code == ERR_SYSTEM;

		phase_end(p, sys ? PHASE_FAULT : PHASE_FAILED, "CLIENT_ERROR",
			  e.msg, &r->log);
		set_reason(r, "UPLOAD_ARTIFACTS: CLIENT_ERROR: %s", e.msg);
		fail(r, sys ? PHASE_FAULT : PHASE_FAILED,
		     sys ? ERR_SYSTEM : ERR_FAILED);
	} else {
		phase_end(p, PHASE_SUCCEEDED, NULL, NULL, &r->log);
	}
	free(outdir);
}

/* ---- FINALIZING ---- */

static void capture_exports(struct run *r)
{
	for (size_t i = 0; i < r->bs.exported_variables.nr; i++) {
		const char *name = r->bs.exported_variables.v[i];
		const char *v = shell_getenv(&r->sh, name);

		if (!strncmp(name, "AWS_", 4)) {
			log_agent(&r->log,
				  "Skipping exported variable %s: names "
				  "starting with AWS_ cannot be exported",
				  name);
			continue;
		}
		if (!v) {
			log_agent(&r->log,
				  "Exported variable %s is not set; exporting "
				  "an empty value",
				  name);
			v = "";
		}
		strvec_pushf(&r->res->exported, "%s=%s", name, v);
	}
}

static void finalize(struct run *r)
{
	struct phase_rec *p =
		phase_begin(&r->res->phases, "FINALIZING", &r->log);

	/* The report summaries close the log, where users look first. */
	for (size_t i = 0; i < r->res->nr_reports; i++)
		reports_log(&r->res->reports[i], &r->log);

	if (r->sandbox.pid) { /* everything in it ends with it */
		char *ev = sandbox_limit_events(&r->sandbox);

		if (ev)
			log_agent(&r->log, "%s", ev);
		free(ev);
		sandbox_stop(&r->sandbox);
	}
	if (r->group.pgid) {
		if (proc_group_stop(&r->group, GROUP_GRACE_MS))
			log_agent(&r->log,
				  "Killed processes the build left running");
	}
	if (r->have_shell)
		shell_finish(&r->sh, 500);
	phase_end(p, PHASE_SUCCEEDED, NULL, NULL, &r->log);
}

/* ---- the build ---- */

/*
 * The report's space, before anything can fill the disk: a build that
 * starts always ends with a report. Without that space the build does
 * not start, and leaves nothing behind.
 */
static int reserve_report(struct run *r, struct sw_err *e)
{
	struct sw_err re = SW_ERR_INIT;
	char *rp = fs_join(r->res->build_dir, "report.json");
	char *link = xasprintf("%s/builds/%s", r->st.dir, r->res->id);
	int ret = 0, err;

	if (fs_reserve(&r->report_rv, rp, REPORT_RESERVE, &re) < 0) {
		err = errno;
		close(r->log_fd);
		r->log_fd = -1;
		fs_remove_tree(r->res->build_dir, &re);
		unlink(link);
		if (err == ENOSPC || err == EDQUOT)
			ret = err_set(e, ERR_SYSTEM,
				      "no space left on device in %s: the "
				      "build cannot start ('slipway prune' "
				      "reclaims old builds)",
				      r->st.dir);
		else
			ret = err_set(e, ERR_SYSTEM, "%s", re.msg);
	}
	free(rp);
	free(link);
	return ret;
}

/* The build's row in the store's index (a failing store only warns). */
static void index_put(const struct run *r)
{
	const struct build_result *res = r->res;
	char *reason = res->reason ? mask_string(&r->mask, res->reason) : NULL;
	char *rp = fs_join(res->build_dir, "report.json");
	struct store_build b = {
		.id = res->id,
		.project = res->project,
		.number = res->number,
		.status = res->status ? res->status : (char *)"IN_PROGRESS",
		.start_ms = res->start_ms,
		.end_ms = res->status ? res->end_ms : 0,
		.source_version = res->resolved_source_version
					  ? res->resolved_source_version
					  : res->source_version,
		.report_path = rp,
		.reason = reason,
	};

	index_build(&r->st, &b);
	free(rp);
	free(reason);
}

/* --from / --phase: the kept build and its record of the phase's start. */
static int load_resume(struct run *r, struct sw_err *e)
{
	struct strvec ids = STRVEC_INIT;
	const char *id = r->o->from_build;
	const char *phase = bs_phase_type(r->o->from_phase);
	char *dir = NULL;
	size_t n;
	int ret = -1;

	if (!id) {
		if (state_list_builds(&r->st, &ids, e) < 0)
			goto out;
		if (!ids.nr) {
			err_set(e, ERR_USAGE,
				"--from: no build in '%s' to run again",
				r->st.dir);
			goto out;
		}
		id = ids.v[ids.nr - 1];
	}
	dir = state_build_dir(&r->st, id);
	if (access(dir, F_OK) < 0) {
		err_set(e, ERR_USAGE, "--from: no build '%s' in '%s'", id,
			r->st.dir);
		goto out;
	}
	if (resume_load(dir, phase, &r->from, e) < 0) {
		err_prefix(e, "--from %s: build '%s'", phase, id);
		goto out;
	}
	r->from_out = fs_join(r->from.build_dir, "codebuild/output");
	n = strlen(r->from_out);
	if (strncmp(r->from.src_dir, r->from_out, n) ||
	    r->from.src_dir[n] != '/') {
		err_set(e, ERR_SPEC,
			"--from: build '%s': its source is not in "
			"its codebuild/output",
			id);
		goto out;
	}
	if (access(r->from.src_dir, F_OK) < 0) {
		err_set(e, ERR_USAGE,
			"--from: the source of build '%s' is gone (old builds' "
			"sources are reclaimed; see SLIPWAY_KEEP_BUILDS)",
			id);
		goto out;
	}
	r->res->from_build = xstrdup(r->from.build_id ? r->from.build_id : id);
	r->res->from_phase = xstrdup(phase);
	r->res->one_phase = r->o->one_phase;
	ret = 0;
out:
	free(dir);
	strvec_release(&ids);
	return ret;
}

static int prepare(struct run *r, struct sw_err *e)
{
	const struct build_opts *o = r->o;
	struct build_result *res = r->res;
	const char *source = o->source ? o->source : ".";
	char *logpath, *rel, *repo;
	bool sandboxed = false;

	if (o->isolation != BUILD_ISOLATION_DIR) {
		struct sw_err pe = SW_ERR_INIT;

		if (sandbox_probe(&pe) == 0) {
			sandboxed = true;
		} else if (o->isolation == BUILD_ISOLATION_AUTO) {
			fprintf(stderr,
				"note: no sandbox (%s); isolation is dir\n",
				pe.msg);
		} else {
			return err_set(e, ERR_SYSTEM, "--isolation sandbox: %s",
				       pe.msg);
		}
	}
	if (state_open(&r->st, o->state_dir, e) < 0)
		return -1;
	if (o->resume && load_resume(r, e) < 0)
		return -1;
	res->project = o->resume ? xstrdup(r->from.project)
				 : source_project_name(source);
	if (state_next_build_number(&r->st, res->project, &res->number, e) < 0)
		return -1;
	r->uuid = state_uuid();
	res->id = xasprintf("%s:%s", res->project, r->uuid);
	res->arn = xasprintf("arn:aws:codebuild:%s:000000000000:build/%s",
			     env_region((const char *const *)environ), res->id);
	res->build_dir = state_build_dir(&r->st, res->id);
	/*
	 * CodeBuild's layout under the build's own directory, which stands
	 * for "/": what a buildspec reaches with "cd ../.." stays the build's.
	 */
	r->out_dir = fs_join(res->build_dir, "codebuild/output");
	r->src_name = layout_src_name();
	repo = source_is_git_url(source) ? layout_repo_path(source) : NULL;
	rel = repo ? xasprintf("%s/src/%s", r->src_name, repo)
		   : xasprintf("%s/src", r->src_name);
	if (o->resume) { /* the kept build's layout, as it was */
		free(rel);
		rel = xstrdup(r->from.src_dir + strlen(r->from_out) + 1);
		free(r->src_name);
		r->src_name = xstrndup(rel, strcspn(rel, "/"));
	}
	res->src_dir = fs_join(r->out_dir, rel);
	if (sandboxed)
		r->sandbox_src = xasprintf("%s/%s", SANDBOX_OUTPUT, rel);
	free(rel);
	free(repo);
	res->initiator = initiator();
	res->timeout_minutes =
		(long)((o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS) /
		       60000);
	if (fs_mkdir_p(res->build_dir, 0755, e) < 0)
		return -1;
	logpath = fs_join(res->build_dir, "build.log");
	/*
	 * Locked from its creation while the build runs: `slipway prune`
	 * never takes a build whose log is locked, and one without a report
	 * whose log is free was killed.
	 */
	if (state_link_build(&r->st, res->id, e) == 0)
		r->log_fd = fs_create_locked(logpath, 0644, e);
	free(logpath);
	if (r->log_fd < 0) {
		/* no log, no report: nothing of the build stays */
		struct sw_err ignored = SW_ERR_INIT;
		char *link = xasprintf("%s/builds/%s", r->st.dir, res->id);

		fs_remove_tree(res->build_dir, &ignored);
		unlink(link);
		free(link);
		return -1;
	}
	if (reserve_report(r, e) < 0)
		return -1;
	log_init(&r->log, STDOUT_FILENO, r->log_fd, &r->mask);
	r->log.quiet = o->quiet;
	log_set_pretty(&r->log, o->output == BUILD_OUTPUT_PRETTY ||
					(o->output == BUILD_OUTPUT_AUTO &&
					 isatty(STDOUT_FILENO)));
	index_put(r);
	return 0;
}

/*
 * Sandboxed, the absolute cache paths are restored into <build>/cache-root
 * and their directories mounted from there read-write at their own
 * places; the machine's paths are never written. Fills binds (the host
 * sides owned by the caller); returns how many.
 */
static size_t cache_binds(struct run *r, struct sandbox_bind *binds)
{
	struct strvec dirs = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct buf line = BUF_INIT;
	size_t n = 0;

	r->cache_root = fs_join(r->res->build_dir, "cache-root");
	if (!r->bs.cache.present || !r->bs.cache.paths.nr || r->o->no_cache)
		return 0;
	if (cache_abs_dirs((const char *const *)r->bs.cache.paths.v,
			   r->bs.cache.paths.nr, &dirs, &e) < 0) {
		log_agent(&r->log,
			  "Warning: cache: %s; no cache directory is mounted",
			  e.msg);
		strvec_release(&dirs);
		return 0;
	}
	if (dirs.nr > SANDBOX_MAX_BINDS) {
		log_agent(&r->log,
			  "Warning: cache: %zu cache directories, the sandbox "
			  "mounts at most %d; none is mounted",
			  dirs.nr, SANDBOX_MAX_BINDS);
		strvec_release(&dirs);
		return 0;
	}
	for (size_t i = 0; i < dirs.nr; i++) {
		binds[n].host = xasprintf("%s%s", r->cache_root, dirs.v[i]);
		binds[n].at = xstrdup(dirs.v[i]);
		buf_addf(&line, "%s%s", n ? ", " : "", dirs.v[i]);
		n++;
	}
	if (n)
		log_agent(&r->log, "Cache directories mounted from %s: %s",
			  r->cache_root, line.ptr);
	buf_release(&line);
	strvec_release(&dirs);
	return n;
}

/*
 * Sandboxed with git-credential-helper: the ssh agent's socket, and
 * nothing else of its directory, at AGENT_AT.
 */
static size_t agent_bind(const struct run *r, struct sandbox_bind *b,
			 size_t room)
{
	if (!r->bs.git_credential_helper || !room)
		return 0;
	b->host = agent_socket();
	if (!b->host)
		return 0;
	b->at = xstrdup(AGENT_AT);
	b->file = true;
	return 1;
}

#define CB_USER "codebuild-user"

/* Whether the buildspec runs a phase as user name. */
static bool runs_as(const struct buildspec *bs, const char *name)
{
	bool yes = bs->run_as && !strcmp(bs->run_as, name);

	for (int i = 0; i < BS_NPHASES; i++)
		yes = yes || (bs->phases[i].run_as &&
			      !strcmp(bs->phases[i].run_as, name));
	return yes;
}

/* The machine's file with line added, as <build>/etc/<name>. */
static char *etc_file(const struct run *r, const char *name, const char *line,
		      struct sw_err *e)
{
	char *from = xasprintf("/etc/%s", name);
	char *to = xasprintf("%s/etc/%s", r->res->build_dir, name);
	char *dir = fs_join(r->res->build_dir, "etc");
	char *data = NULL;
	size_t len = 0;
	struct buf b = BUF_INIT;
	int rc = -1;

	if (fs_read_file(from, 16 << 20, &data, &len, e) == 0 &&
	    fs_mkdir_p(dir, 0755, e) == 0) {
		buf_add(&b, data, len);
		if (len && data[len - 1] != '\n')
			buf_addch(&b, '\n');
		buf_addstr(&b, line);
		rc = fs_write_atomic(to, b.ptr, b.len, 0644, e);
	}
	buf_release(&b);
	free(data);
	free(dir);
	free(from);
	if (rc < 0) {
		free(to);
		return NULL;
	}
	return to;
}

/*
 * run-as: codebuild-user in the sandbox, on a machine without that user
 * (CodeBuild's images have it): a uid and gid of its own (the first from
 * 1001 up the machine does not use), listed in the build's own
 * /etc/passwd and /etc/group (the machine's plus one line each, mounted
 * over them), and a home of its own, <build>/home/codebuild-user, at
 * /home/codebuild-user. HOME stays as it is, as in CodeBuild. Fills b
 * (host sides owned by the caller); returns how many.
 */
static size_t user_binds(struct run *r, struct sandbox_bind *b, size_t room)
{
	struct sw_err e = SW_ERR_INIT;
	char *line, *home = NULL, *files[2] = { NULL, NULL };
	unsigned id = 1001;

	if (room < 3 || !runs_as(&r->bs, CB_USER) || getpwnam(CB_USER) ||
	    geteuid() != 0)
		return 0;
	while (id < 60000 && (getpwuid(id) || getgrgid(id)))
		id++;
	line = xasprintf("%s:x:%u:%u:CodeBuild user:/home/%s:/bin/sh\n",
			 CB_USER, id, id, CB_USER);
	files[0] = etc_file(r, "passwd", line, &e);
	free(line);
	line = xasprintf("%s:x:%u:\n", CB_USER, id);
	if (files[0])
		files[1] = etc_file(r, "group", line, &e);
	free(line);
	home = xasprintf("%s/home/%s", r->res->build_dir, CB_USER);
	if (!files[1] || fs_mkdir_p(home, 0755, &e) < 0 ||
	    chown(home, id, id) < 0) {
		log_agent(&r->log, "Warning: cannot provide %s: %s", CB_USER,
			  e.msg[0] ? e.msg : strerror(errno));
		free(files[0]);
		free(files[1]);
		free(home);
		return 0;
	}
	b[0].host = files[0];
	b[0].at = xstrdup("/etc/passwd");
	b[0].file = true;
	b[1].host = files[1];
	b[1].at = xstrdup("/etc/group");
	b[1].file = true;
	b[2].host = home;
	b[2].at = xasprintf("/home/%s", CB_USER);
	r->cb_user.name = CB_USER;
	r->cb_user.uid = id;
	r->cb_user.gid = id;
	r->have_cb_user = true;
	log_agent(&r->log, "Sandbox user %s: uid %u, home /home/%s", CB_USER,
		  id, CB_USER);
	return 3;
}

static int start_shell(struct run *r, struct sw_err *e)
{
	struct shell_opts so = SHELL_OPTS_INIT;
	char *dir = fs_join(r->res->build_dir, "tmp");
	int ret;

	if (proc_group_start(&r->group, e) < 0) {
		free(dir);
		return -1;
	}
	so.shell = r->o->shell ? r->o->shell : r->bs.shell;
	if (so.shell && (!strcmp(so.shell, "powershell.exe") ||
			 !strcmp(so.shell, "cmd.exe"))) {
		free(dir);
		return err_set(e, ERR_FAILED,
			       "shell '%s' is a Windows shell; slipway runs "
			       "Linux builds",
			       so.shell);
	}
	so.dir = dir;
	so.cwd = r->res->src_dir;
	if (r->sandbox_src) {
		struct sandbox_opts sbo = SANDBOX_OPTS_INIT;
		struct sandbox_bind binds[SANDBOX_MAX_BINDS];
		int rc;

		memset(binds, 0, sizeof(binds));

		sbo.src = r->out_dir;
		sbo.src_at = SANDBOX_OUTPUT;
		sbo.rw_dir = r->res->build_dir;
		sbo.network_none = r->o->network_none;
		sbo.pids = r->o->pids;
		sbo.memory = r->o->memory;
		sbo.cpu_time = r->o->cpu_time;
		sbo.binds = binds;
		sbo.nbinds = cache_binds(r, binds);
		sbo.nbinds += agent_bind(r, binds + sbo.nbinds,
					 SANDBOX_MAX_BINDS - sbo.nbinds);
		sbo.nbinds += user_binds(r, binds + sbo.nbinds,
					 SANDBOX_MAX_BINDS - sbo.nbinds);
		rc = sandbox_start(&r->sandbox, &sbo, e);
		for (size_t i = 0; i < sbo.nbinds; i++) {
			free((char *)binds[i].host);
			free((char *)binds[i].at);
		}
		if (rc < 0) {
			free(dir);
			return -1;
		}
		log_agent(&r->log, "Running in a sandbox, source at %s%s; %s",
			  r->sandbox_src,
			  r->o->network_none ? ", no network" : "",
			  r->sandbox.note);
		so.cwd = r->sandbox_src;
		so.sandbox = r->sandbox.pid;
	}
	if (r->resume_cwd)
		so.cwd = r->resume_cwd;
	so.env = (const char *const *)r->env.v;
	so.persist = r->bs.minor >= 2;
	so.log = &r->log;
	so.pgid = r->group.pgid;
	ret = shell_init(&r->sh, &so, e);
	if (!ret)
		r->have_shell = true;
	free(dir);
	return ret;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/*
 * A command of a sandboxed build ended by the cpu time limit: SIGXCPU
 * (128 + 24) at the soft limit, SIGKILL (128 + 9) at the hard one.
 */
static void cpu_limit_check(struct run *r)
{
	const struct build_result *res = r->res;
	long sec = r->o->cpu_time;

	if (!r->sandbox_src || sec <= 0)
		return;
	for (size_t i = 0; i < res->phases.nr; i++) {
		const struct phase_rec *f = &res->phases.v[i];
		const char *msg;

		if (f->status != PHASE_FAILED || !f->nr_ctx)
			continue;
		msg = f->ctx[f->nr_ctx - 1].message;
		if (!msg)
			continue;
		if (ends_with(msg, "exit status 152")) {
			log_agent(&r->log,
				  "Sandbox limits: the cpu time limit (%ld s "
				  "per process, RLIMIT_CPU) killed a command "
				  "with SIGXCPU in phase %s",
				  sec, f->type);
			set_reason(r,
				   "phase %s: a command reached the cpu time "
				   "limit (--cpu-time %ld) and was killed",
				   f->type, sec);
		} else if (ends_with(msg, "exit status 137")) {
			log_agent(&r->log,
				  "Sandbox limits: a command was killed by "
				  "SIGKILL in phase %s: the cpu time limit's "
				  "hard limit (%ld s per process) or another "
				  "kill",
				  f->type, sec + 5);
		}
		return;
	}
}

static const char *const break_words[] = { "resume", "retry", "skip", "abort" };

/* --break: a shell for a person where the build paused (pause.h). */
static int on_break(const struct break_point *bp, enum break_action *act,
		    int64_t *paused_ms, void *data)
{
	struct run *r = data;
	struct build_result *res = r->res;
	struct pause_opts po = PAUSE_OPTS_INIT;
	struct sw_err e = SW_ERR_INIT;
	struct build_pause *p;
	char *dir = fs_join(res->build_dir, "break");
	char *prompt;
	const char *why = bp->failed	   ? "failed"
			  : bp->breakpoint ? "breakpoint"
			  : bp->command	   ? "before"
					   : "end";
	int64_t t0 = proc_now_ms(), w0 = proc_wall_ms();
	int rc;

	shell_drain(&r->sh);
	log_output_flush(&r->log);
	if (bp->failed)
		log_agent(&r->log,
			  "Paused: command %u of phase %s failed with exit "
			  "status %d: %s",
			  bp->n, bp->phase, bp->status, bp->command);
	else if (bp->breakpoint)
		log_agent(&r->log, "Paused at codebuild-breakpoint in phase %s",
			  bp->phase);
	else if (bp->command)
		log_agent(&r->log, "Paused before command %u of phase %s: %s",
			  bp->n, bp->phase, bp->command);
	else
		log_agent(&r->log, "Paused after phase %s", bp->phase);
	prompt = bp->command && !bp->breakpoint
			 ? xasprintf("%s:%u%s", bp->phase, bp->n,
				     bp->failed ? " failed" : "")
			 : xstrdup(bp->phase);
	fprintf(stderr,
		"slipway: a shell in the build's environment%s (the "
		"timeout waits); then:\n"
		"  codebuild-resume  go on with the build%s\n"
		"  slipway-retry     run the command again\n"
		"  slipway-skip      count the command as passed%s\n"
		"  slipway-abort     stop the build (exit status 1)\n"
		"  exit or Ctrl-D    as codebuild-resume\n",
		r->sandbox_src ? ", in its sandbox" : "",
		bp->failed ? " (the command stays failed)" : "",
		bp->failed ? "" : " (do not run it)");
	fflush(stderr);
	po.dir = dir;
	po.shell = r->sh.shell;
	po.env = (const char *const *)(r->sh.persist ? r->sh.env.v
						     : r->sh.first_env.v);
	po.cwd = r->sh.persist ? r->sh.cwd : r->sh.first_cwd;
	po.sandbox = r->sh.sandbox;
	po.user = bp->user;
	po.prompt = prompt;
	rc = pause_shell(&po, act, &e);
	*paused_ms = proc_now_ms() - t0;
	if (rc < 0) {
		log_agent(&r->log, "Warning: cannot pause: %s", e.msg);
	} else {
		if (!bp->command && (*act == BREAK_RETRY || *act == BREAK_SKIP))
			*act = BREAK_RESUME; /* nothing to run again or skip */
		log_agent(&r->log,
			  "Pause ended after %.1f seconds (not counted by the "
			  "timeout): %s",
			  (double)*paused_ms / 1000.0, break_words[*act]);
		ALLOC_GROW(res->pauses, res->nr_pauses + 1, res->alloc_pauses);
		p = &res->pauses[res->nr_pauses++];
		p->phase = xstrdup(bp->phase);
		p->n = bp->n;
		p->command = bp->command ? xstrdup(bp->command) : NULL;
		p->why = why;
		p->action = break_words[*act];
		p->start_ms = w0;
		p->end_ms = w0 + *paused_ms;
		if (*act == BREAK_ABORT && proc_stop_signal())
			set_reason(r, "build stopped by signal %d at a pause",
				   proc_stop_signal());
		else if (*act == BREAK_ABORT)
			set_reason(r,
				   "build aborted at a pause (slipway-abort)");
	}
	free(prompt);
	free(dir);
	return rc;
}

static const char *status_for(enum phase_status st)
{
	return phase_status_name(st);
}

static void run_build(struct run *r)
{
	struct build_result *res = r->res;
	struct sw_err e = SW_ERR_INIT;
	struct machine m = MACHINE_INIT;
	struct phase_rec *p;
	int64_t timeout =
		r->o->timeout_ms ? r->o->timeout_ms : DEFAULT_TIMEOUT_MS;

	if (download_source(r) < 0)
		goto finalizing;
	cache_ns_enter(r);
	/* DOWNLOAD_SOURCE is still open: the shell and the cache belong
	 * to it, as CodeBuild restores caches before INSTALL. */
	p = &res->phases.v[res->phases.nr - 1];
	if (start_shell(r, &e) < 0) {
		phase_end(p, e.code == ERR_SYSTEM ? PHASE_FAULT : PHASE_FAILED,
			  "CLIENT_ERROR", e.msg, &r->log);
		set_reason(r, "%s", e.msg);
		fail(r, e.code == ERR_SYSTEM ? PHASE_FAULT : PHASE_FAILED,
		     e.code == ERR_SYSTEM ? ERR_SYSTEM : ERR_FAILED);
		goto finalizing;
	}
	if (cache_restore_step(r, &e) < 0) {
		phase_end(p, PHASE_FAULT, "CLIENT_ERROR", e.msg, &r->log);
		set_reason(r, "%s", e.msg);
		fail(r, PHASE_FAULT, ERR_SYSTEM);
		goto finalizing;
	}
	phase_end(p, PHASE_SUCCEEDED, NULL, NULL, &r->log);
	m.bs = &r->bs;
	m.sh = &r->sh;
	m.log = &r->log;
	m.deadline = proc_now_ms() + timeout;
	m.extra_user = r->have_cb_user ? &r->cb_user : NULL;
	m.brk = &r->o->brk;
	m.on_break = on_break;
	m.break_data = r;
	m.from = r->o->resume ? r->o->from_phase : BS_INSTALL;
	m.one_phase = r->o->resume && r->o->one_phase;
	m.on_phase = save_phase;
	m.phase_data = r;
	if (machine_run(&m, &res->phases, &e) < 0) {
		set_reason(r, "%s", e.msg);
		fail(r, PHASE_FAULT, ERR_SYSTEM);
	}
	r->failed_phase = m.failed_phase;
	r->failed_command = m.failed_command;
	r->failed_line = m.failed_line;
	r->failed_status = m.failed_status;
	switch (m.outcome) {
	case MACHINE_SUCCEEDED:
		break;
	case MACHINE_FAILED:
		fail(r, PHASE_FAILED, ERR_FAILED);
		break;
	case MACHINE_TIMED_OUT:
		log_agent(&r->log, "Build timed out after %.0f seconds%s",
			  (double)timeout / 1000.0,
			  m.paused_ms ? " (pauses not counted)" : "");
		set_reason(r, "build timed out after %.0f seconds",
			   (double)timeout / 1000.0);
		fail(r, PHASE_TIMED_OUT, ERR_TIMEOUT);
		break;
	case MACHINE_STOPPED:
		set_reason(r, "build stopped by signal %d", proc_stop_signal());
		fail(r, PHASE_STOPPED, ERR_FAILED);
		break;
	}
	if (m.outcome == MACHINE_FAILED)
		cpu_limit_check(r);
	if (m.outcome == MACHINE_FAILED && !res->reason) {
		/* the first failed phase's context */
		for (size_t i = 0; i < res->phases.nr; i++) {
			struct phase_rec *f = &res->phases.v[i];

			if (f->status == PHASE_FAILED && f->nr_ctx) {
				set_reason(r, "phase %s: %s", f->type,
					   f->ctx[f->nr_ctx - 1].message);
				break;
			}
		}
	}
	capture_exports(r);
	if (m.outcome != MACHINE_TIMED_OUT && m.outcome != MACHINE_STOPPED &&
	    !proc_stop_signal())
		process_reports(r);
	if (m.post_build_ran && m.outcome != MACHINE_TIMED_OUT &&
	    m.outcome != MACHINE_STOPPED && !proc_stop_signal())
		cache_save_step(r);
	if (m.outcome != MACHINE_STOPPED && proc_stop_signal()) {
		/* the signal came between commands */
		set_reason(r, "build stopped by signal %d", proc_stop_signal());
		fail(r, PHASE_STOPPED, ERR_FAILED);
		m.skip_artifacts = true;
	}
	if (!m.skip_artifacts && m.one_phase)
		log_agent(&r->log,
			  "No artifacts: --phase runs one phase alone");
	else if (!m.skip_artifacts)
		upload_artifacts(r);
finalizing:
	finalize(r);
}

/* Into the reserved space: whole, or compact when the disk is full. */
static int write_report(struct run *r, struct sw_err *e)
{
	int err;

	if (report_commit(r->res, &r->mask, false, &r->report_rv, e) == 0)
		return 0;
	err = errno;
	if (err != ENOSPC && err != EDQUOT)
		return -1;
	err_clear(e);
	record_fault(r, err, "report.json");
	free(r->res->status);
	r->res->status = xstrdup(status_for(r->final));
	return report_commit(r->res, &r->mask, true, &r->report_rv, e);
}

static void summary(const struct run *r, int64_t ms)
{
	const struct build_result *res = r->res;
	char *reason = res->reason ? mask_string(&r->mask, res->reason) : NULL;

	if (reason)
		fprintf(stderr, "slipway: build %s #%ld %s in %.1fs: %s\n",
			res->id, res->number, res->status, (double)ms / 1000.0,
			reason);
	else
		fprintf(stderr, "slipway: build %s #%ld %s in %.1fs\n", res->id,
			res->number, res->status, (double)ms / 1000.0);
	free(reason);
	if (r->log.pretty && r->failed_command) {
		/* where to look: the buildspec's line of the failed command */
		char *cmd = mask_string(&r->mask, r->failed_command);
		size_t n = strcspn(cmd, "\n");

		if (r->failed_line)
			fprintf(stderr,
				"slipway:   %s:%d: %.*s%s (phase %s, "
				"exit status %d)\n",
				res->buildspec, r->failed_line, (int)n, cmd,
				cmd[n] ? " ..." : "", r->failed_phase,
				r->failed_status);
		free(cmd);
	}
	if (r->disk_noted)
		fprintf(stderr, "note: 'slipway prune' reclaims space from "
				"old builds and deployments\n");
}

int build_run(const struct build_opts *o, int *status)
{
	struct build_result res = { 0 };
	struct run r;
	struct sw_err e = SW_ERR_INIT;
	int64_t t0 = proc_now_ms();

	memset(&r, 0, sizeof(r));
	if (o->submitted_ms && o->submitted_ms < proc_wall_ms())
		t0 -= proc_wall_ms() - o->submitted_ms;
	r.cache = (struct cache)CACHE_INIT;
	r.o = o;
	r.res = &res;
	r.log_fd = -1;
	r.sandbox = (struct sandbox)SANDBOX_INIT;
	r.mns = (struct mountns)MOUNTNS_INIT;
	r.report_rv = (struct fs_reserve)FS_RESERVE_INIT;
	r.final = PHASE_SUCCEEDED;
	mask_init(&r.mask);
	strvec_init(&r.env);
	strvec_init(&res.exported);
	res.start_ms = proc_wall_ms();
	if (o->submitted_ms && o->submitted_ms < res.start_ms)
		res.start_ms = o->submitted_ms;
	if (proc_signals_init(&e) < 0 || prepare(&r, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		*status = e.code ? e.code : ERR_SYSTEM;
		goto out;
	}
	log_agent(&r.log, "Running on slipway %s, build %s #%ld", SW_VERSION,
		  res.id, res.number);
	run_build(&r);
	mountns_leave(&r.mns);
	phase_begin(&res.phases, "COMPLETED", NULL);
	res.end_ms = proc_wall_ms();
	log_release(&r.log);
	if (r.log.file_err)
		record_fault(&r, r.log.file_err, "build.log");
	res.status = xstrdup(status_for(r.final));
	res.current_phase = xstrdup("COMPLETED");
	{
		char *rp = fs_join(res.build_dir, "report.json");

		if (write_report(&r, &e) < 0 ||
		    (o->report &&
		     report_write(&res, &r.mask, o->report, &e) < 0)) {
			fprintf(stderr, "error: cannot write the report: %s\n",
				e.msg);
			if (!r.exit_status)
				r.exit_status = ERR_SYSTEM;
		} else {
			html_beside(rp);
		}
		free(rp);
	}
	index_put(&r);
	summary(&r, proc_now_ms() - t0);
	*status = r.exit_status;
out:
	if (r.have_shell)
		shell_release(&r.sh);
	sandbox_stop(&r.sandbox);
	free(r.sandbox_src);
	free(r.out_dir);
	free(r.src_name);
	free(r.cache_root);
	mountns_leave(&r.mns);
	free(r.overlay_off);
	resume_rec_release(&r.from);
	free(r.from_out);
	free(r.resume_cwd);
	if (r.group.pgid)
		proc_group_stop(&r.group, GROUP_GRACE_MS);
	fs_reserve_release(&r.report_rv);
	if (r.log_fd >= 0)
		close(r.log_fd);
	if (r.have_bs)
		buildspec_release(&r.bs);
	cache_release(&r.cache);
	free(r.cache_key);
	strvec_release(&r.cache_fallbacks);
	strvec_release(&r.env);
	mask_release(&r.mask);
	state_release(&r.st);
	free(r.uuid);
	build_result_release(&res);
	return 0;
}

void build_result_release(struct build_result *r)
{
	free(r->id);
	free(r->arn);
	free(r->project);
	free(r->status);
	free(r->current_phase);
	free(r->source_version);
	free(r->resolved_source_version);
	free(r->repo_url);
	free(r->src_dir);
	free(r->buildspec);
	free(r->initiator);
	free(r->build_dir);
	free(r->reason);
	for (size_t i = 0; i < r->nr_reports; i++)
		reports_result_release(&r->reports[i]);
	free(r->reports);
	free(r->cache_restore);
	free(r->cache_save);
	for (size_t i = 0; i < r->nr_secondary; i++) {
		free(r->secondary[i].id);
		free(r->secondary[i].dir);
		free(r->secondary[i].build_dir);
		free(r->secondary[i].location);
		free(r->secondary[i].source_version);
		free(r->secondary[i].resolved_source_version);
	}
	free(r->secondary);
	for (size_t i = 0; i < r->nr_pauses; i++) {
		free(r->pauses[i].phase);
		free(r->pauses[i].command);
	}
	free(r->pauses);
	free(r->from_build);
	free(r->from_phase);
	phase_list_release(&r->phases);
	strvec_release(&r->exported);
	for (size_t i = 0; i < r->nr_artifacts; i++) {
		free(r->artifacts[i].identifier);
		free(r->artifacts[i].location);
		free(r->artifacts[i].sha256);
		free(r->artifacts[i].md5);
	}
	free(r->artifacts);
	memset(r, 0, sizeof(*r));
}
