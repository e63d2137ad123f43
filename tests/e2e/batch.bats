#!/usr/bin/env bats
# slipway build on a buildspec with a batch section: build-list,
# build-graph, build-matrix and build-fanout, -j, fast-fail,
# ignore-failure, --batch-task, the batch report and each build's own.

load helpers

# The status of a task in the batch report ($REPORT).
gstatus() {
	jq -r --arg i "$1" '.buildGroups[] | select(.identifier == $i) | .status' \
		"$REPORT"
}

# The report of a task's build.
task_report() {
	jq -r --arg i "$1" \
		'.buildGroups[] | select(.identifier == $i) | .currentBuildSummary.report' \
		"$REPORT"
}

# A task's build.log.
task_log() {
	cat "$(jq -r .logs.location "$(task_report "$1")")"
}

@test "build-list: every task runs as its own build with its identifier and env" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "id=$CODEBUILD_BATCH_BUILD_IDENTIFIER v=$V w=$W"
batch:
  build-list:
    - identifier: linux
      env:
        variables:
          V: one
    - identifier: mac_os
      env:
        variables:
          V: two
          W: extra
EOF
	sw_build
	[ "$status" -eq 0 ]
	[ "$(rj .buildBatchStatus)" = SUCCEEDED ]
	[ "$(rj '[.phases[].phaseType] | join(" ")')" = "SUBMITTED DOWNLOAD_BATCHSPEC IN_PROGRESS SUCCEEDED" ]
	[ "$(rj '.buildGroups | length')" = 2 ]
	[ "$(gstatus linux)" = SUCCEEDED ]
	[ "$(gstatus mac_os)" = SUCCEEDED ]
	[[ "$output" == *"linux  | id=linux v=one w="* ]]
	[[ "$output" == *"mac_os | id=mac_os v=two w=extra"* ]]
	# each build has its own id, directory and report
	a=$(jq -r .id "$(task_report linux)")
	b=$(jq -r .id "$(task_report mac_os)")
	[ -n "$a" ] && [ "$a" != "$b" ]
	[ "$(jq -r .batchBuildIdentifier "$(task_report linux)")" = linux ]
	[ "$(jq -r .buildBatchArn "$(task_report linux)")" = "$(rj .arn)" ]
	task_log linux | grep -qx 'id=linux v=one w='
	# the batch report is in the state directory too
	id=$(rj .id)
	cmp "$REPORT" "$STATE/batches/$id/report.json"
	[ -f "$STATE/batches/$id/batch.log" ]
	grep -q '^mac_os | id=mac_os' "$STATE/batches/$id/batch.log"
}

@test "YAML quirks: unquoted booleans and numbers, batch after phases, no phases" {
	spec <<'EOF'
version: 0.2
batch:
  fast-fail: no
  build-list:
    - identifier: gcc9
      buildspec: ci/build.yml
      env:
        variables:
          BUILD_S2N: true
          GCC_VERSION: 9
          RATIO: 1.50
          FLAG: yes
EOF
	mkdir -p "$PROJ/ci"
	cat >"$PROJ/ci/build.yml" <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "s2n=$BUILD_S2N gcc=$GCC_VERSION ratio=$RATIO flag=$FLAG"
EOF
	sw_build
	[ "$status" -eq 0 ]
	task_log gcc9 | grep -qx 's2n=true gcc=9 ratio=1.50 flag=yes'
	[ "$(jq -r .source.buildspec "$(task_report gcc9)")" = ci/build.yml ]

	# batch after phases, in the same file as the phases
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "n=$N"
batch:
  build-list:
    - identifier: a
      env:
        variables:
          N: 007
EOF
	sw_build
	[ "$status" -eq 0 ]
	task_log a | grep -qx 'n=007'
}

@test "a batch-only buildspec's tasks run the same file: no phases is fine" {
	spec <<'EOF'
version: 0.2
batch:
  build-list:
    - identifier: only
EOF
	sw_build
	[ "$status" -eq 0 ]
	[ "$(gstatus only)" = SUCCEEDED ]
	task_log only | grep -q 'Phases found in YAML: 0'
}

@test "build-graph: a task starts after its dependencies succeeded" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - sleep 0.$((RANDOM % 3))
      - echo "$CODEBUILD_BATCH_BUILD_IDENTIFIER" >>"$ORDER"
