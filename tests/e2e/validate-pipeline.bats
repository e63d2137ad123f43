#!/usr/bin/env bats
# slipway validate on the pipeline fixtures: every malformed pipeline file
# is refused with exit 3 and one "error: FILE:LINE:COL: ..." line holding
# the "# expect: LINE:COL: TEXT" of its first line, and never with a crash;
# every good one passes with "FILE: ok (pipeline P, N stages, M actions,
# MODE)". A file is a pipeline file when its top level has 'pipeline',
# whatever its name.

bats_require_minimum_version 1.5.0

load helpers

BAD=tests/fixtures/bad-pipelines
GOOD=tests/fixtures/good-pipelines

setup() {
	if [ ! -e "${SLIPWAY:-}" ]; then
		skip "no slipway binary at '${SLIPWAY:-}'"
	fi
	T=$BATS_TEST_TMPDIR
	cd "$BATS_TEST_DIRNAME/../.."
}

# Nothing is started here: nothing to clean up.
teardown() {
	:
}

# Checks one bad fixture; prints what is wrong, nothing when all is well.
check_bad() {
	local f=$1 expect line errors

	run --separate-stderr "$SLIPWAY" validate "$f"
	if [ "$status" -ge 128 ]; then
		echo "$f: killed by signal $((status - 128))"
		return
	fi
	if [ "$status" -ne 3 ]; then
		echo "$f: exit status $status, want 3 (stderr: $stderr)"
		return
	fi
	if [ -n "$output" ]; then
		echo "$f: printed on stdout: $output"
		return
	fi
	errors=$(grep -c '^error: ' <<<"$stderr")
	if [ "$errors" -ne 1 ]; then
		echo "$f: $errors error lines, want 1: $stderr"
		return
	fi
	line=$(grep '^error: ' <<<"$stderr")
	expect=$(head -n 1 "$f" | sed -n 's/^# expect: //p')
	if ! [[ "$expect" =~ ^[0-9]+:[0-9]+:\ . ]]; then
		echo "$f: no '# expect: LINE:COL: TEXT' first line"
	elif [[ "$line" != "error: $f:$expect"* ]]; then
		echo "$f: error is not 'error: $f:$expect...': $line"
	fi
}

@test "every bad pipeline fixture is refused with exit 3 and the expected positioned error" {
	local f problems= n=0

	for f in "$BAD"/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		problems+=$(check_bad "$f")$'\n'
	done
	echo "$problems"
	[ -z "${problems//$'\n'/}" ]
	[ "$n" -ge 90 ]
}

@test "every good pipeline fixture validates with exit 0 as a pipeline file" {
	local f problems= n=0

	for f in "$GOOD"/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		run --separate-stderr "$SLIPWAY" validate "$f"
		if [ "$status" -ne 0 ]; then
			problems+="$f: exit $status: $stderr"$'\n'
		elif ! [[ "$output" =~ ^"$f: ok (pipeline "[^,]+", "[0-9]+" stages, "[0-9]+" actions, "(SUPERSEDED|QUEUED|PARALLEL)")"$ ]]; then
			problems+="$f: no pipeline ok line: $output"$'\n'
		elif grep -q '^error: ' <<<"$stderr"; then
			problems+="$f: error printed: $stderr"$'\n'
		fi
	done
	echo "$problems"
	[ -z "${problems//$'\n'/}" ]
	[ "$n" -ge 3 ]
}

@test "get-pipeline's own JSON validates, AWS-only keys in one note" {
	local f=$GOOD/get-pipeline.json

	run --separate-stderr "$SLIPWAY" validate "$f"
	[ "$status" -eq 0 ]
	[ "$output" = "$f: ok (pipeline MyPipeline, 2 stages, 2 actions, SUPERSEDED)" ]
	[ "$stderr" = "note: $f:4:9: AWS-only keys ignored: roleArn, artifactStore, version, pipelineType, region" ]
}

@test "the ok line counts stages and actions and names the execution mode" {
	run --separate-stderr "$SLIPWAY" validate "$GOOD/full.yml" "$GOOD/minimal.yml"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$GOOD/full.yml: ok (pipeline web, 3 stages, 9 actions, QUEUED)" ]
	[ "${lines[1]}" = "$GOOD/minimal.yml: ok (pipeline minimal, 2 stages, 2 actions, SUPERSEDED)" ]
	[ -z "$stderr" ]
}

