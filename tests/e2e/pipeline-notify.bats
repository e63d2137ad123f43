#!/usr/bin/env bats
# slipway pipeline: events POSTed to slipway.notifications URL targets by
# a detached deliverer: in order, retried, never holding the pipeline.

load helpers

teardown() {
	[ -z "$RECV" ] || kill "$RECV" 2>/dev/null || true
}

# A pipeline (a directory source, a Commands action) notifying the URL $1.
np_file() {
	mkdir -p "$T/src"
	echo hi >"$T/src/a.txt"
	cat >"$T/pl.yml" <<EOB
pipeline:
  name: web
  stages:
    - name: Source
      actions:
        - name: Src
          actionTypeId: {category: Source, owner: AWS, provider: S3, version: "1"}
          configuration: {S3Bucket: b, S3ObjectKey: k}
          outputArtifacts: [{name: Src}]
    - name: Two
      actions:
        - name: B
          actionTypeId: {category: Compute, owner: AWS, provider: Commands, version: "1"}
          commands: ['true']
          inputArtifacts: [{name: Src}]
slipway:
  sources: {b/k: ./src}
  notifications: {team: {url: "$1"}}
EOB
}

# Start the receiver (failing its first $1 requests); sets $PORT.
receiver() {
	python3 "$BATS_TEST_DIRNAME/receiver.py" "$T/port" "$T/recv.log" "$1" \
		</dev/null >/dev/null 2>&1 3>&- &
	RECV=$!
	for _ in $(seq 100); do
		[ -f "$T/port" ] && break
		sleep 0.05
	done
	PORT=$(cat "$T/port")
}

np_start() {
	run "$SLIPWAY" pipeline start "$T/pl.yml" --state-dir "$STATE"
	PE=$(printf '%s\n' "$output" | grep -o 'pe-[0-9a-z-]*' | head -1)
	EV=$STATE/executions/$PE/events.jsonl
}

# Wait for the deliverer: it holds the lock until the spool is drained.
delivered() {
	flock -w 60 "$STATE/executions/$PE/notify/0.lock" true
}

@test "pipeline-notify: every event is POSTed as JSON, in order" {
	receiver 0
	np_file "http://127.0.0.1:$PORT/events"
	np_start
	[ "$status" -eq 0 ]
	delivered
	[ "$(wc -l <"$EV")" -eq 10 ]
	[ "$(cut -d' ' -f1,2 "$T/recv.log" | sort -u)" = "200 application/json" ]
	[ "$(cut -d' ' -f3- "$T/recv.log" | jq -c .)" = "$(jq -c . "$EV")" ]
	[ "$(cut -d' ' -f3- "$T/recv.log" | jq -r '[.["detail-type"][13:], .detail.stage // "-", .detail.action // "-", .detail.state] | join(" ")')" = "Pipeline Execution State Change - - STARTED
Stage Execution State Change Source - STARTED
Action Execution State Change Source Src STARTED
Action Execution State Change Source Src SUCCEEDED
Stage Execution State Change Source - SUCCEEDED
Stage Execution State Change Two - STARTED
Action Execution State Change Two B STARTED
Action Execution State Change Two B SUCCEEDED
Stage Execution State Change Two - SUCCEEDED
Pipeline Execution State Change - - SUCCEEDED" ]
	[ ! -s "$STATE/executions/$PE/notifications.log" ]
}

@test "pipeline-notify: a 500 is retried and the event gets through" {
	receiver 1
	np_file "http://127.0.0.1:$PORT/events"
	np_start
	[ "$status" -eq 0 ]
	delivered
	first=$(head -1 "$EV" | jq -r .id)
	[ "$(sed -n 1p "$T/recv.log" | cut -d' ' -f1)" = 500 ]
	[ "$(sed -n 1p "$T/recv.log" | cut -d' ' -f3- | jq -r .id)" = "$first" ]
	[ "$(sed -n 2p "$T/recv.log" | cut -d' ' -f1)" = 200 ]
	[ "$(sed -n 2p "$T/recv.log" | cut -d' ' -f3- | jq -r .id)" = "$first" ]
	[ "$(grep '^200 ' "$T/recv.log" | cut -d' ' -f3- | jq -c .)" = "$(jq -c . "$EV")" ]
	grep -q "HTTP status 500; attempt 2 of 4" "$STATE/executions/$PE/notifications.log"
	! grep -q "not delivered" "$STATE/executions/$PE/notifications.log" || false
}

@test "pipeline-notify: a receiver that is down never holds the pipeline" {
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	np_file "http://127.0.0.1:$port/events"
	t0=$(date +%s%N)
	np_start
	t1=$(date +%s%N)
	[ "$status" -eq 0 ]
	# it finished while the first event was still being retried (6.2 s)
	! flock -n "$STATE/executions/$PE/notify/0.lock" true || false
	[ $(((t1 - t0) / 1000000)) -lt 5000 ]
	delivered
	log=$STATE/executions/$PE/notifications.log
	grep -q "Couldn't connect to server; attempt 4 of 4 in 5000 ms" "$log"
	[ "$(grep -c 'event not delivered' "$log")" -eq "$(wc -l <"$EV")" ]
	[ "$(cat "$STATE/executions/$PE/notify/0.off")" -eq "$(wc -c <"$EV")" ]
}

@test "pipeline-notify: events after an approval follow on, in order, once" {
	receiver 0
	np_file "http://127.0.0.1:$PORT/events"
	# a manual approval between the source and the Commands stage
	sed -i 's|^    - name: Two$|    - name: Gate\
      actions:\
        - name: Approve\
          actionTypeId: {category: Approval, owner: AWS, provider: Manual, version: "1"}\
&|' "$T/pl.yml"
	np_start
	[ "$status" -eq 5 ]
	delivered
	[ "$(wc -l <"$T/recv.log")" -eq "$(wc -l <"$EV")" ]
	run "$SLIPWAY" pipeline approve "$PE" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	delivered
	[ "$(jq -r .detail.state "$EV" | tail -1)" = SUCCEEDED ]
	[ "$(cut -d' ' -f3- "$T/recv.log" | jq -c .)" = "$(jq -c . "$EV")" ]
}
