#!/usr/bin/env bats
# slipway worker: `slipway serve --workers 0` queues every action, worker
# processes claim them under leases (docs/scale.md). One server, three
# workers on one SQLite store: builds spread over all of them, a worker
# killed with SIGKILL mid-build and its build finished by another as
# attempt 2, a deployment whose worker died failed and never run again
# (and rolled back by another worker when its group has auto-rollback),
# labels honoured, the server killed and restarted mid-run with nothing
# lost.

load helpers
load serve_helpers
load worker_helpers

eval "$(declare -f teardown | sed '1s/^teardown/sv_teardown/')"
teardown() {
	net_teardown
	sv_teardown
}

@test "worker: 30 queued builds spread over three workers, each running some" {
	# each build waits (bounded) until three run at once: one per worker
	cat >"$T/build.sh.in" <<'EOB'
echo x >>"$T/running"
i=0
while [ "$(wc -l <"$T/running")" -lt 3 ] && [ $i -lt 600 ]; do
	sleep 0.05
	i=$((i + 1))
done
EOB
	wk_setup 10 </dev/null
	sed "s|\$T|$T|g" "$T/build.sh.in" >"$T/build.sh"
	sv_start --workers 0
	grep -q "0 workers" "$T/serve.log"
	wk_start w1
	wk_start w2
	wk_start w3
	ids="$(start_execution) $(start_execution) $(start_execution)"
	for id in $ids; do
		wait_status "$id" Succeeded
	done
	[ "$(jobs_sql "SELECT count(*) FROM jobs WHERE kind = 'build' AND status = 'done' AND outcome = 'Succeeded' AND attempt = 1")" = 30 ]
	[ "$(jobs_sql "SELECT count(*) FROM jobs")" = 33 ]
	for w in w1 w2 w3; do
		n=$(jobs_sql "SELECT count(*) FROM jobs WHERE kind = 'build' AND owner = '$w'")
		[ "$n" -ge 1 ]
		# its builds used its own state directory
		[ "$(ls "$T/$w/builds" | wc -l)" -ge 1 ]
	done
	# the report names the worker of each action
	w=$(action_json "${ids%% *}" Build B1 | jq -r .outputVariables.SLIPWAY_WORKER)
	[[ "$w" == w[123] ]]
	# no build was started twice
	[ "$(wc -l <"$T/running")" = 30 ]
	sv_stop
	[ "$SV_STATUS" = 0 ]
	kill -TERM "$WK_w1" "$WK_w2" "$WK_w3"
	wait "$WK_w1" "$WK_w2" "$WK_w3"
}

@test "worker: a worker killed mid-build loses its lease; another finishes the build as attempt 2, with the reason in the report" {
	mkfifo "$T/hold"
	cat >"$T/build.sh" <<EOB
if mkdir "$T/first" 2>/dev/null; then
	echo \$PPID >"$T/first/up"
	cat "$T/hold"
fi
echo attempt >>"$T/attempts"
EOB
	wk_setup 1 </dev/null
	sv_start --workers 0
	wk_start w1 --lease 2s
	id=$(start_execution)
	wait_sql "SELECT owner FROM jobs WHERE kind = 'build' AND status = 'claimed'" w1
	wait_line "$T/first/up" .
	wk_start w2 --lease 2s
	kill -KILL "$WK_w1"
	wait_status "$id" Succeeded
	run jobs_sql "SELECT attempt, owner, outcome, reason FROM jobs WHERE kind = 'build'"
	[ "$output" = "2|w2|Succeeded|worker 'w1' lost its lease on attempt 1" ]
	a=$(action_json "$id" Build B1)
	[ "$(echo "$a" | jq -r .status)" = Succeeded ]
	[ "$(echo "$a" | jq -r .outputVariables.SLIPWAY_JOB_ATTEMPT)" = 2 ]
	[ "$(echo "$a" | jq -r .outputVariables.SLIPWAY_WORKER)" = w2 ]
	[ "$(echo "$a" | jq -r .outputVariables.SLIPWAY_JOB_REASON)" = "worker 'w1' lost its lease on attempt 1" ]
	# the first attempt never got past the fifo; the second ran once
	[ "$(wc -l <"$T/attempts")" = 1 ]
	grep -q "run again: worker 'w1' lost its lease on attempt 1" \
		"$STATE/executions/$id/actions/Build.B1/log"
	exec 7<>"$T/hold" # let the orphaned first attempt end
	exec 7>&-
}

