#!/usr/bin/env bats
# slipway pipeline: executions of a pipeline file run end to end: stages
# in order, runOrder groups side by side, variables and artifacts passed,
# approvals, a failure stopping the pipeline, a killed runner, events.

load helpers

# A git repository $T/repo with a buildspec that exports X and makes a
# bundle (VERSION + appspec), a group file of one rehearsal host.
pl_setup() {
	mkdir -p "$T/repo"
	cd "$T/repo"
	git init -q -b main
	cat >buildspec.yml <<'EOB'
version: 0.2
env:
  exported-variables: [X]
phases:
  build:
    commands:
      - export X=built-$(cat VERSION)
      - mkdir -p dist && cp VERSION appspec.yml dist/
      - cp "$CODEBUILD_SRC_DIR_Assets/a.txt" dist/
artifacts:
  base-directory: dist
  files: ['**/*']
EOB
	echo 1.2 >VERSION
	printf 'version: 0.0\nos: linux\nfiles:\n  - source: VERSION\n    destination: /srv/app\n' >appspec.yml
	git add -A
	git -c user.email=t@example.com -c user.name=t commit -qm "init

the body"
	mkdir -p "$T/assets"
	echo asset >"$T/assets/a.txt"
	(cd "$T/assets" && zip -q "$T/site.zip" a.txt)
	cd "$T"
	printf 'application: app\ndeployment-group: staging\nhosts:\n  - name: h1\n' >"$T/fleet.yml"
	cat >"$T/notify.sh" <<'EOB'
#!/bin/sh
cat >>"$(dirname "$0")/notified.jsonl"
EOB
	chmod +x "$T/notify.sh"
}

# The pipeline $T/pl.yml: Source, Build (CodeBuild, then a Commands
# action that sees the build's variable), then the stage(s) from stdin.
pl_file() {
	{
		cat <<'EOB'
pipeline:
  name: web
  variables:
    - {name: Env, defaultValue: test}
  stages:
    - name: Source
      actions:
        - name: Src
          namespace: SourceVariables
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
          configuration: {RepositoryName: app, BranchName: main}
          outputArtifacts: [{name: Src}]
        - name: Assets
          namespace: AssetVars
          actionTypeId: {category: Source, owner: AWS, provider: S3, version: "1"}
          configuration: {S3Bucket: assets, S3ObjectKey: site.zip}
          outputArtifacts: [{name: Assets}]
    - name: Build
      actions:
        - name: Build
          namespace: BuildVariables
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration:
            ProjectName: app-build
            PrimarySource: Src
            EnvironmentVariables: '[{"name":"ENV","value":"#{variables.Env}"}]'
          inputArtifacts: [{name: Assets}, {name: Src}]
          outputArtifacts: [{name: Built}]
        - name: Check
          runOrder: 2
          actionTypeId: {category: Compute, owner: AWS, provider: Commands, version: "1"}
          commands:
            - echo "x=$X commit=$C env=$E id=$P" >"$OUT/seen.txt"
          environmentVariables:
            - {name: X, value: "#{BuildVariables.X}"}
            - {name: C, value: "#{SourceVariables.CommitId}"}
            - {name: E, value: "#{variables.Env}"}
            - {name: P, value: "#{codepipeline.PipelineExecutionId}"}
          inputArtifacts: [{name: Built}]
EOB
		cat
		cat <<'EOB'
slipway:
  sources: {app: ./repo, assets/site.zip: site.zip}
  projects: {app-build: {}}
  deployment-groups: {app/staging: fleet.yml}
  notifications: {team: {command: ./notify.sh}}
EOB
	} | sed "s|\$OUT|$T|g" >"$T/pl.yml"
}

deploy_stage() {
	cat <<'EOB'
    - name: Deploy
      actions:
        - name: Deploy
          actionTypeId: {category: Deploy, owner: AWS, provider: CodeDeploy, version: "1"}
          configuration: {ApplicationName: app, DeploymentGroupName: staging}
          inputArtifacts: [{name: Built}]
EOB
}

# A stage "Last" whose Command action writes $T/last.
last_stage() {
	cat <<EOB
    - name: Last
      actions:
        - name: Mark
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "touch $T/last"}
EOB
}

approval_stage() {
	cat <<'EOB'
    - name: Gate
      actions:
        - name: Approve
          actionTypeId: {category: Approval, owner: AWS, provider: Manual, version: "1"}
          configuration: {CustomData: "release #{BuildVariables.X} to #{variables.Env}"}
EOB
}

pl_start() {
	run "$SLIPWAY" pipeline start "$T/pl.yml" --state-dir "$STATE" "$@"
	PE=$(printf '%s\n' "$output" | grep -m1 '^pe-' || true)
}

pl_json() { # jq filter over `pipeline show $PE --json`
	"$SLIPWAY" pipeline show "$PE" --state-dir "$STATE" --json | jq -r "$1"
}

action_status() { # STAGE ACTION
	pl_json ".stageStates[] | select(.stageName == \"$1\") | .actionStates[] | select(.actionName == \"$2\") | .latestExecution.status"
}

events() { # "stage/action:STATE" per event of $PE
	jq -r '.detail | "\(.stage // "")/\(.action // ""):\(.state)"' \
		"$STATE/executions/$PE/events.jsonl"
}

