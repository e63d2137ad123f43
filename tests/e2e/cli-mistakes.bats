#!/usr/bin/env bats
# Mistakes caught early: "did you mean" for commands, options and the keys
# of buildspecs, appspecs, group and pipeline files; --strict makes
# unknown keys errors; a build's warnings name the user's file.

bats_require_minimum_version 1.5.0
load helpers

@test "a mistyped command is refused with the command it is closest to" {
	cd "$T"
	run --separate-stderr "$SLIPWAY" buidl
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"error: unknown command 'buidl' (did you mean 'build'?)"* ]]
	run --separate-stderr "$SLIPWAY" valdiate x.yml
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"(did you mean 'validate'?)"* ]]
	# nothing close: no guess, the list of commands
	run --separate-stderr "$SLIPWAY" frobnicate
	[ "$status" -eq 2 ]
	[[ "$stderr" != *"did you mean"* ]]
	[[ "$stderr" == *"commands:"* ]]
	[ ! -e .slipway ]
}

@test "a mistyped option is refused with the option it is closest to" {
	run --separate-stderr "$SLIPWAY" build --buidlspec x.yml
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"unknown option '--buidlspec' (did you mean '--buildspec'?)"* ]]
	run --separate-stderr "$SLIPWAY" deploy b --gruop g.yml
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"(did you mean '--group'?)"* ]]
	run --separate-stderr "$SLIPWAY" build --no-cahce=1
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"unknown option '--no-cahce' (did you mean '--no-cache'?)"* ]]
	run --separate-stderr "$SLIPWAY" validate --stritc x.yml
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"(did you mean '--strict'?)"* ]]
	# an option that needs a value and got none is no unknown option
	run --separate-stderr "$SLIPWAY" build --timeout
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"option '--timeout' needs a value"* ]]
	run --separate-stderr "$SLIPWAY" build -b
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"option '-b' needs a value"* ]]
}

@test "a mistyped subcommand is refused with the one it is closest to" {
	run --separate-stderr "$SLIPWAY" cache lss --state-dir "$T/st"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"unknown subcommand 'lss' (did you mean 'ls'?)"* ]]
	run --separate-stderr "$SLIPWAY" pipeline aprove pe-1 --state-dir "$T/st"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"(did you mean 'approve'?)"* ]]
	run --separate-stderr "$SLIPWAY" host strat h --state-dir "$T/st"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"(did you mean 'start'?)"* ]]
	[ ! -e "$T/st" ]
}

@test "slipway help CMD prints that command's help" {
	run "$SLIPWAY" help build
	[ "$status" -eq 0 ]
	[ "$output" = "$("$SLIPWAY" build --help)" ]
	run "$SLIPWAY" help history
	[ "$status" -eq 0 ]
	[[ "$output" == "usage: slipway history"* ]]
	run --separate-stderr "$SLIPWAY" help biuld
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"(did you mean 'build'?)"* ]]
	run "$SLIPWAY" help
	[ "$status" -eq 0 ]
	[[ "$output" == *"commands:"* ]]
}

@test "validate: unknown buildspec keys and phases name the closest known one" {
	cat >"$T/bs.yml" <<'EOF'
version: 0.2
phases:
  biuld:
    commands: [echo a]
  install:
    comands: [echo b]
artifcats:
  files: [a]
cache:
  pahts: [x]
EOF
	run --separate-stderr "$SLIPWAY" validate "$T/bs.yml"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"warning: $T/bs.yml:3:3: unknown phase 'biuld' ignored (did you mean 'build'?)"* ]]
	[[ "$stderr" == *"warning: $T/bs.yml:6:5: unknown key 'comands' ignored (did you mean 'commands'?)"* ]]
	[[ "$stderr" == *"$T/bs.yml:7:1: unknown key 'artifcats' ignored (did you mean 'artifacts'?)"* ]]
	[[ "$stderr" == *"$T/bs.yml:10:3: unknown key 'pahts' ignored (did you mean 'paths'?)"* ]]
	# --strict: the same keys are errors, nothing is called ok
	run --separate-stderr "$SLIPWAY" validate --strict "$T/bs.yml"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"error: $T/bs.yml:6:5: unknown key 'comands' (did you mean 'commands'?)"* ]]
	[[ "$output" != *"ok"* ]]
}

