#!/usr/bin/env bats
# CodeBuild's source layout under each build's own directory:
# <build>/codebuild/output/src<N>/src (/codebuild/output/... in the
# sandbox), src/<host>/<owner>/<repo> for a GitHub, GitLab or Bitbucket
# URL. What a buildspec does relative to its source stays in its build.

load helpers

export GIT_AUTHOR_NAME=e2e GIT_AUTHOR_EMAIL=e2e@example.invalid
export GIT_COMMITTER_NAME=e2e GIT_COMMITTER_EMAIL=e2e@example.invalid
export GIT_CONFIG_NOSYSTEM=1

sandbox_or_skip() {
	[ "$(id -u)" -eq 0 ] || skip "the sandbox needs root here"
	unshare --pid --fork --mount --ipc --uts --net true 2>/dev/null ||
		skip "namespaces are unavailable"
}

# $1: a repository made from the buildspec on stdin, reached as the
# GitHub URL $2 (git's url.<base>.insteadOf, which libgit2 follows): no
# network.
github_repo() {
	local repo=$T/$1
	git -c init.defaultBranch=main init -q "$repo"
	cat >"$repo/buildspec.yml"
	echo hi >"$repo/main.go"
	git -C "$repo" add -A
	git -C "$repo" commit -q -m first
	export HOME=$T
	git config --global url."file://$repo".insteadOf "$2"
}

# the state directory's entries, but the builds' own directories and
# their links
outside_builds() {
	(cd "$STATE" && find . -path './builds/proj[-:]*' -prune -o -print |
		sort)
}

@test "amazon-ecs-agent's pr-build: cd ../../../.. then src/github.com finds the checkout" {
	url=https://github.com/aws/amazon-ecs-agent.git
	github_repo ecs "$url" <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "SRC=$CODEBUILD_SRC_DIR"
      - echo "PWD=$(pwd)"
      - cd ../../../.. && echo "GOPATH=$(pwd)"
      - cd src/github.com && ls aws && echo "FOUND=$(cat aws/amazon-ecs-agent/main.go)"
EOF
	run "$SLIPWAY" build "$url" --state-dir "$STATE" --report "$REPORT"
	[ "$status" -eq 0 ]
	LOG=$(rj .logs.location)
	src=$(printed SRC)
	[[ "$src" =~ ^.*/builds/amazon-ecs-agent-[0-9a-f-]+/codebuild/output/src[0-9]+/src/github.com/aws/amazon-ecs-agent$ ]]
	[ "$(printed PWD)" = "$src" ]
	[ "$(printed GOPATH)" = "${src%/src/github.com/aws/amazon-ecs-agent}" ]
	[ "$(printed FOUND)" = hi ]
	[ "$(rj .source.location)" = "$url" ]
}

@test "amazon-ecs-agent's pr-build in the sandbox: /codebuild/output/src<N>/src/github.com/aws/..." {
	sandbox_or_skip
	url=https://github.com/aws/amazon-ecs-agent
	github_repo ecs "$url" <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "SRC=$CODEBUILD_SRC_DIR"
      - cd ../../../.. && echo "GOPATH=$(pwd)"
      - cd src/github.com/aws/amazon-ecs-agent && echo built >out.txt
artifacts:
  files:
    - out.txt
    - main.go
EOF
	run "$SLIPWAY" build "$url" --state-dir "$STATE" --report "$REPORT" \
		--isolation sandbox -o "$T/out"
	[ "$status" -eq 0 ]
	LOG=$(rj .logs.location)
	[[ "$(printed SRC)" =~ ^/codebuild/output/src[0-9]+/src/github.com/aws/amazon-ecs-agent$ ]]
	[[ "$(printed GOPATH)" =~ ^/codebuild/output/src[0-9]+$ ]]
	[ "$(unzip -Z1 "$T/out/artifacts.zip" | sort | tr '\n' ' ')" = "main.go out.txt " ]
}

@test "a buildspec that goes up from its source, lists and writes, stays in its own build" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - cd .. && touch up1
      - cd .. && touch up2
      - cd .. && touch up3
      - cd .. && touch up4 && echo "TOP=$(ls | tr '\n' ' ')"
EOF
	sw_build
	[ "$status" -eq 0 ]
	first=$(dirname "$LOG")
	before=$(outside_builds)
	sw_build
	[ "$status" -eq 0 ]
	b=$(dirname "$LOG")
	# the outermost "cd .." reached the build's own directory, CodeBuild's "/"
	[ -f "$b/up4" ]
	[ -f "$b/codebuild/up3" ]
	[ -f "$b/codebuild/output/up2" ]
	[ -f "$(dirname "$(src_of "$LOG")")/up1" ]
	[[ "$(printed TOP)" == *"build.log codebuild "* ]]
	# no other build seen, nothing written beside the builds
	[[ "$(printed TOP)" != *proj-* ]]
	[ "$(outside_builds)" = "$before" ]
	[ ! -e "$first/../up4" ] && [ ! -e "$STATE/up4" ]
	[ "$(find "$first" -name 'up*' | wc -l)" -eq 4 ]
}

@test "in the sandbox, cd ../../../.. and touch never reach the state directory" {
	sandbox_or_skip
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - cd ../.. && touch up2 && echo "AT2=$(pwd)"
      - cd ../.. && (touch up4 2>/dev/null || echo "RO4=yes") && echo "AT4=$(pwd)"
      - cd ../../../.. && ls /codebuild/output | tr '\n' ' ' && echo
EOF
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	b=$(dirname "$LOG")
	[[ "$(printed AT2)" =~ ^/codebuild/output$ ]]
	[ "$(printed AT4)" = / ]
	[ "$(printed RO4)" = yes ]
	[ -f "$b/codebuild/output/up2" ]
	[ -z "$(find "$STATE" -name up4)" ]
}
