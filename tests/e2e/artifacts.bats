#!/usr/bin/env bats
# Artifacts: which files go into the zips, where the zips go, what is
# refused, and what the report says about them.

load helpers

# The sorted entry list of a zip (files only).
entries() {
	unzip -Z1 "$1" | grep -v '/$' | sort | tr '\n' ' ' | sed 's/ $//'
}

# A project with a small tree the build adds to.
tree_spec() {
	mkdir -p "$PROJ/src/lib" "$PROJ/docs"
	echo main >"$PROJ/src/main.c"
	echo util >"$PROJ/src/lib/util.c"
	echo hdr >"$PROJ/src/lib/util.h"
	echo readme >"$PROJ/docs/README.md"
	spec
}

@test "files with ** globs keep their paths; primary goes to DIR/artifacts.zip" {
	tree_spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - mkdir -p out/bin && echo built >out/bin/app
artifacts:
  files:
    - 'src/**/*.c'
    - out/**/*
EOF
	sw_build -o "$T/dist"
	[ "$status" -eq 0 ]
	[ -f "$T/dist/artifacts.zip" ]
	[ "$(entries "$T/dist/artifacts.zip")" = "out/bin/app src/lib/util.c src/main.c" ]
	[ "$(unzip -p "$T/dist/artifacts.zip" out/bin/app)" = built ]
	[ "$(rj .artifacts.location)" = "$T/dist/artifacts.zip" ]
	[ "$(ls -A "$T/dist")" = artifacts.zip ]
}

@test "sha256sum and md5sum in the report match the zip" {
	tree_spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo hi
artifacts:
  files:
    - '**/*'
EOF
	sw_build -o "$T/dist"
	[ "$status" -eq 0 ]
	[ "$(rj .artifacts.sha256sum)" = "$(sha256sum "$T/dist/artifacts.zip" | cut -d' ' -f1)" ]
	[ "$(rj .artifacts.md5sum)" = "$(md5sum "$T/dist/artifacts.zip" | cut -d' ' -f1)" ]
	[ "$(rj .artifacts.sizeInBytes)" = "$(stat -c %s "$T/dist/artifacts.zip")" ]
	unzip -Z1 "$T/dist/artifacts.zip" | grep -qx docs/README.md
	unzip -Z1 "$T/dist/artifacts.zip" | grep -qx buildspec.yml
	[ -z "$(find "$T/dist" -name '*tmp*')" ]
}

@test "without -o the artifacts go to the build directory" {
	tree_spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo hi
artifacts:
  files:
    - docs/README.md
EOF
	sw_build
	[ "$status" -eq 0 ]
	dir=$(dirname "$LOG")
	[ "$(rj .artifacts.location)" = "$dir/artifacts/artifacts.zip" ]
	[ "$(entries "$dir/artifacts/artifacts.zip")" = docs/README.md ]
}

@test "base-directory, discard-paths and exclude-paths" {
	tree_spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo hi
artifacts:
  base-directory: src
  discard-paths: yes
  files:
    - '**/*'
  exclude-paths:
    - '**/*.h'
EOF
	sw_build -o "$T/dist"
	[ "$status" -eq 0 ]
	[ "$(entries "$T/dist/artifacts.zip")" = "main.c util.c" ]
}

@test "base-directory keeps the paths below it" {
	tree_spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo hi
artifacts:
  base-directory: src
  files:
    - '**/*'
EOF
	sw_build -o "$T/dist"
	[ "$status" -eq 0 ]
	[ "$(entries "$T/dist/artifacts.zip")" = "lib/util.c lib/util.h main.c" ]
}

