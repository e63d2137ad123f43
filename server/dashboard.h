/*
 * dashboard: the routes of the dashboard's pages (docs/dashboard.md),
 * drawn by dash.h from the store, the reports and the logs of the
 * server's state directory.
 *
 *   dashboard_routes(h, srv);   -- before http_start(); srv: serve.h
 *
 * Pages (HTTP_PAGE: a bearer token or the login cookie):
 *   GET  /                                  pipelines, waiting approvals
 *   GET  /history?kind=&name=&status=       executions, builds, deployments
 *   GET  /executions/ID                     stages and actions
 *   POST /executions/ID/approval            approve or reject (form, CSRF)
 *   POST /executions/ID/retry, /stop        retry a failed one, stop a
 *                                           running one (form, CSRF)
 *   GET  /executions/ID/actions/STAGE/ACTION[/log]   an action's log
 *   GET  /builds/ID[/log]                   a build, its log
 *   GET  /deployments/ID[/log]              a deployment's grid, its log
 *   GET  /artifacts/SHA256/[PATH]           an artifact's files
 *   GET  /executions/ID/artifacts/NAME/[PATH]  the same by its name
 * and GET /static/dash.css, /static/dash.js (public: no data in them).
 *
 * A page's "?live=1" is its event stream (text/event-stream): "main"
 * events with the page's new <main> as its records change (for an
 * execution, as its events are appended), or, for a log, "log" events
 * with the lines written since ?from=OFFSET, then "end" when the build,
 * deployment or action is over.
 */
#ifndef SW_SERVER_DASHBOARD_H
#define SW_SERVER_DASHBOARD_H

struct http_server;
struct serve;

void dashboard_routes(struct http_server *h, struct serve *srv);

#endif
