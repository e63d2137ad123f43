/*
 * layout: where a build's sources go, as CodeBuild lays them out.
 *
 *   char *n = layout_src_name();        -- "src<N>", N random
 *   char *p = layout_repo_path("https://github.com/aws/app.git");
 *                                       -- "github.com/aws/app"
 *   struct layout_secondary s;
 *   if (layout_parse_secondary("lib=../lib@v2", &s, &e) < 0)
 *           usage(e.msg);                -- s.id "lib", s.source "../lib",
 *   layout_secondary_release(&s);        -- s.ref "v2"
 *
 * A build's directory stands for the build machine's "/": its sources
 * are under <build>/codebuild/output/src<N>/, which the sandbox shows at
 * /codebuild/output/src<N>/. The primary source is src<N>/src, or
 * src<N>/src/<host>/<owner>/<repo> for a GitHub, GitLab or Bitbucket URL
 * (CodeBuild's Go-style layout: src<N> is a GOPATH). A secondary source
 * from such a URL goes beside a primary laid out that way; any other one
 * goes to src<N>/secSrc/<ID>, as CodeBuild's local agent puts it.
 */
#ifndef SW_LAYOUT_H
#define SW_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* "src<N>", N a random number below 10^9; the caller frees it. */
char *layout_src_name(void);

/*
 * The path below src/ that CodeBuild gives a source checked out from a
 * GitHub, GitLab or Bitbucket URL (https, http, ssh, git or scp-like):
 * "<host>/<owner>/<repo>" with the host lowercased, ".git" and trailing
 * slashes removed, GitLab's subgroups kept. NULL for a path, another
 * host, or a URL whose path has an empty, ".", ".." or unusual component.
 * The caller frees it.
 */
char *layout_repo_path(const char *source);

/* A secondary source identifier: 1-127 of [A-Za-z0-9_] (CodeBuild's). */
bool layout_id_valid(const char *id);

struct layout_secondary {
	char *id;
	char *source; /* a directory, repository path or git URL */
	char *ref; /* NULL: the source's HEAD or default branch */
};

#define LAYOUT_SECONDARY_INIT                                                  \
	{                                                                      \
		NULL, NULL, NULL                                               \
	}

/*
 * Parse "ID=SOURCE[@REF]". "@REF" is split off the end only where what
 * comes before it is a whole source: not inside "user@host:path", nor
 * in "https://user@host/path", and never when REF holds a ':' (no git
 * ref does). Fails with ERR_USAGE and a message naming the problem;
 * *s is then left empty.
 */
int layout_parse_secondary(const char *arg, struct layout_secondary *s,
			   struct sw_err *e);

void layout_secondary_release(struct layout_secondary *s);

/*
 * Parse arg as above and append it to *v (nr, alloc as ALLOC_GROW keeps
 * them). Fails with ERR_USAGE as layout_parse_secondary() does, or when
 * the identifier is given twice.
 */
int layout_add_secondary(struct layout_secondary **v, size_t *nr, size_t *alloc,
			 const char *arg, struct sw_err *e);

/* Release the n entries of v and v itself; NULL is a no-op. */
void layout_secondaries_free(struct layout_secondary *v, size_t n);

/* Whether a is b or a directory above or below it ("x/y" and "x"). */
bool layout_overlaps(const char *a, const char *b);

#endif
