#!/usr/bin/env bats
# slipway serve: a real server on a free loopback port, driven through its
# API with curl: executions started and approved, auth refused, a build's
# log followed, SIGTERM during an action then a restart that finishes it
# exactly once, SIGHUP with a bad file, hostile clients.

load helpers
load serve_helpers

approval_stage() {
	cat <<'EOB'
    - name: Gate
      actions:
        - name: Approve
          actionTypeId: {category: Approval, owner: AWS, provider: Manual, version: "1"}
EOB
}

@test "serve: an execution started through the API waits at an approval, is approved through the API and succeeds" {
	approval_stage | sv_setup
	sv_start
	run api GET /api/pipelines
	[ "$(code)" = 200 ]
	[ "$(echo "$output" | jq -r '.pipelines[0].name')" = web ]
	[ "$(echo "$output" | jq -r '.pipelines[0].stages | join(",")')" = Source,Build,Gate ]

	id=$(api POST /api/pipelines/web/executions \
		-d '{"variables": [{"name": "Env", "value": "prod"}]}' |
		jq -r .pipelineExecutionId)
	[ "$(code)" = 200 ]
	[[ "$id" == pe-* ]]
	wait_line "$T/serve.log" "$id: Gate/Approve: waiting for approval"
	run api GET "/api/executions/$id"
	[ "$(echo "$output" | jq -r .pipelineExecution.trigger.triggerDetail)" = api:alice ]
	[ "$(echo "$output" | jq -r '.stageStates[2].actionStates[0].latestExecution.status')" = InProgress ]
	grep -q "step ran" "$STATE/executions/$id/actions/Build.Step/log"

	run api POST "/api/executions/$id/approve" -d '{"summary": "looks good"}'
	[ "$(code)" = 200 ]
	[ "$(echo "$output" | jq -r .status)" = Approved ]
	wait_status "$id" Succeeded
	run api GET "/api/pipelines/web/executions?maxResults=1"
	[ "$(echo "$output" | jq -r '.pipelineExecutionSummaries | length')" = 1 ]
	[ "$(echo "$output" | jq -r '.pipelineExecutionSummaries[0].pipelineExecutionId')" = "$id" ]
	[ "$(echo "$output" | jq -r '.pipelineExecutionSummaries[0].status')" = Succeeded ]
	# recorded as the token's name
	run "$SLIPWAY" pipeline show "$id" --json --state-dir "$STATE"
	[ "$(echo "$output" | jq -r '.stageStates[2].actionStates[0].latestExecution.summary')" = "looks good" ]
	[ "$(echo "$output" | jq -r '.stageStates[2].actionStates[0].latestExecution.lastUpdatedBy')" = alice ]
	# a second approval has nothing to approve: 409
	api POST "/api/executions/$id/approve" >/dev/null
	[ "$(code)" = 409 ]
	sv_stop
	[ "$SV_STATUS" = 0 ]
	grep -q '"POST /api/executions/'"$id"'/approve" 200' "$T/serve.log"
}

@test "serve: bad requests to the API get the AWS-shaped errors" {
	sv_setup </dev/null
	sv_start
	api POST /api/pipelines/nope/executions >/dev/null
	[ "$(code)" = 404 ]
	[ "$(jq -r .__type "$T/body")" = PipelineNotFoundException ]
	api POST /api/pipelines/web/executions -d '{"variables": [{"name": "Nope", "value": "x"}]}' >/dev/null
	[ "$(code)" = 400 ]
	grep -q "'Nope' is not a variable of pipeline 'web'" "$T/body"
	api POST /api/pipelines/web/executions -d '{"variables": ' >/dev/null
	[ "$(code)" = 400 ]
	api GET "/api/pipelines/web/executions?maxResults=0" >/dev/null
	[ "$(code)" = 400 ]
	api GET /api/executions/pe-nope >/dev/null
	[ "$(code)" = 404 ]
	api GET /api/executions/../../etc --path-as-is >/dev/null
	[ "$(code)" = 404 ]
	api GET /api/builds/nope:1 >/dev/null
	[ "$(code)" = 404 ]
	curl -s -D "$T/h" -o /dev/null -X DELETE -H "Authorization: Bearer $TOK" \
		"http://127.0.0.1:$PORT/api/pipelines/web/executions"
	grep -q '^HTTP/1.1 405' "$T/h"
	grep -qi '^allow: GET, POST' "$T/h"
	api POST /api/executions/pe-x/approve -d '{"stageName": "Gate"}' >/dev/null
	[ "$(code)" = 404 ]
	sv_stop
}