@test "worker: a deployment whose worker died is failed with the reason and never run again" {
	mkfifo "$T/hold"
	cat >"$T/deploy.sh" <<EOB
#!/bin/sh
echo ran >>"$T/deploys"
cat "$T/hold"
EOB
	chmod +x "$T/deploy.sh"
	wk_setup 0 <<'EOB'
    - name: Deploy
      actions:
        - name: Ship
          actionTypeId: {category: Deploy, owner: AWS, provider: CodeDeploy, version: "1"}
          configuration: {ApplicationName: app, DeploymentGroupName: staging}
          inputArtifacts: [{name: Src}]
EOB
	sed -i '/^    - name: Build$/,/^      actions:$/d' "$T/pl/web.yml"
	(
		cd "$T/repo"
		printf 'version: 0.0\nos: linux\nhooks:\n  ApplicationStart:\n    - location: start.sh\n' >appspec.yml
		printf '#!/bin/sh\nsh %s\n' "$T/deploy.sh" >start.sh
		chmod +x start.sh
		git add -A
		git -c user.email=t@example.com -c user.name=t commit -qm deploy
	)
	printf 'application: app\ndeployment-group: staging\nhosts:\n  - name: h1\n' >"$T/fleet.yml"
	echo "  deployment-groups: {app/staging: $T/fleet.yml}" >>"$T/pl/web.yml"
	sv_start --workers 0
	wk_start w1 --lease 2s
	id=$(start_execution)
	wait_line "$T/deploys" ran
	wk_start w2 --lease 2s
	kill -KILL "$WK_w1"
	wait_status "$id" Failed
	run jobs_sql "SELECT attempt, owner, status, outcome, reason FROM jobs WHERE kind = 'deploy'"
	[ "$output" = "1|w1|done|Failed|worker 'w1' lost its lease during the deployment; not run again" ]
	a=$(action_json "$id" Deploy Ship)
	[ "$(echo "$a" | jq -r .status)" = Failed ]
	[[ "$(echo "$a" | jq -r .summary)" == *"lost its lease during the deployment; not run again"* ]]
	# no auto-rollback in the group: nothing rolls it back
	[ "$(jobs_sql "SELECT count(*) FROM jobs WHERE id LIKE '%-rollback'")" = 0 ]
	[[ "$(echo "$a" | jq -r .summary)" != *"rolled back"* ]]
	# w2 is alive and idle, and the hook ran once
	kill -0 "$WK_w2"
	[ "$(wc -l <"$T/deploys")" = 1 ]
	exec 7<>"$T/hold"
	exec 7>&-
}

# The pipeline of wk_setup with a Deploy stage (and no Build stage) of the
# deployment group $T/fleet.yml (one rehearsal host h1; stdin adds to
# it); the repository's appspec installs index.html into /srv/app and
# runs start.sh at ApplicationStart. Commits revision $1: index.html says
# it, start.sh logs it to $T/deploys and, for v2, waits on $T/hold.
wk_deploy_setup() {
	wk_setup 0 <<'EOB'
    - name: Deploy
      actions:
        - name: Ship
          actionTypeId: {category: Deploy, owner: AWS, provider: CodeDeploy, version: "1"}
          configuration: {ApplicationName: app, DeploymentGroupName: staging}
          inputArtifacts: [{name: Src}]
EOB
	sed -i '/^    - name: Build$/,/^      actions:$/d' "$T/pl/web.yml"
	{
		printf 'application: app\ndeployment-group: staging\n'
		cat
		printf 'hosts:\n  - name: h1\n'
	} >"$T/fleet.yml"
	echo "  deployment-groups: {app/staging: $T/fleet.yml}" >>"$T/pl/web.yml"
	printf 'version: 0.0\nos: linux\nfiles:\n  - source: index.html\n    destination: /srv/app\nhooks:\n  ApplicationStart:\n    - location: start.sh\n' >"$T/repo/appspec.yml"
	wk_revision v1
}

wk_revision() {
	(
		cd "$T/repo"
		echo "$1" >index.html
		printf '#!/bin/sh\necho "%s $DEPLOYMENT_ID" >>%s\n' "$1" "$T/deploys" >start.sh
		[ "$1" != v2 ] || echo "cat $T/hold" >>start.sh
		chmod +x start.sh
		git add -A
		git -c user.email=t@example.com -c user.name=t commit -qm "$1"
	)
}

