#!/usr/bin/env bats
# The dashboard of `slipway serve` (docs/dashboard.md), against a real
# server on a free loopback port: its pages with JavaScript off (curl),
# escaped, under a Content-Security-Policy; an approval from the page's
# own form (its CSRF token; without it refused); a build's log streaming
# while the build waits on fifos the test controls; artifact downloads
# that refuse to leave the artifact. With Chromium installed, the same
# in headless Chromium driven over the DevTools protocol (cdp.py): the
# login form, the approve button, the live log growing in the page.

load helpers

TOKEN=dash-token-0123456789abcdef

teardown() {
	# a fifo nobody will write any more: let what waits on it go
	local f
	for f in "$T/ship" "$T/go1" "$T/go2"; do
		# opened read-write: never blocks, even with no reader
		[ -p "$f" ] && { echo >&6; } 6<>"$f" || true
	done
	if [ -n "${SERVE_PID:-}" ]; then
		kill -TERM "$SERVE_PID" 2>/dev/null || true
		wait "$SERVE_PID" 2>/dev/null || true
	fi
	[ -z "${CURL_PID:-}" ] || kill "$CURL_PID" 2>/dev/null || true
	[ -z "${SW_PID:-}" ] || kill "$SW_PID" 2>/dev/null || true
}

# $T/pl.yml: Source (a directory), Build (CodeBuild, artifact out.txt),
# Gate (a manual approval), Ship (a command).
dash_pipeline() {
	mkdir -p "$T/src"
	cat >"$T/src/buildspec.yml" <<'EOB'
version: 0.2
phases:
  build:
    commands:
      - echo hi >out.txt
      - mkdir -p sub && echo deep >sub/deep.txt
artifacts:
  files: [out.txt, sub/deep.txt]
EOB
	# Ship waits on the fifo $T/ship with SHIP_WAIT set
	SHIP="echo shipped"
	if [ -n "${SHIP_WAIT:-}" ]; then
		mkfifo "$T/ship"
		SHIP="cat '$T/ship'"
		printf 'echo go >"%s"\n' "$T/ship" >"$T/ship.sh"
	fi
	cat >"$T/pl.yml" <<EOB
pipeline:
  name: web
  variables:
    - {name: Env, defaultValue: test}
  stages:
    - name: Source
      actions:
        - name: Src
          actionTypeId: {category: Source, owner: AWS, provider: S3, version: "1"}
          configuration: {S3Bucket: b, S3ObjectKey: src}
          outputArtifacts: [{name: Src}]
    - name: Build
      actions:
        - name: Build
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: b}
          inputArtifacts: [{name: Src}]
          outputArtifacts: [{name: Built}]
    - name: Gate
      actions:
        - name: Approve
          actionTypeId: {category: Approval, owner: AWS, provider: Manual, version: "1"}
          configuration: {CustomData: "ship it?"}
    - name: Ship
      actions:
        - name: Say
          actionTypeId: {category: Compute, owner: AWS, provider: Commands, version: "1"}
          commands: ["$SHIP"]
          inputArtifacts: [{name: Built}]
slipway:
  sources: {b/src: ./src}
  projects: {b: {}}
EOB
}

# Start `slipway serve` on a free port; sets SERVE_PID and URL.
serve_start() {
	printf '%s alice\n' "$TOKEN" >"$T/tokens"
	"$SLIPWAY" serve --listen 127.0.0.1:0 --pipelines "$T/pl.yml" \
		--state-dir "$STATE" --token-file "$T/tokens" \
		--port-file "$T/port" --grace 5s >"$T/serve.log" 2>&1 3>&- &
	SERVE_PID=$!
	for _ in $(seq 200); do
		[ -s "$T/port" ] && break
		kill -0 "$SERVE_PID" || break
		sleep 0.05
	done
	[ -s "$T/port" ] || {
		cat "$T/serve.log"
		return 1
	}
	URL=http://127.0.0.1:$(cat "$T/port")
}

# An execution waiting at Gate; sets PE.
dash_waiting() {
	run "$SLIPWAY" pipeline start "$T/pl.yml" --state-dir "$STATE" "$@"
	[ "$status" -eq 5 ]
	PE=$(printf '%s\n' "$output" | grep -o 'pe-[0-9a-z-]*' | head -1)
	[ -n "$PE" ]
}

# curl as a logged-in client: -sS, the token, the headers in $T/h.
get() {
	curl -sS -D "$T/h" -H "Authorization: Bearer $TOKEN" "$@"
}

