#!/usr/bin/env bats
# --from PHASE [BUILD-ID] and --phase PHASE: run a kept build's files
# again from one phase, with the variables it had there.

load helpers

# The kept source directory of the build in $REPORT.
kept_src() {
	buildlog | sed -n 's/^\[Container\] [0-9/: .]*CODEBUILD_SRC_DIR=//p' |
		head -n 1
}

two_phase_spec() {
	cat >"$T/secrets.yml" <<'EOF2'
parameter-store:
  /db/pass: pw-first
EOF2
	spec <<'EOF2'
version: 0.2
env:
  parameter-store:
    DB_PASS: /db/pass
phases:
  install:
    commands:
      - echo install-ran >>"$CODEBUILD_SRC_DIR/installs"
      - export TOOL_HOME=$CODEBUILD_SRC_DIR/tool
      - mkdir -p sub && cd sub
  build:
    commands:
      - echo "TOOL_HOME=$TOOL_HOME"
      - echo "WHERE=$PWD"
      - echo "NUMBER=$CODEBUILD_BUILD_NUMBER"
      - echo "SECRET=$DB_PASS" >../secret-seen
      - test -f ../fixed
  post_build:
    commands:
      - echo post-ran
artifacts:
  files: [installs]
EOF2
}

@test "--from build runs the kept files again from BUILD with its variables" {
	two_phase_spec
	sw_build --secrets-file "$T/secrets.yml"
	[ "$status" -eq 1 ]
	first=$(rj .id)
	src=$(kept_src)
	[ -d "$src" ]
	touch "$src/fixed"
	# the secret is resolved again, not kept on disk
	sed -i 's/pw-first/pw-second/' "$T/secrets.yml"
	! grep -rq pw-first "$(rj .logs.location | xargs dirname)/phases" || false
	rm -f "$REPORT"
	run "$SLIPWAY" build --from build --state-dir "$STATE" \
		--report "$REPORT" --secrets-file "$T/secrets.yml" -o "$T/out"
	[ "$status" -eq 0 ]
	LOG=$(rj .logs.location)
	[ "$(phase_types)" = "DOWNLOAD_SOURCE BUILD POST_BUILD UPLOAD_ARTIFACTS FINALIZING COMPLETED" ]
	[ "$(rj .buildNumber)" = 2 ]
	[ "$(rj .resumedFrom.buildId)" = "$first" ]
	[ "$(rj .resumedFrom.phaseType)" = BUILD ]
	[ "$(rj .resumedFrom.onePhase)" = false ]
	new=$(kept_src)
	[ "$new" != "$src" ]
	[ "$(printed TOOL_HOME)" = "$new/tool" ]
	[ "$(printed WHERE)" = "$new/sub" ]
	[ "$(printed NUMBER)" = 2 ]
	[ "$(cat "$new/secret-seen")" = "SECRET=pw-second" ]
	# INSTALL ran once, in the first build
	[ "$(wc -l <"$new/installs")" -eq 1 ]
	buildlog | grep -qx post-ran
	[ -f "$T/out/artifacts.zip" ]
}

@test "--phase build runs that phase alone, without artifacts" {
	two_phase_spec
	sw_build --secrets-file "$T/secrets.yml"
	[ "$status" -eq 1 ]
	id=$(rj .id)
	touch "$(kept_src)/fixed"
	rm -f "$REPORT"
	run "$SLIPWAY" build --phase BUILD "$id" --state-dir "$STATE" \
		--report "$REPORT" --secrets-file "$T/secrets.yml" -o "$T/out"
	[ "$status" -eq 0 ]
	LOG=$(rj .logs.location)
	[ "$(phase_types)" = "DOWNLOAD_SOURCE BUILD FINALIZING COMPLETED" ]
	[ "$(rj .resumedFrom.onePhase)" = true ]
	! buildlog | grep -qx post-ran || false
	buildlog | grep -q "No artifacts: --phase runs one phase alone"
	[ ! -e "$T/out/artifacts.zip" ]
}

@test "--from: a phase the build never reached, an unknown build, no build" {
	two_phase_spec
	run "$SLIPWAY" build --from build --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"no build in"*"to run again"* ]]
	sed -i 's/^  install:/  install:\n    on-failure: ABORT/' "$PROJ/buildspec.yml"
	sed -i 's/- mkdir -p sub \&\& cd sub/- exit 3/' "$PROJ/buildspec.yml"
	sw_build --secrets-file "$T/secrets.yml"
	[ "$status" -eq 1 ]
	run "$SLIPWAY" build --from post_build "$(rj .id)" --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"never started phase POST_BUILD"* ]]
	run "$SLIPWAY" build --from build nosuch:build --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"no build 'nosuch:build'"* ]]
	run "$SLIPWAY" build --from finalizing --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--from must be install, pre_build, build or post_build"* ]]
	run "$SLIPWAY" build --from build --phase build --state-dir "$STATE"
	[ "$status" -eq 2 ]
}
