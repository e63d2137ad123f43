#!/usr/bin/env bats
# slipway serve: webhook deliveries end to end through the server: signed
# by the test as GitHub, GitLab and Gitea sign them, matched to the
# pipeline, the execution run at the commit delivered; bad signatures,
# repeated deliveries, pushes no trigger takes and bodies over the limit
# start nothing. Then polling a repository that sends no webhook.

load helpers
load serve_helpers

SECRET="It's a Secret to Everybody"

wh_setup() {
	sv_setup </dev/null
	printf '%s' "$SECRET" >"$T/secret"
	echo "  webhook-secret-file: $T/secret" >>"$T/pl/web.yml"
	(
		cd "$T/repo"
		echo two >f.txt
		git -c user.email=t@example.com -c user.name=t commit -qam two
	)
	SHA=$(git -C "$T/repo" rev-parse HEAD)
	FIRST=$(git -C "$T/repo" rev-parse HEAD~1)
}

# A push payload of repository org/app to ref $1 at commit $2.
push_body() {
	jq -cn --arg ref "$1" --arg sha "$2" --arg before "$FIRST" '{
		ref: $ref, before: $before, after: $sha, created: false,
		deleted: false, forced: false,
		repository: {full_name: "org/app", default_branch: "main"},
		project: {path_with_namespace: "org/app"},
		object_kind: "push", checkout_sha: $sha,
		commits: [{id: $sha, message: "two", added: [], removed: [],
			modified: ["f.txt"]}],
		head_commit: {id: $sha, message: "two"},
		pusher: {name: "alice"}, sender: {login: "alice"}}'
}

hmac() { # body file: hex HMAC-SHA256 with $SECRET
	python3 -c 'import hmac, hashlib, sys
print(hmac.new(sys.argv[1].encode(), open(sys.argv[2], "rb").read(), hashlib.sha256).hexdigest())' "$SECRET" "$1"
}

# deliver FORGE BODY-FILE [curl args]: the answer in $T/body, its status
# by `code`.
deliver() {
	local forge=$1 file=$2
	shift 2
	curl -s -o "$T/body" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' --data-binary "@$file" \
		"http://127.0.0.1:$PORT/webhooks/$forge" "$@" >"$T/code"
}

executions() {
	api GET /api/pipelines/web/executions |
		jq -r '.pipelineExecutionSummaries | length'
}

@test "serve webhooks: a signed GitHub push runs the pipeline at the commit pushed, once however often it is delivered" {
	wh_setup
	sv_start
	push_body refs/heads/main "$SHA" >"$T/push.json"
	deliver github "$T/push.json" -H "X-GitHub-Event: push" \
		-H "X-GitHub-Delivery: d-1" \
		-H "X-Hub-Signature-256: sha256=$(hmac "$T/push.json")"
	[ "$(code)" = 202 ]
	id=$(jq -r '.started[0].pipelineExecutionId' "$T/body")
	[[ "$id" == pe-* ]]
	[ "$(jq -r '.started[0].revision' "$T/body")" = "$SHA" ]
	wait_status "$id" Succeeded
	run api GET "/api/executions/$id"
	[ "$(echo "$output" | jq -r .pipelineExecution.trigger.triggerType)" = WebhookV2 ]
	[[ "$(echo "$output" | jq -r .pipelineExecution.trigger.triggerDetail)" == *"github push to branch main"* ]]
	[ "$(echo "$output" | jq -r '.pipelineExecution.artifactRevisions[0].revisionId')" = "$SHA" ]
	# delivered again (a redelivery keeps its id): nothing more starts
	deliver github "$T/push.json" -H "X-GitHub-Event: push" \
		-H "X-GitHub-Delivery: d-1" \
		-H "X-Hub-Signature-256: sha256=$(hmac "$T/push.json")"
	[ "$(code)" = 200 ]
	[ "$(jq -r .duplicate "$T/body")" = true ]
	[ "$(executions)" = 1 ]
	grep -q "$id: started by github" "$T/serve.log"
	sv_stop
}