code_of() { # the status of the last response
	awk 'NR==1 {print $2}' "$T/h"
}

same() { # GOT WANT
	[ "$1" = "$2" ] || {
		echo "got '$1' want '$2'"
		return 1
	}
}

exec_status() {
	"$SLIPWAY" pipeline show "$PE" --json --state-dir "$STATE" |
		jq -r .pipelineExecution.status
}

# Read lines of the event stream on fd 4 until one matches $1, for 30 s
# at most (the stream's pings keep each read short).
sse_until() {
	local line end=$((SECONDS + 30))
	while [ "$SECONDS" -lt "$end" ] &&
		IFS= read -r -t 30 -u 4 line; do
		printf '%s\n' "$line" >>"$T/sse.seen"
		case "$line" in *$1*) return 0 ;; esac
	done
	echo "no '$1' in the stream:" >&2
	cat "$T/sse.seen" >&2
	return 1
}

# Open URL's event stream on fd 4 (a fifo curl writes into).
sse_open() {
	rm -f "$T/sse" "$T/sse.seen"
	mkfifo "$T/sse"
	curl -sSN -H "Authorization: Bearer $TOKEN" "$1" >"$T/sse" 3>&- &
	CURL_PID=$!
	exec 4<"$T/sse"
}

# grep -q that must not match (a bare "! grep" never fails a test).
lacks() {
	if grep -q "$@"; then
		echo "unexpected match: $*" >&2
		return 1
	fi
}

need_chromium() {
	command -v chromium >/dev/null || skip "chromium is not installed"
}

cdp() {
	timeout 120 python3 "$BATS_TEST_DIRNAME/cdp.py" "$@"
}

@test "dashboard: pages load without JavaScript, every value escaped, under a CSP, no inline script" {
	dash_pipeline
	serve_start
	dash_waiting -v 'Env=<script>console.error("injected")</script>'

	for p in / /history "/history?kind=build" \
		"/history?kind=execution&name=web&status=InProgress" \
		"/executions/$PE"; do
		get "$URL$p" -o "$T/page.html"
		same "$(code_of)" 200
		grep -qi '^content-security-policy: default-src .none.; style-src .self.' "$T/h"
		grep -qi '^x-frame-options: DENY' "$T/h"
		grep -q '<script src="/static/dash.js" defer></script>' "$T/page.html"
		lacks '<script>' "$T/page.html"
		lacks '<style' "$T/page.html"
		xmllint --html --noout "$T/page.html"
	done
	# the execution: its stages as columns, the variable escaped
	get "$URL/executions/$PE" -o "$T/pe.html"
	[ "$(grep -o '<div class="stage">' "$T/pe.html" | wc -l)" -eq 4 ]
	grep -qF '&lt;script&gt;console.error(&quot;injected&quot;)&lt;/script&gt;' "$T/pe.html"
	grep -q 'is waiting for approval' "$T/pe.html"
	grep -q "data-live=\"/executions/$PE?live=1&amp;v=" "$T/pe.html"
	# the front page: the pipeline, its execution, the approval's form
	get "$URL/" -o "$T/home.html"
	grep -q "href=\"/executions/$PE\"" "$T/home.html"
	grep -q '<form class="decide" method="post"' "$T/home.html"
	# history filters
	get "$URL/history?kind=build" -o "$T/b.html"
	grep -q 'href="/builds/b:' "$T/b.html"
	lacks "href=\"/executions/$PE\"" "$T/b.html"
	get "$URL/history?status=Succeeded&kind=execution" -o "$T/s.html"
	lacks "href=\"/executions/$PE\"" "$T/s.html"
	get "$URL/history?kind=nonsense" -o /dev/null
	same "$(code_of)" 400
	# the build the pipeline ran: its report's phases, its log
	local bid
	bid=$(grep -o 'href="/builds/[^"]*"' "$T/pe.html" | head -1 |
		sed 's/href="\/builds\///; s/"$//')
	[ -n "$bid" ]
	get "$URL/builds/$bid" -o "$T/build.html"
	same "$(code_of)" 200
	grep -q '<table class="phases">' "$T/build.html"
	grep -q 'echo hi' "$T/build.html"
	lacks 'data-stream' "$T/build.html"
	get "$URL/builds/$bid/log" -o "$T/build.log"
	grep -q '^text/plain' <(grep -i '^content-type:' "$T/h" | sed 's/^[^:]*: //')
	grep -q 'Running command echo hi' "$T/build.log"
	# an action's log
	get "$URL/executions/$PE/actions/Build/Build" -o "$T/act.html"
	same "$(code_of)" 200
	# the style and script, to anyone
	curl -sS -D "$T/h" "$URL/static/dash.css" -o "$T/css"
	same "$(code_of)" 200
	grep -q '.stages{' "$T/css"
	# unknown things are 404 pages, not errors
	get "$URL/executions/pe-nope" -o /dev/null
	same "$(code_of)" 404
	get "$URL/builds/nope:1" -o /dev/null
	same "$(code_of)" 404
	# no token: to the login form
	curl -sS -D "$T/h" "$URL/executions/$PE" -o /dev/null
	same "$(code_of)" 303
	# the front page's stream: a new execution appears without a reload
	local live pe1=$PE
	get "$URL/" -o "$T/home.html"
	live=$(grep -o 'data-live="[^"]*"' "$T/home.html" |
		sed 's/data-live="//; s/"$//; s/&amp;/\&/g')
	same "${live%%v=*}" "/?live=1&"
	sse_open "$URL$live"
	dash_waiting
	[ "$PE" != "$pe1" ]
	sse_until "href=\"/executions/$PE\""
	grep -q '^event: main' "$T/sse.seen"
}

