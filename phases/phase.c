#include "phase.h"

#include <pwd.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "proc.h"
#include "xalloc.h"
#include "banned.h"

const char *phase_status_name(enum phase_status s)
{
	switch (s) {
	case PHASE_SUCCEEDED:
		return "SUCCEEDED";
	case PHASE_FAILED:
		return "FAILED";
	case PHASE_FAULT:
		return "FAULT";
	case PHASE_TIMED_OUT:
		return "TIMED_OUT";
	case PHASE_STOPPED:
		return "STOPPED";
	case PHASE_IN_PROGRESS:
		break;
	}
	return "IN_PROGRESS";
}

struct phase_rec *phase_begin(struct phase_list *pl, const char *type,
			      struct log *lg)
{
	struct phase_rec *r;

	ALLOC_GROW(pl->v, pl->nr + 1, pl->alloc);
	r = &pl->v[pl->nr++];
	memset(r, 0, sizeof(*r));
	r->type = xstrdup(type);
	r->start_ms = proc_wall_ms();
	if (lg)
		log_agent(lg, "Entering phase %s", type);
	return r;
}

void phase_add_ctx(struct phase_rec *r, const char *code, const char *msg)
{
	ALLOC_GROW(r->ctx, r->nr_ctx + 1, r->alloc_ctx);
	r->ctx[r->nr_ctx].code = xstrdup(code ? code : "");
	r->ctx[r->nr_ctx].message = xstrdup(msg ? msg : "");
	r->nr_ctx++;
}

void phase_end(struct phase_rec *r, enum phase_status st, const char *code,
	       const char *msg, struct log *lg)
{
	r->status = st;
	r->end_ms = proc_wall_ms();
	if (code || msg || !r->nr_ctx)
		phase_add_ctx(r, code, msg);
	if (lg) {
		struct phase_ctx *c = &r->ctx[r->nr_ctx - 1];

		log_phase_complete(lg, r->type, phase_status_name(st));
		log_agent(lg, "Phase context status code: %s Message: %s",
			  c->code, c->message);
	}
}

void phase_list_release(struct phase_list *pl)
{
	for (size_t i = 0; i < pl->nr; i++) {
		struct phase_rec *r = &pl->v[i];

		for (size_t j = 0; j < r->nr_ctx; j++) {
			free(r->ctx[j].code);
			free(r->ctx[j].message);
		}
		free(r->ctx);
		free(r->type);
	}
	free(pl->v);
	memset(pl, 0, sizeof(*pl));
}

bool machine_should_retry(const struct bs_phase *p, int attempt,
			  const char *msg)
{
	regex_t re;
	bool ok;

	if (p->on_failure != BS_ONFAIL_RETRY || attempt > p->retry_count)
		return false;
	if (!p->retry_regex)
		return true;
	if (regcomp(&re, p->retry_regex, REG_EXTENDED | REG_NOSUB))
		return false;
	ok = !regexec(&re, msg ? msg : "", 0, NULL, 0);
	regfree(&re);
	return ok;
}

/* How one attempt at a phase ended. */
struct attempt {
	enum phase_status status;
	char *code;
	char *message;
};

static void attempt_fail(struct attempt *a, enum phase_status st,
			 const char *code, char *msg)
{
	/* A timeout or a stop outranks a failed command before it. */
	bool ends_build = st == PHASE_TIMED_OUT || st == PHASE_STOPPED;

	if (ends_build && a->status == PHASE_FAILED) {
		free(a->code);
		free(a->message);
		a->status = PHASE_SUCCEEDED;
	}
	if (a->status == PHASE_SUCCEEDED) {
		a->status = st;
		a->code = xstrdup(code);
		a->message = msg;
	} else {
		free(msg);
	}
}

static void set_succeeding(struct machine *m, bool ok)
{
	m->succeeding = ok;
	shell_setenv(m->sh, "CODEBUILD_BUILD_SUCCEEDING", ok ? "1" : "0");
}

/* run-as: who runs this phase's commands. */
static int resolve_user(const struct machine *m, const struct bs_phase *p,
			struct shell_user *u, bool *switch_user, char **msg)
{
	const char *name = p->run_as ? p->run_as : m->bs->run_as;
	struct passwd *pw;

	*switch_user = false;
	if (!name)
		return 0;
	pw = getpwnam(name);
	if (!pw && m->extra_user && !strcmp(name, m->extra_user->name)) {
		*u = *m->extra_user;
		*switch_user = true;
		return 0;
	}
	if (!pw && !strcmp(name, "codebuild-user")) {
		*msg = xasprintf("run-as user '%s' does not exist (CodeBuild's "
				 "images have it: 'useradd -m %s' as root "
				 "creates it, or --isolation sandbox provides "
				 "it)",
				 name, name);
		return -1;
	}
	if (!pw) {
		*msg = xasprintf("run-as user '%s' does not exist", name);
		return -1;
	}
	if (pw->pw_uid == geteuid())
		return 0;
	if (geteuid() != 0) {
		*msg = xasprintf("run-as '%s' needs slipway to run as root",
				 name);
		return -1;
	}
	u->name = name;
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	*switch_user = true;
	return 0;
}