@test "pipeline: Source, CodeBuild, Commands and CodeDeploy run in order; variables and artifacts pass" {
	pl_setup
	deploy_stage | pl_file
	pl_start -v Env=prod
	[ "$status" -eq 0 ]
	[[ "$PE" == pe-* ]]
	[[ "$output" == *"Build/Build: Succeeded ("*" ms)"* ]]
	[[ "$output" == *"Deploy/Deploy: Succeeded"* ]]
	commit=$(git -C "$T/repo" rev-parse HEAD)
	[ "$(cat "$T/seen.txt")" = "x=built-1.2 commit=$commit env=prod id=$PE" ]
	# the deployment installed the build's artifact on the host
	[ "$(cat "$STATE/hosts/h1/root/srv/app/VERSION")" = 1.2 ]
	# the build saw its secondary input, as CODEBUILD_SRC_DIR_<name>
	[ "$(cat "$STATE/executions/$PE/artifacts/Built/a.txt")" = asset ]
	[ "$(pl_json '.stageStates[0].actionStates[0].latestExecution.outputVariables | "\(.RepositoryName) \(.BranchName) \(.CommitMessage)"')" = "app main init" ]
	[ "$(pl_json '.stageStates[0].actionStates[1].latestExecution.outputVariables.ETag')" = "$(md5sum <"$T/site.zip" | cut -d" " -f1)" ]
	[ "$(pl_json .pipelineExecution.status)" = Succeeded ]
	[ "$(pl_json '.pipelineExecution.variables[0].resolvedValue')" = prod ]
	[ "$(pl_json '.pipelineExecution.artifactRevisions[0] | "\(.name) \(.revisionId)"')" = "Src $commit" ]
	[ "$(action_status Deploy Deploy)" = Succeeded ]
	[[ "$(pl_json '.stageStates[1].actionStates[0].latestExecution.externalExecutionId')" == app-build:* ]]
	[ "$(pl_json '.stageStates[1].actionStates[0].latestExecution.outputVariables.X')" = built-1.2 ]
	[[ "$(pl_json '.stageStates[2].actionStates[0].latestExecution.externalExecutionId')" =~ ^d-[0-9A-F]{9}$ ]]
	# the sequence of states, as CodePipeline's events
	[ "$(events | sed -n 3,6p | sort | tr '\n' ' ')" = "Source/Assets:STARTED Source/Assets:SUCCEEDED Source/Src:STARTED Source/Src:SUCCEEDED " ]
	[ "$(events | sed 3,6d | tr '\n' ' ')" = "/:STARTED Source/:STARTED Source/:SUCCEEDED Build/:STARTED Build/Build:STARTED Build/Build:SUCCEEDED Build/Check:STARTED Build/Check:SUCCEEDED Build/:SUCCEEDED Deploy/:STARTED Deploy/Deploy:STARTED Deploy/Deploy:SUCCEEDED Deploy/:SUCCEEDED /:SUCCEEDED " ]
	[ "$(jq -r '."detail-type"' "$STATE/executions/$PE/events.jsonl" | sort -u | tr '\n' ,)" = "CodePipeline Action Execution State Change,CodePipeline Pipeline Execution State Change,CodePipeline Stage Execution State Change," ]
	[ "$(jq -r '.detail."execution-id"' "$STATE/executions/$PE/events.jsonl" | sort -u)" = "$PE" ]
	# the store has the same events
	[ "$(sqlite3 "$STATE/slipway.db" "select count(*) from events where execution_id = '$PE'")" -eq 18 ]
	# the notification command got every event on its stdin, in order,
	# from a deliverer the pipeline did not wait for
	flock -w 60 "$STATE/executions/$PE/notify/cmd-0.lock" true
	[ "$(jq -c . "$T/notified.jsonl")" = "$(jq -c . "$STATE/executions/$PE/events.jsonl")" ]
	# ls lists it
	run "$SLIPWAY" pipeline ls "$T/pl.yml" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == "$PE  Succeeded "*" web" ]]
	# without its pipeline file, an execution is shown from its record
	mv "$T/pl.yml" "$T/gone.yml"
	run "$SLIPWAY" pipeline show "$PE" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"warning: "*"pl.yml"*"showing the record only"* ]]
	[[ "$output" == *"Deploy       Succeeded"$'\n'"  Deploy               Succeeded"* ]]
	[ "$(pl_json '.stageStates[1].actionStates[1].latestExecution.status')" = Succeeded ]
}

@test "pipeline: an unchanged artifact is stored once" {
	pl_setup
	pl_file </dev/null
	pl_start
	[ "$status" -eq 0 ]
	first=$PE
	pl_start
	[ "$status" -eq 0 ]
	[ "$first" != "$PE" ]
	a=$(readlink "$STATE/executions/$first/artifacts/Built")
	b=$(readlink "$STATE/executions/$PE/artifacts/Built")
	[ "$a" = "$b" ]
	[[ "$a" == "$STATE/artifacts/"* ]]
	[ "$(ls "$STATE/artifacts" | wc -l)" -eq 3 ] # Src, Assets and Built
	[ "$(cat "$a/VERSION")" = 1.2 ]
}

@test "pipeline: --revision picks the git sources' commit; a project name with a slash builds" {
	pl_setup
	git -C "$T/repo" checkout -qb feature
	echo 2.0 >"$T/repo/VERSION"
	git -C "$T/repo" -c user.email=t@example.com -c user.name=t commit -qam two
	git -C "$T/repo" checkout -q main
	pl_file </dev/null
	sed -i 's|ProjectName: app-build|ProjectName: team/app-build|; s|projects: {app-build: {}}|projects: {team/app-build: {}}|' "$T/pl.yml"
	pl_start --revision feature
	[ "$status" -eq 0 ]
	[[ "$(cat "$T/seen.txt")" == "x=built-2.0 commit=$(git -C "$T/repo" rev-parse feature) "* ]]
	[ "$(pl_json '.stageStates[0].actionStates[0].latestExecution.outputVariables.BranchName')" = feature ]
}

@test "pipeline: onFailure ROLLBACK runs the stage again with the last good execution's artifacts" {
	pl_setup
	git -C "$T/repo" checkout -qb bad
	echo bad >"$T/repo/VERSION"
	git -C "$T/repo" -c user.email=t@example.com -c user.name=t commit -qam bad
	git -C "$T/repo" checkout -q main
	pl_file <<EOB
    - name: Live
      onFailure: {result: ROLLBACK}
      actions:
        - name: Put
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "cp VERSION $T/live; echo #{BuildVariables.X} >$T/livex; ! grep -q bad VERSION"}
          inputArtifacts: [{name: Built}]