@test "worker: a deployment whose worker died is failed and rolled back once, by another worker, when its group has auto-rollback" {
	mkfifo "$T/hold"
	echo 'auto-rollback: true' | wk_deploy_setup
	sv_start --workers 0
	wk_start w1 --lease 2s
	# v1 deploys and succeeds: the group's last good revision
	id1=$(start_execution)
	wait_status "$id1" Succeeded
	site=$STATE/hosts/h1/root/srv/app/index.html
	[ "$(cat "$site")" = v1 ]
	wk_revision v2
	id2=$(start_execution)
	wait_line "$T/deploys" "^v2 "
	[ "$(cat "$site")" = v2 ]
	lost=$(action_json "$id2" Deploy Ship | jq -r .externalExecutionId)
	[ "$(grep '^v2 ' "$T/deploys")" = "v2 $lost" ]
	wk_start w2 --lease 2s
	kill -KILL "$WK_w1"
	wait_status "$id2" Failed
	job=$(jobs_sql "SELECT id FROM jobs WHERE kind = 'deploy' AND owner = 'w1' AND started_ms > 0 ORDER BY enqueued_ms DESC LIMIT 1")
	run jobs_sql "SELECT status, outcome, reason FROM jobs WHERE id = '$job'"
	[ "$output" = "done|Failed|worker 'w1' lost its lease during the deployment; not run again; rolled back by job $job-rollback" ]
	# the rollback ran once, on the live worker, and succeeded
	run jobs_sql "SELECT id, owner, status, outcome, attempt FROM jobs WHERE id LIKE '%-rollback'"
	[ "$output" = "$job-rollback|w2|done|Succeeded|1" ]
	# the host has the last good revision again
	[ "$(cat "$site")" = v1 ]
	# the action's error names the reason, the rollback and how it ended
	a=$(action_json "$id2" Deploy Ship)
	[ "$(echo "$a" | jq -r .status)" = Failed ]
	summary=$(echo "$a" | jq -r .summary)
	[[ "$summary" == "worker 'w1' lost its lease during the deployment; not run again; rolled back by job $job-rollback: deployment d-"*" Succeeded" ]]
	rb=$(echo "$summary" | grep -o 'deployment d-[A-Za-z0-9]*' | cut -d' ' -f2)
	[ "$(tail -n 1 "$T/deploys")" = "v1 $rb" ]
	grep -q "rolling back as deployment $rb" "$STATE/executions/$id2/actions/Deploy.Ship/log"
	# the rollback is a deployment of its own, linked to the lost one
	run "$SLIPWAY" show "$rb" --state-dir "$STATE" --json
	[ "$status" = 0 ]
	[ "$(echo "$output" | jq -r .status)" = Succeeded ]
	[ "$(echo "$output" | jq -r .creator)" = codeDeployRollback ]
	[ "$(echo "$output" | jq -r .rollbackInfo.rollbackTriggeringDeploymentId)" = "$lost" ]
	"$SLIPWAY" history --state-dir "$STATE" | grep "$rb" | grep -q Succeeded
	# the lost one, killed before its report, is a failed deployment there
	"$SLIPWAY" history --state-dir "$STATE" | grep "$lost" | grep -q Failed
	# the lost deployment was not run again: v2's hook ran once
	[ "$(grep -c '^v2 ' "$T/deploys")" = 1 ]
	[ "$(jobs_sql "SELECT count(*) FROM jobs WHERE kind = 'deploy'")" = 3 ]
	kill -0 "$WK_w2"
	exec 7<>"$T/hold"
	exec 7>&-
}

@test "worker: a lost deployment is rolled back to a revision deployed by hand since the one the server recorded" {
	mkfifo "$T/hold"
	echo 'auto-rollback: true' | wk_deploy_setup
	sv_start --workers 0
	wk_start w1 --lease 2s
	id1=$(start_execution)
	wait_status "$id1" Succeeded
	site=$STATE/hosts/h1/root/srv/app/index.html
	[ "$(cat "$site")" = v1 ]
	# v3 deployed to the group by hand, in the same state directory,
	# after the pipeline's v1 was recorded as the group's good revision
	mkdir "$T/b3"
	cp "$T/repo/appspec.yml" "$T/b3/"
	echo v3 >"$T/b3/index.html"
	printf '#!/bin/sh\necho "v3 $DEPLOYMENT_ID" >>%s\n' "$T/deploys" >"$T/b3/start.sh"
	chmod +x "$T/b3/start.sh"
	"$SLIPWAY" deploy "$T/b3" --group "$T/fleet.yml" --state-dir "$STATE" >"$T/hand.log" 2>&1 || { cat "$T/hand.log" >&2; false; }
	[ "$(cat "$site")" = v3 ]
	wk_revision v2
	id2=$(start_execution)
	wait_line "$T/deploys" "^v2 "
	wk_start w2 --lease 2s
	kill -KILL "$WK_w1"
	wait_status "$id2" Failed
	run jobs_sql "SELECT owner, outcome FROM jobs WHERE id LIKE '%-rollback'"
	[ "$output" = "w2|Succeeded" ]
	# the newer good revision, not the recorded v1
	[ "$(cat "$site")" = v3 ]
	summary=$(action_json "$id2" Deploy Ship | jq -r .summary)
	rb=$(echo "$summary" | grep -o 'deployment d-[A-Za-z0-9]*' | cut -d' ' -f2)
	[ "$(tail -n 1 "$T/deploys")" = "v3 $rb" ]
	exec 7<>"$T/hold"
	exec 7>&-
}