@test "serve: a request without a good token is refused, a token in a query string too, and the login form sets a strict cookie" {
	sv_setup </dev/null
	sv_start
	u="http://127.0.0.1:$PORT"
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$u/api/pipelines")" = 401 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong-token-wrong-token" "$u/api/pipelines")" = 401 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Basic $TOK" "$u/api/pipelines")" = 401 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK" "$u/api/pipelines?token=$TOK")" = 400 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$u/api/pipelines?access_token=$TOK")" = 400 ]
	# the API takes no cookie: a page's cookie cannot be used across sites
	[ "$(curl -s -o /dev/null -w '%{http_code}' -b "slipway_token=$TOK" "$u/api/pipelines")" = 401 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$u/login")" = 200 ]
	[ "$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode "token=nope-nope-nope-nope" "$u/login")" = 401 ]
	curl -s -D "$T/h" -o /dev/null --data-urlencode "token=$TOK" --data-urlencode "next=/somewhere" "$u/login"
	grep -qi '^HTTP/1.1 303' "$T/h"
	grep -qi '^location: /somewhere' "$T/h"
	grep -i '^set-cookie:' "$T/h" | grep -q "slipway_token=$TOK; HttpOnly; SameSite=Strict; Path=/"
	# an open redirect is not followed
	curl -s -D "$T/h" -o /dev/null --data-urlencode "token=$TOK" --data-urlencode "next=//evil.example" "$u/login"
	grep -qi '^location: /$' <(tr -d '\r' <"$T/h")
	sv_stop
	# the token never reaches the log
	! grep -q "$TOK" "$T/serve.log" || false
}

@test "serve: without --token-file it serves loopback only, with a token of its own; a bad token file is refused" {
	sv_setup </dev/null
	run "$SLIPWAY" serve --listen 0.0.0.0:0 --pipelines "$T/pl" --state-dir "$STATE"
	[ "$status" = 2 ]
	[[ "$output" == *"needs --token-file"* ]]
	printf 'short\n' >"$T/bad-tokens"
	run "$SLIPWAY" serve --listen 127.0.0.1:0 --pipelines "$T/pl" --state-dir "$STATE" --token-file "$T/bad-tokens"
	[ "$status" = 3 ]
	[[ "$output" == *"bad-tokens:1:1: a token is 16 to 256 characters"* ]]

	rm -f "$T/port"
	"$SLIPWAY" serve --listen 127.0.0.1:0 --port-file "$T/port" --pipelines "$T/pl" --state-dir "$STATE" 2>"$T/serve.log" 3>&- &
	SV_PID=$!
	wait_line "$T/port" .
	PORT=$(cat "$T/port")
	[ "$(stat -c %a "$STATE/serve-token")" = 600 ]
	TOK=$(cat "$STATE/serve-token")
	api GET /api/pipelines >/dev/null
	[ "$(code)" = 200 ]
	sv_stop
}

@test "serve: SIGTERM during an action lets it finish, and the next start runs the rest exactly once" {
	sv_setup <<'EOB'
    - name: After
      actions:
        - name: Then
          actionTypeId: {category: Compute, owner: AWS, provider: Commands, version: "1"}
          commands: ["echo then >>$T/ran"]
          inputArtifacts: [{name: Src}]
EOB
	sed -i "s|\\\$T/ran|$T/ran|" "$T/pl/web.yml"
	mkfifo "$T/go"
	printf '#!/bin/sh\necho step >>%s/ran\nread x <%s/go\necho step-done >>%s/ran\n' "$T" "$T" "$T" >"$T/step.sh"
	sv_start --grace 30s
	id=$(api POST /api/pipelines/web/executions | jq -r .pipelineExecutionId)
	wait_line "$T/ran" '^step$'
	kill -TERM "$SV_PID"
	wait_line "$T/serve.log" "stopping: no new connections; 1 runner draining"
	# draining: no new connection is taken
	api GET /api/pipelines >/dev/null || true
	[ "$(code)" = 000 ]
	echo x >"$T/go"
	sv_wait 20
	[ "$SV_STATUS" = 0 ]
	grep -q "$id drained" "$T/serve.log"
	[ "$(cat "$T/ran")" = "$(printf 'step\nstep-done')" ]
	run "$SLIPWAY" pipeline show "$id" --json --state-dir "$STATE"
	[ "$(echo "$output" | jq -r .pipelineExecution.status)" = InProgress ]
	[ "$(echo "$output" | jq -r '.stageStates[1].actionStates[0].latestExecution.status')" = Succeeded ]

	sv_start
	wait_status "$id" Succeeded
	grep -q "$id: resuming (web)" "$T/serve.log"
	[ "$(cat "$T/ran")" = "$(printf 'step\nstep-done\nthen')" ]
	sv_stop
}

