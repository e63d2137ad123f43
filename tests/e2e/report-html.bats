#!/usr/bin/env bats
# slipway report ID --html: a build and a fleet deployment with a failing
# host as one HTML page each, rendered in headless Chromium (Debian's
# package, installed here when missing): no console errors, the host grid
# and the failed cell's diagnostics in the DOM with the hook's output
# escaped, and a screenshot.

load helpers
load deploy_helpers
load fleet_local_helpers

ROOT=$BATS_TEST_DIRNAME/../..

eval "deploy_$(declare -f setup)"

setup_file() {
	command -v chromium >/dev/null && return 0
	[ "$(id -u)" -eq 0 ] || return 0
	command -v apt-get >/dev/null || return 0
	export DEBIAN_FRONTEND=noninteractive
	timeout 600 apt-get install -y -qq --no-install-recommends chromium \
		>/dev/null 2>&1 ||
		{ timeout 300 apt-get update -qq >/dev/null 2>&1 &&
			timeout 600 apt-get install -y -qq \
				--no-install-recommends chromium \
				>/dev/null 2>&1; } || true
}

setup() {
	deploy_setup
	fleet_setup
}

need_chromium() {
	command -v chromium >/dev/null ||
		skip "chromium is not installed and apt-get could not install it (no network?)"
}

# Headless Chromium on FILE with the arguments after it; its stderr (the
# page's console with --enable-logging) in $T/chrome.err.
chrome() { # FILE ARGS...
	local f=$1

	shift
	timeout 60 chromium --headless --no-sandbox --disable-gpu \
		--user-data-dir="$T/chrome-profile" --enable-logging=stderr \
		--v=0 "$@" "file://$f" 2>"$T/chrome.err"
}

# No line of the page's console (an uncaught error, a CSP violation, a
# console.error from a script that should not have run).
no_console_errors() {
	if grep -E 'CONSOLE|Uncaught' "$T/chrome.err"; then
		return 1
	fi
}

# A bundle $T/rev whose hooks echo a line of HTML, and fail on
# ValidateService on the hosts named in $T/fail/ValidateService/.
html_rev() {
	local ev

	mkdir -p "$T/rev/app" "$T/rev/scripts"
	echo index >"$T/rev/app/index.html"
	cat >"$T/rev/scripts/hook.sh" <<SH
#!/bin/sh
h=\${SLIPWAY_HOST_ROOT%/root}
h=\${h##*/}
echo "\$LIFECYCLE_EVENT on \$h"
if [ -e "$T/fail/\$LIFECYCLE_EVENT/\$h" ]; then
	echo '<script>console.error("injected")</script> "quoted" & <b>bold</b>'
	exit 1
fi
SH
	chmod 0755 "$T/rev/scripts/hook.sh"
	{
		printf 'version: 0.0\nos: linux\nfiles:\n'
		printf '  - source: app\n    destination: /var/www/html\n'
		printf 'hooks:\n'
		for ev in ApplicationStop BeforeInstall AfterInstall \
			ApplicationStart ValidateService; do
			printf '  %s:\n    - location: scripts/hook.sh\n' "$ev"
		done
	} >"$T/rev/appspec.yml"
}

# A successful deployment to h1..h4, then one where h3 fails
# ValidateService: it stops, h4 is skipped, and it rolls back. Sets DEP.
failing_fleet() {
	html_rev
	GF_EXTRA=1 group_file CodeDeployDefault.OneAtATime h1 h2 h3 h4 \
		<<<'auto-rollback: true'
	fdeploy "$T/rev"
	[ "$status" -eq 0 ]
	fail_on ValidateService h3
	fdeploy "$T/rev"
	[ "$status" -eq 1 ]
	[ -n "$DEP" ]
	same "$(inst_status h3)" Failed
	same "$(inst_status h4)" Skipped
}

@test "report: a build's page beside its report.json, a deployment's with its rollback, exit 2 for an unknown id" {
	cp -r "$ROOT/examples/hello" "$T/hello"
	run "$SLIPWAY" build "$T/hello" --state-dir "$STATE" -o "$T/out" \
		--report "$REPORT"
	[ "$status" -eq 0 ]
	local bid dir rb
	bid=$(rj .id)
	dir=$(dirname "$(rj .logs.location)")
	run "$SLIPWAY" report "$bid" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	same "$output" "$dir/report.html"
	grep -q 'class="phases"' "$dir/report.html"
	grep -q 'artifacts.zip' "$dir/report.html"
	grep -q "$(jq -r .artifacts.sha256sum "$REPORT")" "$dir/report.html"
	# a unique prefix of the uuid finds it too
	run "$SLIPWAY" report "${bid#hello:}" --html "$T/b.html" \
		--state-dir "$STATE"
	[ "$status" -eq 0 ]
	same "$output" "$T/b.html"
	[ -s "$T/b.html" ]

	failing_fleet
	rb=$(rj .rollbackInfo.rollbackDeploymentId)
	[ -n "$rb" ] && [ "$rb" != null ]
	run "$SLIPWAY" report "$DEP" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	same "$output" "$STATE/deployments/$DEP/report.html"
	grep -q "href=\"#dep-$rb\"" "$output"
	grep -q "id=\"dep-$rb\"" "$output"
	# the rollback's page shows the deployment it rolls back, first
	run "$SLIPWAY" report "$rb" --html "$T/rb.html" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	grep -q "href=\"#dep-$DEP\"" "$T/rb.html"

	run "$SLIPWAY" report d-NOSUCHONE --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"no build, deployment or run 'd-NOSUCHONE'"* ]]
	run "$SLIPWAY" report
	[ "$status" -eq 2 ]
	run "$SLIPWAY" report --nope x
	[ "$status" -eq 2 ]
	# a report.json that is not a report: an error, not a page
	mkdir -p "$STATE/runs/r-bad"
	echo '{"runId": ' >"$STATE/runs/r-bad/report.json"
	run "$SLIPWAY" report r-bad --state-dir "$STATE"
	[ "$status" -eq 3 ]
	[ ! -e "$STATE/runs/r-bad/report.html" ]
}