EOB
	pl_start
	[ "$status" -eq 0 ]
	good=$PE
	[ "$(cat "$T/live")" = 1.2 ]
	pl_start --revision bad
	[ "$status" -eq 1 ]
	[[ "$output" == *"rolling back stage Live to execution $good as pe-"* ]]
	[ "$(cat "$T/live")" = 1.2 ]
	# and the target's variables
	[ "$(cat "$T/livex")" = built-1.2 ]
	rb=$(printf '%s\n' "$output" | sed -n 's/.*rolling back stage Live to execution [^ ]* as \(pe-[^ ]*\)$/\1/p')
	[ "$(pl_json .pipelineExecution.status)" = Failed ]
	PE=$rb
	[ "$(pl_json .pipelineExecution.status)" = Succeeded ]
	[ "$(pl_json .pipelineExecution.executionType)" = ROLLBACK ]
	[ "$(pl_json .pipelineExecution.trigger.triggerType)" = AutomatedRollback ]
	[ "$(pl_json .pipelineExecution.rollbackMetadata.rollbackTargetPipelineExecutionId)" = "$good" ]
	# only that stage ran, with the target's artifact
	[ "$(pl_json '[.stageStates[] | select(.latestExecution != null) | .stageName] | join(",")')" = Live ]
	[ "$(readlink "$STATE/executions/$rb/artifacts/Built")" = "$(readlink "$STATE/executions/$good/artifacts/Built")" ]
}

@test "pipeline: onFailure ROLLBACK with no execution that succeeded there says so" {
	pl_setup
	pl_file <<EOB
    - name: Live
      onFailure: {result: ROLLBACK}
      actions:
        - name: Put
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "false"}
EOB
	pl_start
	[ "$status" -eq 1 ]
	[[ "$output" == *"no earlier execution succeeded in stage Live: nothing to roll back to"* ]]
	[ "$(sqlite3 "$STATE/slipway.db" "select count(*) from executions")" -eq 1 ]
}

@test "pipeline: actions of one runOrder run side by side" {
	pl_setup
	mkfifo "$T/fifo"
	# A reads what B writes: run one after the other, A would wait forever
	pl_file <<EOB
    - name: Par
      actions:
        - name: A
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "read line <$T/fifo; echo \"\$line\" >$T/got"}
        - name: B
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "echo from-b >$T/fifo"}
EOB
	run timeout 60 "$SLIPWAY" pipeline start "$T/pl.yml" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "$(cat "$T/got")" = from-b ]
}

@test "pipeline: a failed action fails its stage and the execution; its sibling finishes, nothing later runs" {
	pl_setup
	{
		cat <<EOB
    - name: Bad
      actions:
        - name: Fail
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "echo oops; exit 3"}
        - name: Sibling
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "touch $T/sibling"}
        - name: Later
          runOrder: 2
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "touch $T/later"}
EOB
		last_stage
	} | pl_file
	pl_start
	[ "$status" -eq 1 ]
	[[ "$output" == *"Bad/Fail: Failed ("*"exit status 3"*$'\n'"    | oops"$'\n'* ]]
	[ -e "$T/sibling" ]
	[ ! -e "$T/later" ]
	[ ! -e "$T/last" ]
	[ "$(pl_json .pipelineExecution.status)" = Failed ]
	[ "$(action_status Bad Fail)" = Failed ]
	[ "$(action_status Bad Sibling)" = Succeeded ]
	[ "$(action_status Bad Later)" = null ]
	[ "$(pl_json '.stageStates[] | select(.stageName == "Last") | .latestExecution')" = null ]
	grep -q oops "$STATE/executions/$PE/actions/Bad.Fail/log"
	[ "$(events | tail -3 | tr '\n' ' ')" = "Bad/Sibling:SUCCEEDED Bad/:FAILED /:FAILED " ]
}

@test "pipeline: an unresolvable variable fails the action, saying which" {
	pl_setup
	pl_file <<'EOB'
    - name: Use
      actions:
        - name: Use
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "echo #{BuildVariables.NOPE}"}
EOB
	pl_start
	[ "$status" -eq 1 ]
	[[ "$output" == *"Use/Use: Failed"*"cannot resolve '#{BuildVariables.NOPE}'"* ]]
	[[ "$(action_status Use Use)" == Failed ]]
}

@test "pipeline: an approval stops the execution (exit 5); approve resumes it to Succeeded" {
	pl_setup
	{
		approval_stage
		last_stage
	} | pl_file
	pl_start
	[ "$status" -eq 5 ]
	[[ "$output" == *"waiting for approval"*"CustomData: release built-1.2 to test"* ]]
	[ ! -e "$T/last" ]
	run "$SLIPWAY" pipeline show "$PE" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Approve"*"InProgress (waiting for approval)"* ]]
	[[ "$output" == *"$PE web InProgress (waiting)"* ]]
	[ "$(sqlite3 "$STATE/slipway.db" "select (expires_ms - created_ms) / 3600000 from approvals")" -eq 168 ]
	run "$SLIPWAY" pipeline approve "$PE" Gate/Approve --summary "looks good" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Last/Mark: Succeeded"* ]]
	[ -e "$T/last" ]
	[ "$(pl_json .pipelineExecution.status)" = Succeeded ]
	[ "$(pl_json '.stageStates[2].actionStates[0].latestExecution.summary')" = "looks good" ]
	[ "$(pl_json '.stageStates[2].actionStates[0].latestExecution.lastUpdatedBy')" = "${USER:-unknown}" ]
	# decided once
	run "$SLIPWAY" pipeline approve "$PE" --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"has no approval waiting"* ]]
}

@test "pipeline: two racing approvals: one resumes the execution, once" {
	pl_setup
	{
		approval_stage
		cat <<EOB
    - name: Last
      actions:
        - name: Mark
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "echo run >>$T/last"}
EOB
	} | pl_file
	pl_start
	[ "$status" -eq 5 ]
	"$SLIPWAY" pipeline approve "$PE" --state-dir "$STATE" >"$T/a1" 2>&1 &
	p1=$!
	"$SLIPWAY" pipeline approve "$PE" --state-dir "$STATE" >"$T/a2" 2>&1 &
	p2=$!
	s1=0 s2=0
	wait "$p1" || s1=$?
	wait "$p2" || s2=$?
	[ "$((s1 + s2))" -eq 1 ]
	[ "$(wc -l <"$T/last")" -eq 1 ]
	[ "$(pl_json .pipelineExecution.status)" = Succeeded ]
	grep -qE "has no approval waiting|is running in another process" "$T/a1" "$T/a2"
}

