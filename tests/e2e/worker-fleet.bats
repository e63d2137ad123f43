#!/usr/bin/env bats
# One server and three workers, each a process of its own in a network
# namespace of its own (where they can be made), reaching the server only
# over its address (--server URL, their own state directories): 30
# queued builds spread over all of them, labels honoured, then a worker
# killed mid-build and its build finished by another, and the server
# killed and restarted mid-run, with nothing lost. Then the same with
# workers that share the server's files (no --server). The store is
# SQLite; worker-postgres.bats runs the file again on PostgreSQL.

load helpers
load serve_helpers
load worker_helpers

eval "$(declare -f teardown | sed '1s/^teardown/sv_teardown/')"
teardown() {
	sv_teardown
	fl_net_down
}

# Three network namespaces swk-$MARK-I, each joined to this one by a veth
# pair on a /29 of 10.214.X.0/24 with its default route through this
# end; the server listens on FL_ADDR, this end of namespace 1's pair, so
# a worker reaches it only by routing there. Where namespaces cannot be
# made (not root, no ip), FL_NS stays empty, FL_ADDR is 127.0.0.1 and the
# test says so.
fl_net_up() {
	local x= try i ns
	FL_NS=()
	FL_ADDR=127.0.0.1
	if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null ||
		! ip netns add "swk-$MARK-1" 2>"$T/netns.err"; then
		echo "# no network namespaces here (not root, no ip, or: $(cat "$T/netns.err" 2>/dev/null)): the workers share the server's network" >&3
		return 0
	fi
	echo 1 >"$T/fl_count"
	# a free /24: creating its first link reserves it
	for ((try = 0; try < 250; try++)); do
		x=$(((MARK + try) % 250 + 1))
		ip link add "swk$x-1" type veth peer name "swn$x-1" 2>/dev/null &&
			break
		x=
	done
	[ -n "$x" ]
	echo "$x" >"$T/fl_net"
	echo 3 >"$T/fl_count"
	for i in 1 2 3; do
		ns=swk-$MARK-$i
		FL_NS[i]=$ns
		if [ "$i" -gt 1 ]; then
			ip netns add "$ns"
			ip link add "swk$x-$i" type veth peer name "swn$x-$i"
		fi
		ip link set "swn$x-$i" netns "$ns"
		ip addr add "10.214.$x.$((8 * i + 1))/29" dev "swk$x-$i"
		ip link set "swk$x-$i" up
		ip -n "$ns" link set lo up
		ip -n "$ns" addr add "10.214.$x.$((8 * i + 2))/29" dev "swn$x-$i"
		ip -n "$ns" link set "swn$x-$i" up
		ip -n "$ns" route add default via "10.214.$x.$((8 * i + 1))"
	done
	FL_ADDR=10.214.$x.9
}

fl_net_down() {
	local n x i t pids
	[ -f "$T/fl_count" ] || return 0
	n=$(<"$T/fl_count")
	x=$(cat "$T/fl_net" 2>/dev/null) || x=
	for ((i = 1; i <= n; i++)); do
		for ((t = 0; t < 20; t++)); do
			pids=$(ip netns pids "swk-$MARK-$i" 2>/dev/null) || break
			[ -n "$pids" ] || break
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
			sleep 0.1
		done
		ip netns del "swk-$MARK-$i" 2>/dev/null || true
		[ -z "$x" ] || ip link del "swk$x-$i" 2>/dev/null || true
	done
	rm -f "$T/fl_count"
}

# The server on FL_ADDR (port PORT once it has one), no local workers.
fl_serve() {
	rm -f "$T/port"
	"$SLIPWAY" serve --listen "$FL_ADDR:${PORT:-0}" --port-file "$T/port" \
		--state-dir "$STATE" --token-file "$T/tokens" \
		--pipelines "$T/pl" --workers 0 2>>"$T/serve.log" 3>&- &
	SV_PID=$!
	wait_line "$T/port" .
	PORT=$(cat "$T/port")
	ADDR=$FL_ADDR
}

# fl_worker I NAME [options]: a worker in namespace I, its pid in
# WK_<NAME>, its state directory $T/NAME; with FL_LOCAL=1 one that shares
# the server's files instead of using --server.
fl_worker() {
	local i=$1 name=$2 far=()
	shift 2
	[ -n "${FL_LOCAL:-}" ] ||
		far=(--server "http://$FL_ADDR:$PORT" --token-file "$T/worker-token")
	${FL_NS[i]:+ip netns exec "${FL_NS[i]}"} "$SLIPWAY" worker \
		--db "${SLIPWAY_DB:-$STATE/slipway.db}" --state-dir "$T/$name" \
		--name "$name" --lease 2s "${far[@]}" "$@" \
		2>>"$T/$name.log" 3>&- &
	eval "WK_$name=$!"
	wait_line "$T/$name.log" "worker $name: ready"
}

fl_api() { # METHOD PATH: the body
	curl -s --max-time 60 -X "$1" -H "Authorization: Bearer $TOK" \
		"http://$FL_ADDR:$PORT$2"
}

# The whole scenario: with FL_LOCAL=1, workers that share the server's
# files on its network; else over HTTP, in namespaces where possible.
fl_scenario() {
	if [ -z "${FL_LOCAL:-}" ]; then
		fl_net_up
	else
		FL_NS=()
		FL_ADDR=127.0.0.1
	fi
	# the first three builds wait (bounded) until three run at once, one
	# per worker; once $T/phase2 exists each build waits for $T/gate
	cat >"$T/build.sh" <<EOB
echo x >>"$T/running"
i=0
while [ "\$(wc -l <"$T/running")" -lt 3 ] && [ \$i -lt 600 ]; do
	sleep 0.05
	i=\$((i + 1))
done
if [ -e "$T/phase2" ]; then
	echo x >>"$T/waiting"
	i=0
	while [ ! -e "$T/gate" ] && [ \$i -lt 1200 ]; do
		sleep 0.05
		i=\$((i + 1))
	done
fi
EOB
	PROJECT_OPTS='runs-on: [linux]' wk_setup 10 <<'EOB'
    - name: Heavy
      actions:
        - name: H
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: heavy}
          inputArtifacts: [{name: Src}]