@test "serve: an action still running when the grace period ends is killed and Failed at the next start, never run twice" {
	sv_setup </dev/null
	printf '#!/bin/sh\necho step >>%s/ran\nexec sleep 1000.%s\n' "$T" "$MARK" >"$T/step.sh"
	sv_start --grace 1s
	id=$(api POST /api/pipelines/web/executions | jq -r .pipelineExecutionId)
	wait_line "$T/ran" '^step$'
	kill -TERM "$SV_PID"
	sv_wait 20
	grep -q "grace period over" "$T/serve.log"
	grep -q "$id: killing runner" "$T/serve.log"
	sv_start
	wait_status "$id" Failed
	run "$SLIPWAY" pipeline show "$id" --json --state-dir "$STATE"
	[ "$(echo "$output" | jq -r '.stageStates[1].actionStates[0].latestExecution.summary')" = "slipway was killed while the action ran" ]
	[ "$(grep -c step "$T/ran")" = 1 ]
	sv_stop
	no_survivors
}

@test "serve: SIGHUP reloads the pipeline files; a bad one is refused with file:line:col and the old one kept" {
	sv_setup </dev/null
	sv_start
	cp "$T/pl/web.yml" "$T/good.yml"
	# an input artifact nobody makes
	sed -i 's/inputArtifacts: \[{name: Src}\]/inputArtifacts: [{name: Nope}]/' "$T/pl/web.yml"
	sed 's/name: web/name: other/' "$T/good.yml" >"$T/pl/other.yml"
	kill -HUP "$SV_PID"
	wait_line "$T/serve.log" "reloaded: 2 pipelines (some files refused"
	grep -Eq "error: .*/pl/web.yml:[0-9]+:[0-9]+: .*'Nope'" "$T/serve.log"
	grep -q "keeping the pipeline 'web' loaded before" "$T/serve.log"
	run api GET /api/pipelines
	[ "$(echo "$output" | jq -r '[.pipelines[].name] | sort | join(",")')" = other,web ]
	# its executions are there to see, but a new one would read the
	# broken file: refused, saying why
	run api POST /api/pipelines/web/executions
	[ "$(code)" = 409 ]
	[[ "$output" == *"the file of pipeline 'web' no longer loads ("*"web.yml:"*": fix it and reload"* ]]
	api POST /api/pipelines/other/executions >/dev/null
	[ "$(code)" = 200 ]
	# the file fixed: served as it is now
	cp "$T/good.yml" "$T/pl/web.yml"
	sed -i 's/name: Step/name: Step2/' "$T/pl/web.yml"
	kill -HUP "$SV_PID"
	wait_line "$T/serve.log" "reloaded: 2 pipelines$"
	id=$(api POST /api/pipelines/web/executions | jq -r .pipelineExecutionId)
	wait_status "$id" Succeeded
	run "$SLIPWAY" pipeline show "$id" --json --state-dir "$STATE"
	[ "$(echo "$output" | jq -r '.stageStates[1].actionStates[0].actionName')" = Step2 ]
	sv_stop
}

@test "serve: a build's report and log through the API, the log followed while the build runs" {
	sv_setup <<'EOB'
    - name: Compile
      actions:
        - name: Make
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: app}
          inputArtifacts: [{name: Src}]
EOB
	echo "  projects: {app: {buildspec: buildspec.yml}}" >>"$T/pl/web.yml"
	mkfifo "$T/go"
	cat >"$T/repo/buildspec.yml" <<EOB
version: 0.2
phases:
  build:
    commands:
      - echo first-line
      - read x <$T/go
      - echo last-line
