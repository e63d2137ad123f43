/*
 * intake: what starts executions from outside the API: webhook
 * deliveries (webhook.h) at POST /webhooks/github|gitlab|gitea, and the
 * polling of sources that cannot send them (poll.h), on a thread of its
 * own.
 *
 *   intake_routes(h, srv);          -- before http_start()
 *   intake_poll_start(srv);         -- when serving
 *   ...
 *   intake_poll_stop();             -- before the server goes away
 *
 * A verified delivery that matches starts one execution per match, its
 * trigger {WebhookV2, the delivery's summary} and its revision the
 * commit delivered; the answer (202) is webhook.h's with each "started"
 * entry given its "pipelineExecutionId". While the server drains, a
 * delivery is 503 before anything of it is recorded, so that the forge's
 * redelivery is not taken for a duplicate. A pipeline with slipway.poll
 * is checked every that many seconds (the first time at start).
 */
#ifndef SW_SERVER_INTAKE_H
#define SW_SERVER_INTAKE_H

struct http_server;
struct serve;

void intake_routes(struct http_server *h, struct serve *s);
void intake_poll_start(struct serve *s);
void intake_poll_stop(void);

#endif
