#!/usr/bin/env bats
# --secondary-source ID=PATH|URL[@REF]: more sources beside the primary,
# at CODEBUILD_SRC_DIR_<ID>, as CodeBuild's multiple-input projects get
# them.

load helpers

export GIT_AUTHOR_NAME=e2e GIT_AUTHOR_EMAIL=e2e@example.invalid
export GIT_COMMITTER_NAME=e2e GIT_COMMITTER_EMAIL=e2e@example.invalid
export GIT_CONFIG_NOSYSTEM=1

# $1: a git repository with file f: "one" at tag v1, then "two" on main
make_repo() {
	local repo=$1
	git -c init.defaultBranch=main init -q "$repo"
	echo one >"$repo/f"
	git -C "$repo" add -A
	git -C "$repo" commit -q -m one
	git -C "$repo" tag v1
	echo two >"$repo/f"
	git -C "$repo" commit -q -am two
}

@test "AWS's multiple-inputs-and-outputs sample: secondary-artifacts from CODEBUILD_SRC_DIR_source1" {
	mkdir -p "$PROJ/directory" "$T/s1/directory"
	echo file1 >"$PROJ/directory/file1"
	echo file2 >"$T/s1/directory/file2"
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "S1=$CODEBUILD_SRC_DIR_source1"
      - echo "V1=[$CODEBUILD_SOURCE_VERSION_source1]"
      - echo "H1=[$(cd $CODEBUILD_SRC_DIR_source1 && codebuild-hash-files '**/*')]"
      - cat $CODEBUILD_SRC_DIR_source1/directory/file2
artifacts:
  files:
    - '**/*'
  secondary-artifacts:
    artifact1:
      base-directory: $CODEBUILD_SRC_DIR
      files:
        - directory/file1
    artifact2:
      base-directory: $CODEBUILD_SRC_DIR_source1
      files:
        - directory/file2
EOF
	sw_build --secondary-source "source1=$T/s1" -o "$T/out"
	[ "$status" -eq 0 ]
	s1=$(printed S1)
	[[ "$s1" =~ /codebuild/output/src[0-9]+/secSrc/source1$ ]]
	# beside the primary, inside the build's own directory
	[ "${s1%/secSrc/source1}" = "$(dirname "$(src_of "$LOG")")" ]
	# a plain directory: its content hash, as for a primary source
	[[ "$(printed V1)" =~ ^\[[0-9a-f]{64}\]$ ]]
	[ "$(printed V1)" = "$(printed H1)" ]
	[ "$(rj '.secondarySourceVersions[0].sourceVersion')" = "$(printed V1 | tr -d '[]')" ]
	buildlog | grep -qx file2
	buildlog | grep -q "CODEBUILD_SRC_DIR_source1=$s1"
	[ "$(unzip -Z1 "$T/out/artifact1.zip" | grep -v '/$')" = directory/file1 ]
	[ "$(unzip -Z1 "$T/out/artifact2.zip" | grep -v '/$')" = directory/file2 ]
	[ "$(unzip -p "$T/out/artifact2.zip" directory/file2)" = file2 ]
	# the primary artifact holds the primary source only
	! unzip -Z1 "$T/out/artifacts.zip" | grep -q file2 || false
	[ "$(rj '.secondarySources[0].sourceIdentifier')" = source1 ]
	[ "$(rj '.secondarySources[0].location')" = "$T/s1" ]
}

@test "a test spec reading the build's results: a git secondary source at a tag, through the shared mirror" {
	make_repo "$T/results"
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "F=$(cat $CODEBUILD_SRC_DIR_results/f)"
      - echo "V=$CODEBUILD_SOURCE_VERSION_results"
      - echo "URL=$CODEBUILD_SOURCE_REPO_URL_results"
      - echo "HEAD=$(git -C $CODEBUILD_SRC_DIR_results rev-parse HEAD)"
EOF
	sw_build --secondary-source "results=$T/results@v1"
	[ "$status" -eq 0 ]
	[ "$(printed F)" = one ]
	[ "$(printed V)" = v1 ]
	[ "$(printed URL)" = "$T/results" ]
	[ "$(printed HEAD)" = "$(git -C "$T/results" rev-parse v1)" ]
	[ "$(rj '.secondarySourceVersions[0].sourceVersion')" = "$(git -C "$T/results" rev-parse v1)" ]
	buildlog | grep -q 'Source cache: mirror created'
	# the same repository as a primary source uses the same mirror
	cat >"$T/results/buildspec.yml" <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "F=$(cat f)"
EOF
	git -C "$T/results" add -A
	git -C "$T/results" commit -q -m spec
	rm -f "$REPORT"
	run "$SLIPWAY" build "$T/results" --committed --state-dir "$STATE" \
		--report "$REPORT"
	[ "$status" -eq 0 ]
	LOG=$(rj .logs.location)
	buildlog | grep -q 'Source cache: mirror hit'
	[ "$(ls -d "$STATE"/sources/*.git | wc -l)" -eq 1 ]
}

