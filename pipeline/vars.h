/*
 * vars: CodePipeline's variable references, "#{namespace.key}", in an
 * action's configuration values (and a Commands action's environment
 * variable values).
 *
 *   struct plvar_ref r;
 *   size_t pos = 0;
 *   int rc;
 *   while ((rc = plvar_next(value, &pos, &r)) > 0)
 *           ... value[r.start .. r.end) is "#{" ns "." key "}"
 *   if (rc < 0)
 *           ... value[r.start] begins a malformed reference
 *
 * A reference is "#{", a namespace of [A-Za-z0-9@_-] (1-100), ".", a key
 * of the same characters (1-128: variable names, exported variables and
 * CodePipeline's own keys all fit), and "}". Text
 * without "#{" is plain text. "#{" that does not start a well-formed
 * reference is an error, as CodePipeline refuses it when the pipeline is
 * created.
 */
#ifndef SW_PIPELINE_VARS_H
#define SW_PIPELINE_VARS_H

#include <stddef.h>

/* The namespaces every pipeline has. */
#define PLVAR_CODEPIPELINE "codepipeline"
#define PLVAR_VARIABLES "variables"

struct plvar_ref {
	size_t start, end; /* the reference is s[start..end) */
	char ns[101];
	char key[129];
};

/*
 * The next reference in s at or after *pos: 1 and *r filled, *pos past
 * it; 0 when there is none; -1 when "#{" at r->start does not begin a
 * well-formed reference (r->ns and r->key then say nothing).
 */
int plvar_next(const char *s, size_t *pos, struct plvar_ref *r);

#endif