EOB
	sed -i 's|^  projects: {app: {runs-on: \[linux\]}}$|  projects: {app: {runs-on: [linux]}, heavy: {runs-on: [big]}}|' \
		"$T/pl/web.yml"
	grep -q 'heavy: {runs-on: \[big\]}' "$T/pl/web.yml"
	printf '%s\n' "$TOK" >"$T/worker-token"
	fl_serve
	fl_worker 1 w1 --labels linux
	fl_worker 2 w2 --labels linux
	fl_worker 3 w3 --labels linux,big
	ids=
	for n in 1 2 3; do
		ids="$ids $(fl_api POST /api/pipelines/web/executions | jq -r .pipelineExecutionId)"
	done
	for id in $ids; do
		wait_status_at "$id" Succeeded || {
			tail -n 5 "$T"/w*.log "$STATE/executions/$id"/actions/*/log >&2
			false
		}
	done
	# 30 builds of app (and 3 of heavy), each run once, spread over all
	[ "$(jobs_sql "SELECT count(*) FROM jobs WHERE kind = 'build' AND labels = 'linux' AND status = 'done' AND outcome = 'Succeeded' AND attempt = 1")" = 30 ]
	[ "$(wc -l <"$T/running")" = 33 ]
	for w in w1 w2 w3; do
		[ "$(jobs_sql "SELECT count(*) FROM jobs WHERE kind = 'build' AND labels = 'linux' AND owner = '$w'")" -ge 1 ]
		# in its own state directory, its input fetched from the server
		[ "$(ls "$T/$w/builds" | wc -l)" -ge 1 ]
		[ -n "${FL_LOCAL:-}" ] ||
			[ "$(ls "$T/$w/inputs" | grep -c '^[0-9a-f]\{64\}$')" -ge 1 ]
	done
	# heavy wants big: only w3 has it
	run jobs_sql "SELECT count(*) || ' ' || min(owner) || ' ' || max(owner) FROM jobs WHERE kind = 'build' AND labels = 'big'"
	[ "$output" = "3 w3 w3" ]
	if [ -n "${FL_NS[1]:-}" ]; then
		# a worker's namespace has no route to this one's loopback
		run ip netns exec "${FL_NS[1]}" curl -s --max-time 2 "http://127.0.0.1:$PORT/api/pipelines"
		[ "$status" != 0 ]
	fi

	# phase 2: each worker holds a build of a fourth execution
	touch "$T/phase2"
	id4=$(fl_api POST /api/pipelines/web/executions | jq -r .pipelineExecutionId)
	for i in $(seq 600); do
		[ "$(wc -l <"$T/waiting" 2>/dev/null)" = 3 ] && break
		sleep 0.1
	done
	[ "$(wc -l <"$T/waiting")" = 3 ]
	# the server killed and restarted on its address: the executions are
	# all there, the fourth still running
	kill -KILL "$SV_PID"
	wait "$SV_PID" || true
	fl_serve
	for id in $ids; do
		[ "$(fl_api GET "/api/executions/$id" | jq -r .pipelineExecution.status)" = Succeeded ]
	done
	[ "$(fl_api GET "/api/executions/$id4" | jq -r .pipelineExecution.status)" = InProgress ]
	# w1 killed mid-build; a new worker takes its place in its network
	kill -KILL "$WK_w1"
	wait "$WK_w1" 2>/dev/null || true
	fl_worker 1 w4 --labels linux
	touch "$T/gate"
	wait_status_at "$id4" Succeeded
	# w1's build ran again elsewhere as attempt 2, the only one
	run jobs_sql "SELECT attempt, reason FROM jobs WHERE kind = 'build' AND attempt > 1"
	[ "$output" = "2|worker 'w1' lost its lease on attempt 1" ]
	[ "$(jobs_sql "SELECT owner FROM jobs WHERE kind = 'build' AND attempt = 2")" != w1 ]
	[ "$(jobs_sql "SELECT count(*) FROM jobs WHERE kind = 'build' AND status = 'done' AND outcome = 'Succeeded'")" = 44 ]
	# its report says so
	run "$SLIPWAY" pipeline show "$id4" --state-dir "$STATE" --json
	a=$(echo "$output" | jq -c '[.stageStates[].actionStates[].latestExecution | select(.outputVariables.SLIPWAY_JOB_ATTEMPT == "2")]')
	[ "$(echo "$a" | jq length)" = 1 ]
	[ "$(echo "$a" | jq -r '.[0].outputVariables.SLIPWAY_JOB_REASON')" = "worker 'w1' lost its lease on attempt 1" ]
	[[ "$(echo "$a" | jq -r '.[0].outputVariables.SLIPWAY_WORKER')" == w[234] ]]
	# 33 builds, then 11, one of them started twice
	[ "$(wc -l <"$T/running")" = 45 ]
	kill -TERM "$WK_w2" "$WK_w3" "$WK_w4"
	wait "$WK_w2" "$WK_w3" "$WK_w4"
	sv_stop
	[ "$SV_STATUS" = 0 ]
}

@test "worker-fleet: three workers in networks of their own: builds spread over all, labels honoured, a worker and the server killed mid-run, nothing lost" {
	fl_scenario
}

@test "worker-fleet: the same with workers that share the server's files" {
	FL_LOCAL=1 fl_scenario
}
