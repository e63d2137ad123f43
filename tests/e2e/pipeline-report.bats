#!/usr/bin/env bats
# A pipeline execution's report.html: written at every state change and
# by `slipway report pe-...`; stages as columns of runOrder groups, each
# action's status, duration, build page link, the approval's summary and
# who decided it, artifacts and variables, every value escaped; rendered
# in headless Chromium when it is installed.

load helpers

# $T/pl.yml: Source (a directory), Build (CodeBuild and Lint side by
# side, then Check), Gate (a manual approval).
pr_setup() {
	mkdir -p "$T/src"
	cat >"$T/src/buildspec.yml" <<'EOB'
version: 0.2
env:
  exported-variables: [X]
phases:
  build:
    commands:
      - export X="<b>built</b>"
      - echo hi >out.txt
artifacts:
  files: [out.txt]
EOB
	cat >"$T/pl.yml" <<'EOB'
pipeline:
  name: web
  variables:
    - {name: Env, defaultValue: test}
  stages:
    - name: Source
      actions:
        - name: Src
          namespace: SourceVariables
          actionTypeId: {category: Source, owner: AWS, provider: S3, version: "1"}
          configuration: {S3Bucket: b, S3ObjectKey: src}
          outputArtifacts: [{name: Src}]
    - name: Build
      actions:
        - name: Build
          namespace: BuildVariables
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: b}
          inputArtifacts: [{name: Src}]
          outputArtifacts: [{name: Built}]
        - name: Lint
          actionTypeId: {category: Compute, owner: AWS, provider: Commands, version: "1"}
          commands: ["true"]
          inputArtifacts: [{name: Src}]
        - name: Check
          runOrder: 2
          actionTypeId: {category: Compute, owner: AWS, provider: Commands, version: "1"}
          commands: ["true"]
          inputArtifacts: [{name: Built}]
    - name: Gate
      actions:
        - name: Approve
          actionTypeId: {category: Approval, owner: AWS, provider: Manual, version: "1"}
          configuration: {CustomData: "release #{BuildVariables.X}"}
slipway:
  sources: {b/src: ./src}
  projects: {b: {}}
EOB
}

pr_start() {
	run "$SLIPWAY" pipeline start "$T/pl.yml" --state-dir "$STATE" "$@"
	PE=$(printf '%s\n' "$output" | grep -m1 '^pe-' || true)
	PAGE=$STATE/executions/$PE/report.html
}

same() { # GOT WANT
	[ "$1" = "$2" ] || {
		echo "got '$1' want '$2'"
		return 1
	}
}

# The text of the elements matching an XPath of the page.
xp() {
	xmllint --html --xpath "$1" "$PAGE" 2>/dev/null
}