@test "validate: appspec, group and pipeline keys get the same hint" {
	cat >"$T/appspec.yml" <<'EOF'
version: 0.0
os: linux
fiels:
  - source: /
    destination: /srv
EOF
	run --separate-stderr "$SLIPWAY" validate "$T/appspec.yml"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"$T/appspec.yml:3:1: unknown key 'fiels' ignored (did you mean 'files'?)"* ]]
	cat >"$T/group.yml" <<'EOF'
application: a
deployment-group: g
deployment-confg: CodeDeployDefault.AllAtOnce
hosts:
  - name: h
EOF
	run --separate-stderr "$SLIPWAY" validate "$T/group.yml"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"unknown key 'deployment-confg' ignored (did you mean 'deployment-config'?)"* ]]
	run --separate-stderr "$SLIPWAY" validate --strict "$T/group.yml" "$T/appspec.yml"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"error: $T/group.yml:3:1: unknown key 'deployment-confg'"* ]]
	[[ "$stderr" == *"error: $T/appspec.yml:3:1: unknown key 'fiels'"* ]]
	mkdir -p "$T/app"
	cat >"$T/pipeline.yml" <<'EOF'
pipeline:
  name: p
  exectionMode: QUEUED
  stages:
    - name: Source
      actions:
        - name: Src
          actionTypeId: {category: Source, owner: AWS, provider: CodeCommit, version: "1"}
          configuration: {RepositoryName: app, BranchName: main, OutputArtefactFormat: CODE_ZIP}
          outputArtifacts: [{name: Src}]
    - name: Ask
      actions:
        - name: Approve
          actionTypeId: {category: Approval, owner: AWS, provider: Manual, version: "1"}
slipway:
  sources: {app: app}
EOF
	run --separate-stderr "$SLIPWAY" validate "$T/pipeline.yml"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"$T/pipeline.yml:3:3: unknown key 'exectionMode'"*"(did you mean 'executionMode'?)"* ]]
	[[ "$stderr" == *"unknown configuration key 'OutputArtefactFormat'"*"(did you mean 'OutputArtifactFormat'?)"* ]]
	run --separate-stderr "$SLIPWAY" validate --strict "$T/pipeline.yml"
	[ "$status" -eq 3 ]
}

@test "build: a warning names the user's buildspec; --strict fails on an unknown key" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    comands:
      - echo ran-$((6 * 7))
EOF
	sw_build
	[ "$status" -eq 0 ]
	[[ "$output" == *"Warning: $PROJ/buildspec.yml:4:5: unknown key 'comands' ignored (did you mean 'commands'?)"* ]]
	[[ "$output" != *"src/buildspec.yml:4:5"* ]]
	cd "$PROJ"
	run "$SLIPWAY" build --state-dir "$STATE"
	[[ "$output" == *"Warning: buildspec.yml:4:5: unknown key 'comands'"* ]]
	cd "$T"
	sw_build --strict
	[ "$status" -eq 3 ]
	[ "$(phase_ctx DOWNLOAD_SOURCE statusCode)" = YAML_FILE_ERROR ]
	[[ "$(phase_ctx DOWNLOAD_SOURCE message)" == "$PROJ/buildspec.yml:4:5: unknown key 'comands' (did you mean 'commands'?)" ]]
	[[ "$output" != *"ran-42"* ]]
}

# A revision: app/index.html, scripts/start.sh, an appspec naming both.
bundle_dir() { # DIR
	mkdir -p "$1/app" "$1/scripts"
	echo hi >"$1/app/index.html"
	printf '#!/bin/sh\necho start\n' >"$1/scripts/start.sh"
	chmod 0755 "$1/scripts/start.sh"
	cat >"$1/appspec.yml" <<'EOF'
version: 0.0
os: linux
files:
  - source: app
    destination: /var/www
hooks:
  ApplicationStart:
    - location: scripts/start.sh
EOF
}