@test "dashboard: an approval with the page's form and CSRF token resumes the execution; without the token it is refused" {
	dash_pipeline
	serve_start
	dash_waiting
	get "$URL/executions/$PE" -o "$T/pe.html"
	local csrf action
	csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' "$T/pe.html" | head -1 |
		sed 's/.*value="//; s/"$//')
	action=$(grep -o '<form class="decide" method="post" action="[^"]*"' \
		"$T/pe.html" | head -1 | sed 's/.*action="//; s/"$//')
	[ "${#csrf}" -eq 64 ]
	same "$action" "/executions/$PE/approval"

	# no token, a wrong one, another origin: refused, nothing decided
	get -X POST --data "stage=Gate&action=Approve&decision=approve" \
		"$URL$action" -o "$T/r.html"
	same "$(code_of)" 403
	get -X POST --data "csrf=${csrf%?}0&stage=Gate&action=Approve&decision=approve" \
		"$URL$action" -o /dev/null
	same "$(code_of)" 403
	get -X POST -H "Origin: http://evil.example" \
		--data "csrf=$csrf&stage=Gate&action=Approve&decision=approve" \
		"$URL$action" -o /dev/null
	same "$(code_of)" 403
	same "$(exec_status)" InProgress
	"$SLIPWAY" pipeline show "$PE" --state-dir "$STATE" | grep -q 'waiting'

	# the form as the page served it: approved, on to the end
	sse_open "$URL/executions/$PE?live=1"
	get -X POST -H "Origin: $URL" \
		--data "csrf=$csrf&stage=Gate&action=Approve&decision=approve&summary=looks+%3Cgood%3E" \
		"$URL$action" -o /dev/null
	same "$(code_of)" 303
	grep -qi "^location: /executions/$PE" "$T/h"
	# the page's stream sends the new page as the execution moves on
	sse_until '<dt>status</dt><dd><span class="badge st-ok">Succeeded</span>'
	same "$(exec_status)" Succeeded
	"$SLIPWAY" pipeline show "$PE" --json --state-dir "$STATE" |
		jq -e '.stageStates[] | select(.stageName == "Gate") |
			.actionStates[0].latestExecution |
			.status == "Succeeded" and .lastUpdatedBy == "alice" and
			.summary == "looks <good>"'
	get "$URL/executions/$PE" -o "$T/done.html"
	grep -q 'looks &lt;good&gt;' "$T/done.html"
	lacks '<form class="decide"' "$T/done.html"
	# nothing waits any more: a replayed form is refused by the engine
	get -X POST --data "csrf=$csrf&stage=Gate&action=Approve&decision=reject" \
		"$URL$action" -o /dev/null
	[ "$(code_of)" -ge 400 ]
	same "$(exec_status)" Succeeded
}