@test "pipeline report: waiting, then decided: stages as columns, groups by runOrder, status, link, approval" {
	pr_setup
	pr_start -v 'Env=<script>alert(1)</script>'
	[ "$status" -eq 5 ]
	[[ "$PE" == pe-* ]]
	[ -f "$PAGE" ]
	xmllint --html --noout "$PAGE"
	# waiting: the gate is in progress, the page says so
	same "$(xp 'string(//div[@class="stage"][3]//div[@class="name"])')" Approve
	xp '//div[@class="stage"][3]//span[contains(@class,"badge")]/text()' |
		grep -qx InProgress

	USER=alice run "$SLIPWAY" pipeline approve "$PE" --state-dir "$STATE" \
		--summary 'ship it <script>alert(2)</script> & "go"'
	[ "$status" -eq 0 ]
	xmllint --html --noout "$PAGE"
	# the stages in order, as columns
	same "$(xp 'count(//div[@class="stages"]/div[@class="stage"])')" 3
	same "$(xp 'string(//div[@class="stage"][1]/h2)')" "Source Succeeded"
	same "$(xp 'string(//div[@class="stage"][2]/h2)')" "Build Succeeded"
	# Build and Lint side by side in runOrder 1, Check after
	same "$(xp 'count(//div[@class="stage"][2]/div[@class="group"])')" 2
	same "$(xp 'string(//div[@class="stage"][2]/div[@class="group"][1]/@data-run-order)')" 1
	same "$(xp '//div[@class="stage"][2]/div[@class="group"][1]//div[@class="name"]/text()' | tr '\n' ,)" "Build,Lint,"
	same "$(xp '//div[@class="stage"][2]/div[@class="group"][2]//div[@class="name"]/text()')" Check
	# every action Succeeded, with a duration
	same "$(xp 'count(//div[@class="action st-ok"])')" 5
	same "$(xp 'count(//span[@class="dur"])')" 5
	# the build's page, linked relative to the execution's directory
	href=$(xp 'string(//a[@class="ext"]/@href)')
	[[ "$href" == ../../builds/b-*/report.html ]]
	[ -f "$STATE/executions/$PE/$href" ]
	# artifacts in and out, the build's variable, the execution's
	xp '//div[@class="art"]' | grep -q 'out <code>Built</code>'
	xp '//div[@class="art"]' | grep -q 'in <code>Src</code>'
	# the execution's artifacts by their content address
	built=$(xp 'string(//table[@id="artifacts"]//tr[th="Built"]/td)')
	[[ "$built" =~ ^[0-9a-f]{64}$ ]]
	same "$built" \
		"$(basename "$(readlink "$STATE/executions/$PE/artifacts/Built")")"
	src=$(xp 'string(//table[@id="artifacts"]//tr[th="Src"]/td)')
	[[ "$src" =~ ^[0-9a-f]{64}$ ]]
	[ -f "$STATE/artifacts/$src/buildspec.yml" ]
	# the approval: summary and who
	same "$(xp 'string(//div[@class="summary"])')" \
		'ship it <script>alert(2)</script> & "go"'
	same "$(xp 'string(//div[@class="who"])')" "by alice"
	# escaped: no markup from a value, no external asset
	! grep -q '<script>' "$PAGE" || false
	! grep -q '<b>built</b>' "$PAGE" || false
	grep -qF '&lt;b&gt;built&lt;/b&gt;' "$PAGE"
	grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' "$PAGE"
	grep -qF 'ship it &lt;script&gt;alert(2)&lt;/script&gt; &amp; &quot;go&quot;' "$PAGE"
	! grep -Eq '(src|href)="(https?:)?//' "$PAGE" || false
}

@test "pipeline report: slipway report pe-... writes the page (--html FILE too); an unknown id is a usage error" {
	pr_setup
	pr_start
	[ "$status" -eq 5 ]
	rm "$PAGE"
	run "$SLIPWAY" report "$PE" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	same "$output" "$PAGE"
	xmllint --html --noout "$PAGE"
	run "$SLIPWAY" report "$PE" --state-dir "$STATE" --html "$T/out.html"
	[ "$status" -eq 0 ]
	same "$output" "$T/out.html"
	grep -q '<div class="name">Approve</div>' "$T/out.html"
	run "$SLIPWAY" report pe-nope --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"no execution 'pe-nope'"* ]]
}