@test "pipeline: reject fails the execution; reject wants a summary" {
	pl_setup
	{
		approval_stage
		last_stage
	} | pl_file
	pl_start
	[ "$status" -eq 5 ]
	run "$SLIPWAY" pipeline reject "$PE" --state-dir "$STATE"
	[ "$status" -eq 2 ]
	run "$SLIPWAY" pipeline reject "$PE" Gate/Approve --summary "not now" --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[ ! -e "$T/last" ]
	[ "$(pl_json .pipelineExecution.status)" = Failed ]
	[ "$(action_status Gate Approve)" = Failed ]
	[ "$(pl_json '.stageStates[2].actionStates[0].latestExecution.summary')" = "not now" ]
}

@test "pipeline: an expired approval fails the action when the execution is next touched" {
	pl_setup
	{
		approval_stage
		last_stage
	} | pl_file
	pl_start
	[ "$status" -eq 5 ]
	sqlite3 "$STATE/slipway.db" "update approvals set expires_ms = 1"
	run "$SLIPWAY" pipeline approve "$PE" --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[ "$(action_status Gate Approve)" = Failed ]
	[ "$(pl_json '.stageStates[2].actionStates[0].latestExecution.summary')" = "the approval expired" ]
	[ ! -e "$T/last" ]
}

@test "pipeline: kill -9 of a running execution: the action shows Failed with the reason, never re-run" {
	pl_setup
	mkfifo "$T/started" "$T/hold"
	pl_file <<EOB
    - name: Long
      actions:
        - name: Wait
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "echo run >>$T/runs; [ -e $T/ok ] || { echo \$\$ >$T/started; read x <$T/hold; }"}
EOB
	"$SLIPWAY" pipeline start "$T/pl.yml" --state-dir "$STATE" >"$T/out" 2>&1 &
	pid=$!
	apid=$(timeout 30 cat "$T/started")
	kill -KILL "$pid"
	wait "$pid" || true
	PE=$(head -1 "$T/out")
	# the action's process went with its runner
	for _ in $(seq 100); do kill -0 "$apid" 2>/dev/null || break; sleep 0.05; done
	! kill -0 "$apid" 2>/dev/null || false
	run "$SLIPWAY" pipeline show "$PE" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Wait"*"Failed: slipway was killed while the action ran"* ]]
	[ "$(pl_json .pipelineExecution.status)" = Failed ]
	[ "$(pl_json '.stageStates[2].latestExecution.status')" = Failed ]
	[ "$(wc -l <"$T/runs")" -eq 1 ]
	run "$SLIPWAY" pipeline ls --state-dir "$STATE"
	[[ "$output" == "$PE  Failed "* ]]
	# retry runs it again, as attempt 2
	touch "$T/ok"
	run "$SLIPWAY" pipeline retry "$PE" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$T/runs")" -eq 2 ]
	[ "$(pl_json .pipelineExecution.status)" = Succeeded ]
	[ "$(sqlite3 "$STATE/slipway.db" "select attempt || ' ' || status from actions where action = 'Wait' order by attempt" | tr '\n' ,)" = "1 Failed,2 Succeeded," ]
}

# A stage Long whose action says it started on $T/started, then waits
# for a line on $T/hold, unless $T/ok exists; then a stage Last.
held_pipeline() {
	mkfifo "$T/started" "$T/hold"
	{
		cat <<EOB
    - name: Long
      actions:
        - name: Wait
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "echo run >>$T/runs; [ -e $T/ok ] || { echo \$\$ >$T/started; read x <$T/hold; }"}
EOB
		last_stage
	} | pl_file
	"$SLIPWAY" pipeline start "$T/pl.yml" --state-dir "$STATE" >"$T/out" 2>&1 &
	RUNNER=$!
	APID=$(timeout 30 cat "$T/started")
	PE=$(head -1 "$T/out")
}

# A pipeline in executionMode $1 whose stage Long's action makes the
# fifo $T/hold.<execution id>, says the id on $T/started, and waits for a
# line on its fifo (release ID); then a stage Last.
mode_pipeline() {
	mkfifo "$T/started"
	{
		cat <<EOB
    - name: Long
      actions:
        - name: Wait
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "h=$T/hold.\$CODEPIPELINE_EXECUTION_ID; mkfifo \$h; echo run >>$T/runs; echo \$CODEPIPELINE_EXECUTION_ID >$T/started; cat \$h >/dev/null"}
EOB
		last_stage
	} | pl_file
	sed -i "s/^  name: web\$/&\n  executionMode: $1/" "$T/pl.yml"
}

bg_start() { # NAME: start an execution in the background, $T/NAME.out
	"$SLIPWAY" pipeline start "$T/pl.yml" --state-dir "$STATE" >"$T/$1.out" 2>&1 &
	eval "PID_$1=\$!"
}

started() { # the id of the next execution whose action starts
	timeout 30 cat "$T/started"
}

release() { # ID
	echo go >"$T/hold.$1"
}

wait_for() { # FILE TEXT: until FILE has TEXT (30 s at most)
	local i
	for ((i = 0; i < 600; i++)); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "no '$2' in $1:"
	cat "$1"
	return 1
}

@test "pipeline: QUEUED: an execution waits for the stage another one runs, then runs it" {
	pl_setup
	mode_pipeline QUEUED
	bg_start a
	a=$(started)
	bg_start b
	wait_for "$T/b.out" "waiting for stage Long: another execution runs it (QUEUED)"
	[ "$(wc -l <"$T/runs")" -eq 1 ]
	release "$a"
	b=$(started) # b's turn
	[ "$b" = "$(head -1 "$T/b.out")" ]
	[ "$(wc -l <"$T/runs")" -eq 2 ]
	release "$b"
	wait "$PID_a"
	wait "$PID_b"
}

@test "pipeline: QUEUED: waiters enter in the order they came, even one slower to wake; a killed waiter loses its turn" {
	pl_setup
	mode_pipeline QUEUED
	bg_start a
	a=$(started)
	bg_start b
	wait_for "$T/b.out" "waiting for stage Long"
	# b cannot run when its turn comes; c, after it, could
	kill -STOP "$PID_b"
	bg_start c
	wait_for "$T/c.out" "waiting for stage Long"
	bg_start d
	wait_for "$T/d.out" "waiting for stage Long"
	kill -KILL "$PID_d" # d's turn is gone with it
	wait "$PID_d" || true
	release "$a"
	wait "$PID_a"
	kill -CONT "$PID_b"
	next=$(started)
	[ "$next" = "$(head -1 "$T/b.out")" ]
	release "$next"
	next=$(started)
	[ "$next" = "$(head -1 "$T/c.out")" ]
	release "$next"
	wait "$PID_b"
	wait "$PID_c"
	[ "$(wc -l <"$T/runs")" -eq 3 ]
	# nothing left in the queue
	[ -z "$(ls "$STATE/pipelines/web/stage-Long.queue")" ]
}