@test "secondary artifacts are written as DIR/<identifier>.zip" {
	tree_spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo hi
artifacts:
  files:
    - docs/README.md
  secondary-artifacts:
    code:
      base-directory: src
      files:
        - '*.c'
    headers:
      files:
        - src/lib/*.h
EOF
	sw_build -o "$T/dist"
	[ "$status" -eq 0 ]
	[ "$(entries "$T/dist/artifacts.zip")" = docs/README.md ]
	[ "$(entries "$T/dist/code.zip")" = main.c ]
	[ "$(entries "$T/dist/headers.zip")" = src/lib/util.h ]
	[ "$(rj '.secondaryArtifacts | length')" = 2 ]
	[ "$(rj '.secondaryArtifacts[] | select(.artifactIdentifier=="code") | .sha256sum')" = "$(sha256sum "$T/dist/code.zip" | cut -d' ' -f1)" ]
	[ -z "$(find "$T/dist" -name '*tmp*')" ]
}

@test "multiple inputs and outputs sample: only secondary-artifacts, no primary" {
	tree_spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - cd $CODEBUILD_SRC_DIR
      - mkdir -p second && echo two >second/source2_file
      - echo one >source1_file
artifacts:
  secondary-artifacts:
    artifact1:
      base-directory: $CODEBUILD_SRC_DIR
      files:
        - source1_file
    artifact2:
      base-directory: second
      files:
        - source2_file
EOF
	sw_build -o "$T/dist"
	[ "$status" -eq 0 ]
	[ "$(rj .buildStatus)" = SUCCEEDED ]
	[ "$(phase_status UPLOAD_ARTIFACTS)" = SUCCEEDED ]
	[ "$(entries "$T/dist/artifact1.zip")" = source1_file ]
	[ "$(entries "$T/dist/artifact2.zip")" = source2_file ]
	[ ! -e "$T/dist/artifacts.zip" ]
	[ "$(rj '.artifacts // "none"')" = none ]
	[ "$(rj '[.secondaryArtifacts[].artifactIdentifier] | join(",")')" = artifact1,artifact2 ]
	! grep -q "artifacts.files' is required" <<<"$output" || false
}

@test "files may name a variable the build set without export" {
	tree_spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - OUT_FILE=gen/result-42.txt
      - mkdir -p gen && echo generated >"$OUT_FILE"
artifacts:
  files:
    - $OUT_FILE
EOF
	sw_build -o "$T/dist"
	[ "$status" -eq 0 ]
	[ "$(entries "$T/dist/artifacts.zip")" = gen/result-42.txt ]
}

@test "artifact paths are relative to CODEBUILD_SRC_DIR even after cd" {
	tree_spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - cd src/lib
      - echo made-in-lib >made.txt
artifacts:
  files:
    - src/lib/made.txt
    - docs/README.md
EOF
	sw_build -o "$T/dist"
	[ "$status" -eq 0 ]
	[ "$(entries "$T/dist/artifacts.zip")" = "docs/README.md src/lib/made.txt" ]
}

@test "no matching path fails UPLOAD_ARTIFACTS with CLIENT_ERROR" {
	tree_spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo hi
artifacts:
  files:
    - nothing/here/*.jar
EOF
	sw_build -o "$T/dist"
	[ "$status" -eq 1 ]
	[ "$(rj .buildStatus)" = FAILED ]
	[ "$(phase_status BUILD)" = SUCCEEDED ]
	[ "$(phase_status UPLOAD_ARTIFACTS)" = FAILED ]
	[ "$(phase_ctx UPLOAD_ARTIFACTS statusCode)" = CLIENT_ERROR ]
	[[ "$(phase_ctx UPLOAD_ARTIFACTS message)" == *"no matching artifact paths found"* ]]
	[ ! -e "$T/dist/artifacts.zip" ]
}

@test "a path escaping the source with .. is refused" {
	echo outside-secret >"$T/outside.txt"
	tree_spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo hi
artifacts:
  files:
    - ../../../../outside.txt
    - ../outside.txt
    - docs/README.md
EOF
	sw_build -o "$T/dist"
	[ "$status" -eq 1 ]
	[ "$(phase_status UPLOAD_ARTIFACTS)" = FAILED ]
	[ "$(phase_ctx UPLOAD_ARTIFACTS statusCode)" = CLIENT_ERROR ]
	msg=$(phase_ctx UPLOAD_ARTIFACTS message)
	[[ "$msg" == *outside.txt* ]]
	[[ "$msg" != *"no matching"* ]]
	if [ -e "$T/dist/artifacts.zip" ]; then
		! unzip -p "$T/dist/artifacts.zip" | grep -q outside-secret || false
	fi
}

@test "a symlink pointing outside the source is refused" {
	echo outside-secret >"$T/outside.txt"
	tree_spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - ln -s "$T/outside.txt" docs/link.txt
artifacts:
  files:
    - docs/*
EOF
	sw_build -o "$T/dist"
	[ "$status" -eq 1 ]
	[ "$(phase_status UPLOAD_ARTIFACTS)" = FAILED ]
	[[ "$(phase_ctx UPLOAD_ARTIFACTS message)" == *docs/link.txt* ]]
	[ ! -e "$T/dist/artifacts.zip" ]
	[ -z "$(find "$T/dist" -name '*tmp*' 2>/dev/null)" ]
}

@test "a file reached through a symlinked directory outside the source is not archived" {
	mkdir -p "$T/outdir"
	echo outside-secret >"$T/outdir/secret.txt"
	tree_spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - ln -s "$T/outdir" up
artifacts:
  files:
    - up/secret.txt
    - '**/*'
EOF
	sw_build -o "$T/dist"
	if [ -e "$T/dist/artifacts.zip" ]; then
		! unzip -p "$T/dist/artifacts.zip" | grep -q outside-secret || false
		! unzip -Z1 "$T/dist/artifacts.zip" | grep -q secret.txt || false
	else
		[ "$status" -eq 1 ]
		[ "$(phase_status UPLOAD_ARTIFACTS)" = FAILED ]
	fi
}

@test "a symlink inside the source is stored as content, or as a link with enable-symlinks" {
	tree_spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - ln -s README.md docs/link.md
artifacts:
  files:
    - docs/*
  secondary-artifacts:
    links:
      enable-symlinks: yes
      files:
        - docs/*
EOF
	sw_build -o "$T/dist"
	[ "$status" -eq 0 ]
	[ "$(unzip -p "$T/dist/artifacts.zip" docs/link.md)" = readme ]
	mkdir "$T/x"
	(cd "$T/x" && unzip -q "$T/dist/links.zip")
	[ -L "$T/x/docs/link.md" ]
	[ "$(readlink "$T/x/docs/link.md")" = README.md ]
	[ ! -L "$T/x/docs/README.md" ]
}
