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
#include "fs.h"
#include "mask.h"
#include "store.h"

/* The JSON text (pretty), caller frees. A build that did not succeed
 * has "statusReason": the reason its summary line gives. */
char *report_json(const struct build_result *r, const struct mask *m);
/* The compact form a full disk leaves room for: the status and its
 * reason, the phases (messages cut to 1 KiB), the log's location, and
 * "reportCompact": true; no variables, artifacts, test reports or cache.
 * It fits in REPORT_RESERVE. */
char *report_json_compact(const struct build_result *r, const struct mask *m);
int report_write(const struct build_result *r, const struct mask *m,
		 const char *path, struct sw_err *e);

/* Space set aside for report.json when a build starts (fs_reserve). */
#define REPORT_RESERVE (64 << 10)

/* Write the report (compact or whole) into the space reserved for it and
 * rename it into place (fs_reserve_commit: errno ENOSPC when a whole
 * report is longer than the reservation and the disk is full). */
int report_commit(const struct build_result *r, const struct mask *m,
		  bool compact, struct fs_reserve *rv, struct sw_err *e);

/* One line per build for `slipway history`: number, status, time,
 * duration, id, and the reason of one that did not succeed. */
int report_summary_line(const char *path, FILE *out, struct sw_err *e);
/* The same line from a build's row in the store; and the row a report
 * makes (strings owned by b: store_build_release). */
void report_build_line(const struct store_build *b, FILE *out);
int report_build_row(const char *path, struct store_build *b, struct sw_err *e);
/* A human view of a report for `slipway show`: header and phase table. */
int report_show(const char *path, FILE *out, struct sw_err *e);

/* The same for a deployment report: one line for `slipway history`, and
 * a header and a host table for `slipway show`. */
int report_deploy_summary_line(const char *path, FILE *out, struct sw_err *e);
/* As report_build_line and _row; hosts_total is -1 for a report without
 * a deploymentOverview (the line then names no hosts). */
void report_deploy_line(const struct store_deployment *d, FILE *out);
int report_deploy_row(const char *path, struct store_deployment *d,
		      struct sw_err *e);
int report_deploy_show(const char *path, FILE *out, struct sw_err *e);

#endif