@test "pipeline: SUPERSEDED: a newer execution waiting for the stage replaces an older one" {
	pl_setup
	mode_pipeline SUPERSEDED
	bg_start a
	a=$(started)
	bg_start b
	wait_for "$T/b.out" "waiting for stage Long"
	bg_start c
	st=0
	wait "$PID_b" || st=$?
	[ "$st" -eq 1 ]
	PE=$(head -1 "$T/b.out")
	[ "$(pl_json .pipelineExecution.status)" = Superseded ]
	[ "$(events | tail -1)" = "/:SUPERSEDED" ]
	grep -q "superseded by $(head -1 "$T/c.out")" "$T/b.out"
	release "$a"
	c=$(started) # c's turn
	[ "$c" = "$(head -1 "$T/c.out")" ]
	release "$c"
	wait "$PID_a"
	wait "$PID_c"
	[ "$(wc -l <"$T/runs")" -eq 2 ]
}

@test "pipeline: PARALLEL: executions run the same stage side by side" {
	pl_setup
	mode_pipeline PARALLEL
	bg_start a
	x=$(started)
	bg_start b
	y=$(started) # both in stage Long at once
	release "$x"
	release "$y"
	wait "$PID_a"
	wait "$PID_b"
	! grep -q "waiting for stage" "$T/b.out" || false
}

@test "pipeline: stop lets the running action finish and starts nothing more" {
	pl_setup
	held_pipeline
	run "$SLIPWAY" pipeline stop "$PE" --reason "bad commit" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "$(pl_json .pipelineExecution.status)" = Stopping ]
	# a second stop without --abandon is refused
	run "$SLIPWAY" pipeline stop "$PE" --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is stopping"* ]]
	echo go >"$T/hold"
	st=0
	wait "$RUNNER" || st=$?
	[ "$st" -eq 1 ]
	[ "$(action_status Long Wait)" = Succeeded ]
	[ ! -e "$T/last" ]
	[ "$(pl_json .pipelineExecution.status)" = Stopped ]
	[ "$(pl_json .pipelineExecution.statusSummary)" = "bad commit" ]
	[ "$(pl_json '.stageStates[2].latestExecution.status')" = Stopped ]
	[ "$(events | tail -4 | tr '\n' ' ')" = "/:STOPPING Long/Wait:SUCCEEDED Long/:STOPPED /:STOPPED " ]
	# a stopped stage can be retried: it goes on from there
	run "$SLIPWAY" pipeline retry "$PE" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ -e "$T/last" ]
	# a stopped or succeeded execution cannot be stopped
	run "$SLIPWAY" pipeline stop "$PE" --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is Succeeded: only one in progress can be stopped"* ]]
}

@test "pipeline: stop --abandon abandons the running action at once; retry runs it again" {
	pl_setup
	held_pipeline
	run "$SLIPWAY" pipeline stop "$PE" --abandon --state-dir "$STATE"
	[ "$status" -eq 0 ]
	st=0
	wait "$RUNNER" || st=$?
	[ "$st" -eq 1 ]
	! kill -0 "$APID" 2>/dev/null || false
	[ "$(action_status Long Wait)" = Abandoned ]
	[ "$(pl_json .pipelineExecution.status)" = Stopped ]
	[ ! -e "$T/last" ]
	grep -q "Long/Wait: Abandoned" "$T/out"
	touch "$T/ok"
	run "$SLIPWAY" pipeline retry "$PE" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$T/runs")" -eq 2 ]
	[ -e "$T/last" ]
}

@test "pipeline: stop of an execution waiting for an approval abandons the approval" {
	pl_setup
	{
		approval_stage
		last_stage
	} | pl_file
	pl_start
	[ "$status" -eq 5 ]
	run "$SLIPWAY" pipeline stop "$PE" --reason "not today" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "$(pl_json .pipelineExecution.status)" = Stopped ]
	[ "$(action_status Gate Approve)" = Abandoned ]
	run "$SLIPWAY" pipeline approve "$PE" --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[ ! -e "$T/last" ]
}

@test "pipeline: retry runs the failed actions of the failed stage again, --all every action" {
	pl_setup
	{
		cat <<EOB
    - name: Bad
      actions:
        - name: Flaky
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "echo flaky >>$T/runs; [ -e $T/ok ]"}
        - name: Fine
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "echo fine >>$T/runs"}
EOB
		last_stage
	} | pl_file
	pl_start
	[ "$status" -eq 1 ]
	run "$SLIPWAY" pipeline retry "$PE" --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[ "$(sort "$T/runs" | uniq -c | tr -s ' ' | tr '\n' ,)" = " 1 fine, 2 flaky," ]
	[ ! -e "$T/last" ]
	[ -e "$STATE/executions/$PE/actions/Bad.Flaky.2/log" ]
	run "$SLIPWAY" pipeline retry "$PE" --all --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[ "$(sort "$T/runs" | uniq -c | tr -s ' ' | tr '\n' ,)" = " 2 fine, 3 flaky," ]
	touch "$T/ok"
	run "$SLIPWAY" pipeline retry "$PE" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"retrying Bad (failed actions)"*"Last/Mark: Succeeded"* ]]
	[ "$(sort "$T/runs" | uniq -c | tr -s ' ' | tr '\n' ,)" = " 2 fine, 4 flaky," ]
	[ -e "$T/last" ]
	[ "$(pl_json .pipelineExecution.status)" = Succeeded ]
	[ "$(events | grep -c RESUMED)" -eq 6 ]
	# a succeeded execution has nothing to retry
	run "$SLIPWAY" pipeline retry "$PE" --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is Succeeded: only a failed stage can be retried"* ]]
}

