# Shared by the serve suites: a git repository and a pipeline file, a
# real `slipway serve` on a free loopback port, and curl against it.
#
#   load helpers
#   load serve_helpers
#   sv_setup </dev/null    $T/repo, $T/pl/web.yml (stdin: more stages)
#   sv_start [options]     SV_PID, PORT; its log is $T/serve.log
#   api GET /api/pipelines the body on stdout, the status by `code`
#   wait_status ID Succeeded
#   sv_stop                SIGTERM, then SV_STATUS

TOK=0123456789abcdef-test-token

# A git repository $T/repo and the pipeline $T/pl/web.yml: Source, then a
# Build stage whose Commands action runs $T/step.sh (which the test may
# rewrite), then what stdin adds as more stages.
sv_setup() {
	mkdir -p "$T/repo" "$T/pl"
	(
		cd "$T/repo"
		git init -q -b main
		echo hello >f.txt
		git add -A
		git -c user.email=t@example.com -c user.name=t commit -qm init
	)
	printf '%s alice\n' "$TOK" >"$T/tokens"
	printf '#!/bin/sh\necho step ran\n' >"$T/step.sh"
	chmod +x "$T/step.sh"
	{
		cat <<EOB
pipeline:
  name: web
  variables:
    - {name: Env, defaultValue: test}
  stages:
    - name: Source
      actions:
        - name: Src
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
          configuration: {RepositoryName: app, BranchName: main}
          outputArtifacts: [{name: Src}]
    - name: Build
      actions:
        - name: Step
          actionTypeId: {category: Compute, owner: AWS, provider: Commands, version: "1"}
          commands: ["$T/step.sh"]
          inputArtifacts: [{name: Src}]
EOB
		cat
		cat <<EOB
slipway:
  sources: {app: $T/repo}
EOB
	} >"$T/pl/web.yml"
}

# Start the server in the background (extra options in "$@"); sets
# SV_PID and PORT once it listens. Its log is $T/serve.log.
sv_start() {
	rm -f "$T/port"
	"$SLIPWAY" serve --listen 127.0.0.1:0 --port-file "$T/port" \
		--state-dir "$STATE" --token-file "$T/tokens" \
		--pipelines "$T/pl" "$@" 2>>"$T/serve.log" 3>&- &
	SV_PID=$!
	local i
	for i in $(seq 100); do
		[ -s "$T/port" ] && break
		kill -0 "$SV_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -s "$T/port" ]; then
		cat "$T/serve.log" >&2
		return 1
	fi
	PORT=$(cat "$T/port")
}

# Stop it (SIGTERM) and wait for it; SV_STATUS is its exit status.
sv_stop() {
	kill -TERM "$SV_PID" 2>/dev/null || true
	sv_wait 20
}

sv_wait() {
	local i
	for i in $(seq $(($1 * 10))); do
		kill -0 "$SV_PID" 2>/dev/null || break
		sleep 0.1
	done
	SV_STATUS=0
	if kill -0 "$SV_PID" 2>/dev/null; then
		kill -KILL "$SV_PID"
		echo "the server did not end within $1 s" >&2
		return 1
	fi
	wait "$SV_PID" || SV_STATUS=$?
}

teardown() {
	if [ -n "${SV_PID:-}" ] && kill -0 "$SV_PID" 2>/dev/null; then
		kill -KILL "$SV_PID" 2>/dev/null || true
	fi
	local p
	for p in $(pgrep -f "sleep 1000\\.$MARK"); do
		kill -KILL "$p" 2>/dev/null || true
	done
	# runners outlive their server by design: those of a failed test,
	# and what they run, name this test's directory
	for p in $(pgrep -f -- "$T/"); do
		[ "$p" = "$$" ] || kill -KILL "$p" 2>/dev/null || true
	done
}

# api METHOD PATH [curl args]: the body on stdout, the status in $T/code.
api() {
	local m=$1 p=$2
	shift 2
	curl -s --max-time 60 -o "$T/body" -w '%{http_code}' -X "$m" \
		-H "Authorization: Bearer $TOK" "http://127.0.0.1:$PORT$p" \
		"$@" >"$T/code"
	cat "$T/body"
}

code() {
	cat "$T/code"
}

# Wait (up to 60 s) until the execution's status is $2.
wait_status() {
	local i s
	for i in $(seq 600); do
		s=$(api GET "/api/executions/$1" | jq -r .pipelineExecution.status)
		[ "$s" = "$2" ] && return 0
		sleep 0.1
	done
	echo "execution $1 is $s, not $2" >&2
	return 1
}

# Wait (up to 60 s) until the execution has ended, whichever way.
wait_ended() {
	local i s
	for i in $(seq 600); do
		s=$(api GET "/api/executions/$1" | jq -r .pipelineExecution.status)
		case $s in InProgress | Stopping) ;; *) return 0 ;; esac
		sleep 0.1
	done
	echo "execution $1 is still $s" >&2
	return 1
}

# Wait (up to 60 s) until the file $1 holds a line matching $2.
wait_line() {
	local i
	for i in $(seq 600); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "no line '$2' in $1" >&2
	return 1
}

