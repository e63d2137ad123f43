#!/usr/bin/env bats
# The documentation matches the program: every option of every --help is
# in the man page, the man page renders, the demo works, and the README
# says how to start.

SLIPWAY=${SLIPWAY:-$BATS_TEST_DIRNAME/../../slipway}
ROOT=$BATS_TEST_DIRNAME/../..
MAN=$ROOT/docs/slipway.1

# The man page as text, with roff's \- turned into plain hyphens.
man_text() {
	sed 's/\\-/-/g' "$MAN"
}

# Every long and short option a --help text prints.
help_options() {
	"$SLIPWAY" "$@" --help |
		grep -oE '(^|[ [,])--?[a-z][a-z-]*' | sed 's/^[ [,]//' |
		sort -u
}

# Check that each option of `slipway ARGS --help` is in the man page.
options_documented() {
	local opts opt missing=
	opts=$(help_options "$@")
	[ -n "$opts" ]
	for opt in $opts; do
		man_text | grep -qE -- "(^|[^a-z-])${opt}([^a-z-]|$)" ||
			missing="$missing $opt"
	done
	if [ -n "$missing" ]; then
		echo "not in docs/slipway.1 ($*):$missing"
		return 1
	fi
}

@test "docs: every option of 'slipway build --help' is in the man page" {
	options_documented build
}

@test "docs: every option of validate, history and show --help is in the man page" {
	options_documented validate
	options_documented history
	options_documented show
	options_documented prune
	options_documented pipeline
	options_documented serve
}