@test "serve webhooks: a wrong or missing signature is 401 and queues nothing; a body over --max-body is 413" {
	wh_setup
	sv_start --max-body 2K
	push_body refs/heads/main "$SHA" >"$T/push.json"
	deliver github "$T/push.json" -H "X-GitHub-Event: push" \
		-H "X-GitHub-Delivery: d-2" \
		-H "X-Hub-Signature-256: sha256=$(printf '%064d' 0)"
	[ "$(code)" = 401 ]
	deliver github "$T/push.json" -H "X-GitHub-Event: push" \
		-H "X-GitHub-Delivery: d-3"
	[ "$(code)" = 401 ]
	# the signature of another body
	echo '{}' >"$T/other.json"
	deliver github "$T/push.json" -H "X-GitHub-Event: push" \
		-H "X-GitHub-Delivery: d-4" \
		-H "X-Hub-Signature-256: sha256=$(hmac "$T/other.json")"
	[ "$(code)" = 401 ]
	{
		head -c 3000 /dev/zero | tr '\0' ' '
		cat "$T/push.json"
	} >"$T/big.json"
	deliver github "$T/big.json" -H "X-GitHub-Event: push" \
		-H "X-GitHub-Delivery: d-5" \
		-H "X-Hub-Signature-256: sha256=$(hmac "$T/big.json")"
	[ "$(code)" = 413 ]
	# an unknown forge
	deliver bitbucket "$T/push.json"
	[ "$(code)" = 404 ]
	# the same delivery id, now signed, is not taken for a duplicate
	deliver github "$T/push.json" -H "X-GitHub-Event: push" \
		-H "X-GitHub-Delivery: d-2" \
		-H "X-Hub-Signature-256: sha256=$(hmac "$T/push.json")"
	[ "$(code)" = 202 ]
	[ "$(jq -r '.started | length' "$T/body")" = 1 ]
	[ "$(executions)" = 1 ]
	sv_stop
}

@test "serve webhooks: a push no trigger takes is 202 with the reason and starts nothing" {
	wh_setup
	sv_start
	push_body refs/heads/feature "$SHA" >"$T/push.json"
	deliver github "$T/push.json" -H "X-GitHub-Event: push" \
		-H "X-GitHub-Delivery: d-6" \
		-H "X-Hub-Signature-256: sha256=$(hmac "$T/push.json")"
	[ "$(code)" = 202 ]
	[ "$(jq -r '.started | length' "$T/body")" = 0 ]
	[ "$(jq -r '.reasons | length' "$T/body")" -ge 1 ]
	[ "$(executions)" = 0 ]
	sv_stop
}

@test "serve webhooks: GitLab's token and Gitea's signature start the pipeline too" {
	wh_setup
	sv_start
	push_body refs/heads/main "$SHA" >"$T/push.json"
	deliver gitlab "$T/push.json" -H "X-Gitlab-Event: Push Hook" \
		-H "X-Gitlab-Event-UUID: u-1" -H "X-Gitlab-Token: wrong"
	[ "$(code)" = 401 ]
	deliver gitlab "$T/push.json" -H "X-Gitlab-Event: Push Hook" \
		-H "X-Gitlab-Event-UUID: u-1" -H "X-Gitlab-Token: $SECRET"
	[ "$(code)" = 202 ]
	a=$(jq -r '.started[0].pipelineExecutionId' "$T/body")
	deliver gitea "$T/push.json" -H "X-Gitea-Event: push" \
		-H "X-Gitea-Delivery: g-1" \
		-H "X-Gitea-Signature: $(hmac "$T/push.json")"
	[ "$(code)" = 202 ]
	b=$(jq -r '.started[0].pipelineExecutionId' "$T/body")
	wait_status "$a" Succeeded
	wait_status "$b" Succeeded
	sv_stop
}