/* Run a list of commands until the first failure. */
static int run_list(struct machine *m, const struct strvec *cmds,
		    const struct shell_user *user, struct attempt *a,
		    struct sw_err *e)
{
	for (size_t i = 0; i < cmds->nr; i++) {
		const char *cmd = cmds->v[i];
		struct shell_result r;

		log_agent(m->log, "Running command %s", cmd);
		if (shell_run(m->sh, cmd, user, m->deadline, &r, e) < 0)
			return -1;
		if (r.end == SHELL_TIMEDOUT) {
			attempt_fail(a, PHASE_TIMED_OUT, "BUILD_TIMED_OUT",
				     xstrdup("Build timed out"));
			return 0;
		}
		if (r.end == SHELL_STOPPED) {
			attempt_fail(a, PHASE_STOPPED, "BUILD_STOPPED",
				     xasprintf("Build stopped by signal %d",
					       proc_stop_signal()));
			return 0;
		}
		if (r.status) {
			log_agent(m->log,
				  "Command did not exit successfully %s exit "
				  "status %d",
				  cmd, r.status);
			attempt_fail(a, PHASE_FAILED, "COMMAND_EXECUTION_ERROR",
				     xasprintf("Error while executing command: "
					       "%s. Reason: exit status %d",
					       cmd, r.status));
			set_succeeding(m, false);
			return 0;
		}
	}
	return 0;
}

static int run_attempt(struct machine *m, const struct bs_phase *p,
		       struct attempt *a, struct sw_err *e)
{
	struct shell_user user;
	bool switch_user;
	char *msg = NULL;

	a->status = PHASE_SUCCEEDED;
	if (!p->present)
		return 0;
	if (resolve_user(m, p, &user, &switch_user, &msg) < 0) {
		log_agent(m->log, "%s", msg);
		attempt_fail(a, PHASE_FAILED, "CLIENT_ERROR", msg);
		set_succeeding(m, false);
		return 0;
	}
	for (size_t i = 0; i < p->runtime_versions.nr; i++) {
		const struct bs_kv *kv = &p->runtime_versions.v[i];

		log_agent(m->log,
			  "Skipping install of runtime %s %s: runtime version "
			  "selection is not supported by slipway",
			  kv->name, kv->value);
	}
	if (run_list(m, &p->commands, switch_user ? &user : NULL, a, e) < 0 ||
	    (a->status != PHASE_TIMED_OUT && a->status != PHASE_STOPPED &&
	     run_list(m, &p->finally, switch_user ? &user : NULL, a, e) < 0)) {
		if (!switch_user)
			return -1;
		/* Most often the user cannot reach the build directory. */
		msg = xasprintf("run-as '%s': %s (the build's directories "
				"must be reachable by that user; see "
				"--state-dir)",
				user.name, e->msg);
		err_clear(e);
		log_agent(m->log, "%s", msg);
		attempt_fail(a, PHASE_FAILED, "CLIENT_ERROR", msg);
		set_succeeding(m, false);
	}
	return 0;
}

int machine_run(struct machine *m, struct phase_list *pl, struct sw_err *e)
{
	bool failed_before = !m->succeeding;

	for (int id = BS_INSTALL; id < BS_NPHASES; id++) {
		const struct bs_phase *p = &m->bs->phases[id];
		struct attempt a = { PHASE_SUCCEEDED, NULL, NULL };
		struct phase_rec *r =
			phase_begin(pl, bs_phase_type(id), m->log);
		int tries = 0;

		if (id == BS_POST_BUILD)
			m->post_build_ran = true;
		for (;;) {
			if (run_attempt(m, p, &a, e) < 0) {
				phase_end(r, PHASE_FAULT, "CLIENT_ERROR",
					  e->msg, m->log);
				m->outcome = MACHINE_FAILED;
				m->skip_artifacts = true;
				return -1;
			}
			if (a.status != PHASE_FAILED ||
			    !machine_should_retry(p, tries + 1, a.message))
				break;
			tries++;
			phase_add_ctx(r, a.code, a.message);
			log_agent(m->log,
				  "Phase %s failed: retrying (%d of %d)",
				  r->type, tries, p->retry_count);
			free(a.code);
			free(a.message);
			a.code = a.message = NULL;
			if (!failed_before)
				set_succeeding(m, true);
		}
		if (a.status ==
		    PHASE_SUCCEEDED) /* after retries: a context too */
			phase_end(r, PHASE_SUCCEEDED, tries ? "" : NULL, NULL,
				  m->log);
		else
			phase_end(r, a.status, a.code, a.message, m->log);
		free(a.code);
		free(a.message);
		if (a.status == PHASE_TIMED_OUT || a.status == PHASE_STOPPED) {
			m->outcome = a.status == PHASE_TIMED_OUT
					     ? MACHINE_TIMED_OUT
					     : MACHINE_STOPPED;
			m->skip_artifacts = true;
			return 0;
		}
		if (a.status != PHASE_FAILED)
			continue;
		failed_before = true;
		m->outcome = MACHINE_FAILED;
		if (p->on_failure == BS_ONFAIL_CONTINUE)
			continue;
		if (p->on_failure == BS_ONFAIL_ABORT || id == BS_INSTALL ||
		    id == BS_PRE_BUILD) {
			m->skip_artifacts = true;
			return 0;
		}
		/* BUILD goes on to POST_BUILD, POST_BUILD to artifacts. */
	}
	return 0;
}