@test "validate BUNDLE: a directory or an archive, checked as a deployment checks it" {
	bundle_dir "$T/rev"
	run --separate-stderr "$SLIPWAY" validate "$T/rev"
	[ "$status" -eq 0 ]
	[ "$output" = "$T/rev: ok (bundle directory, appspec 0.0, 1 hooks, 1 files)" ]
	(cd "$T/rev" && zip -qr ../rev.zip .)
	tar -czf "$T/rev.tgz" -C "$T/rev" .
	run --separate-stderr "$SLIPWAY" validate "$T/rev.zip" "$T/rev.tgz"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$T/rev.zip: ok (bundle zip, appspec 0.0, 1 hooks, 1 files)"* ]]
	[[ "$output" == *"$T/rev.tgz: ok (bundle tar.gz,"* ]]
	# a script that is not executable is a warning: the agent fixes it
	chmod 0644 "$T/rev/scripts/start.sh"
	run --separate-stderr "$SLIPWAY" validate "$T/rev"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"warning: $T/rev/appspec.yml:8:7: ApplicationStart script 'scripts/start.sh' is not executable"* ]]
	# a missing script or files source is an error, with its position
	rm "$T/rev/scripts/start.sh"
	run --separate-stderr "$SLIPWAY" validate "$T/rev"
	[ "$status" -eq 3 ]
	[[ "$stderr" == "error: $T/rev/appspec.yml:8:7: ApplicationStart script 'scripts/start.sh' does not exist in the bundle" ]]
	bundle_dir "$T/rev2"
	rm -r "$T/rev2/app"
	(cd "$T/rev2" && zip -qr ../rev2.zip .)
	run --separate-stderr "$SLIPWAY" validate "$T/rev2.zip"
	[ "$status" -eq 3 ]
	[[ "$stderr" == "error: bundle $T/rev2.zip: appspec.yml:4:5: files source 'app' does not exist in the bundle" ]]
	# nothing written: no state directory, no scratch left behind
	[ ! -e "$T/.slipway" ]
	[ -z "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'slipway-check.*' -newer "$T/rev2.zip")" ]
}

@test "deploy checks the whole revision before any host gets it" {
	bundle_dir "$T/rev"
	cat >>"$T/rev/appspec.yml" <<'EOF'
  ValidateService:
    - location: scripts/check.sh
EOF
	printf 'application: a\ndeployment-group: g\ndeployment-config: CodeDeployDefault.AllAtOnce\nhosts:\n  - name: h1\n  - name: h2\n' >"$T/group.yml"
	run --separate-stderr "$SLIPWAY" deploy "$T/rev" --group "$T/group.yml" \
		--state-dir "$STATE" --report "$REPORT"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"$T/rev/appspec.yml:10:7: ValidateService script 'scripts/check.sh' does not exist in the bundle"* ]]
	[ "$(rj .errorInformation.code)" = INVALID_REVISION ]
	[ "$(rj '[.instances[].status] | join(" ")')" = "Skipped Skipped" ]
	# no host was touched: nothing installed, no agent state
	[ -z "$(find "$STATE/hosts" -path '*/var/www*' 2>/dev/null)" ]
	[ -z "$(find "$STATE/hosts" -name 'd-*' 2>/dev/null)" ]
}

@test "deploy --strict: an unknown key of the group file or the appspec is an error" {
	bundle_dir "$T/rev"
	printf 'application: a\ndeployment-group: g\nhots: []\nhosts:\n  - name: h1\n' >"$T/group.yml"
	# without --strict a warning, and the deployment runs
	run --separate-stderr "$SLIPWAY" deploy "$T/rev" --group "$T/group.yml" \
		--state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"warning: $T/group.yml:3:1: unknown key 'hots' ignored (did you mean 'hosts'?)"* ]]
	run --separate-stderr "$SLIPWAY" deploy "$T/rev" --group "$T/group.yml" \
		--state-dir "$STATE" --strict
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"error: $T/group.yml:3:1: unknown key 'hots' (did you mean 'hosts'?) (--strict)"* ]]
	printf 'application: a\ndeployment-group: g\nhosts:\n  - name: h1\n' >"$T/group.yml"
	printf 'permisions: []\n' >>"$T/rev/appspec.yml"
	run --separate-stderr "$SLIPWAY" deploy "$T/rev" --group "$T/group.yml" \
		--state-dir "$STATE" --strict --report "$REPORT"
	[ "$status" -eq 3 ]
	[ "$(rj .errorInformation.code)" = INVALID_REVISION ]
	[[ "$(rj .errorInformation.message)" == *"appspec.yml:9:1: unknown key 'permisions' (did you mean 'permissions'?) (--strict)" ]]
	[ "$(rj '.instances[0].status')" = Skipped ]
}