@test "dashboard: a rejection from the form fails the execution; Retry waits for the approval again; Stop stops it" {
	dash_pipeline
	serve_start
	dash_waiting
	get "$URL/" -o "$T/home.html"
	local csrf
	csrf=$(grep -o 'name="csrf" value="[0-9a-f]*"' "$T/home.html" | head -1 |
		sed 's/.*value="//; s/"$//')
	get -X POST --data "csrf=$csrf&stage=Gate&action=Approve&decision=reject" \
		"$URL/executions/$PE/approval" -o /dev/null
	same "$(code_of)" 303
	sse_open "$URL/executions/$PE?live=1"
	sse_until '<dt>status</dt><dd><span class="badge st-bad">Failed</span>'
	same "$(exec_status)" Failed
	kill "$CURL_PID"
	exec 4<&-
	# the failed execution's page offers Retry (and no Stop)
	get "$URL/executions/$PE" -o "$T/failed.html"
	grep -q "action=\"/executions/$PE/retry\"" "$T/failed.html"
	lacks "/executions/$PE/stop" "$T/failed.html"
	get -X POST --data "stage=x&mode=failed" "$URL/executions/$PE/retry" \
		-o /dev/null
	same "$(code_of)" 403
	same "$(exec_status)" Failed
	get -X POST --data "csrf=$csrf&mode=failed" \
		"$URL/executions/$PE/retry" -o /dev/null
	same "$(code_of)" 303
	sse_open "$URL/executions/$PE?live=1"
	sse_until 'is waiting for approval'
	same "$(exec_status)" InProgress
	# waiting: Stop
	get "$URL/executions/$PE" -o "$T/again.html"
	grep -q "action=\"/executions/$PE/stop\"" "$T/again.html"
	get -X POST --data "csrf=$csrf&mode=finish&reason=not+today" \
		"$URL/executions/$PE/stop" -o /dev/null
	same "$(code_of)" 303
	kill "$CURL_PID"
	exec 4<&-
	sse_open "$URL/executions/$PE?live=1"
	sse_until '<dt>status</dt><dd><span class="badge st-warn">Stopped</span>'
	same "$(exec_status)" Stopped
}

# A build that prints a line, says so on fifo started, then waits on go1
# to print another and on go2 to end. Sets SW_PID and BID.
waiting_build() {
	mkfifo "$T/started" "$T/go1" "$T/go2"
	spec <<EOB
version: 0.2
phases:
  build:
    commands:
      - echo first-line
      - echo started >"$T/started"
      - cat "$T/go1" >/dev/null
      - echo second-line
      - cat "$T/go2" >/dev/null
      - echo third-line
EOB
	sw_build_bg
	exec 5<>"$T/started"
	IFS= read -r -t 60 -u 5 _
	BID=$(cd "$STATE/builds" && ls -d proj:* | head -1)
	[ -n "$BID" ]
	printf 'echo go >"%s"\n' "$T/go1" >"$T/go1.sh"
	printf 'echo go >"%s"\n' "$T/go2" >"$T/go2.sh"
}

@test "dashboard: a build's log streams while it runs, and the stream ends with the build" {
	dash_pipeline
	serve_start
	waiting_build
	get "$URL/builds/$BID" -o "$T/b.html"
	same "$(code_of)" 200
	grep -q 'first-line' "$T/b.html"
	lacks 'second-line' "$T/b.html"
	grep -q 'class="live-dot"' "$T/b.html"
	# without JavaScript it reloads itself while the build runs
	grep -q 'http-equiv="refresh"' "$T/b.html"
	local stream
	stream=$(grep -o 'data-stream="[^"]*"' "$T/b.html" |
		sed 's/data-stream="//; s/"$//; s/&amp;/\&/g')
	[ -n "$stream" ]
	sse_open "$URL$stream"
	timeout 10 sh "$T/go1.sh"
	sse_until 'data: second-line'
	# the stream took up where the page ended: the first line once
	lacks 'first-line' "$T/sse.seen"
	local id2
	id2=$(grep '^id: ' "$T/sse.seen" | tail -1 | cut -d' ' -f2)
	[ "$id2" -gt 0 ]
	timeout 10 sh "$T/go2.sh"
	sse_until 'data: third-line'
	sse_until 'event: end'
	sw_wait 30
	[ "$SW_STATUS" -eq 0 ]
	# an EventSource that reconnects resumes at its Last-Event-ID, not
	# at the from= of its URL
	get -H "Last-Event-ID: $id2" "$URL/builds/$BID/log?live=1&from=0" \
		-o "$T/again"
	grep -q 'data: third-line' "$T/again"
	lacks 'second-line' "$T/again"
	grep -q 'event: end' "$T/again"
	get "$URL/builds/$BID" -o "$T/b.html"
	lacks 'data-stream' "$T/b.html"
	grep -q 'third-line' "$T/b.html"
}