EOB
	(cd "$T/repo" && git add -A && git -c user.email=t@example.com -c user.name=t commit -qm bs)
	sv_start
	id=$(api POST /api/pipelines/web/executions | jq -r .pipelineExecutionId)
	for i in $(seq 200); do
		b=$(ls -d "$STATE"/builds/app-* 2>/dev/null | head -n 1)
		[ -n "$b" ] && grep -q first-line "$b/build.log" && break
		sleep 0.1
	done
	bid=app:${b##*/app-}
	run api GET "/api/builds/$bid"
	[ "$(code)" = 200 ]
	[ "$(echo "$output" | jq -r .buildStatus)" = IN_PROGRESS ]
	curl -s -N -H "Authorization: Bearer $TOK" "http://127.0.0.1:$PORT/api/builds/$bid/log?follow=1" >"$T/followed" 3>&- &
	cpid=$!
	wait_line "$T/followed" first-line
	! grep -q last-line "$T/followed" || false
	echo go >"$T/go"
	wait "$cpid"
	grep -q last-line "$T/followed"
	wait_status "$id" Succeeded
	run api GET "/api/builds/$bid"
	[ "$(echo "$output" | jq -r .buildStatus)" = SUCCEEDED ]
	[ "$(echo "$output" | jq -r .id)" = "$bid" ]
	run api GET "/api/builds/$bid/log"
	[[ "$output" == *last-line* ]]
	sv_stop
}

