/*
 * report: the build report, JSON shaped like CodeBuild's BatchGetBuilds
 * build object (DESIGN.md "Outputs").
 *
 *   report_write(&result, mask, "out/report.json", &e);
 *   report_print(path, stdout, &e);        -- `slipway show`
 *
 * Times are epoch seconds with milliseconds (CodeBuild's wire format).
 * Every string passes through the secret mask. Written atomically.
 */
#ifndef SW_REPORT_H
#define SW_REPORT_H

#include <stdio.h>

#include "build.h"
#include "err.h"
#include "mask.h"

/* The JSON text (pretty), caller frees. */
char *report_json(const struct build_result *r, const struct mask *m);
int report_write(const struct build_result *r, const struct mask *m,
		 const char *path, struct sw_err *e);

/* One line per build for `slipway history`: number, id, status, time. */
int report_summary_line(const char *path, FILE *out, struct sw_err *e);
/* A human view of a report for `slipway show`: header and phase table. */
int report_show(const char *path, FILE *out, struct sw_err *e);

/* The same for a deployment report: one line for `slipway history`, and
 * a header and a host table for `slipway show`. */
int report_deploy_summary_line(const char *path, FILE *out, struct sw_err *e);
int report_deploy_show(const char *path, FILE *out, struct sw_err *e);

#endif