@test "docs: the top-level options and every command are in the man page" {
	options_documented
	local cmds cmd
	cmds=$("$SLIPWAY" --help | sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p')
	[ -n "$cmds" ]
	for cmd in $cmds; do
		man_text | grep -q "^\.SS \"slipway $cmd" ||
			{ echo "no section for '$cmd'"; return 1; }
	done
}

@test "docs: the man page lists every exit status and environment variable" {
	local section st var
	section=$(man_text | sed -n '/^\.SH EXIT STATUS/,/^\.SH ENVIRONMENT/p')
	for st in 0 1 2 3 4 111; do
		grep -qx "\.B $st" <<<"$section" ||
			{ echo "exit status $st missing"; return 1; }
	done
	for var in SLIPWAY_STATE_DIR NO_COLOR AWS_REGION AWS_DEFAULT_REGION; do
		man_text | grep -q "$var" || { echo "$var missing"; return 1; }
	done
}

@test "docs: every CODEBUILD_ variable a build sees is in the man page" {
	local proj=$BATS_TEST_TMPDIR/proj var n=0
	mkdir -p "$proj"
	cat >"$proj/buildspec.yml" <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - env
EOF
	run "$SLIPWAY" build "$proj" --state-dir "$BATS_TEST_TMPDIR/state"
	[ "$status" -eq 0 ]
	for var in $(grep -oE '^CODEBUILD_[A-Z_]+' <<<"$output" | sort -u); do
		n=$((n + 1))
		man_text | grep -q "$var" || { echo "$var missing"; return 1; }
	done
	[ "$n" -ge 10 ]
}

@test "docs: the man page renders without warnings" {
	command -v groff >/dev/null || skip "groff is not installed"
	run groff -man -ww -z "$MAN"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run groff -man -Tutf8 "$MAN"
	[ "$status" -eq 0 ]
	grep -q 'slipway build' <<<"$output"
}

@test "docs: docs/buildspec.md has the section on unconfirmed choices" {
	grep -q '^## Choices where CodeBuild is unconfirmed' \
		"$ROOT/docs/buildspec.md"
}

@test "docs: README says how to start: make demo and make test" {
	grep -q 'make demo' "$ROOT/README.md"
	grep -q 'make test' "$ROOT/README.md"
}

@test "docs: the example buildspec is valid and has no warnings" {
	run "$SLIPWAY" validate "$ROOT/examples/hello/buildspec.yml"
	[ "$status" -eq 0 ]
	[[ "$output" == *": ok (buildspec 0.2, 4 phases)" ]]
	[[ "$output" != *warning* ]]
}

@test "docs: make demo runs the demo script" {
	grep -q '^demo:' "$ROOT/Makefile"
	grep -q 'examples/demo.sh' "$ROOT/Makefile"
	[ -x "$ROOT/examples/demo.sh" ]
}

@test "docs: the demo builds examples/hello and runs the webapp, ending with the report" {
	local d=$BATS_TEST_TMPDIR/demo
	SLIPWAY_DEMO_DIR=$d run "$ROOT/examples/demo.sh" "$SLIPWAY"
	[ "$status" -eq 0 ]
	[ -f "$d/artifacts/artifacts.zip" ]
	[ -f "$d/artifacts/checks.zip" ]
	[ -f "$d/report.json" ]
	grep -q '"buildStatus": "SUCCEEDED"' "$d/report.json"
	# it ends by saying where the run's report is (the webapp's)
	[[ "${lines[${#lines[@]} - 1]}" == "report:"*"$d/state/runs/"*"/report.json" ]]
	[ -f "${lines[${#lines[@]} - 1]##* }" ]
	[ "$(jq -r .status "${lines[${#lines[@]} - 1]##* }")" = Succeeded ]
	grep -qx "hello build: $d/report.json" <<<"$output"
	# then examples/pipeline: it waited for its approval, was approved,
	# deployed and ended Succeeded, with its page and its events
	grep -q 'waiting for approval' <<<"$output"
	grep -q '^Approval/Release: Approved$' <<<"$output"
	grep -Eq '^pe-[0-9a-f-]+ webapp Succeeded$' <<<"$output"
	local page
	page=$(sed -n 's/^pipeline: *//p' <<<"$output")
	[[ "$page" == "$d/pipeline-state/executions/pe-"*"/report.html" ]]
	xmllint --html --noout "$page"
	[ "$(grep -c 'class="action st-ok"' "$page")" -eq 5 ]
	grep -q 'approved by the demo' "$page"
	grep -q '"state":"SUCCEEDED"' "$d/pipeline-events.jsonl"
	[ "$(jq -r 'select(.detail.stage == null) | .detail.state' \
		"$d/pipeline-events.jsonl" | tail -1)" = SUCCEEDED ]
	[ ! -e "$ROOT/examples/pipeline/.slipway" ]
	# discard-paths: the zip holds hello and README.txt at its root
	mkdir "$d/x"
	(cd "$d/x" && unzip -q ../artifacts/artifacts.zip)
	[ "$(cd "$d/x" && find . -type f | sort | tr '\n' ' ')" = \
		"./README.txt ./hello " ]
	run "$d/x/hello" slipway
	[ "$output" = "hello, slipway!" ]
	run "$d/x/hello" --version
	[ "$output" = "hello 1.0.1" ]
	# the exported variables reached the report
	grep -q '"name": "VERSION"' "$d/report.json"
	grep -q '"name": "HELLO_SHA256"' "$d/report.json"
	# nothing was written into the example itself
	[ ! -e "$ROOT/examples/hello/dist" ]
	[ ! -e "$ROOT/examples/hello/.slipway" ]
}

@test "docs: every option of deploy and agent --help is in the man page" {
	options_documented deploy
	options_documented agent
	options_documented plan
	options_documented run
}

@test "docs: every command's --help has an example" {
	local cmd
	for cmd in build validate history show cache prune deploy plan run pipeline serve; do
		"$SLIPWAY" "$cmd" --help | grep -q '^Examples\{0,1\}:' ||
			{ echo "no example in '$cmd --help'"; return 1; }
	done
}

@test "docs: bash completion completes commands, options and values" {
	local dir
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/bin.XXXXXX")
	ln -s "$SLIPWAY" "$dir/slipway"
	mkdir -p "$dir/state/executions/pe-1a" "$dir/state/executions/pe-2b"
	run env PATH="$dir:$PATH" SLIPWAY_STATE_DIR="$dir/state" bash -c '
		. "$1"
		complete_words() {
			COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
			COMPREPLY=(); _slipway; printf "%s\n" "${COMPREPLY[@]}"
		}
		echo "--- commands"; complete_words slipway de
		echo "--- options"; complete_words slipway deploy --gr
		echo "--- feb"; complete_words slipway deploy --file-exists-behavior O
		echo "--- cache"; complete_words slipway cache p
		echo "--- host"; complete_words slipway host st
		echo "--- isolation"; complete_words slipway deploy --isolation s
		echo "--- events"; complete_words slipway deploy -e ApplicationStop,Val
		echo "--- pipeline"; complete_words slipway pipeline ap
		echo "--- end"
		echo "--- report"; complete_words slipway report pe-1
		echo "--- report end"
	' _ "$ROOT/completions/slipway.bash"
	[ "$status" -eq 0 ]
	[[ "$output" == *"--- report"$'\n'"pe-1a"$'\n'"--- report end"* ]]
	[[ "$output" == *"--- events"$'\n'"ApplicationStop,ValidateService"$'\n'"--- pipeline"$'\n'"approve"$'\n'"--- end"* ]]
	[[ "$output" == *"--- host"$'\n'"start"$'\n'"stop"$'\n'"--- isolation"$'\n'"sandbox"* ]]
	[[ "$output" == *"--- commands"$'\n'"deploy"$'\n'"--- options"* ]]
	[[ "$output" == *$'\n'"--group"$'\n'"--- feb"$'\n'"OVERWRITE"$'\n'"--- cache"$'\n'"prune"* ]]
}

# ---- claims that something is not implemented, and the reverse ----

# Every place in the docs that says something is not implemented, not
# supported or not run yet: "FILE:LINE:text" lines.
unimplemented_claims() {
	grep -rniE 'not (yet )?implemented|not run yet|not (yet )?supported|unsupported|not (yet )?available' \
		"$ROOT/docs" "$ROOT/README.md"
}

# Prove one claim: the thing it names is refused. Prints what is wrong.
check_claim() {
	case $1 in
	*codedeploy-local*--events*)
		# appspec.md: codedeploy-local's --events is not supported
		run "$SLIPWAY" deploy --events BeforeInstall "$BATS_TEST_TMPDIR/none" </dev/null
		[ "$status" -eq 2 ] && [[ "$output" == *"unknown option '--events'"* ]] ||
			echo "deploy --events runs (status $status), yet the docs say it is not supported: $1"
		;;
	*pipeline.md*onSuccess*beforeEntry*"stage conditions are not supported"*)
		# pipeline.md: stage conditions and blockers are refused
		local k
		for k in "onSuccess: {conditions: []}" "beforeEntry: {conditions: []}" \
			"blockers: [{name: b, type: Schedule}]" \
			"onFailure: {result: FAIL, conditions: []}"; do
			mkdir -p "$BATS_TEST_TMPDIR/app"
			sed "s/^    - name: Ask\$/&\\n      $k/" \
				"$ROOT/tests/fixtures/good-pipelines/minimal.yml" >"$BATS_TEST_TMPDIR/p.yml"
			run "$SLIPWAY" validate "$BATS_TEST_TMPDIR/p.yml"
			[ "$status" -eq 3 ] && [[ "$output" == *"stage conditions are not supported"* ]] ||
				echo "a stage with '$k' is not refused (status $status: $output), yet the docs say it is not supported: $1"
		done
		;;
	*)
		echo "a claim with no check here (add one, or make it true): $1"
		;;
	esac
}

@test "docs: each 'not implemented/supported/run yet' claim is backed by a refusal" {
	local line msg bad=
	while IFS= read -r line; do
		msg=$(check_claim "${line#"$ROOT"/}")
		[ -z "$msg" ] || bad="$bad$msg"$'\n'
	done < <(unimplemented_claims)
	[ -z "$bad" ] || { echo "$bad"; return 1; }
}

@test "docs: the claim checks catch a false claim" {
	# the reverse: a feature that runs, documented as not run, is caught
	run check_claim "docs/buildspec.md:57:reports: ...  # validated, not run yet"
	[[ "$output" == *"a claim with no check here"* ]]
	run check_claim "docs/slipway.1:308:Caches are not implemented yet"
	[[ "$output" == *"a claim with no check here"* ]]
}

@test "docs: reports, cache and batch, documented as run, run and say nothing of 'not run'" {
	local proj=$BATS_TEST_TMPDIR/proj rep=$BATS_TEST_TMPDIR/r.json task
	mkdir -p "$proj"
	cat >"$proj/buildspec.yml" <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - mkdir -p deps out
      - echo dep >deps/d.txt
      - printf '<testsuite name="s" tests="1"><testcase name="t"/></testsuite>' >out/junit.xml
reports:
  unit:
    files: [out/junit.xml]
cache:
  paths:
    - 'deps/**/*'
batch:
  build-list:
    - identifier: only
EOF2
	run "$SLIPWAY" build "$proj" --state-dir "$BATS_TEST_TMPDIR/state" --report "$rep"
	[ "$status" -eq 0 ]
	! grep -iqE 'not (yet )?implemented|not run yet|not (yet )?supported' <<<"$output" || false
	# batch: a batch report with the task's build
	[ "$(jq -r '.buildGroups | length' "$rep")" = 1 ]
	task=$(jq -r '.buildGroups[0].currentBuildSummary.report' "$rep")
	# reports: read and summed up
	[ "$(jq -r '.reports | length' "$task")" = 1 ]
	[[ "$output" == *"Report group unit: 1 tests, 1 passed"* ]]
	# cache: saved (and --no-cache, documented as skipping it, skips it)
	[[ "$output" == *"Saving cache: project cache 1 files"* ]]
	run "$SLIPWAY" build "$proj" --state-dir "$BATS_TEST_TMPDIR/state" --no-cache
	[ "$status" -eq 0 ]
	[[ "$output" == *"Cache disabled by --no-cache"* ]]
	[[ "$output" != *"Saving cache"* ]]
}

@test "docs: the README's variables and secrets example runs as written" {
	local d=$BATS_TEST_TMPDIR/readme
	mkdir -p "$d/bin"
	ln -s "$SLIPWAY" "$d/bin/slipway"
	cat >"$d/buildspec.yml" <<'EOF'
version: 0.2
env:
  parameter-store:
    DB_PASSWORD: /prod/db/password
phases:
  build:
    commands:
      - echo "STAGE=$STAGE API_URL=$API_URL PW=$DB_PASSWORD"
      - mkdir -p dist && echo x >dist/x
artifacts:
  files: [dist/x]
EOF
	# the block from "# Variables and secrets" to the build it makes
	sed -n '/^# Variables and secrets/,/--report build.json$/p' \
		"$ROOT/README.md" >"$d/example.sh"
	grep -q -- '--env-file build.env' "$d/example.sh"
	cd "$d"
	run env PATH="$d/bin:$PATH" SLIPWAY_STATE_DIR="$d/state" bash -e example.sh
	[ "$status" -eq 0 ]
	# -e STAGE=test wins over build.env's STAGE=dev; the secret is masked
	[[ "$output" == *"STAGE=test API_URL=https://api.example.com PW=***"* ]]
	[ -f out/artifacts.zip ]
	[ "$(jq -r .buildStatus build.json)" = SUCCEEDED ]
}

# A state directory with builds hello#1, hello#2 and a deployment; prints
# its path. $1: where.
completion_state() {
	local d=$1
	mkdir -p "$d/hello" "$d/bin"
	ln -sf "$SLIPWAY" "$d/bin/slipway"
	printf 'version: 0.2\nphases:\n  build:\n    commands: [echo hi]\n' \
		>"$d/hello/buildspec.yml"
	"$SLIPWAY" build "$d/hello" --state-dir "$d/state" -q 2>/dev/null
	"$SLIPWAY" build "$d/hello" --state-dir "$d/state" -q 2>/dev/null
	mkdir -p "$d/rev" "$d/root"
	printf 'version: 0.0\nos: linux\n' >"$d/rev/appspec.yml"
	"$SLIPWAY" deploy "$d/rev" --root "$d/root" --deployment-id d-COMPLETE1 \
		--state-dir "$d/state" -q 2>/dev/null
}

@test "docs: bash completion completes ids from the state directory" {
	local d=$BATS_TEST_TMPDIR/c
	completion_state "$d"
	run env PATH="$d/bin:$PATH" bash -c '
		. "$1"
		complete_words() {
			COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
			COMPREPLY=(); _slipway; printf "%s\n" "${COMPREPLY[@]}"
		}
		echo "--- show"; complete_words slipway show --state-dir "$2" hello#
		echo "--- dep"; complete_words slipway show --state-dir "$2" d-
		echo "--- project"; complete_words slipway history --state-dir "$2" --project he
		echo "--- help"; complete_words slipway help bu
		echo "--- end"
	' _ "$ROOT/completions/slipway.bash" "$d/state"
	[ "$status" -eq 0 ]
	[[ "$output" == *"--- show"$'\n'"hello#1"$'\n'"hello#2"$'\n'"--- dep"$'\n'"d-COMPLETE1"$'\n'"--- project"$'\n'"hello"$'\n'"--- help"$'\n'"build"$'\n'"--- end"* ]]
}

@test "docs: zsh completion completes commands, options and ids" {
	command -v zsh >/dev/null || skip "no zsh"
	local d=$BATS_TEST_TMPDIR/c
	completion_state "$d"
	# compadd and _files stand in for zsh's completion system
	run env PATH="$d/bin:$PATH" SLIPWAY_STATE_DIR="$d/state" zsh -fc '
		compadd() { if [[ $1 == -a ]]; then print -l -- ${(P)2}; else print -l -- "$@"; fi }
		_files() { print FILES }
		words=(slipway de); CURRENT=2; print -- "--- cmd"; source "$0"
		words=(slipway deploy --gr); CURRENT=3; print -- "--- opt"; source "$0"
		words=(slipway show ""); CURRENT=3; print -- "--- ids"; source "$0"
		print -- "--- end"
	' "$ROOT/completions/_slipway"
	[ "$status" -eq 0 ]
	[[ "$output" == *"--- cmd"$'\n'*"deploy"*"--- opt"* ]]
	[[ "$output" == *"--- opt"$'\n'*"--group"*"--- ids"* ]]
	[[ "$output" == *"--- ids"$'\n'*"hello#1"*"hello#2"*"d-COMPLETE1"*"--- end"* ]]
}

@test "docs: fish completion completes commands, options and ids" {
	command -v fish >/dev/null || skip "no fish"
	local d=$BATS_TEST_TMPDIR/c
	completion_state "$d"
	run env PATH="$d/bin:$PATH" SLIPWAY_STATE_DIR="$d/state" fish -c '
		source $argv[1]
		echo "--- cmd"; complete -C "slipway vali"
		echo "--- opt"; complete -C "slipway deploy --gr"
		echo "--- ids"; complete -C "slipway show hello"
		echo "--- dep"; complete -C "slipway report d-"
		echo "--- end"
	' "$ROOT/completions/slipway.fish"
	[ "$status" -eq 0 ]
	[[ "$output" == *"--- cmd"$'\n'"validate"*"--- opt"$'\n'"--group"*"--- ids"$'\n'"hello#1"$'\n'"hello#2"$'\n'*"--- dep"$'\n'"d-COMPLETE1"$'\n'"--- end"* ]]
}