@test "serve: --workers 1 runs one action at a time across executions" {
	sv_setup </dev/null
	sed -i 's/^  name: web$/  name: web\n  executionMode: PARALLEL/' "$T/pl/web.yml"
	mkfifo "$T/go"
	printf '#!/bin/sh\necho "start $CODEPIPELINE_EXECUTION_ID" >>%s/ran\nread x <%s/go\necho "end $CODEPIPELINE_EXECUTION_ID" >>%s/ran\n' "$T" "$T" "$T" >"$T/step.sh"
	sv_start --workers 1
	a=$(api POST /api/pipelines/web/executions -d '{"variables": [{"name": "Env", "value": "a"}]}' | jq -r .pipelineExecutionId)
	b=$(api POST /api/pipelines/web/executions -d '{"variables": [{"name": "Env", "value": "b"}]}' | jq -r .pipelineExecutionId)
	wait_line "$T/ran" start
	# while one execution's step holds the slot, the other waits for it
	first=$(sed -n 's/^start //p' "$T/ran")
	other=$a
	[ "$first" != "$a" ] || other=$b
	wait_line "$T/serve.log" "$other: [A-Za-z]*/[A-Za-z]*: waiting for a worker slot (all 1 busy)"
	[ "$(cat "$T/ran" | wc -l)" = 1 ]
	echo x >"$T/go"
	wait_line "$T/ran" "^end"
	echo x >"$T/go"
	wait_status "$a" Succeeded
	wait_status "$b" Succeeded
	# never two at once: each start is followed by its own end
	x=$(sed -n 1p "$T/ran")
	y=$(sed -n 3p "$T/ran")
	[ "$(cat "$T/ran")" = "$(printf 'start %s\nend %s\nstart %s\nend %s' "${x#start }" "${x#start }" "${y#start }" "${y#start }")" ]
	[ "$(echo "${x#start } ${y#start }" | tr ' ' '\n' | sort | tr '\n' ' ')" = "$(echo "$a $b" | tr ' ' '\n' | sort | tr '\n' ' ')" ]
	sv_stop
}

@test "serve: stop and retry through the API" {
	approval_stage | sv_setup
	printf '#!/bin/sh\n[ -e %s/ok ]\n' "$T" >"$T/step.sh"
	sv_start
	id=$(api POST /api/pipelines/web/executions | jq -r .pipelineExecutionId)
	wait_status "$id" Failed
	touch "$T/ok"
	api POST "/api/executions/$id/retry" -d '{"retryMode": "FAILED_ACTIONS"}' >/dev/null
	[ "$(code)" = 200 ]
	wait_line "$T/serve.log" "$id: Gate/Approve: waiting for approval"
	api POST "/api/executions/$id/stop" -d '{"reason": "not today"}' >/dev/null
	[ "$(code)" = 200 ]
	wait_status "$id" Stopped
	api POST "/api/executions/$id/retry" -d '{"retryMode": "SOME"}' >/dev/null
	[ "$(code)" = 400 ]
	sv_stop
}

@test "serve: a client that trickles its request is cut off; huge headers and bodies are refused" {
	sv_setup </dev/null
	sv_start --request-timeout 1
	start=$(now_ms)
	run python3 - "$PORT" <<'EOP'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /api/pipelines HTTP/1.1\r\nHost: x\r\n")
try:
    for i in range(100):          # would take 20 s
        s.sendall(b"X")
        time.sleep(0.2)
        s.settimeout(0.01)
        try:
            if s.recv(1) == b"":
                print("closed"); break
        except socket.timeout:
            pass
        s.settimeout(None)
    else:
        print("still open")
except (BrokenPipeError, ConnectionResetError):
    print("closed")
EOP
	[ "$output" = closed ]
	[ $(($(now_ms) - start)) -lt 10000 ]
	wait_line "$T/serve.log" "connection cut off"
	# a head over the memory limit
	big=$(head -c 100000 /dev/zero | tr '\0' a)
	c=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "http://127.0.0.1:$PORT/api/pipelines" || true)
	[ "$c" = 431 ]
	# a body over the limit: refused before it is read
	head -c 200000 /dev/zero >"$T/big"
	api POST /api/pipelines/web/executions --data-binary "@$T/big" >/dev/null
	[ "$(code)" = 413 ]
	# the server still answers
	api GET /api/pipelines >/dev/null
	[ "$(code)" = 200 ]
	sv_stop
}

@test "serve: the systemd unit of docs/serve.md is one systemd takes" {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
	sed -n '/^# \/etc\/systemd\/system\/slipway.service/,/^WantedBy/p' \
		"$BATS_TEST_DIRNAME/../../docs/serve.md" |
		sed "s|/usr/local/bin/slipway|$SLIPWAY|" >"$T/slipway.service"
	grep -q '^KillMode=mixed$' "$T/slipway.service"
	grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$T/slipway.service"
	run systemd-analyze verify "$T/slipway.service"
	[ "$status" = 0 ]
	[ -z "$output" ]
	# its command line is one the server takes
	sed -n '/^ExecStart=/,/--grace/p' "$T/slipway.service" | grep -q -- '--token-file /etc/slipway/tokens'
	run "$SLIPWAY" serve --listen 127.0.0.1:8080 --pipelines /nonexistent \
		--token-file /nonexistent --state-dir "$STATE" --grace 10m
	[ "$status" = 111 ]
	[[ "$output" == *"/nonexistent"* ]]
}

@test "serve: nothing in a request becomes a command: revisions, variables, ids and names are data" {
	sv_setup </dev/null
	sv_start
	pwn="touch $T/pwned"
	for rev in "\$($pwn)" "; $pwn" "--upload-pack=$pwn" "main\`$pwn\`"; do
		api POST /api/pipelines/web/executions \
			-d "$(jq -cn --arg r "$rev" '{revision: $r}')" >/dev/null
		[ "$(code)" = 200 ]
	done
	api POST /api/pipelines/web/executions \
		-d "$(jq -cn --arg v "\$($pwn)" '{variables: [{name: "Env", value: $v}]}')" >/dev/null
	[ "$(code)" = 200 ]
	api POST /api/pipelines/web/executions \
		-d "$(jq -cn --arg n "X=\$($pwn)" '{variables: [{name: $n, value: "v"}]}')" >/dev/null
	[ "$(code)" = 400 ]
	enc=$(jq -rn --arg s "\$($pwn)" '$s | @uri')
	api POST "/api/executions/pe-$enc/approve" >/dev/null
	[ "$(code)" = 404 ]
	api POST "/api/pipelines/web$enc/executions" >/dev/null
	[ "$(code)" = 404 ]
	# every execution ended (those at a bad revision failed to fetch)
	for id in $(api GET /api/pipelines/web/executions | jq -r '.pipelineExecutionSummaries[].pipelineExecutionId'); do
		wait_ended "$id"
	done
	[ ! -e "$T/pwned" ]
	sv_stop
}

@test "serve: the bodies held at once are capped: many large uploads at a time get 503, and the room comes back" {
	sv_setup </dev/null
	# API bodies take 64 KiB at most: 4 of them at once are the budget
	sv_start --max-body 1K
	run python3 - "$PORT" "$TOK" <<'EOP'
import select, socket, sys
port, tok = int(sys.argv[1]), sys.argv[2]
def start():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("POST /api/pipelines/web/executions HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
               "Content-Length: 60000\r\n\r\n" % tok).encode() + b" " * 100)
    return s
def status(s):
    s.settimeout(30)
    return s.recv(64).split(b" ")[1].decode()
five = [start() for _ in range(5)]
# one of the five, whichever came last, is refused at once
ready, _, _ = select.select(five, [], [], 10)
print(len(ready), status(ready[0]))
held = [s for s in five if s is not ready[0]]
for s in held:       # the rest of their bodies: a JSON object of spaces
    s.sendall(b" " * (60000 - 102) + b"{}")
print(" ".join(status(s) for s in held))
# the room comes back as those requests end (just after their answers)
for attempt in range(100):
    sixth = start()
    st = None
    r, _, _ = select.select([sixth], [], [], 0.2)
    if r:
        st = status(sixth)
    else:
        sixth.sendall(b" " * (60000 - 102) + b"{}")
        st = status(sixth)
    if st != "503":
        break
print(st)
EOP
	[ "${lines[0]}" = "1 503" ]
	[ "${lines[1]}" = "200 200 200 200" ]
	[ "${lines[2]}" = 200 ]
	sv_stop
}

@test "serve: a server killed outright leaves its runners to finish their executions, which the next start leaves alone" {
	sv_setup </dev/null
	mkfifo "$T/go"
	printf '#!/bin/sh\necho step >>%s/ran\nread x <%s/go\necho step-done >>%s/ran\n' "$T" "$T" "$T" >"$T/step.sh"
	sv_start
	id=$(api POST /api/pipelines/web/executions | jq -r .pipelineExecutionId)
	wait_line "$T/ran" '^step$'
	kill -KILL "$SV_PID"
	sv_wait 20
	# the runner writes to a server that is gone, and goes on
	echo x >"$T/go"
	for i in $(seq 600); do
		s=$("$SLIPWAY" pipeline show "$id" --json --state-dir "$STATE" | jq -r .pipelineExecution.status)
		[ "$s" = InProgress ] || break
		sleep 0.1
	done
	[ "$s" = Succeeded ]
	sv_start
	run api GET "/api/executions/$id"
	[ "$(echo "$output" | jq -r .pipelineExecution.status)" = Succeeded ]
	! grep -q "$id: resuming" "$T/serve.log" || false
	[ "$(grep -c '^step$' "$T/ran")" = 1 ]
	sv_stop
}

@test "serve: a deployment through the API: GetDeployment of the pipeline's CodeDeploy action" {
	sv_setup <<'EOB'
    - name: Deploy
      actions:
        - name: Ship
          actionTypeId: {category: Deploy, owner: AWS, provider: CodeDeploy, version: "1"}
          configuration: {ApplicationName: app, DeploymentGroupName: staging}
          inputArtifacts: [{name: Src}]
EOB
	printf 'version: 0.0\nos: linux\nfiles:\n  - source: f.txt\n    destination: /srv/app\n' >"$T/repo/appspec.yml"
	(cd "$T/repo" && git add -A && git -c user.email=t@example.com -c user.name=t commit -qm appspec)
	printf 'application: app\ndeployment-group: staging\nhosts:\n  - name: h1\n' >"$T/fleet.yml"
	echo "  deployment-groups: {app/staging: $T/fleet.yml}" >>"$T/pl/web.yml"
	sv_start
	id=$(api POST /api/pipelines/web/executions | jq -r .pipelineExecutionId)
	wait_status "$id" Succeeded
	did=$(api GET "/api/executions/$id" | jq -r '.stageStates[2].actionStates[0].latestExecution.externalExecutionId')
	[[ "$did" == d-* ]]
	run api GET "/api/deployments/$did"
	[ "$(code)" = 200 ]
	[ "$(echo "$output" | jq -r .deploymentId)" = "$did" ]
	[ "$(echo "$output" | jq -r .status)" = Succeeded ]
	api GET "/api/deployments/d-NOPE" >/dev/null
	[ "$(code)" = 404 ]
	api GET "/api/deployments/..%2F..%2Fetc" >/dev/null
	[ "$(code)" = 404 ]
	sv_stop
}