# A stage Bad with onFailure RETRY ($1: its retryMode) whose Flaky action
# fails until its $T/runs has $2 lines of flaky, beside Fine; then Last.
retry_pipeline() {
	{
		cat <<EOB
    - name: Bad
      onFailure: {result: RETRY, retryConfiguration: {retryMode: $1}}
      actions:
        - name: Flaky
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "echo flaky >>$T/runs; [ \$(grep -c flaky $T/runs) -ge $2 ]"}
        - name: Fine
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "echo fine >>$T/runs"}
EOB
		last_stage
	} | pl_file
}

@test "pipeline: onFailure RETRY retries a failed stage once by itself (FAILED_ACTIONS); show and events say so" {
	pl_setup
	retry_pipeline FAILED_ACTIONS 2
	pl_start
	[ "$status" -eq 0 ]
	[[ "$output" == *"stage Bad failed: retrying it (failed actions, automatic)"*"Last/Mark: Succeeded"* ]]
	[ "$(sort "$T/runs" | uniq -c | tr -s ' ' | tr '\n' ,)" = " 1 fine, 2 flaky," ]
	[ -e "$T/last" ]
	[ "$(pl_json .pipelineExecution.status)" = Succeeded ]
	[ "$(pl_json '.stageStates[2].retryStageMetadata | "\(.autoStageRetryAttempt) \(.manualStageRetryAttempt) \(.latestRetryTrigger)"')" = "1 0 AutomatedStageRetry" ]
	[ "$(pl_json '.stageStates[1].retryStageMetadata')" = null ]
	# Flaky and Fine run side by side: their first events in any order
	[ "$(events | grep '^Bad/' | sed -n 2,5p | sort | tr '\n' ' ')" = "Bad/Fine:STARTED Bad/Fine:SUCCEEDED Bad/Flaky:FAILED Bad/Flaky:STARTED " ]
	[ "$(events | grep '^Bad/' | sed 2,5d | tr '\n' ' ')" = "Bad/:STARTED Bad/:FAILED Bad/:RESUMED Bad/Flaky:STARTED Bad/Flaky:SUCCEEDED Bad/:SUCCEEDED " ]
	[ "$(jq -r 'select(.detail.state == "RESUMED") | "\(.detail["retry-trigger"]) \(.detail["retry-mode"])"' "$STATE/executions/$PE/events.jsonl")" = "AutomatedStageRetry FAILED_ACTIONS" ]
	# no pipeline event says it failed
	! events | grep -q '^/:FAILED' || false
	run "$SLIPWAY" pipeline show "$PE" --state-dir "$STATE"
	[[ "$output" == *"Bad          Succeeded (attempt 2, AutomatedStageRetry)"* ]]
	[[ "$output" == *"Flaky                Succeeded (attempt 2)"* ]]
	[ -e "$STATE/executions/$PE/actions/Bad.Flaky.2/log" ]
	# every attempt, as ListActionExecutions lists them
	[ "$(pl_json '.actionExecutionDetails | length')" -eq 8 ]
	[ "$(pl_json '[.actionExecutionDetails[] | select(.actionName == "Flaky") | "\(.actionExecutionId | sub("^pe-[^/]*/"; "")) \(.status) \(.input.actionTypeId.provider) \(.output.executionResult.externalExecutionSummary // "-" | sub(" \\(log.*"; ""))"] | join(",")')" = "Bad.Flaky.1 Failed Command exit status 1,Bad.Flaky.2 Succeeded Command -" ]
	[ "$(pl_json '.actionExecutionDetails[] | select(.actionName == "Build") | "\(.input.namespace) \(.input.inputArtifacts | map(.name) | join("+")) \(.output.outputArtifacts[0].name) \(.output.outputVariables.X)"')" = "BuildVariables Assets+Src Built built-1.2" ]
}

@test "pipeline: onFailure RETRY retries once only; ALL_ACTIONS runs every action again; a manual retry counts apart" {
	pl_setup
	retry_pipeline ALL_ACTIONS 3
	pl_start
	[ "$status" -eq 1 ]
	# one automatic retry of every action, then the execution fails
	[ "$(sort "$T/runs" | uniq -c | tr -s ' ' | tr '\n' ,)" = " 2 fine, 2 flaky," ]
	[ ! -e "$T/last" ]
	[ "$(pl_json .pipelineExecution.status)" = Failed ]
	[ "$(pl_json '.stageStates[2].latestExecution.status')" = Failed ]
	[ "$(events | grep -c '^Bad/:RESUMED')" -eq 1 ]
	# by hand: a manual retry, no second automatic one
	run "$SLIPWAY" pipeline retry "$PE" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "$(sort "$T/runs" | uniq -c | tr -s ' ' | tr '\n' ,)" = " 2 fine, 3 flaky," ]
	[ "$(pl_json '.stageStates[2].retryStageMetadata | "\(.autoStageRetryAttempt) \(.manualStageRetryAttempt) \(.latestRetryTrigger)"')" = "1 1 ManualStageRetry" ]
	run "$SLIPWAY" pipeline show "$PE" --state-dir "$STATE"
	[[ "$output" == *"Bad          Succeeded (attempt 3, ManualStageRetry)"* ]]
	[[ "$output" == *"Flaky                Succeeded (attempt 3)"* ]]
}

@test "pipeline: onFailure RETRY does not retry a stage failed by a rejected approval" {
	pl_setup
	{
		approval_stage
		last_stage
	} | pl_file
	sed -i 's/^    - name: Gate$/&\n      onFailure: {result: RETRY}/' "$T/pl.yml"
	pl_start
	[ "$status" -eq 5 ]
	run "$SLIPWAY" pipeline reject "$PE" --summary no --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"stage Gate failed at an approval: not retried"* ]]
	[ "$(pl_json .pipelineExecution.status)" = Failed ]
	[ "$(action_status Gate Approve)" = Failed ]
	! events | grep -q RESUMED || false
	[ ! -e "$T/last" ]
}

@test "pipeline: onFailure RETRY does not retry a stage being stopped" {
	pl_setup
	mkfifo "$T/started" "$T/hold"
	{
		cat <<EOB
    - name: Bad
      onFailure: {result: RETRY}
      actions:
        - name: Flaky
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "echo flaky >>$T/runs; echo \$\$ >$T/started; read x <$T/hold; exit 1"}
EOB
		last_stage
	} | pl_file
	"$SLIPWAY" pipeline start "$T/pl.yml" --state-dir "$STATE" >"$T/out" 2>&1 &
	runner=$!
	timeout 30 cat "$T/started" >/dev/null
	PE=$(head -1 "$T/out")
	"$SLIPWAY" pipeline stop "$PE" --state-dir "$STATE"
	echo go >"$T/hold"
	st=0
	wait "$runner" || st=$?
	[ "$st" -eq 1 ]
	[ "$(wc -l <"$T/runs")" -eq 1 ]
	[ "$(pl_json .pipelineExecution.status)" = Stopped ]
	! events | grep -q RESUMED || false
}