@test "a file with 'pipeline' at its top is a pipeline file whatever its name" {
	mkdir "$T/repo"
	cat >"$T/appspec.yml" <<-'YML'
	pipeline:
	  name: p
	  stages:
	    - name: S
	      actions:
	        - name: A
	          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
	          configuration: {RepositoryName: r, BranchName: main}
	          outputArtifacts: [{name: Src}]
	    - name: Ok
	      actions:
	        - name: Go
	          actionTypeId: {category: Approval, owner: AWS, provider: Manual, version: "1"}
	          configuration: {NotificationArn: ops}
	slipway:
	  sources: {r: repo}
	  x-later: 1
	YML
	run --separate-stderr "$SLIPWAY" validate "$T/appspec.yml"
	[ "$status" -eq 0 ]
	[ "$output" = "$T/appspec.yml: ok (pipeline p, 2 stages, 2 actions, SUPERSEDED)" ]
	[[ "$stderr" == *"warning: $T/appspec.yml:17:3: unknown key 'x-later' in 'slipway' ignored"* ]]
	[[ "$stderr" == *"warning: $T/appspec.yml:14:44: notification 'ops' is not bound under 'slipway.notifications'"* ]]

	# the source's path is relative to the pipeline file, not to the caller
	cp "$T/appspec.yml" "$T/p.yaml"
	rmdir "$T/repo"
	run --separate-stderr "$SLIPWAY" validate "$T/p.yaml"
	[ "$status" -eq 3 ]
	[[ "$stderr" == "error: $T/p.yaml:16:16: 'slipway.sources.r': no such file or directory: repo" ]]
}

@test "a buildspec is looked for in a local directory source, not in a git URL" {
	mkdir -p "$T/src"
	cat >"$T/p.yml" <<-'YML'
	pipeline:
	  name: p
	  stages:
	    - name: S
	      actions:
	        - name: A
	          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
	          configuration: {RepositoryName: r, BranchName: main}
	          outputArtifacts: [{name: Src}]
	    - name: B
	      actions:
	        - name: Build
	          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
	          configuration: {ProjectName: b}
	          inputArtifacts: [{name: Src}]
	slipway:
	  sources: {r: src}
	  projects: {b: {buildspec: ci/build.yml}}
	YML
	run --separate-stderr "$SLIPWAY" validate "$T/p.yml"
	[ "$status" -eq 3 ]
	[ "$stderr" = "error: $T/p.yml:14:40: project 'b' has no buildspec in source 'r': 'ci/build.yml' is not there" ]

	mkdir "$T/src/ci" && touch "$T/src/ci/build.yml"
	run --separate-stderr "$SLIPWAY" validate "$T/p.yml"
	[ "$status" -eq 0 ]

	sed -i 's|{r: src}|{r: "https://git.example.com/r.git"}|; s|ci/build.yml|nowhere.yml|' "$T/p.yml"
	run --separate-stderr "$SLIPWAY" validate "$T/p.yml"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

@test "pipelines, buildspecs and group files validate in one call; one bad file makes it exit 3" {
	run --separate-stderr "$SLIPWAY" validate "$GOOD/minimal.yml" \
		tests/fixtures/good-groups/minimal.yml "$BAD/unbound-project.yml"
	[ "$status" -eq 3 ]
	[ "${lines[0]}" = "$GOOD/minimal.yml: ok (pipeline minimal, 2 stages, 2 actions, SUPERSEDED)" ]
	[[ "${lines[1]}" == "tests/fixtures/good-groups/minimal.yml: ok (group dev,"* ]]
	[ "$stderr" = "error: $BAD/unbound-project.yml:17:40: project 'b' of 'Build.Build' is not bound: add it under 'slipway.projects'" ]
}

@test "validate --help says pipeline files are checked too" {
	run "$SLIPWAY" validate --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Pipeline files"* ]]
	[[ "$output" == *"top level"*"has 'pipeline'"* ]]
}

@test "JSON on one line or indented with tabs validates as well" {
	local f=$GOOD/get-pipeline.json

	jq -c . "$f" >"$T/one.json"
	sed 's/    /\t/g' "$f" >"$T/tabs.json"
	grep -q "$(printf '\t')\"stages\"" "$T/tabs.json"
	for g in "$T/one.json" "$T/tabs.json"; do
		run --separate-stderr "$SLIPWAY" validate "$g"
		[ "$status" -eq 0 ]
		[ "$output" = "$g: ok (pipeline MyPipeline, 2 stages, 2 actions, SUPERSEDED)" ]
	done
	# an error in one-line JSON still says where
	jq -c '.pipeline.stages[1].actions[0].inputArtifacts = [{"name": "Nope"}]' "$f" >"$T/bad.json"
	run --separate-stderr "$SLIPWAY" validate "$T/bad.json"
	[ "$status" -eq 3 ]
	[[ "$stderr" == "error: $T/bad.json:1:"*": input artifact 'Nope' of 'Build.Build' is not the output of any action" ]]
}