@test "worker: a lost deployment on workers with state directories of their own is rolled back to the revision the server recorded, by a worker that never deployed the group" {
	mkfifo "$T/hold"
	echo 'auto-rollback: true' | wk_deploy_setup
	# a host every worker reaches, not a rehearsal host in one's state
	printf '    root: %s\n' "$T/site" >>"$T/fleet.yml"
	mkdir "$T/site"
	sv_start --workers 0
	printf '%s\n' "$TOK" >"$T/worker-token"
	far=(--server "http://127.0.0.1:$PORT" --token-file "$T/worker-token" --lease 2s)
	wk_start wa "${far[@]}"
	id1=$(start_execution)
	wait_status "$id1" Succeeded || { cat "$T/wa.log" "$STATE/executions/$id1"/actions/*/log >&2; false; }
	site=$T/site/srv/app/index.html
	[ "$(cat "$site")" = v1 ]
	wk_revision v2
	id2=$(start_execution)
	wait_line "$T/deploys" "^v2 "
	[ "$(cat "$site")" = v2 ]
	lost=$(action_json "$id2" Deploy Ship | jq -r .externalExecutionId)
	wk_start wb "${far[@]}"
	kill -KILL "$WK_wa"
	wait_status "$id2" Failed
	# the rollback ran on wb, which had deployed nothing, and put v1 back
	run jobs_sql "SELECT owner, outcome FROM jobs WHERE id LIKE '%-rollback'"
	[ "$output" = "wb|Succeeded" ]
	[ "$(cat "$site")" = v1 ]
	summary=$(action_json "$id2" Deploy Ship | jq -r .summary)
	[[ "$summary" == "worker 'wa' lost its lease during the deployment; not run again; rolled back by job "*"-rollback: deployment d-"*" Succeeded" ]]
	rb=$(echo "$summary" | grep -o 'deployment d-[A-Za-z0-9]*' | cut -d' ' -f2)
	[ "$(tail -n 1 "$T/deploys")" = "v1 $rb" ]
	# a deployment of v1's bundle, fetched by digest, as a rollback
	rep=$T/wb/deployments/$rb/report.json
	[ "$(jq -r .creator "$rep")" = codeDeployRollback ]
	[ "$(jq -r .rollbackInfo.rollbackTriggeringDeploymentId "$rep")" = "$lost" ]
	[ "$(ls "$T/wb/inputs" | grep -c '^[0-9a-f]\{64\}$')" = 1 ]
	# the lost deployment has a report of its own on the server
	run "$SLIPWAY" show "$lost" --state-dir "$STATE" --json
	[ "$status" = 0 ]
	[ "$(echo "$output" | jq -r .status)" = Failed ]
	[ "$(echo "$output" | jq -r .errorInformation.code)" = AGENT_ISSUE ]
	[[ "$(echo "$output" | jq -r .errorInformation.message)" == "worker 'wa' lost its lease during the deployment; not run again; rolled back by job "*"-rollback" ]]
	[ "$(echo "$output" | jq -r .rollbackInfo.rollbackDeploymentId)" = "$rb" ]
	run "$SLIPWAY" history --state-dir "$STATE"
	[[ "$(echo "$output" | grep "$lost")" == *Failed*"lost its lease"* ]]
	[ "$(grep -c '^v2 ' "$T/deploys")" = 1 ]
	exec 7<>"$T/hold"
	exec 7>&-
}

@test "worker: a lost first deployment has a report of its own and no rollback: nothing to go back to" {
	mkfifo "$T/hold"
	echo 'auto-rollback: true' | wk_deploy_setup
	wk_revision v2
	sv_start --workers 0
	wk_start w1 --lease 2s
	id=$(start_execution)
	wait_line "$T/deploys" "^v2 "
	lost=$(action_json "$id" Deploy Ship | jq -r .externalExecutionId)
	# before: the deployment is running, it has no report
	run "$SLIPWAY" show "$lost" --state-dir "$STATE"
	[ "$status" = 1 ]
	kill -KILL "$WK_w1"
	wait_status "$id" Failed
	[ "$(jobs_sql "SELECT count(*) FROM jobs WHERE id LIKE '%-rollback'")" = 0 ]
	why="worker 'w1' lost its lease during the deployment; not run again; no rollback: group staging has no earlier successful revision"
	[ "$(action_json "$id" Deploy Ship | jq -r .summary)" = "$why" ]
	run "$SLIPWAY" show "$lost" --state-dir "$STATE" --json
	[ "$status" = 0 ]
	[ "$(echo "$output" | jq -r .status)" = Failed ]
	[ "$(echo "$output" | jq -r .errorInformation.message)" = "$why" ]
	[ "$(echo "$output" | jq -r .rollbackInfo)" = null ]
	run "$SLIPWAY" show "$lost" --state-dir "$STATE"
	[ "$status" = 0 ]
	[[ "$output" == *"error:       AGENT_ISSUE: $why"* ]]
	run "$SLIPWAY" history --state-dir "$STATE"
	[[ "$(echo "$output" | grep "$lost")" == *Failed*"no earlier successful revision"* ]]
	exec 7<>"$T/hold"
	exec 7>&-
}

@test "worker: a worker whose PostgreSQL connection is cut connects again and runs the next jobs" {
	[ -n "${WORKER_PG_URL:-}" ] || skip "PostgreSQL only: worker-postgres.bats runs it"
	wk_setup 1 </dev/null
	sv_start --workers 0
	PGAPPNAME=slipway-w1 wk_start w1
	[ "$(jobs_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'slipway-w1'")" = 1 ]
	# the worker's backend is ended, as by a restart of its server
	jobs_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'slipway-w1'" >/dev/null
	wait_line "$T/w1.log" "worker w1: store connection lost, and made again"
	id=$(start_execution)
	wait_status "$id" Succeeded
	[ "$(jobs_sql "SELECT count(*) FROM jobs WHERE owner <> 'w1'")" = 0 ]
	[ "$(jobs_sql "SELECT count(*) FROM jobs WHERE status = 'done'")" -ge 2 ]
	# one connection: the new one
	[ "$(jobs_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'slipway-w1'")" = 1 ]
	cat "$T/w1.log" >&2
	# at most the one claim that found the connection gone
	[ "$(grep -c "claim:" "$T/w1.log")" -le 1 ]
}

@test "worker: a project's runs-on labels pick the workers that may run its builds" {
	PROJECT_OPTS='runs-on: [linux, big]' wk_setup 2 </dev/null
	sv_start --workers 0
	wk_start small --labels linux
	id=$(start_execution)
	wait_sql "SELECT count(*) FROM jobs WHERE kind = 'build' AND status = 'queued' AND labels = 'linux,big'" 2
	# the source ran on 'small'; the builds wait for a worker with both labels
	wait_sql "SELECT owner FROM jobs WHERE kind = 'command'" small
	"$SLIPWAY" worker --db "${SLIPWAY_DB:-$STATE/slipway.db}" --state-dir "$T/small2" \
		--name small2 --labels linux --exit-when-idle 2>"$T/small2.log"
	grep -q "queue empty" "$T/small2.log"
	wk_start big --labels big,linux,x86
	wait_status "$id" Succeeded
	run jobs_sql "SELECT DISTINCT owner FROM jobs WHERE kind = 'build'"
	[ "$output" = big ]
}

@test "worker: the server killed and restarted mid-run loses nothing; the build runs once" {
	mkfifo "$T/hold"
	cat >"$T/build.sh" <<EOB
echo started >>"$T/builds"
cat "$T/hold"
EOB
	wk_setup 1 </dev/null
	sv_start --workers 0
	wk_start w1
	id=$(start_execution)
	wait_line "$T/builds" started
	kill -KILL "$SV_PID"
	wait "$SV_PID" || true
	sv_start --workers 0
	run api GET "/api/executions/$id"
	[ "$(echo "$output" | jq -r .pipelineExecution.status)" = InProgress ]
	exec 7<>"$T/hold"
	exec 7>&-
	wait_status "$id" Succeeded
	[ "$(wc -l <"$T/builds")" = 1 ]
	[ "$(jobs_sql "SELECT count(*) || ' ' || max(attempt) FROM jobs WHERE kind = 'build'")" = "1 1" ]
	sv_stop
}

@test "worker: bad options are usage errors" {
	run "$SLIPWAY" worker --slots 0
	[ "$status" = 2 ]
	[[ "$output" == *"--slots wants 1 to 1024, not '0'"* ]]
	run "$SLIPWAY" worker --lease 0
	[ "$status" = 2 ]
	run "$SLIPWAY" worker --server http://127.0.0.1:1
	[ "$status" = 2 ]
	[[ "$output" == *"--server wants --token-file"* ]]
	run "$SLIPWAY" worker extra
	[ "$status" = 2 ]
	run "$SLIPWAY" deploy --rollback-of 'd 1' "$T"
	[ "$status" = 2 ]
	[[ "$output" == *"invalid deployment id 'd 1'"* ]]
	run "$SLIPWAY" deploy --rollback --rollback-of 'd 1'
	[ "$status" = 2 ]
	[[ "$output" == *"invalid deployment id 'd 1'"* ]]
	run "$SLIPWAY" serve --workers -1 --pipelines "$T"
	[ "$status" = 2 ]
	[[ "$output" == *"--workers wants 0 to 1024"* ]]
}

# A network namespace of its own for a worker, reaching the server only
# over a veth pair (10.213.N.1 the server's end); NETNS empty (and the
# server's address 127.0.0.1) where namespaces cannot be made.
net_setup() {
	NETNS= ADDR=127.0.0.1
	local n=$((RANDOM % 250 + 1))
	if [ "$(id -u)" = 0 ] && ip netns add "sww$n$$" 2>/dev/null; then
		NETNS=sww$n$$
		ip link add "swh$n$$" type veth peer name "swn$n$$"
		ip link set "swn$n$$" netns "$NETNS"
		ip addr add "10.213.$n.1/30" dev "swh$n$$"
		ip link set "swh$n$$" up
		ip netns exec "$NETNS" ip addr add "10.213.$n.2/30" dev "swn$n$$"
		ip netns exec "$NETNS" ip link set "swn$n$$" up
		ip netns exec "$NETNS" ip link set lo up
		ADDR=10.213.$n.1
		echo "$NETNS swh$n$$" >"$T/netns"
	fi
}

net_teardown() {
	if [ -s "$T/netns" ]; then
		read -r ns link <"$T/netns"
		ip netns del "$ns" 2>/dev/null || true
		ip link del "$link" 2>/dev/null || true
	fi
}

@test "worker: a worker in a network of its own fetches the build's input by digest and sends its log and artifact over HTTP" {
	net_setup
	cat >"$T/build.sh" <<EOB
mkdir -p dist
echo "built by \$(cat f.txt)" >dist/out.txt
echo "a line of the build's log"
EOB
	wk_setup 1 <<EOB
    - name: Check
      actions:
        - name: Read
          actionTypeId: {category: Compute, owner: AWS, provider: Commands, version: "1"}
          commands: ["cat out.txt >$T/seen"]
          inputArtifacts: [{name: Built}]
EOB
	(
		cd "$T/repo"
		echo hello >f.txt
		printf 'artifacts:\n  base-directory: dist\n  files: ["**/*"]\n' >>buildspec.yml
		sed -i 's|sh '"$T"'/build.sh|. '"$T"'/build.sh|' buildspec.yml
		git add -A
		git -c user.email=t@example.com -c user.name=t commit -qm out
	)
	sed -i 's|          inputArtifacts: \[{name: Src}\]$|&\n          outputArtifacts: [{name: Built}]|' "$T/pl/web.yml"
	rm -f "$T/port"
	"$SLIPWAY" serve --listen "$ADDR:0" --port-file "$T/port" \
		--state-dir "$STATE" --token-file "$T/tokens" \
		--pipelines "$T/pl" --workers 0 2>>"$T/serve.log" 3>&- &
	SV_PID=$!
	wait_line "$T/port" .
	PORT=$(cat "$T/port")
	printf '%s\n' "$TOK" >"$T/worker-token"
	${NETNS:+ip netns exec "$NETNS"} "$SLIPWAY" worker --db "${SLIPWAY_DB:-$STATE/slipway.db}" \
		--state-dir "$T/far" --name far \
		--server "http://$ADDR:$PORT" --token-file "$T/worker-token" \
		2>>"$T/far.log" &
	WK_far=$!
	id=$(curl -s -X POST -H "Authorization: Bearer $TOK" \
		"http://$ADDR:$PORT/api/pipelines/web/executions" | jq -r .pipelineExecutionId)
	wait_status_at "$id" Succeeded || {
		cat "$T/far.log" "$STATE"/executions/*/actions/*/log >&2
		false
	}
	[ "$(cat "$T/seen")" = "built by hello" ]
	# the input came by digest, the output went as a blob
	[ "$(ls "$T/far/inputs" | grep -c '^[0-9a-f]\{64\}$')" -ge 1 ]
	sha=$(jobs_sql "SELECT result FROM jobs WHERE kind = 'build'" | jq -r .artifact)
	[ -f "$STATE/blobs/$sha" ]
	[ "$(sha256sum <"$STATE/blobs/$sha" | cut -c1-64)" = "$sha" ]
	# the log reached the server's copy through the API
	grep -q "a line of the build's log" "$STATE/executions/$id/actions/Build.B1/log"
	grep -q "job .* attempt 1 on worker far" "$STATE/executions/$id/actions/Build.B1/log"
	grep -q '"PUT /api/artifacts/'"$sha" "$T/serve.log"
	kill -TERM "$WK_far"
	wait "$WK_far"
	net_teardown
}