batch:
  build-graph:
    - identifier: deploy
      depend-on:
        - test_a
        - test_b
    - identifier: test_a
      depend-on:
        - build
    - identifier: test_b
      depend-on:
        - build
    - identifier: build
EOF
	sw_build -e ORDER="$T/order" -j 4
	[ "$status" -eq 0 ]
	[ "$(head -n 1 "$T/order")" = build ]
	[ "$(tail -n 1 "$T/order")" = deploy ]
	[ "$(wc -l <"$T/order")" -eq 4 ]
	[ "$(rj '.buildGroups[] | select(.identifier == "deploy") | .dependsOn | join(",")')" = test_a,test_b ]
	[ "$(rj .batchType)" = BUILD_GRAPH ]
}

@test "build-graph: dependants of a failed task are not run, the others are" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "$CODEBUILD_BATCH_BUILD_IDENTIFIER" >>"$RAN"
      - test "$CODEBUILD_BATCH_BUILD_IDENTIFIER" != broken
batch:
  build-graph:
    - identifier: broken
    - identifier: after_broken
      depend-on: [broken]
    - identifier: after_after
      depend-on: [after_broken]
    - identifier: independent
EOF
	sw_build -e RAN="$T/ran"
	[ "$status" -eq 1 ]
	[ "$(rj .buildBatchStatus)" = FAILED ]
	[ "$(gstatus broken)" = FAILED ]
	[ "$(gstatus after_broken)" = SKIPPED ]
	[ "$(gstatus after_after)" = SKIPPED ]
	[ "$(gstatus independent)" = SUCCEEDED ]
	[ "$(sort "$T/ran" | tr '\n' ' ')" = "broken independent " ]
	[ "$(rj '.buildGroups[] | select(.identifier == "after_broken") | has("currentBuildSummary")')" = false ]
}

@test "ignore-failure: a failing task does not fail the batch, its dependants run" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - test "$CODEBUILD_BATCH_BUILD_IDENTIFIER" != flaky
batch:
  build-graph:
    - identifier: flaky
      ignore-failure: true
    - identifier: next
      depend-on: [flaky]
EOF
	sw_build
	[ "$status" -eq 0 ]
	[ "$(rj .buildBatchStatus)" = SUCCEEDED ]
	[ "$(gstatus flaky)" = FAILED ]
	[ "$(gstatus next)" = SUCCEEDED ]
}

@test "fast-fail: a failure stops the running builds and skips the pending" {
	cat >"$PROJ/buildspec.yml" <<EOF
version: 0.2
phases:
  build:
    commands:
      - |
        if [ "\$CODEBUILD_BATCH_BUILD_IDENTIFIER" = fails ]; then
          sleep 1; exit 1
        fi
        sleep 1000.$MARK
batch:
  fast-fail: true
  build-list:
    - identifier: fails
    - identifier: slow_1
    - identifier: slow_2
    - identifier: never
EOF
	t0=$(now_ms)
	sw_build -j 3
	t1=$(now_ms)
	[ "$status" -eq 1 ]
	[ $((t1 - t0)) -lt 20000 ]
	[ "$(gstatus fails)" = FAILED ]
	[ "$(gstatus slow_1)" = STOPPED ]
	[ "$(gstatus slow_2)" = STOPPED ]
	[ "$(gstatus never)" = SKIPPED ]
	[ "$(rj .buildBatchStatus)" = FAILED ]
	[[ "$output" == *"fast-fail: fails failed; stopping 2 running build(s), skipping 1"* ]]
	no_survivors
}

@test "without fast-fail the other builds run to the end" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - sleep 0.5
      - test "$CODEBUILD_BATCH_BUILD_IDENTIFIER" != fails
batch:
  build-list:
    - identifier: fails
    - identifier: ok_1
    - identifier: ok_2
EOF
	sw_build -j 1
	[ "$status" -eq 1 ]
	[ "$(gstatus fails)" = FAILED ]
	[ "$(gstatus ok_1)" = SUCCEEDED ]
	[ "$(gstatus ok_2)" = SUCCEEDED ]
}