@test "dashboard: artifacts by content address and by execution and name; no way out of the artifact" {
	dash_pipeline
	serve_start
	dash_waiting
	local sha
	sha=$(basename "$(readlink "$STATE/executions/$PE/artifacts/Built")")
	[ "${#sha}" -eq 64 ]
	get "$URL/executions/$PE" -o "$T/pe.html"
	grep -q "href=\"/artifacts/$sha/\"" "$T/pe.html"

	get "$URL/artifacts/$sha/" -o "$T/list.html"
	same "$(code_of)" 200
	grep -q "href=\"/artifacts/$sha/out.txt\"" "$T/list.html"
	grep -q "href=\"/artifacts/$sha/sub/\"" "$T/list.html"
	get "$URL/artifacts/$sha/out.txt" -o "$T/out.txt"
	same "$(code_of)" 200
	same "$(cat "$T/out.txt")" hi
	grep -qi '^content-disposition: attachment' "$T/h"
	get "$URL/artifacts/$sha/sub/deep.txt" -o "$T/deep.txt"
	same "$(cat "$T/deep.txt")" deep
	get "$URL/artifacts/$sha/sub" -o /dev/null
	same "$(code_of)" 303
	get -L "$URL/executions/$PE/artifacts/Built/sub/deep.txt" -o "$T/deep2.txt"
	same "$(cat "$T/deep2.txt")" deep

	# a secret beside the artifacts, and links planted in one that lead
	# to it and out of the state directory
	echo secret-data >"$STATE/artifacts/secret"
	ln -s /etc/passwd "$STATE/artifacts/$sha/abs"
	ln -s ../secret "$STATE/artifacts/$sha/up"
	ln -s ../../secret "$STATE/artifacts/$sha/sub/deep-up"
	local p
	for p in "../secret" "../../slipway.db" "sub/../../secret" \
		"%2e%2e/secret" "%2E%2E/%2e%2e/slipway.db" "sub/%2e%2e/%2e%2e/secret" \
		"..%2fsecret" "%2fetc%2fpasswd" "/etc/passwd" "abs" "up" \
		"sub/deep-up" "./out.txt"; do
		get --path-as-is "$URL/artifacts/$sha/$p" -o "$T/got"
		case "$(code_of)" in 400 | 404) ;; *)
			echo "$p: $(code_of)"
			return 1
			;;
		esac
		lacks 'secret-data' "$T/got"
		lacks 'root:' "$T/got"
	done
	for p in "../secret" "%2e%2e" "nothex" "$sha/../x"; do
		get --path-as-is "$URL/artifacts/$p/" -o "$T/got"
		[ "$(code_of)" -ge 400 ]
		lacks 'secret-data' "$T/got"
	done
	get --path-as-is "$URL/executions/$PE/artifacts/..%2f..%2fsecret/" -o "$T/got"
	[ "$(code_of)" -ge 400 ]
	get "$URL/executions/$PE/artifacts/Nope/" -o /dev/null
	same "$(code_of)" 404
}

@test "dashboard: a deployment's page is its hosts by lifecycle event, the failed one's hook output escaped" {
	dash_pipeline
	serve_start
	mkdir -p "$T/rev/scripts" "$T/rev/app"
	echo hi >"$T/rev/app/index.html"
	cat >"$T/rev/scripts/hook.sh" <<'EOS'
#!/bin/sh
echo "$LIFECYCLE_EVENT <b>bold</b> on the host"
case "$SLIPWAY_HOST_ROOT" in
*h2*) [ "$LIFECYCLE_EVENT" = ValidateService ] && exit 1 ;;
esac
exit 0
EOS
	chmod 0755 "$T/rev/scripts/hook.sh"
	cat >"$T/rev/appspec.yml" <<'EOS'
version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/html
hooks:
  ApplicationStart:
    - location: scripts/hook.sh
  ValidateService:
    - location: scripts/hook.sh
