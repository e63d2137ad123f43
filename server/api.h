/*
 * api: the JSON API of `slipway serve` (docs/serve.md "API"), shaped like
 * the AWS APIs it stands for; every call needs a bearer token.
 *
 *   api_routes(h, srv);
 *
 *   GET  /api/pipelines                      ListPipelines
 *   GET  /api/pipelines/NAME/executions      ListPipelineExecutions
 *   POST /api/pipelines/NAME/executions      StartPipelineExecution
 *   GET  /api/executions/ID                  GetPipelineExecution + state
 *   POST /api/executions/ID/approve|reject   PutApprovalResult
 *   POST /api/executions/ID/retry            RetryStageExecution
 *   POST /api/executions/ID/stop             StopPipelineExecution
 *   GET  /api/builds/ID                      BatchGetBuilds' build
 *   GET  /api/builds/ID/log[?follow=1]       its log (follow: streamed
 *                                            until the build ends)
 *   GET  /api/deployments/ID                 GetDeployment
 */
#ifndef SW_SERVER_API_H
#define SW_SERVER_API_H

struct http_server;
struct serve;

void api_routes(struct http_server *h, struct serve *s);

/* The HTTP status for a runner's exit status (serve_spawn). */
int api_status_of(int exit_status);

#endif
