/*
 * appspec: the model of a CodeDeploy AppSpec file for the EC2/on-premises
 * compute platform with `os: linux`, and its parser (reference
 * codedeploy.md sections 1 and 8).
 *
 *   struct appspec a = APPSPEC_INIT;
 *   struct sw_err e = SW_ERR_INIT;
 *   char *path = NULL;
 *
 *   if (appspec_find(archive_dir, &path, &e) < 0 ||
 *       appspec_load(path, &a, &e) < 0)
 *           -- e.code == ERR_SPEC, e.msg = "appspec.yml:4:3: ..."
 *   for (size_t i = 0; i < a.warnings.nr; i++)
 *           warn(a.warnings.v[i]);   -- "file:line:col: unknown key 'x' ..."
 *   for (int ev = 0; ev < APPSPEC_NEVENTS; ev++)
 *           for (size_t s = 0; s < a.hooks[ev].nr; s++)
 *                   run(a.hooks[ev].scripts[s].location, ...);
 *   appspec_release(&a);
 *   free(path);
 *
 * A key written twice in a mapping keeps its last value, as the agent's
 * YAML reader does, with a warning.
 *
 * Every string in the model is owned by the model; appspec_release() frees
 * it all and leaves an APPSPEC_INIT struct. On failure the loaders leave
 * *a released. Errors are ERR_SPEC with "file:line:col: message" (1-based),
 * using the agent's wording where it has one ("invalid version value
 * (1.0)", "unsupported operating system (windows)", "specifies a script
 * with no location value", ...). Unknown keys are warnings, never errors.
 *
 * What is checked, and how values are read (YAML 1.1, as the agent's
 * Psych does):
 *   version      must be the number 0.0 (unquoted: the agent refuses the
 *                string "0.0"); kept as "0.0"
 *   os           must be linux; windows is refused ("only os: linux is
 *                supported"); Lambda/ECS appspecs (Resources) are refused
 *   files        a list of {source, destination}; source is relative to
 *                the bundle root ("/x" is "x"; "/" is the whole bundle,
 *                kept as "."), must not leave it (".."); destination must
 *                be absolute and has no ".." component. Both are kept
 *                normalised (no "//", no "./", no trailing "/").
 *                file_exists_behavior inside an entry is a warning: the
 *                agent reads it only at the top level
 *   file_exists_behavior  DISALLOW, OVERWRITE or RETAIN (upper case, as
 *                the agent compares it); APPSPEC_FEB_UNSET when absent
 *   permissions  object (absolute, required), pattern (default "**"),
 *                except (list), owner, group, mode, acls (list, each
 *                entry checked as the agent's setfacl entries), context
 *                {name or user, type (required), range (checked as an
 *                SELinux range)}, type (list of file, directory; both by
 *                default). mode is read from the scalar's text as octal:
 *                `mode: 0644` and `mode: 644` both mean 0644 (the v1
 *                agent turns an unquoted 0644 into 0420; this is a
 *                deliberate deviation); 1 to 4 digits 0-7, shorter ones
 *                padded with zeros as the agent does (with a warning)
 *   hooks        a map of lifecycle event -> list of {location, timeout,
 *                runas, sudo}. Only the nine scriptable events; reserved
 *                ones (DownloadBundle, Install, ...) and unknown names
 *                are errors. A null event is no scripts. location is
 *                stripped and kept as written (the agent shows it so);
 *                it is relative to the bundle root (a leading "/" gets a
 *                warning, as the agent joins it to the archive anyway),
 *                and must not leave it. timeout is read as the agent's
 *                to_i reads it ("30s" is 30, 2.5 is 2, with a warning),
 *                whole seconds > 0, default 3600; more than 3600 for a script
 *                (or for the timeouts written in one event, added up) is
 *                accepted, as the agent does, with a warning that the
 *                service fails an event after 3600 seconds. runas is
 *                stripped; sudo is a boolean (undocumented, agent-only).
 */
#ifndef SW_APPSPEC_H
#define SW_APPSPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "strvec.h"

/* Default and documented per-event maximum of a script's timeout. */
#define APPSPEC_DEFAULT_TIMEOUT 3600

/*
 * Every lifecycle event of an in-place EC2/on-premises deployment, in the
 * order the service runs them (codedeploy.md 2.1). Only the scriptable
 * ones may appear under `hooks`.
 */
enum appspec_event {
	APPSPEC_START,
	APPSPEC_BEFORE_BLOCK_TRAFFIC,
	APPSPEC_BLOCK_TRAFFIC,
	APPSPEC_AFTER_BLOCK_TRAFFIC,
	APPSPEC_APPLICATION_STOP,
	APPSPEC_DOWNLOAD_BUNDLE,
	APPSPEC_BEFORE_INSTALL,
	APPSPEC_INSTALL,
	APPSPEC_AFTER_INSTALL,
	APPSPEC_APPLICATION_START,
	APPSPEC_VALIDATE_SERVICE,
	APPSPEC_BEFORE_ALLOW_TRAFFIC,
	APPSPEC_ALLOW_TRAFFIC,
	APPSPEC_AFTER_ALLOW_TRAFFIC,
	APPSPEC_END,
	APPSPEC_NEVENTS
};

