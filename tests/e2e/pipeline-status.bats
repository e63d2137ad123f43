#!/usr/bin/env bats
# slipway pipeline: commit statuses for the sources named in
# slipway.statuses, sent by the detached deliverer to a local stand-in
# for each forge's API (receiver.py with RECEIVER_FORGE=1).

load helpers

teardown() {
	[ -z "$RECV" ] || kill "$RECV" 2>/dev/null || true
}

# A git repository acme/web with one commit; sets $SHA.
st_repo() {
	mkdir -p "$T/web"
	git -C "$T/web" init -q -b main
	echo hi >"$T/web/a.txt"
	git -C "$T/web" add -A
	git -C "$T/web" -c user.name=t -c user.email=t@example.com \
		commit -q -m one
	SHA=$(git -C "$T/web" rev-parse HEAD)
}

# The pipeline: its source reports to forge $1 at API base $2; the
# command action runs $3 (default true).
st_file() {
	st_repo
	echo "tok-123" >"$T/token"
	cat >"$T/pl.yml" <<EOB
pipeline:
  name: web
  stages:
    - name: Source
      actions:
        - name: Src
          actionTypeId: {category: Source, owner: AWS, provider: CodeStarSourceConnection, version: "1"}
          configuration: {ConnectionArn: x, FullRepositoryId: acme/web, BranchName: main}
          outputArtifacts: [{name: Src}]
    - name: Build
      actions:
        - name: B
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: '${3:-true}'}
          inputArtifacts: [{name: Src}]
slipway:
  sources: {acme/web: ./web}
  statuses:
    acme/web: {forge: $1, api: "$2", token-file: token}
EOB
}

receiver() { # [fails]
	RECEIVER_FORGE=1 python3 "$BATS_TEST_DIRNAME/receiver.py" "$T/port" \
		"$T/recv.log" "${1:-0}" </dev/null >/dev/null 2>&1 3>&- &
	RECV=$!
	for _ in $(seq 100); do
		[ -f "$T/port" ] && break
		sleep 0.05
	done
	PORT=$(cat "$T/port")
}

st_start() {
	run env SLIPWAY_PUBLIC_URL=https://ci.example.com/ "$SLIPWAY" \
		pipeline start "$T/pl.yml" --state-dir "$STATE"
	PE=$(printf '%s\n' "$output" | grep -o 'pe-[0-9a-z-]*' | head -1)
}

# Wait until the deliverer has sent everything queued.
delivered() {
	flock -w 60 "$STATE/executions/$PE/notify/status-0.lock" true
}

@test "pipeline-status: GitHub gets pending, then success, for the commit built" {
	receiver
	st_file github "http://127.0.0.1:$PORT/api/v3/"
	st_start
	[ "$status" -eq 0 ]
	delivered
	[ "$(wc -l <"$T/recv.log")" -eq 2 ]
	[ "$(cut -d' ' -f1-3 "$T/recv.log" | sort -u)" = "201 /api/v3/repos/acme/web/statuses/$SHA Bearer+tok-123" ]
	[ "$(cut -d' ' -f4- "$T/recv.log" | jq -r .state)" = "pending
success" ]
	[ "$(cut -d' ' -f4- "$T/recv.log" | jq -r .context | sort -u)" = slipway/web ]
	[ "$(cut -d' ' -f4- "$T/recv.log" | jq -r .target_url | sort -u)" = "https://ci.example.com/executions/$PE" ]
	[ "$(sed -n 2p "$T/recv.log" | cut -d' ' -f4- | jq -r .description)" = "web: succeeded" ]
	# the token was never written under the state directory
	! grep -rq tok-123 "$STATE" || false
	[ ! -s "$STATE/executions/$PE/notifications.log" ]
}

@test "pipeline-status: a failed execution is a failure on Gitea" {
	receiver
	st_file gitea "http://127.0.0.1:$PORT/api/v1" false
	st_start
	[ "$status" -eq 1 ]
	delivered
	[ "$(cut -d' ' -f2,3 "$T/recv.log" | sort -u)" = "/api/v1/repos/acme/web/statuses/$SHA token+tok-123" ]
	[ "$(cut -d' ' -f4- "$T/recv.log" | jq -r .state)" = "pending
failure" ]
}

@test "pipeline-status: GitLab gets running then success" {
	receiver
	st_file gitlab "http://127.0.0.1:$PORT/api/v4"
	st_start
	[ "$status" -eq 0 ]
	delivered
	[ "$(cut -d' ' -f1-3 "$T/recv.log" | sort -u)" = "201 /api/v4/projects/acme%2Fweb/statuses/$SHA tok-123" ]
	[ "$(cut -d' ' -f4- "$T/recv.log" | jq -r '.state + " " + .name')" = "running slipway/web
success slipway/web" ]
}

@test "pipeline-status: GitLab's 400 for the state a commit already has is no failure" {
	receiver
	st_file gitlab "http://127.0.0.1:$PORT/api/v4" false
	st_start
	[ "$status" -eq 1 ]
	delivered
	# a retry fails again: the same state, which GitLab refuses
	run "$SLIPWAY" pipeline retry "$PE" --state-dir "$STATE"
	[ "$status" -eq 1 ]
	delivered
	[ "$(cut -d' ' -f1 "$T/recv.log" | tr '\n' ' ')" = "201 201 400 " ]
	[ "$(cut -d' ' -f4- "$T/recv.log" | jq -r .state | tr '\n' ' ')" = "running failed failed " ]
	[ ! -s "$STATE/executions/$PE/notifications.log" ]
}

@test "pipeline-status: GitHub's rate limit (403) is waited out" {
	receiver 1
	st_file github "http://127.0.0.1:$PORT"
	st_start
	[ "$status" -eq 0 ]
	delivered
	[ "$(cut -d' ' -f1 "$T/recv.log" | tr '\n' ' ')" = "403 201 201 " ]
	[ "$(grep '^201 ' "$T/recv.log" | cut -d' ' -f4- | jq -r .state | tr '\n' ' ')" = "pending success " ]
	grep -q "HTTP status 403; attempt 2 of 4" "$STATE/executions/$PE/notifications.log"
	! grep -q "not delivered" "$STATE/executions/$PE/notifications.log" || false
}

@test "pipeline-status: a forge that is down never holds the pipeline" {
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	st_file github "http://127.0.0.1:$port"
	t0=$(date +%s%N)
	st_start
	t1=$(date +%s%N)
	[ "$status" -eq 0 ]
	[ $(((t1 - t0) / 1000000)) -lt 5000 ]
	delivered
	log=$STATE/executions/$PE/notifications.log
	grep -q "commit status 'acme/web': POST http://127.0.0.1:$port/repos/acme/web/statuses/$SHA: Couldn't connect to server; attempt 2 of 4" "$log"
	[ "$(grep -c 'status not delivered' "$log")" -eq 2 ]
}