EOS
	printf '%s\n' 'application: app' 'deployment-group: g' \
		'deployment-config: CodeDeployDefault.AllAtOnce' \
		'auto-rollback: false' 'hosts:' '  - name: h1' '  - name: h2' \
		>"$T/group.yml"
	"$SLIPWAY" deploy "$T/rev" --group "$T/group.yml" --state-dir "$STATE" \
		>"$T/dep.out" 2>&1 || true
	local dep
	dep=$(cd "$STATE/deployments" && ls | head -1)
	[ -n "$dep" ]
	get "$URL/deployments/$dep" -o "$T/dep.html"
	same "$(code_of)" 200
	xmllint --html --noout "$T/dep.html"
	grep -q '<table class="grid">' "$T/dep.html"
	[ "$(grep -o '<tr class="host">' "$T/dep.html" | wc -l)" -eq 2 ]
	grep -q '<details class="diag"' "$T/dep.html"
	grep -q 'ScriptFailed' "$T/dep.html"
	grep -qF '&lt;b&gt;bold&lt;/b&gt;' "$T/dep.html"
	lacks '<b>bold</b>' "$T/dep.html"
	lacks 'data-stream' "$T/dep.html"
	get "$URL/history?kind=deployment&name=app" -o "$T/h.html"
	grep -q "href=\"/deployments/$dep\"" "$T/h.html"
	get "$URL/deployments/$dep/log" -o "$T/dep.log"
	grep -q 'ValidateService' "$T/dep.log"
}

@test "dashboard: in headless chromium: the login form, the pages, the approve button resumes the execution, the page follows it live" {
	need_chromium
	SHIP_WAIT=1 dash_pipeline
	serve_start
	dash_waiting -v 'Env=<script>console.error("injected")</script>'
	# Ship waits on a fifo after the approval: the page, loaded once,
	# shows it running, then (window.marker still set: not loaded again)
	# the execution's end arrives by its event stream
	cdp open "$URL/executions/$PE" \
		wait "document.querySelector('input[name=token]')" \
		eval "document.querySelector('input[name=token]').value='$TOKEN','set'" \
		submit "form button, form [type=submit]" \
		wait "document.querySelector('form.decide button.approve')" \
		eval "location.pathname" \
		open "$URL/" \
		wait "document.querySelector('table.pipelines tr.pipeline')" \
		open "$URL/history?kind=execution" \
		wait "document.querySelector('table.history')" \
		open "$URL/executions/$PE" \
		shot "$T/pe.png" \
		submit "form.decide button.approve" \
		eval "window.marker=1,document.querySelectorAll('form.decide:not(.control)').length" \
		wait "document.querySelector('.stage:nth-child(4) .badge.st-warn')" \
		run "$T/ship.sh" \
		wait "window.marker===1 && [...document.querySelectorAll('main dl.meta dd .badge')].some(function(b){return b.textContent=='Succeeded'})" \
		eval "document.querySelector('.stage:nth-child(4) .badge').textContent" \
		>"$T/cdp.out" 2>"$T/cdp.err" || {
		cat "$T/cdp.out" "$T/cdp.err"
		return 1
	}
	same "$(sed -n 1p "$T/cdp.out")" set
	same "$(sed -n 2p "$T/cdp.out")" "/executions/$PE"
	same "$(sed -n 3p "$T/cdp.out")" 0
	same "$(sed -n 4p "$T/cdp.out")" Succeeded
	[ "$(stat -c %s "$T/pe.png")" -gt 20000 ]
	same "$(head -c 4 "$T/pe.png" | od -An -tx1 | tr -d ' ')" 89504e47
	same "$(exec_status)" Succeeded
	"$SLIPWAY" pipeline show "$PE" --json --state-dir "$STATE" |
		jq -e '.stageStates[] | select(.stageName == "Gate") |
			.actionStates[0].latestExecution.lastUpdatedBy == "alice"'
}

@test "dashboard: in headless chromium: a build's log grows in the page while it runs" {
	need_chromium
	dash_pipeline
	serve_start
	waiting_build
	# the page is not loaded again while the build runs (window.marker
	# survives): the lines arrive by its event stream
	cdp --header "Authorization: Bearer $TOKEN" \
		open "$URL/builds/$BID" \
		wait "document.getElementById('log').textContent.indexOf('first-line')>=0" \
		eval "window.marker=1, document.getElementById('log').textContent.indexOf('second-line')" \
		run "$T/go1.sh" \
		wait "document.getElementById('log').textContent.indexOf('second-line')>=0 && window.marker===1" \
		eval "document.getElementById('log').textContent.split('first-line').length-1" \
		run "$T/go2.sh" \
		wait "!document.querySelector('pre[data-stream]') && document.getElementById('log').textContent.indexOf('third-line')>=0" \
		>"$T/cdp.out" 2>"$T/cdp.err" || {
		cat "$T/cdp.out" "$T/cdp.err"
		return 1
	}
	same "$(sed -n 1p "$T/cdp.out")" -1
	# "Running command echo first-line" and "first-line": twice, not
	# once more from the stream
	same "$(sed -n 2p "$T/cdp.out")" 2
	sw_wait 30
	[ "$SW_STATUS" -eq 0 ]
}
