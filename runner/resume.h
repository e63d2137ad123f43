/*
 * resume: what a build records as each of its phases starts, so that
 * `slipway build --from PHASE` can run a kept build's source again from
 * there with the same variables and working directory.
 *
 *   struct resume_rec rec = RESUME_REC_INIT;
 *   ... fill rec from the running build ...
 *   resume_save(build_dir, "BUILD", &rec, &e);   -- <build>/phases/BUILD.json
 *   resume_rec_release(&rec);
 *
 *   resume_load(old_build_dir, "BUILD", &rec, &e);
 *   char *v = resume_rebase(value, rec.build_dir, new_build_dir);
 *
 * The record is written 0600, whole or not at all (not synced). It
 * leaves out the values of parameter-store and secrets-manager variables
 * and every value holding a secret (the caller drops those from env): a
 * build resumed from it resolves its secrets again.
 */
#ifndef SW_RESUME_H
#define SW_RESUME_H

#include "err.h"
#include "strvec.h"

struct resume_rec {
	char *build_id;
	char *project;
	char *phase; /* "BUILD" */
	char *src_dir; /* the source on the host */
	char *build_src; /* CODEBUILD_SRC_DIR as the commands saw it */
	char *build_dir; /* the build's own directory */
	char *cwd; /* the carried working directory */
	char *repo_url, *source_version, *resolved_source_version;
	char *buildspec; /* as given, relative to the source root */
	struct strvec env; /* NAME=value */
};

#define RESUME_REC_INIT                                                        \
	{                                                                      \
		.env = STRVEC_INIT                                             \
	}

/* <build_dir>/phases/<phase>.json */
int resume_save(const char *build_dir, const struct resume_rec *rec,
		struct sw_err *e);
/* ERR_USAGE when the build has no record of that phase's start (it
 * never got there), ERR_SPEC when the record cannot be read. */
int resume_load(const char *build_dir, const char *phase,
		struct resume_rec *rec, struct sw_err *e);
void resume_rec_release(struct resume_rec *rec);

/* s with every occurrence of from replaced by to (a new string). */
char *resume_rebase(const char *s, const char *from, const char *to);

#endif
