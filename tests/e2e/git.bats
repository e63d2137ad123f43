#!/usr/bin/env bats
# Git sources: a repository made at test time with commits, a tag, a
# branch and a submodule, built by path, by file:// URL and by --ref.

load helpers

export GIT_AUTHOR_NAME=e2e GIT_AUTHOR_EMAIL=e2e@example.invalid
export GIT_COMMITTER_NAME=e2e GIT_COMMITTER_EMAIL=e2e@example.invalid
export GIT_CONFIG_NOSYSTEM=1

g() {
	git -C "$REPO" -c init.defaultBranch=main "$@" >/dev/null 2>&1
}

# $REPO: main has two commits (tag v1 on the first), branch feature one
# more; each commit's marker.txt says which it is.
make_repo() {
	REPO=$T/repo
	mkdir -p "$REPO"
	git -c init.defaultBranch=main init -q "$REPO"
	cat >"$REPO/buildspec.yml" <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "MARKER=$(cat marker.txt)"
      - echo "RESOLVED=$CODEBUILD_RESOLVED_SOURCE_VERSION"
      - echo "SOURCEV=$CODEBUILD_SOURCE_VERSION"
      - echo "REPOURL=$CODEBUILD_SOURCE_REPO_URL"
      - echo "SUB=$(cat sub/sub.txt 2>/dev/null)"
      - echo "DIRTY=$(cat dirty.txt 2>/dev/null)"
EOF
	echo first >"$REPO/marker.txt"
	g add -A && g commit -q -m first && g tag v1
	SHA1=$(git -C "$REPO" rev-parse HEAD)
	echo second >"$REPO/marker.txt"
	g commit -q -am second
	SHA2=$(git -C "$REPO" rev-parse HEAD)
	g checkout -q -b feature
	echo feature >"$REPO/marker.txt"
	g commit -q -am feature
	SHA3=$(git -C "$REPO" rev-parse HEAD)
	g checkout -q main
}

git_build() { # source, options...
	local src=$1
	shift
	rm -f "$REPORT"
	run "$SLIPWAY" build "$src" --state-dir "$STATE" --report "$REPORT" \
		"$@"
	LOG=
	if [ -f "$REPORT" ]; then
		LOG=$(jq -r .logs.location "$REPORT")
	fi
}

@test "a repository path with --committed builds its branch's last commit" {
	make_repo
	echo uncommitted >"$REPO/dirty.txt"
	git_build "$REPO" --committed
	[ "$status" -eq 0 ]
	[ "$(printed MARKER)" = second ]
	[ "$(printed RESOLVED)" = "$SHA2" ]
	[ "$(rj .resolvedSourceVersion)" = "$SHA2" ]
	[ "$(rj .source.type)" = GIT ]
	[ "$(printed DIRTY)" = "" ]
	[ "$(rj .projectName)" = repo ]
	[ "$(printed REPOURL)" = "$REPO" ]
	[ "$(printed SOURCEV)" = main ]
}

@test "a file:// URL clones; --ref picks a branch" {
	make_repo
	git_build "file://$REPO" --ref feature
	[ "$status" -eq 0 ]
	[ "$(printed MARKER)" = feature ]
	[ "$(printed RESOLVED)" = "$SHA3" ]
	[ "$(printed SOURCEV)" = feature ]
	[ "$(printed REPOURL)" = "file://$REPO" ]
	[ "$(rj .sourceVersion)" = feature ]
	[ "$(rj .resolvedSourceVersion)" = "$SHA3" ]
}

@test "--ref picks a tag" {
	make_repo
	git_build "$REPO" --ref v1
	[ "$status" -eq 0 ]
	[ "$(printed MARKER)" = first ]
	[ "$(printed RESOLVED)" = "$SHA1" ]
	[ "$(printed SOURCEV)" = v1 ]
}

@test "--ref picks a full or a short commit id" {
	make_repo
	git_build "file://$REPO" --ref "$SHA1"
	[ "$status" -eq 0 ]
	[ "$(printed MARKER)" = first ]
	[ "$(printed RESOLVED)" = "$SHA1" ]
	git_build "$REPO" --ref "${SHA3:0:10}"
	[ "$status" -eq 0 ]
	[ "$(printed MARKER)" = feature ]
	[ "$(printed RESOLVED)" = "$SHA3" ]
	[ ${#SHA3} -eq 40 ]
}

@test "an unknown ref fails DOWNLOAD_SOURCE" {
	make_repo
	git_build "$REPO" --ref no-such-branch
	[ "$status" -eq 1 ]
	[ "$(phase_status DOWNLOAD_SOURCE)" = FAILED ]
	[[ "$(phase_ctx DOWNLOAD_SOURCE message)" == *no-such-branch* ]]
	[ "$(phase_types)" = "DOWNLOAD_SOURCE FINALIZING COMPLETED" ]
}

@test "a source that does not exist is a usage error" {
	git_build "$T/nowhere"
	[ "$status" -eq 2 ]
}

@test "submodules are checked out" {
	make_repo
	SUBREPO=$T/subrepo
	git -c init.defaultBranch=main init -q "$SUBREPO"
	echo from-submodule >"$SUBREPO/sub.txt"
	git -C "$SUBREPO" add sub.txt
	git -C "$SUBREPO" commit -q -m sub
	git -C "$REPO" -c protocol.file.allow=always submodule add -q \
		"$SUBREPO" sub
	g commit -q -m "add submodule"
	SHA4=$(git -C "$REPO" rev-parse HEAD)
	git_build "file://$REPO"
	[ "$status" -eq 0 ]
	[ "$(printed SUB)" = from-submodule ]
	[ "$(printed RESOLVED)" = "$SHA4" ]
}

@test "artifacts come from the checked-out ref" {
	make_repo
	cat >>"$REPO/buildspec.yml" <<'EOF'
artifacts:
  files:
    - marker.txt
EOF
	g commit -q -am "artifacts"
	g checkout -q feature
	g merge -q main -m merge
	git_build "$REPO" --ref feature -o "$T/dist"
	[ "$status" -eq 0 ]
	[ "$(unzip -p "$T/dist/artifacts.zip" marker.txt)" = feature ]
}

@test "a bare repository builds its default branch" {
	make_repo
	git clone -q --bare "$REPO" "$T/bare.git"
	git_build "$T/bare.git"
	[ "$status" -eq 0 ]
	[ "$(printed MARKER)" = second ]
	[ "$(printed RESOLVED)" = "$SHA2" ]
	[ "$(rj .projectName)" = bare ]
}

@test "a ref given for a plain directory is a usage error" {
	mkdir -p "$T/plain"
	printf 'version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n' \
		>"$T/plain/buildspec.yml"
	git_build "$T/plain" --ref main
	[ "$status" -eq 2 ]
}