/* "ApplicationStop", ...; "Unknown" for a value out of range. */
const char *appspec_event_name(enum appspec_event ev);
/* The event named exactly (case-sensitive) name: 0 and *ev, or -1. */
int appspec_event_from_name(const char *name, enum appspec_event *ev);
/* Scripts may run for it (false for Start, DownloadBundle, Install,
 * BlockTraffic, AllowTraffic, End and out-of-range values). */
bool appspec_event_scriptable(enum appspec_event ev);

enum appspec_feb {
	APPSPEC_FEB_UNSET = 0, /* not in the appspec: the deployment decides */
	APPSPEC_FEB_DISALLOW,
	APPSPEC_FEB_OVERWRITE,
	APPSPEC_FEB_RETAIN
};

/* "DISALLOW", "OVERWRITE", "RETAIN"; NULL for APPSPEC_FEB_UNSET. */
const char *appspec_feb_name(enum appspec_feb feb);

struct appspec_file {
	char *source; /* relative to the bundle root; "." = all of it */
	char *destination; /* absolute */
	int line, col;
};

/* Bits of appspec_permission.types. */
#define APPSPEC_TYPE_FILE 1u
#define APPSPEC_TYPE_DIRECTORY 2u

struct appspec_permission {
	char *object; /* absolute */
	char *pattern; /* "**" unless given */
	struct strvec except;
	char *owner; /* NULL: unchanged */
	char *group; /* NULL: unchanged */
	int mode; /* 0..07777, or -1 when not given */
	struct strvec acls; /* setfacl entries as written */
	bool has_context;
	char *context_user; /* SELinux user (`name`, or `user` as the docs
			       write it); NULL when not given */
	char *context_type; /* required in a context */
	char *context_range; /* NULL when not given */
	unsigned types; /* APPSPEC_TYPE_* bits; both when not given */
	int line, col;
};

struct appspec_script {
	char *location; /* relative to the bundle root, as written (stripped:
			   "./x.sh" and "/x.sh" stay so; they name x.sh) */
	unsigned timeout; /* seconds, > 0 */
	char *runas; /* NULL: the agent's user */
	bool sudo;
	int line, col;
};

struct appspec_hook {
	bool present; /* the event is a key of `hooks` (maybe null) */
	int line, col; /* of that key */
	struct appspec_script *scripts;
	size_t nr, alloc;
};

struct appspec {
	char *file; /* the name given to the loader */
	char *version; /* "0.0" */
	char *os; /* "linux" */
	struct appspec_file *files;
	size_t nr_files, alloc_files;
	enum appspec_feb file_exists_behavior;
	struct appspec_permission *permissions;
	size_t nr_permissions, alloc_permissions;
	struct appspec_hook hooks[APPSPEC_NEVENTS];
	struct strvec warnings; /* "file:line:col: message" */
	/* The warnings about unknown keys, again: --strict makes them
	 * errors. */
	struct strvec unknown_keys;
};

#define APPSPEC_INIT                                                           \
	{                                                                      \
		0                                                              \
	}

/* Parse a file. On failure *a is left released. */
int appspec_load(const char *path, struct appspec *a, struct sw_err *e);
/* The same, naming the file `name` in messages (as the user knows it,
 * e.g. "appspec.yml" inside a bundle). What validate accepts, a
 * deployment reads alike: the same reader, the same bounds. */
int appspec_load_as(const char *path, const char *name, struct appspec *a,
		    struct sw_err *e);
/* Parse from memory (data need not be NUL-terminated); `name` is used in
 * messages. On failure *a is left released. */
int appspec_parse(const char *name, const char *data, size_t len,
		  struct appspec *a, struct sw_err *e);
/* Free what *a owns and reset it; NULL is a no-op. */
void appspec_release(struct appspec *a);

/* How many lifecycle events have at least one script. */
size_t appspec_nr_hooks(const struct appspec *a);

/*
 * Find the appspec of an unpacked bundle: dir/appspec.yml, else
 * dir/appspec.yaml (the agent's order for the default name). Only a
 * regular file (or a link to one) counts. On success *path is set to
 * "<dir>/<name>", owned by the caller. None there: ERR_SPEC with the
 * agent's "did not find an AppSpec file ..." message; dir unreadable:
 * ERR_SYSTEM.
 */
int appspec_find(const char *dir, char **path, struct sw_err *e);

#endif
