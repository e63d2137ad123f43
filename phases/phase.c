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

		log_phase_complete_ms(lg, r->type, phase_status_name(st),
				      r->end_ms - r->start_ms);
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

int break_spec_parse(const char *s, struct break_spec *out)
{
	static const int ids[] = { BS_INSTALL, BS_PRE_BUILD, BS_BUILD,
				   BS_POST_BUILD };
	const char *colon;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (!strcmp(s, "on-failure")) {
		out->mode = BREAK_ON_FAILURE;
		return 0;
	}
	if (!strcmp(s, "always")) {
		out->mode = BREAK_ALWAYS;
		return 0;
	}
	colon = strchr(s, ':');
	len = colon ? (size_t)(colon - s) : strlen(s);
	out->n = 1;
	if (colon) {
		char *end;
		unsigned long n;

		if (colon[1] < '0' || colon[1] > '9')
			return -1;
		n = strtoul(colon + 1, &end, 10);
		if (*end || n < 1 || n > 100000)
			return -1;
		out->n = (unsigned)n;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		const char *name = bs_phase_type(ids[i]);
		size_t k;

		if (strlen(name) != len)
			continue;
		for (k = 0; k < len; k++) {
			char c = s[k] == '-' ? '_' : s[k];

			if (c >= 'a' && c <= 'z')
				c = (char)(c - 'a' + 'A');
			if (c != name[k])
				break;
		}
		if (k == len) {
			out->mode = BREAK_AT;
			out->phase = ids[i];
			return 0;
		}
	}
	return -1;
}

static bool breaking(const struct machine *m)
{
	return m->brk && m->brk->mode != BREAK_NONE && m->on_break;
}

/* Pause at bp; a pause that cannot be made goes on as without it. */
static enum break_action pause_at(struct machine *m,
				  const struct break_point *bp)
{
	enum break_action act = BREAK_RESUME;
	int64_t ms = 0;

	if (m->on_break(bp, &act, &ms, m->break_data) < 0)
		return BREAK_RESUME;
	m->paused_ms += ms;
	if (m->deadline)
		m->deadline += ms;
	return act;
}

static bool is_breakpoint(const char *cmd)
{
	static const char word[] = "codebuild-breakpoint";
	size_t n = sizeof(word) - 1;

	while (*cmd == ' ' || *cmd == '\t')
		cmd++;
	if (strncmp(cmd, word, n))
		return false;
	for (cmd += n; *cmd; cmd++)
		if (*cmd != ' ' && *cmd != '\t' && *cmd != '\n' && *cmd != ';')
			return false;
	return true;
}

static void abort_attempt(struct machine *m, struct attempt *a)
{
	m->aborted = true;
	attempt_fail(a, PHASE_STOPPED, "BUILD_STOPPED",
		     xstrdup("Build aborted at a pause (slipway-abort)"));
}

/*
 * Run a list of commands until the first failure. first: the number of
 * the list's first command in its phase (finally counts on after
 * commands), for --break.
 */
static int run_list(struct machine *m, int phase, const struct strvec *cmds,
		    const int *lines, unsigned first,
		    const struct shell_user *user, struct attempt *a,
		    struct sw_err *e)
{
	struct shell_state before = SHELL_STATE_INIT;
	int ret = 0;