# A stage Pack whose Commands action makes files and outputs artifact
# Out with the files patterns $1 (a YAML list); then a stage Use whose
# action lists what Out holds in $T/list.
files_pipeline() {
	pl_file <<EOB
    - name: Pack
      actions:
        - name: Make
          actionTypeId: {category: Compute, owner: AWS, provider: Commands, version: "1"}
          commands:
            - mkdir -p dist/sub
            - echo a >dist/a.js; echo b >dist/sub/b.js; echo c >dist/c.txt; echo n >notes.md
            - ln -s a.js dist/link.js
          inputArtifacts: [{name: Src}]
          outputArtifacts: [{name: Out, files: $1}]
    - name: Use
      actions:
        - name: List
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "find . ! -type d | sort >$T/list"}
          inputArtifacts: [{name: Out}]
EOB
}

@test "pipeline: a Commands output artifact holds only the files its files patterns take" {
	pl_setup
	files_pipeline '["dist/**/*.js", notes.md]'
	pl_start
	[ "$status" -eq 0 ]
	[ "$(tr '\n' ' ' <"$T/list")" = "./dist/a.js ./dist/link.js ./dist/sub/b.js ./notes.md " ]
	[ -L "$STATE/executions/$PE/artifacts/Out/dist/link.js" ]
	# a pattern that takes nothing fails the action, saying which artifact
	rm -f "$T/list"
	files_pipeline '["nothing/**/*"]'
	pl_start
	[ "$status" -eq 1 ]
	[[ "$output" == *"Pack/Make: Failed"*"output artifact 'Out': no file matches its files"* ]]
	[ ! -e "$T/list" ]
}

# A stage Use whose Commands action has TOKEN, a SECRETS_MANAGER
# variable of value $1.
secret_pipeline() {
	pl_file <<EOB
    - name: Use
      actions:
        - name: Call
          actionTypeId: {category: Compute, owner: AWS, provider: Commands, version: "1"}
          commands:
            - echo "token is \$TOKEN"
            - echo "\$TOKEN" >$T/token
          environmentVariables:
            - {name: TOKEN, value: "$1", type: SECRETS_MANAGER}
            - {name: PLAIN, value: "prod/api:token"}
          inputArtifacts: [{name: Src}]
EOB
}

@test "pipeline: a Commands action's SECRETS_MANAGER variable comes from slipway.secrets-file, masked in its log" {
	pl_setup
	printf 'secrets-manager:\n  prod/api: %s\n' "'{\"token\": \"tok-s3cr3t-123\"}'" >"$T/secrets.yml"
	secret_pipeline "prod/api:token"
	echo "  secrets-file: secrets.yml" >>"$T/pl.yml"
	pl_start
	[ "$status" -eq 0 ]
	[ "$(cat "$T/token")" = tok-s3cr3t-123 ]
	grep -qx 'token is \*\*\*' "$STATE/executions/$PE/actions/Use.Call/log"
	! grep -rqF tok-s3cr3t "$STATE" || false
	[[ "$output" != *tok-s3cr3t* ]]
	# a secret that does not exist fails the action, naming the variable
	secret_pipeline "prod/nope"
	echo "  secrets-file: secrets.yml" >>"$T/pl.yml"
	pl_start
	[ "$status" -eq 1 ]
	[[ "$output" == *"Use/Call: Failed"*"environment variable TOKEN: secret does not exist: prod/nope"* ]]
}

@test "pipeline: a SECRETS_MANAGER variable without slipway.secrets-file is refused by validate and start" {
	pl_setup
	secret_pipeline "prod/api:token"
	run "$SLIPWAY" validate "$T/pl.yml"
	[ "$status" -eq 3 ]
	[[ "$output" == *"pl.yml:"*": secret 'TOKEN' of 'Use.Call' has no source of secrets: add 'slipway.secrets-file'"* ]]
	pl_start
	[ "$status" -eq 3 ]
	[ ! -e "$STATE/executions" ]
	# a malformed secrets file is refused too, where it is wrong
	printf 'secrets-manager: [1]\n' >"$T/secrets.yml"
	echo "  secrets-file: secrets.yml" >>"$T/pl.yml"
	run "$SLIPWAY" validate "$T/pl.yml"
	[ "$status" -eq 3 ]
	[[ "$output" == *"'slipway.secrets-file': $T/secrets.yml:1:"* ]]
}

@test "pipeline: start --no-wait returns once the execution is started; it runs on detached, its output in runner.log" {
	pl_setup
	mkfifo "$T/hold"
	{
		cat <<EOB
    - name: Long
      actions:
        - name: Wait
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "read x <$T/hold; echo run >>$T/runs"}
EOB
		last_stage
	} | pl_file
	# returns while the action waits on the fifo: nobody has written it yet
	run timeout 30 "$SLIPWAY" pipeline start "$T/pl.yml" --no-wait --state-dir "$STATE"
	[ "$status" -eq 0 ]
	PE=$(printf '%s\n' "$output" | grep -m1 '^pe-')
	[[ "$output" == *"$PE: running detached; its output goes to $STATE/executions/$PE/runner.log"* ]]
	[ ! -e "$T/runs" ]
	[ "$(pl_json .pipelineExecution.status)" = InProgress ]
	# the detached runner holds the execution: a retry is refused
	run "$SLIPWAY" pipeline retry "$PE" --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is running in another process"* ]]
	echo go >"$T/hold"
	flock "$STATE/executions/$PE/lock" true # until the runner is done
	[ "$(pl_json .pipelineExecution.status)" = Succeeded ]
	[ -e "$T/last" ]
	grep -q "Last/Mark: Succeeded" "$STATE/executions/$PE/runner.log"
	grep -q "$PE Succeeded" "$STATE/executions/$PE/runner.log"
}