@test "worker: racing uploads of one blob and racing downloads of one artifact all succeed, the blob whole" {
	wk_setup 1 </dev/null
	sv_start --workers 0
	head -c 3000000 /dev/urandom >"$T/blob"
	sha=$(sha256sum <"$T/blob" | cut -c1-64)
	local pids=() i
	for i in 1 2 3 4 5 6; do
		curl -s --max-time 60 -o /dev/null -w '%{http_code}\n' -X PUT \
			-H "Authorization: Bearer $TOK" --data-binary @"$T/blob" \
			"http://127.0.0.1:$PORT/api/artifacts/$sha?offset=0&size=3000000" \
			>"$T/put.$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	cat "$T"/put.* >&2
	! grep -qv '^20[01]$' "$T"/put.* || false
	[ "$(grep -c '^201$' "$T"/put.*  | awk -F: '{ n += $2 } END { print n }')" -ge 1 ]
	cmp "$STATE/blobs/$sha" "$T/blob"
	[ ! -e "$STATE/blobs/$sha.part" ]
	# an artifact stored as a tree, packed once for six downloads at once
	tree=$(echo tree | sha256sum | cut -c1-64)
	mkdir -p "$STATE/artifacts/$tree/d"
	for i in $(seq 300); do echo "$i" >"$STATE/artifacts/$tree/d/f$i"; done
	pids=()
	for i in 1 2 3 4 5 6; do
		curl -s --max-time 60 -o "$T/get.$i" -w '%{http_code}\n' \
			-H "Authorization: Bearer $TOK" \
			"http://127.0.0.1:$PORT/api/artifacts/$tree" >"$T/getcode.$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i"; done
	cat "$T"/getcode.* >&2
	! grep -qv '^200$' "$T"/getcode.* || false
	for i in 2 3 4 5 6; do cmp "$T/get.1" "$T/get.$i"; done
	[ "$(tar -tf "$T/get.1" | grep -c '^d/f')" = 300 ]
}