@test "build-matrix: the Cartesian product of buildspecs and variables" {
	spec <<'EOF'
version: 0.2
batch:
  build-matrix:
    static:
      ignore-failure: false
      env:
        type: LINUX_CONTAINER
        privileged-mode: true
    dynamic:
      buildspec:
        - unit.yml
        - lint.yml
      env:
        image:
          - aws/codebuild/standard:7.0
        variables:
          MY_VAR:
            - a
            - b
            - 3
EOF
	for f in unit lint; do
		cat >"$PROJ/$f.yml" <<EOF
version: 0.2
phases:
  build:
    commands:
      - echo "$f \$MY_VAR" >>"\$OUT"
EOF
	done
	sw_build -e OUT="$T/out"
	[ "$status" -eq 0 ]
	[ "$(rj '.buildGroups | length')" = 6 ]
	[ "$(rj '[.buildGroups[].identifier] | unique | length')" = 6 ]
	# one naming rule: build<N>, then the values that vary (the image has
	# one value, so it is not in the name)
	[ "$(rj '[.buildGroups[].identifier] | join(",")')" = build1_unit_a,build2_unit_b,build3_unit_3,build4_lint_a,build5_lint_b,build6_lint_3 ]
	[ "$(sort "$T/out" | tr '\n' ,)" = "lint 3,lint a,lint b,unit 3,unit a,unit b," ]
	[ "$(rj '[.buildGroups[] | select(.status == "SUCCEEDED")] | length')" = 6 ]
	[ "$(rj '[.buildGroups[].environment.image] | unique | join(",")')" = aws/codebuild/standard:7.0 ]
	[ "$(rj '.buildGroups[0].environment.privilegedMode')" = true ]
	[ "$(grep -c 'otherwise ignored' <<<"$output")" -eq 1 ]
}

@test "build-fanout: shards split the test files with codebuild-tests-run" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - >-
        codebuild-tests-run
        --files-search "ls tests/*.sh"
        --test-command 'sh run.sh'
batch:
  build-fanout:
    parallelism: 3
EOF
	mkdir -p "$PROJ/tests"
	for i in 1 2 3 4 5 6 7; do
		echo "echo ran-$i" >"$PROJ/tests/t$i.sh"
	done
	cat >"$PROJ/run.sh" <<'EOF'
for f in "$@"; do echo "$CODEBUILD_BATCH_BUILD_IDENTIFIER $f" >>"$OUT"; done
printf '%s\n' "$CODEBUILD_CURRENT_SHARD_FILES" >>"$OUT.env"
EOF
	sw_build -e OUT="$T/out"
	[ "$status" -eq 0 ]
	[ "$(rj '.buildGroups | length')" = 3 ]
	[ "$(rj .batchType)" = BUILD_FANOUT ]
	# every file ran exactly once, over three shards
	[ "$(cut -d' ' -f2 "$T/out" | sort | tr '\n' ' ')" = "tests/t1.sh tests/t2.sh tests/t3.sh tests/t4.sh tests/t5.sh tests/t6.sh tests/t7.sh " ]
	[ "$(cut -d' ' -f1 "$T/out" | sort -u | wc -l)" -eq 3 ]
	[ "$(sort "$T/out.env" | tr '\n' ' ')" = "$(cut -d' ' -f2 "$T/out" | sort | tr '\n' ' ')" ]
}

@test "-j 1 runs one build at a time; -j 3 runs them together" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - mkdir "$LOCK"
      - sleep 0.3
      - rmdir "$LOCK"
batch:
  build-list:
    - identifier: a
    - identifier: b
    - identifier: c
EOF
	sw_build -j 1 -e LOCK="$T/lock"
	[ "$status" -eq 0 ]
	[ "$(rj .concurrency)" = 1 ]
	sw_build -j 3 -e LOCK="$T/lock2"
	[ "$status" -eq 1 ]
	[ "$(rj '[.buildGroups[] | select(.status == "FAILED")] | length')" -ge 1 ]
}

@test "artifacts of each task go to -o DIR/<identifier>" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "$CODEBUILD_BATCH_BUILD_IDENTIFIER" >who.txt
artifacts:
  files:
    - who.txt
batch:
  build-list:
    - identifier: x
    - identifier: y
EOF
	sw_build -o "$T/art"
	[ "$status" -eq 0 ]
	[ "$(unzip -p "$T/art/x/artifacts.zip" who.txt)" = x ]
	[ "$(unzip -p "$T/art/y/artifacts.zip" who.txt)" = y ]
	[ "$(rj '.buildGroups[0].currentBuildSummary.primaryArtifact.location')" = "$T/art/x/artifacts.zip" ]
	[[ "$(rj '[.phases[].phaseType] | join(" ")')" == *COMBINE_ARTIFACTS* ]]
}