@test "pipeline report: a failed action shows Failed with its reason, the stages after it not run" {
	pr_setup
	# Lint's commands, the first ones, fail
	sed -i '0,/commands: \["true"\]/s//commands: ["false"]/' "$T/pl.yml"
	pr_start
	[ "$status" -eq 1 ]
	xmllint --html --noout "$PAGE"
	same "$(xp 'string(//div[@class="stage"][2]/h2)')" "Build Failed"
	same "$(xp 'count(//div[@class="action st-bad"])')" 1
	same "$(xp 'string(//div[@class="action st-bad"]/div[@class="name"])')" Lint
	[ -n "$(xp "string(//div[@class=\"action st-bad\"]/div[@class=\"summary\"])")" ]
	# the gate never ran
	same "$(xp 'string(//div[@class="stage"][3]//span[contains(@class,"badge")])')" "Not run"
}

@test "pipeline report: the page renders in headless chromium, no console errors, a screenshot" {
	command -v chromium >/dev/null || skip "chromium is not installed"
	pr_setup
	pr_start -v 'Env=<script>console.error("injected")</script>'
	[ "$status" -eq 5 ]
	timeout 60 chromium --headless --no-sandbox --disable-gpu \
		--user-data-dir="$T/chrome-profile" --enable-logging=stderr \
		--v=0 --dump-dom "file://$PAGE" >"$T/dom.html" 2>"$T/chrome.err"
	! grep -E 'CONSOLE|Uncaught' "$T/chrome.err" || false
	grep -q '<div class="stages">' "$T/dom.html"
	[ "$(grep -o '<div class="stage">' "$T/dom.html" | wc -l)" -eq 3 ]
	timeout 60 chromium --headless --no-sandbox --disable-gpu \
		--user-data-dir="$T/chrome-profile" --enable-logging=stderr \
		--v=0 --screenshot="$T/pe.png" --window-size=1280,900 \
		"file://$PAGE" >/dev/null 2>"$T/chrome.err"
	! grep -E 'CONSOLE|Uncaught' "$T/chrome.err" || false
	[ "$(stat -c %s "$T/pe.png")" -gt 10000 ]
	same "$(head -c 4 "$T/pe.png" | od -An -tx1 | tr -d ' ')" 89504e47
}

@test "pipeline report: a waiting approval says since when and until when" {
	pr_setup
	pr_start
	[ "$status" -eq 5 ]
	wait_text=$(xp 'string(//div[@class="stage"][3]//div[@class="wait"])')
	[[ "$wait_text" =~ ^waiting\ since\ ([0-9T:-]+Z),\ expires\ ([0-9T:-]+Z)$ ]]
	since=$(date -ud "${BASH_REMATCH[1]}" +%s)
	until=$(date -ud "${BASH_REMATCH[2]}" +%s)
	same "$((until - since))" $((7 * 24 * 3600))
	[ $((since - $(date -u +%s))) -le 0 ]
	USER=bob run "$SLIPWAY" pipeline approve "$PE" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	# decided: a duration, no longer waiting
	same "$(xp 'count(//div[@class="wait"])')" 0
	same "$(xp 'count(//div[@class="stage"][3]//span[@class="dur"])')" 1
}

@test "pipeline report: a retried action shows its earlier attempts under the latest" {
	pr_setup
	# Lint fails until $T/ok exists
	sed -i "0,/commands: \[\"true\"\]/s##commands: [\"test -e $T/ok || { echo no-ok; false; }\"]#" "$T/pl.yml"
	pr_start
	[ "$status" -eq 1 ]
	same "$(xp 'count(//div[@class="earlier"])')" 0
	run "$SLIPWAY" pipeline retry "$PE" --state-dir "$STATE"
	[ "$status" -eq 1 ]
	touch "$T/ok"
	run "$SLIPWAY" pipeline retry "$PE" --state-dir "$STATE"
	[ "$status" -eq 5 ]
	xmllint --html --noout "$PAGE"
	lint='//div[contains(@class,"action")][div[@class="name"]="Lint"]'
	same "$(xp "string($lint//span[contains(@class,\"badge\")])")" Succeeded
	same "$(xp "string($lint//span[@class=\"attempt\"])")" "attempt 3"
	same "$(xp "count($lint//div[@class=\"earlier\"])")" 2
	same "$(xp "string($lint//div[@class=\"earlier\"][1])" | cut -c1-17)" "attempt 1 Failed "
	[[ "$(xp "string($lint//div[@class=\"earlier\"][2]/div[@class=\"summary\"])")" == "exit status 1 (log: "*"/actions/Build.Lint.2/log)" ]]
	# the others ran once: no attempts shown
	same "$(xp 'count(//span[@class="attempt"])')" 1
}