@test "worker: artifact uploads are checked against their digest and resume where they stopped; a job's log takes appends only from its holder" {
	wk_setup 1 </dev/null
	sv_start --workers 0
	head -c 100000 /dev/urandom >"$T/blob"
	sha=$(sha256sum <"$T/blob" | cut -c1-64)
	head -c 40000 "$T/blob" >"$T/p1"
	tail -c +40001 "$T/blob" >"$T/p2"
	api PUT "/api/artifacts/$sha?offset=0&size=100000" --data-binary @"$T/p1" >/dev/null
	[ "$(code)" = 202 ]
	# a piece at the wrong offset: 409 and how much the server has
	run api PUT "/api/artifacts/$sha?offset=50&size=100000" --data-binary @"$T/p2"
	[ "$(code)" = 409 ]
	[ "$(echo "$output" | jq -r .received)" = 40000 ]
	[ "$(api GET "/api/artifacts/$sha/upload" | jq -r .received)" = 40000 ]
	api PUT "/api/artifacts/$sha?offset=40000&size=100000" --data-binary @"$T/p2" >/dev/null
	[ "$(code)" = 201 ]
	cmp "$STATE/blobs/$sha" "$T/blob"
	curl -s -D "$T/h" -H "Authorization: Bearer $TOK" \
		"http://127.0.0.1:$PORT/api/artifacts/$sha" | cmp - "$T/blob"
	grep -qi "^x-slipway-sha256: $sha" "$T/h"
	# bytes that are not what the digest says are dropped
	other=$(echo other | sha256sum | cut -c1-64)
	api PUT "/api/artifacts/$other" --data-binary @"$T/p1" >/dev/null
	[ "$(code)" = 422 ]
	[ ! -e "$STATE/blobs/$other" ]
	[ ! -e "$STATE/blobs/$other.part" ]
	api PUT "/api/artifacts/nothex" --data-binary @"$T/p1" >/dev/null
	[ "$(code)" = 400 ]
	api GET "/api/artifacts/$other" >/dev/null
	[ "$(code)" = 404 ]

	id=$(start_execution)
	wait_sql "SELECT count(*) FROM jobs WHERE status = 'queued'" 1
	job=$(jobs_sql "SELECT id FROM jobs")
	api POST "/api/jobs/$job/log?owner=w1" -d 'not yet' >/dev/null
	[ "$(code)" = 409 ]
	api POST "/api/jobs/j-nope/log?owner=w1" -d 'x' >/dev/null
	[ "$(code)" = 404 ]
	wk_start w1
	wait_status "$id" Succeeded
	! grep -q "not yet" "$STATE/executions/$id/actions/Source.Src/log" || false
}