@test "pipeline: stop --abandon reaches a detached runner" {
	pl_setup
	mkfifo "$T/started" "$T/hold"
	{
		cat <<EOB
    - name: Long
      actions:
        - name: Wait
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "echo \$\$ >$T/started; read x <$T/hold"}
EOB
		last_stage
	} | pl_file
	run timeout 30 "$SLIPWAY" pipeline start "$T/pl.yml" --no-wait --state-dir "$STATE"
	[ "$status" -eq 0 ]
	PE=$(printf '%s\n' "$output" | grep -m1 '^pe-')
	apid=$(timeout 30 cat "$T/started")
	run "$SLIPWAY" pipeline stop "$PE" --abandon --state-dir "$STATE"
	[ "$status" -eq 0 ]
	flock "$STATE/executions/$PE/lock" true
	! kill -0 "$apid" 2>/dev/null || false
	[ "$(action_status Long Wait)" = Abandoned ]
	[ "$(pl_json .pipelineExecution.status)" = Stopped ]
	[ ! -e "$T/last" ]
}

@test "pipeline: a failing notification command is a warning; the pipeline succeeds" {
	pl_setup
	pl_file </dev/null
	printf '#!/bin/sh\ncat >/dev/null; echo said >&2; exit 7\n' >"$T/notify.sh"
	pl_start
	[ "$status" -eq 0 ]
	flock -w 60 "$STATE/executions/$PE/notify/cmd-0.lock" true
	grep -q "warning: notification 'team': command failed (status 7)" "$STATE/executions/$PE/notifications.log"
	grep -qx said "$STATE/executions/$PE/notifications.log"
}

@test "pipeline: a notification command that hangs never holds the pipeline up" {
	pl_setup
	pl_file </dev/null
	mkfifo "$T/gate"
	# the first event blocks the command until the test opens the gate
	printf '#!/bin/sh\ncat >>"%s/notified.jsonl"\n[ -e "%s/passed" ] || { read x <"%s/gate"; touch "%s/passed"; }\n' "$T" "$T" "$T" "$T" >"$T/notify.sh"
	run timeout 60 "$SLIPWAY" pipeline start "$T/pl.yml" --state-dir "$STATE"
	PE=$(printf '%s\n' "$output" | grep -m1 '^pe-' || true)
	[ "$status" -eq 0 ]
	[ "$(pl_json .pipelineExecution.status)" = Succeeded ]
	# the pipeline ended with one event given to the command so far
	[ "$(wc -l <"$T/notified.jsonl")" -eq 1 ]
	! flock -n "$STATE/executions/$PE/notify/cmd-0.lock" true || false
	# let go: the rest follow, in order
	echo go >"$T/gate"
	flock -w 60 "$STATE/executions/$PE/notify/cmd-0.lock" true
	[ "$(jq -c . "$T/notified.jsonl")" = "$(jq -c . "$STATE/executions/$PE/events.jsonl")" ]
}

@test "pipeline: usage and file errors" {
	pl_setup
	pl_file </dev/null
	run "$SLIPWAY" pipeline start "$T/pl.yml" --state-dir "$STATE" -v Nope=1
	[ "$status" -eq 2 ]
	[[ "$output" == *"'Nope' is not a variable of pipeline 'web'"* ]]
	printf 'pipeline: {name: x}\n' >"$T/bad.yml"
	run "$SLIPWAY" pipeline start "$T/bad.yml" --state-dir "$STATE"
	[ "$status" -eq 3 ]
	[[ "$output" == *"bad.yml:"* ]]
	run "$SLIPWAY" pipeline show pe-nope --state-dir "$STATE"
	[ "$status" -eq 2 ]
	run "$SLIPWAY" pipeline frob
	[ "$status" -eq 2 ]
	# a variable without a default must be given
	sed -i 's/{name: Env, defaultValue: test}/{name: Env}/' "$T/pl.yml"
	run "$SLIPWAY" pipeline start "$T/pl.yml" --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"variable 'Env' has no default: give it with -v Env=VALUE"* ]]
	[ ! -e "$STATE/executions" ]
}

@test "pipeline: a CodeBuild action's SECRETS_MANAGER and PARAMETER_STORE variables reach the build as values, masked, never in argv" {
	pl_setup
	cd "$T/repo"
	sed -i "s|^      - export X=.*|&\n      - echo \"tok=\$TOK pw=\$PW\"\n      - echo \"\$TOK \$PW\" >$T/seen\n      - cat /proc/[0-9]*/cmdline 2>/dev/null \| tr '\\\\0' '\\\\n' \| grep -c 's3c[r]3t' >$T/argv-hits \|\| true|" buildspec.yml
	git -c user.email=t@example.com -c user.name=t commit -qam "print the secrets"
	cd "$T"
	printf 'parameter-store:\n  /db/pw: pw-s3cr3t\nsecrets-manager:\n  prod/api: %s\n' "'{\"token\": \"tok-s3cr3t-123\"}'" >"$T/secrets.yml"
	pl_file </dev/null
	sed -i 's|EnvironmentVariables: .*|EnvironmentVariables: '"'"'[{"name":"ENV","value":"#{variables.Env}"},{"name":"TOK","value":"prod/api:token","type":"SECRETS_MANAGER"},{"name":"PW","value":"/db/pw","type":"PARAMETER_STORE"}]'"'"'|' "$T/pl.yml"
	# without a source of secrets: refused where it is declared
	run "$SLIPWAY" validate "$T/pl.yml"
	[ "$status" -eq 3 ]
	[[ "$output" == *"pl.yml:"*": SECRETS_MANAGER variable 'TOK' of 'Build.Build' has no source of secrets: add 'secrets-file' to project 'app-build' or 'slipway.secrets-file'"* ]]
	echo "  secrets-file: secrets.yml" >>"$T/pl.yml"
	pl_start
	[ "$status" -eq 0 ]
	[ "$(cat "$T/seen")" = "tok-s3cr3t-123 pw-s3cr3t" ]
	! grep -rqF -e tok-s3cr3t -e pw-s3cr3t "$STATE" || false
	[[ "$output" != *s3cr3t* ]]
	grep -rqx 'tok=\*\*\* pw=\*\*\*' "$STATE"
	[ "$(cat "$T/argv-hits")" = 0 ]
}