@test "a Go release spec with two GitHub sources: both under src/github.com, one GOPATH" {
	make_repo "$T/agent"
	make_repo "$T/sdk"
	cat >"$T/agent/buildspec.yml" <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "SDK=$CODEBUILD_SRC_DIR_sdk"
      - cd ../../../.. && ls src/github.com/aws | tr '\n' ' ' && echo
      - echo "GOT=$(cat src/github.com/aws/aws-sdk-go/f)"
EOF
	git -C "$T/agent" add -A
	git -C "$T/agent" commit -q -m spec
	export HOME=$T
	git config --global url."file://$T/agent".insteadOf https://github.com/aws/amazon-ecs-agent
	git config --global url."file://$T/sdk".insteadOf https://github.com/aws/aws-sdk-go
	run "$SLIPWAY" build https://github.com/aws/amazon-ecs-agent \
		--secondary-source sdk=https://github.com/aws/aws-sdk-go@v1 \
		--state-dir "$STATE" --report "$REPORT"
	[ "$status" -eq 0 ]
	LOG=$(rj .logs.location)
	[[ "$(printed SDK)" =~ /codebuild/output/src[0-9]+/src/github.com/aws/aws-sdk-go$ ]]
	buildlog | grep -qx "amazon-ecs-agent aws-sdk-go "
	[ "$(printed GOT)" = one ]
}

@test "a secondary source in the sandbox is at /codebuild/output, its artifact packed from the host" {
	[ "$(id -u)" -eq 0 ] || skip "the sandbox needs root here"
	unshare --pid --fork --mount --ipc --uts --net true 2>/dev/null ||
		skip "namespaces are unavailable"
	mkdir -p "$T/lib"
	echo lib >"$T/lib/lib.txt"
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "L=$CODEBUILD_SRC_DIR_lib"
      - echo built >$CODEBUILD_SRC_DIR_lib/out.txt
artifacts:
  files:
    - buildspec.yml
  secondary-artifacts:
    libout:
      base-directory: $CODEBUILD_SRC_DIR_lib
      files:
        - '*.txt'
EOF
	sw_build --isolation sandbox --secondary-source lib="$T/lib" -o "$T/out"
	[ "$status" -eq 0 ]
	[[ "$(printed L)" =~ ^/codebuild/output/src[0-9]+/secSrc/lib$ ]]
	[ "$(unzip -Z1 "$T/out/libout.zip" | sort | tr '\n' ' ')" = "lib.txt out.txt " ]
	# the user's directory was copied, not written
	[ ! -e "$T/lib/out.txt" ]
}

@test "bad --secondary-source arguments are usage errors" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo hi
EOF
	sw_build --secondary-source "my-src=$T"
	[ "$status" -eq 2 ]
	[[ "$output" == *"bad secondary source identifier 'my-src'"* ]]
	sw_build --secondary-source "a=$T" --secondary-source "a=$T"
	[ "$status" -eq 2 ]
	[[ "$output" == *"secondary source 'a' given twice"* ]]
	sw_build --secondary-source "$T"
	[ "$status" -eq 2 ]
	run "$SLIPWAY" run "$PROJ" --group "$T/none.yml" --secondary-source "x-y=."
	[ "$status" -eq 2 ]
	[[ "$output" == *"'x-y'"* ]]
	# a secondary source that does not exist fails DOWNLOAD_SOURCE
	sw_build --secondary-source "gone=$T/missing"
	[ "$status" -eq 2 ]
	[ "$(phase_status DOWNLOAD_SOURCE)" = FAILED ]
	[[ "$(phase_ctx DOWNLOAD_SOURCE message)" == "secondary source 'gone': source '$T/missing' does not exist" ]]
}