@test "--batch-task runs one task alone as a normal build" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "id=$CODEBUILD_BATCH_BUILD_IDENTIFIER v=$V"
batch:
  build-list:
    - identifier: first
      env:
        variables:
          V: 1
    - identifier: second
      env:
        variables:
          V: 2
EOF
	sw_build --batch-task second
	[ "$status" -eq 0 ]
	[ "$(rj .buildStatus)" = SUCCEEDED ]
	buildlog | grep -qx 'id=second v=2'
	[ ! -d "$STATE/batches" ] || [ -z "$(ls "$STATE/batches")" ]

	sw_build --batch-task nope
	[ "$status" -eq 2 ]
	[[ "$output" == *"no task 'nope'"*"first, second"* ]]
}

@test "--batch-task on a buildspec without a batch is a usage error" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo hi
EOF
	sw_build --batch-task a
	[ "$status" -eq 2 ]
	[[ "$output" == *"has no batch section"* ]]
}

@test "a stop signal stops the batch: STOPPED, nothing left running" {
	cat >"$PROJ/buildspec.yml" <<EOF
version: 0.2
phases:
  build:
    commands:
      - sleep 1000.$MARK
batch:
  build-list:
    - identifier: a
    - identifier: b
    - identifier: c
EOF
	sw_build_bg -j 2
	wait_for_marker
	kill -TERM "$SW_PID"
	SW_STATUS=0
	for i in $(seq 150); do
		kill -0 "$SW_PID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$SW_PID" || SW_STATUS=$?
	[ "$SW_STATUS" -eq 1 ]
	[ "$(rj .buildBatchStatus)" = STOPPED ]
	[ "$(gstatus a)" = STOPPED ]
	[ "$(gstatus c)" = SKIPPED ]
	no_survivors
}

@test "validate rejects a graph cycle and an unknown dependency" {
	spec <<'EOF'
version: 0.2
batch:
  build-graph:
    - identifier: a
      depend-on: [b]
    - identifier: b
      depend-on: [a]
EOF
	run "$SLIPWAY" validate "$PROJ/buildspec.yml"
	[ "$status" -eq 3 ]
	[[ "$output" == *"dependency cycle"* ]]
	sw_build
	[ "$status" -ne 0 ]
}

@test "codebuild-glob-search: the issue's shape, tests/**/*.py, is on PATH" {
	spec <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - codebuild-tests-run --test-command 'echo t' --files-search "codebuild-glob-search 'tests/**/*.py'"
EOF2
	mkdir -p "$PROJ/tests/unit"
	touch "$PROJ/tests/a.py" "$PROJ/tests/unit/b.py" "$PROJ/tests/c.txt"
	sw_build
	[ "$status" -eq 0 ]
	buildlog | grep -qx 't tests/a.py tests/unit/b.py'
	! buildlog | grep -q 'not found' || false
}

@test "codebuild-glob-search: Pytest sample, tests/test_*.py over an equal-distribution fanout" {
	spec <<'EOF2'
version: 0.2
batch:
  fast-fail: false
  build-fanout:
    parallelism: 2
    ignore-failure: false
phases:
  build:
    commands:
      - echo "Running tests"
      - |
        codebuild-tests-run \
          --test-command 'sh pytest.sh' \
          --files-search "codebuild-glob-search 'tests/test_*.py'" \
          --sharding-strategy 'equal-distribution'
EOF2
	mkdir -p "$PROJ/tests/test_dir.py" "$PROJ/tests/sub"
	for n in one two three four five; do
		touch "$PROJ/tests/test_$n.py"
	done
	touch "$PROJ/tests/helper.py" "$PROJ/tests/sub/test_deep.py"
	cat >"$PROJ/pytest.sh" <<'EOF2'
for f in "$@"; do echo "$CODEBUILD_BATCH_BUILD_IDENTIFIER $f" >>"$OUT"; done
EOF2
	sw_build -e OUT="$T/out"
	[ "$status" -eq 0 ]
	# each test file once, directories and other names left out; `*`
	# does not cross into tests/sub
	[ "$(cut -d' ' -f2 "$T/out" | sort | tr '\n' ' ')" = "tests/test_five.py tests/test_four.py tests/test_one.py tests/test_three.py tests/test_two.py " ]
	# equal distribution: 3 and 2
	[ "$(cut -d' ' -f1 "$T/out" | sort | uniq -c | awk '{print $1}' | sort | tr '\n' ' ')" = "2 3 " ]
}

