/*
 * envfile: environment variables given on the command line, as the
 * CodeBuild local agent takes them: `-e FILE` (here --env-file FILE) and
 * `-e NAME=VALUE`.
 *
 *   struct strvec names = STRVEC_INIT, values = STRVEC_INIT;
 *   if (envfile_load("vars.env", &names, &values, &e) < 0)
 *           -- e.code == ERR_SPEC, "vars.env:3: invalid line ..."
 *   for (i = 0; i < names.nr; i++)
 *           setenv_in_build(names.v[i], values.v[i]);
 *   strvec_release(&names); strvec_release(&values);
 *
 *   char *name, *value;
 *   if (env_parse_assignment(optarg, &name, &value, &e) < 0)
 *           -- e.code == ERR_USAGE
 *   free(name); free(value);
 *
 * File format (the local agent's):
 *  - one NAME=VALUE per line; the value is everything after the first
 *    '=' (it may contain '=' and be empty) and is kept byte for byte:
 *    no quote handling (quotes are part of the value), no escapes, no
 *    expansion, surrounding spaces kept. Only a trailing "\r" is dropped.
 *  - whitespace before NAME is skipped; NAME must match
 *    [A-Za-z_][A-Za-z0-9_]* (so "NAME = v" is invalid).
 *  - a line whose first non-blank byte is '#' is a comment; empty and
 *    all-blank lines are ignored. A '#' later in a line is value text.
 *  - a NAME given twice keeps its last value, at the place of its first
 *    appearance, so names come out unique, in file order.
 *  - a NUL byte anywhere is an error (no environment can hold it).
 * Errors name the file and line but never quote a value, which may be
 * secret.
 */
#ifndef SW_ENVFILE_H
#define SW_ENVFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "strvec.h"

/*
 * Append the variables of the file at path to names/values (parallel
 * arrays; a name already present in names gets its value replaced).
 * Returns 0, or -1 with ERR_SPEC (bad line) or ERR_SYSTEM (cannot read);
 * names and values may then hold the lines before the bad one.
 */
int envfile_load(const char *path, struct strvec *names, struct strvec *values,
		 struct sw_err *e);

/* The same over a buffer; `file` names it in messages. */
int envfile_parse(const char *file, const char *data, size_t len,
		  struct strvec *names, struct strvec *values,
		  struct sw_err *e);

/*
 * Split a command-line "NAME=VALUE" (VALUE may be empty and may contain
 * '='). On success *name and *value are the caller's to free. Returns -1
 * with ERR_USAGE when there is no '=' or NAME is invalid.
 */
int env_parse_assignment(const char *arg, char **name, char **value,
			 struct sw_err *e);

/* Does s[0..len) match [A-Za-z_][A-Za-z0-9_]*? */
bool env_name_valid(const char *s, size_t len);

#endif
