/*
 * page: an execution as one self-contained HTML page (inline CSS,
 * nothing fetched), drawn as CodePipeline's console draws it: the stages
 * side by side as columns, each a list of its actions in runOrder, with
 * the action's status, duration, a link to its build or deployment page
 * where there is one, its earlier attempts when it was retried, when an
 * approval waiting began and expires, an approval's summary and who
 * decided it, the
 * artifacts it took and made and the variables it output; below, the
 * execution's artifacts with their content addresses, and its
 * variables. Every string is escaped (html_escape).
 *
 * The input is the object `pipeline show --json` prints, with these keys
 * besides: pipelineExecution.artifacts [{name, sha256}]; in each action
 * "runOrder", "actionTypeId" {category, provider}, "inputArtifacts" and
 * "outputArtifacts" (arrays of names), "earlierAttempts" (the attempts
 * before the latest, oldest first: [{attempt, status, summary,
 * externalExecutionId, durationMs, reportHref}]), and in its
 * "latestExecution" "durationMs", "reportHref" (relative to the page),
 * "attempt" (when more than 1) and, for an approval, "approval"
 * {created, expires, decided} (ISO 8601 times).
 * Optional, for a page served by the dashboard: "logHref" in an
 * action's "latestExecution" (a link to its log) and "href" in an
 * artifact (a link to its content).
 *
 *   struct buf page = BUF_INIT;
 *   page_render(root, &page);
 */
#ifndef SW_PIPELINE_PAGE_H
#define SW_PIPELINE_PAGE_H

#include <json-c/json.h>

#include "buf.h"

void page_render(json_object *root, struct buf *out);

/* The stage columns, artifacts and variables alone (no head, title or
 * style), for a page that draws its own around them. */
void page_render_stages(json_object *root, struct buf *out);

#endif