@test "report --html: the fleet's page renders in headless chromium, no console errors, hook output escaped, a screenshot" {
	need_chromium
	failing_fleet
	run "$SLIPWAY" report "$DEP" --html "$T/report.html" \
		--state-dir "$STATE"
	[ "$status" -eq 0 ]
	# nothing on the page is fetched
	! grep -Eq '(src|href)="(https?:)?//' "$T/report.html" || false

	chrome "$T/report.html" --dump-dom >"$T/dom.html"
	no_console_errors
	grep -q '<table class="grid">' "$T/dom.html"
	# the deployment's 4 hosts, then its rollback's
	local rb hosts
	rb=$(rj .rollbackInfo.rollbackDeploymentId)
	hosts=$((4 + $(jq '.instances | length' \
		"$STATE/deployments/$rb/report.json")))
	[ "$(grep -o '<tr class="host">' "$T/dom.html" | wc -l)" -eq "$hosts" ]
	# the failed cell's diagnostics, its output escaped, not run
	grep -q '<details class="diag"' "$T/dom.html"
	grep -q 'ScriptFailed' "$T/dom.html"
	grep -qF '&lt;script&gt;console.error(&quot;injected&quot;)&lt;/script&gt;' \
		"$T/dom.html" ||
		grep -qF '&lt;script&gt;console.error("injected")&lt;/script&gt;' \
			"$T/dom.html"
	grep -qF '&lt;b&gt;bold&lt;/b&gt;' "$T/dom.html"
	! grep -q '<b>bold</b>' "$T/dom.html" || false

	chrome "$T/report.html" --screenshot="$T/report.png" \
		--window-size=1280,2000 >/dev/null
	no_console_errors
	[ -f "$T/report.png" ]
	[ "$(stat -c %s "$T/report.png")" -gt 20000 ]
	same "$(head -c 4 "$T/report.png" | od -An -tx1 | tr -d ' ')" 89504e47

	# the page's script: its button opens every failure's diagnostics
	local want
	want=$(grep -o '<details class="diag"' "$T/report.html" | wc -l)
	{
		cat "$T/report.html"
		echo "<script>document.getElementById('sw-toggle').click();"
		echo "console.log('opened=' + document.querySelectorAll("
		echo "'details.diag[open]').length);</script>"
	} >"$T/click.html"
	chrome "$T/click.html" --dump-dom >/dev/null
	grep -q "\"opened=$want\"" "$T/chrome.err"
	! grep -q Uncaught "$T/chrome.err" || false
}

@test "report --html: a build's page renders in headless chromium with its phase bars" {
	need_chromium
	cp -r "$ROOT/examples/hello" "$T/hello"
	run "$SLIPWAY" build "$T/hello" --state-dir "$STATE" -o "$T/out" \
		--report "$REPORT"
	[ "$status" -eq 0 ]
	run "$SLIPWAY" report "$(rj .id)" --html "$T/build.html" \
		--state-dir "$STATE"
	[ "$status" -eq 0 ]
	chrome "$T/build.html" --dump-dom >"$T/dom.html"
	no_console_errors
	# DOWNLOAD_SOURCE to FINALIZING, one bar each
	[ "$(grep -o '<div class="bar st-ok"' "$T/dom.html" | wc -l)" -eq 7 ]
	grep -q '<header class="top st-ok">' "$T/dom.html"
	grep -q 'checks.zip' "$T/dom.html"
}