@test "serve webhooks: a polled repository starts the pipeline once per change, and not at all without one" {
	sv_setup </dev/null
	echo "  poll: 1s" >>"$T/pl/web.yml"
	sv_start
	# the first look records what is there and starts nothing
	for i in $(seq 100); do
		sqlite3 "$STATE/slipway.db" 'select count(*) from poll_heads' 2>/dev/null | grep -q '^[1-9]' && break
		sleep 0.1
	done
	[ "$(executions)" = 0 ]
	(
		cd "$T/repo"
		echo three >f.txt
		git -c user.email=t@example.com -c user.name=t commit -qam three
	)
	sha=$(git -C "$T/repo" rev-parse HEAD)
	wait_line "$T/serve.log" "started by poll"
	id=$(api GET /api/pipelines/web/executions | jq -r '.pipelineExecutionSummaries[0].pipelineExecutionId')
	wait_status "$id" Succeeded
	run api GET "/api/executions/$id"
	[ "$(echo "$output" | jq -r .pipelineExecution.trigger.triggerType)" = PollForSourceChanges ]
	[ "$(echo "$output" | jq -r '.pipelineExecution.artifactRevisions[0].revisionId')" = "$sha" ]
	[ "$(executions)" = 1 ]
	sv_stop
}

@test "serve webhooks: a pull request runs at its head, fetched by its ref in the base repository; one from a fork does not run" {
	wh_setup
	sed -i 's/^  stages:$/  triggers:\n    - providerType: CodeStarSourceConnection\n      gitConfiguration:\n        sourceActionName: Src\n        pullRequest:\n          - branches: {includes: [main]}\n            events: [OPEN, UPDATED]\n  stages:/' "$T/pl/web.yml"
	(
		cd "$T/repo"
		git checkout -q -b feature
		echo pr >f.txt
		git -c user.email=t@example.com -c user.name=t commit -qam pr
		git update-ref refs/pull/7/head HEAD
		git checkout -q main
		git branch -q -D feature
	)
	pr=$(git -C "$T/repo" rev-parse refs/pull/7/head)
	sv_start
	pr_body() { # fork: 0 or 1
		jq -cn --arg sha "$pr" --argjson fork "$1" '{
			action: "opened", number: 7,
			pull_request: {number: 7, state: "open", merged: false,
				head: {ref: "feature", sha: $sha,
					repo: {id: (1 + $fork), full_name: (if $fork == 1 then "eve/app" else "org/app" end)}},
				base: {ref: "main", sha: $sha, repo: {id: 1, full_name: "org/app"}}},
			repository: {id: 1, full_name: "org/app"}, sender: {login: "alice"}}'
	}
	pr_body 1 >"$T/fork.json"
	deliver github "$T/fork.json" -H "X-GitHub-Event: pull_request" \
		-H "X-GitHub-Delivery: p-1" \
		-H "X-Hub-Signature-256: sha256=$(hmac "$T/fork.json")"
	[ "$(code)" = 202 ]
	[ "$(jq -r '.started | length' "$T/body")" = 0 ]
	[[ "$(jq -r '.reasons | join(" ")' "$T/body")" == *fork* ]]
	pr_body 0 >"$T/pr.json"
	deliver github "$T/pr.json" -H "X-GitHub-Event: pull_request" \
		-H "X-GitHub-Delivery: p-2" \
		-H "X-Hub-Signature-256: sha256=$(hmac "$T/pr.json")"
	[ "$(code)" = 202 ]
	[ "$(jq -r '.started[0].ref' "$T/body")" = refs/pull/7/head ]
	id=$(jq -r '.started[0].pipelineExecutionId' "$T/body")
	wait_status "$id" Succeeded || { cat "$T/serve.log"; false; }
	run api GET "/api/executions/$id"
	[ "$(echo "$output" | jq -r '.pipelineExecution.artifactRevisions[0].revisionId')" = "$pr" ]
	[ "$(cat "$STATE/executions/$id/artifacts/Src/f.txt")" = pr ]
	sv_stop
}