@test "worker: an action abandoned on its runner has its job stopped on the worker" {
	mkfifo "$T/hold"
	cat >"$T/build.sh" <<EOB
echo started >>"$T/builds"
exec cat "$T/hold"
EOB
	wk_setup 1 </dev/null
	sv_start --workers 0
	wk_start w1 --lease 3s
	id=$(start_execution)
	wait_line "$T/builds" started
	api POST "/api/executions/$id/stop" -d '{"abandon": true}' >/dev/null
	[ "$(code)" = 200 ]
	wait_ended "$id"
	[ "$(action_json "$id" Build B1 | jq -r .status)" = Abandoned ]
	wait_sql "SELECT status || ' ' || outcome FROM jobs WHERE kind = 'build'" "done Failed"
	[[ "$(jobs_sql "SELECT reason FROM jobs WHERE kind = 'build'")" == "its action ended on its runner"* ]]
	wait_line "$T/w1.log" "its action ended on its runner, stopping it"
	# the build's step is gone with it: nothing holds the fifo open
	for i in $(seq 100); do
		pgrep -f "cat $T/hold" >/dev/null || break
		sleep 0.1
	done
	! pgrep -f "cat $T/hold" || false
	# and the worker takes the next job
	kill -0 "$WK_w1"
}

@test "worker: prune removes finished jobs, the blobs no job names and stopped uploads" {
	wk_setup 1 </dev/null
	sv_start --workers 0
	printf '%s\n' "$TOK" >"$T/worker-token"
	wk_start w1 --server "http://127.0.0.1:$PORT" --token-file "$T/worker-token"
	id=$(start_execution)
	wait_status "$id" Succeeded
	# the build's result came as a blob its job names
	named=$(jobs_sql "SELECT result FROM jobs WHERE kind = 'build'" | jq -r .artifact)
	[ -f "$STATE/blobs/$named" ]
	# a blob no job names, an upload that stopped long ago, one under way
	echo lone >"$T/lone"
	lone=$(sha256sum <"$T/lone" | cut -c1-64)
	api PUT "/api/artifacts/$lone" --data-binary @"$T/lone" >/dev/null
	[ "$(code)" = 201 ]
	for x in stopped going; do
		head -c 1000 /dev/urandom >"$T/$x"
		eval "$x=\$(sha256sum <\"\$T/\$x\" | cut -c1-64)"
		head -c 400 "$T/$x" >"$T/$x.1"
		api PUT "/api/artifacts/${!x}?offset=0&size=1000" --data-binary @"$T/$x.1" >/dev/null
		[ "$(code)" = 202 ]
	done
	touch -d '2 hours ago' "$STATE/blobs/$lone" "$STATE/blobs/$named" \
		"$STATE/blobs/$stopped.part"
	njobs=$(jobs_sql "SELECT count(*) FROM jobs")
	[ "$njobs" = 2 ]

	run "$SLIPWAY" prune --keep 100 --dry-run --state-dir "$STATE"
	[ "$status" = 0 ]
	[[ "$output" == "would prune 0 builds and 0 deployments, 2 blobs: "* ]]
	[ -f "$STATE/blobs/$lone" ]
	[ -f "$STATE/blobs/$stopped.part" ]
	# the jobs ended less than an hour ago: they and what they name stay
	run "$SLIPWAY" prune --keep 100 --state-dir "$STATE"
	[ "$status" = 0 ]
	[[ "$output" == "pruned 0 builds and 0 deployments, 2 blobs: "* ]]
	[ ! -e "$STATE/blobs/$lone" ]
	[ ! -e "$STATE/blobs/$stopped.part" ]
	[ -f "$STATE/blobs/$named" ]
	[ -f "$STATE/blobs/$going.part" ]
	[ "$(jobs_sql "SELECT count(*) FROM jobs")" = 2 ]
	# the upload under way goes on
	tail -c +401 "$T/going" >"$T/going.2"
	api PUT "/api/artifacts/$going?offset=400&size=1000" --data-binary @"$T/going.2" >/dev/null
	[ "$(code)" = 201 ]
	touch -d '2 hours ago' "$STATE/blobs/$going"
	# finished jobs that ended before --older-than go; then their blob
	run "$SLIPWAY" prune --keep 100 --older-than 0s --state-dir "$STATE"
	[ "$status" = 0 ]
	[[ "$output" == "pruned 0 builds and 0 deployments, 2 finished jobs, 2 blobs: "* ]]
	[ "$(jobs_sql "SELECT count(*) FROM jobs")" = 0 ]
	[ ! -e "$STATE/blobs/$named" ]
	[ ! -e "$STATE/blobs/$going" ]
	# the execution's record is untouched
	[ "$(api GET "/api/executions/$id" | jq -r .pipelineExecution.status)" = Succeeded ]
}