@test "codebuild-glob-search: Jest sample, **/__tests__/*.js, echo and xargs forms" {
	spec <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - echo "found=$(codebuild-glob-search '**/__tests__/*.js' | tr '\n' ' ')"
      - codebuild-glob-search '**/__tests__/*.js' | xargs -n 1 echo each
      - echo "none=[$(codebuild-glob-search '**/*.nothing')]"
      - codebuild-tests-run --test-command 'echo jest' --files-search "codebuild-glob-search '**/__tests__/*.js'" --sharding-strategy stability
EOF2
	mkdir -p "$PROJ/__tests__/nested" "$PROJ/src/app/__tests__" "$PROJ/src/__tests__/dir.js"
	touch "$PROJ/__tests__/top.js" "$PROJ/__tests__/nested/deeper.js" \
		"$PROJ/src/app/__tests__/a.js" "$PROJ/src/app/__tests__/a.ts" \
		"$PROJ/src/app/b.js"
	ln -s a.js "$PROJ/src/app/__tests__/link.js"
	sw_build
	[ "$status" -eq 0 ]
	[ "$(printed found)" = "__tests__/top.js src/app/__tests__/a.js src/app/__tests__/link.js " ]
	[ "$(buildlog | grep -c '^each ')" -eq 3 ]
	[ "$(printed none)" = "[]" ]
	buildlog | grep -q 'codebuild-glob-search: no files found'
	buildlog | grep -qx 'jest __tests__/top.js src/app/__tests__/a.js src/app/__tests__/link.js'
}

@test "codebuild-glob-search: patterns from elsewhere, bad patterns and usage" {
	cd "$T"
	mkdir -p w/tests other
	touch w/tests/a.py other/b.py
	ln -s "$SLIPWAY" "$T/codebuild-glob-search"
	cd w
	run "$T/codebuild-glob-search" "$T/w/tests/*.py" '../other/*.py' 'tests/a.py' 'tests/a.py' '../missing/*.py'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' ../other/b.py "$T/w/tests/a.py" tests/a.py | LC_ALL=C sort)" ]
	run "$T/codebuild-glob-search" '*/../../x'
	[ "$status" -eq 2 ]
	[[ "$output" == *"leaves the base directory"* ]]
	run "$T/codebuild-glob-search"
	[ "$status" -eq 2 ]
	[[ "$output" == usage:* ]]
}

@test "prune removes old batches' records, never a running batch" {
	mkfifo "$T/go"
	spec <<EOF2
version: 0.2
phases:
  build:
    commands:
      - if [ -n "\$HOLD" ]; then touch "$T/started"; cat "$T/go"; fi
batch:
  build-list:
    - identifier: one
EOF2
	sw_build
	[ "$status" -eq 0 ]
	old=$(rj .id)
	sw_build
	[ "$status" -eq 0 ]
	new=$(rj .id)
	run "$SLIPWAY" prune --keep 1 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed batch $old"* ]]
	[[ "$output" == *", 1 batch:"* ]]
	[ ! -e "$STATE/batches/${old/:/-}" ]
	[ ! -L "$STATE/batches/$old" ]
	[ -f "$STATE/batches/${new/:/-}/report.json" ]
	# a running batch, held on the fifo by its build
	"$SLIPWAY" build "$PROJ" --state-dir "$STATE" -e HOLD=1 \
		>"$T/out" 2>&1 3>&- &
	pid=$!
	for i in $(seq 100); do [ -e "$T/started" ] && break; sleep 0.1; done
	[ -e "$T/started" ]
	run "$SLIPWAY" prune --keep 0 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed batch $new"* ]]
	[[ "$output" == *"2 running"* ]] # the batch and its build
	running=$(ls -d "$STATE"/batches/proj-*)
	[ -d "$running" ]
	echo go >"$T/go"
	wait "$pid"
	[ -f "$running/report.json" ]
}