	for (size_t i = 0; i < cmds->nr; i++) {
		const char *cmd = cmds->v[i];
		struct break_point bp = { bs_phase_type(phase),
					  first + (unsigned)i,
					  cmd,
					  false,
					  0,
					  false,
					  user };
		struct shell_result r;
		enum break_action act;

		if (is_breakpoint(cmd)) {
			log_agent(m->log, "Running command %s", cmd);
			if (!breaking(m)) {
				log_agent(m->log, "codebuild-breakpoint: no "
						  "--break, going on");
				continue;
			}
			bp.breakpoint = true;
			act = pause_at(m, &bp);
			if (act == BREAK_ABORT) {
				abort_attempt(m, a);
				goto out;
			}
			continue;
		}
		if (breaking(m) && m->brk->mode == BREAK_AT &&
		    m->brk->phase == phase && m->brk->n == bp.n) {
			act = pause_at(m, &bp);
			if (act == BREAK_ABORT) {
				abort_attempt(m, a);
				goto out;
			}
			if (act == BREAK_SKIP) {
				log_agent(
					m->log,
					"Skipping command %s: slipway-skip at "
					"a pause",
					cmd);
				continue;
			}
		}
	again:
		if (breaking(m))
			shell_state_save(m->sh, &before);
		log_command(m->log, cmd);
		if (shell_run(m->sh, cmd, user, m->deadline, &r, e) < 0) {
			log_command_done(m->log, -1);
			ret = -1;
			goto out;
		}
		log_command_done(m->log, r.end == SHELL_EXITED ? r.status : -1);
		if (r.end == SHELL_TIMEDOUT) {
			attempt_fail(a, PHASE_TIMED_OUT, "BUILD_TIMED_OUT",
				     xstrdup("Build timed out"));
			goto out;
		}
		if (r.end == SHELL_STOPPED) {
			attempt_fail(a, PHASE_STOPPED, "BUILD_STOPPED",
				     xasprintf("Build stopped by signal %d",
					       proc_stop_signal()));
			goto out;
		}
		if (!r.status)
			continue;
		log_agent(m->log,
			  "Command did not exit successfully %s exit status %d",
			  cmd, r.status);
		if (breaking(m)) {
			struct shell_state after = SHELL_STATE_INIT;

			/* the shell opens where the command started */
			shell_state_save(m->sh, &after);
			shell_state_restore(m->sh, &before);
			bp.failed = true;
			bp.status = r.status;
			act = pause_at(m, &bp);
			if (act == BREAK_RETRY) {
				shell_state_release(&after);
				goto again;
			}
			shell_state_restore(m->sh, &after);
			shell_state_release(&after);
			if (act == BREAK_ABORT) {
				abort_attempt(m, a);
				goto out;
			}
			if (act == BREAK_SKIP) {
				log_agent(m->log, "Command counted as passed: "
						  "slipway-skip at a pause");
				continue;
			}
		}
		attempt_fail(a, PHASE_FAILED, "COMMAND_EXECUTION_ERROR",
			     xasprintf("Error while executing command: %s. "
				       "Reason: exit status %d",
				       cmd, r.status));
		if (!m->failed_command) {
			m->failed_phase = bs_phase_type(phase);
			m->failed_command = cmd;
			m->failed_line = lines ? lines[i] : 0;
			m->failed_status = r.status;
		}
		set_succeeding(m, false);
		goto out;
	}
out:
	shell_state_release(&before);
	return ret;
}

static int run_attempt(struct machine *m, int id, const struct bs_phase *p,
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
	if (run_list(m, id, &p->commands, p->command_lines, 1,
		     switch_user ? &user : NULL, a, e) < 0 ||
	    (a->status != PHASE_TIMED_OUT && a->status != PHASE_STOPPED &&
	     run_list(m, id, &p->finally, p->finally_lines,
		      (unsigned)p->commands.nr + 1, switch_user ? &user : NULL,
		      a, e) < 0)) {
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

	for (int id = m->from; id < BS_NPHASES; id++) {
		const struct bs_phase *p = &m->bs->phases[id];
		struct attempt a = { PHASE_SUCCEEDED, NULL, NULL };
		struct phase_rec *r;
		int tries = 0;

		if (m->one_phase && id > m->from)
			break;
		if (m->on_phase)
			m->on_phase(id, m->phase_data);
		r = phase_begin(pl, bs_phase_type(id), m->log);

		if (id == BS_POST_BUILD)
			m->post_build_ran = true;
		for (;;) {
			if (run_attempt(m, id, p, &a, e) < 0) {
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
	if (breaking(m) && m->brk->mode == BREAK_ALWAYS) {
		/* after the last phase that ran (--phase: that one) */
		struct break_point bp = {
			bs_phase_type(m->one_phase ? m->from : BS_POST_BUILD),
			0,
			NULL,
			false,
			0,
			false,
			NULL
		};

		if (pause_at(m, &bp) == BREAK_ABORT) {
			m->aborted = true;
			m->outcome = MACHINE_STOPPED;
			m->skip_artifacts = true;
		}
	}
	return 0;
}
