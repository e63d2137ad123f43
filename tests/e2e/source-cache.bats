#!/usr/bin/env bats
# LOCAL_SOURCE_CACHE: a git source goes through a bare mirror under
# <state>/sources; the second build fetches only what is new and checks
# out without copying objects; --no-cache clones directly; old builds'
# src/ go to the trash and are deleted in the background.

load helpers

export GIT_AUTHOR_NAME=e2e GIT_AUTHOR_EMAIL=e2e@example.invalid
export GIT_COMMITTER_NAME=e2e GIT_COMMITTER_EMAIL=e2e@example.invalid
export GIT_CONFIG_NOSYSTEM=1

g() {
	git -C "$REPO" -c init.defaultBranch=main "$@" >/dev/null 2>&1
}

# $REPO: two commits on main, tag v1 on the first; the buildspec prints
# what the build sees of its checkout through the git CLI.
make_repo() {
	REPO=$T/repo
	git -c init.defaultBranch=main init -q "$REPO"
	cat >"$REPO/buildspec.yml" <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "MARKER=$(cat marker.txt)"
      - echo "RESOLVED=$CODEBUILD_RESOLVED_SOURCE_VERSION"
      - echo "HEAD=$(git rev-parse HEAD)"
      - echo "DESCRIBE=$(git describe --tags)"
      - echo "STATUS=$(git status --porcelain | wc -l)"
      - echo "ORIGIN=$(git remote get-url origin)"
      - echo "COMMITS=$(git log --oneline | wc -l)"
EOF
	echo first >"$REPO/marker.txt"
	g add -A && g commit -q -m first && g tag -a -m one v1
	echo second >"$REPO/marker.txt"
	g commit -q -am second
}

cache_build() { # options...: a build of the commit, through the mirror
	rm -f "$REPORT"
	run "$SLIPWAY" build "$REPO" --committed --state-dir "$STATE" \
		--report "$REPORT" "$@"
	LOG=
	if [ -f "$REPORT" ]; then
		LOG=$(jq -r .logs.location "$REPORT")
	fi
}

# A git build logs what the source cache did.
need_cache() {
	buildlog | grep -q 'Source cache: '
}

@test "the second build uses the mirror and builds a commit added in between" {
	make_repo
	cache_build
	[ "$status" -eq 0 ]
	need_cache
	buildlog | grep -q 'Source cache: mirror created'
	[ "$(ls -d "$STATE"/sources/*.git | wc -l)" -eq 1 ]
	mirror=$(ls -d "$STATE"/sources/*.git)
	[[ $(basename "$mirror") =~ ^[0-9a-f]{64}\.git$ ]]
	[ "$(printed MARKER)" = second ]
	[ "$(printed STATUS)" = 0 ]
	[ "$(printed DESCRIBE)" = "v1-1-g$(git -C "$REPO" rev-parse --short HEAD)" ]
	[ "$(printed HEAD)" = "$(printed RESOLVED)" ]
	[ "$(printed ORIGIN)" = "$REPO" ]
	[ "$(printed COMMITS)" = 2 ]

	echo third >"$REPO/marker.txt"
	g commit -q -am third
	third=$(git -C "$REPO" rev-parse HEAD)
	cache_build
	[ "$status" -eq 0 ]
	buildlog | grep -q 'Source cache: mirror hit, 3 objects fetched'
	[ "$(ls -d "$STATE"/sources/*.git | wc -l)" -eq 1 ]
	[ "$(printed MARKER)" = third ]
	[ "$(printed RESOLVED)" = "$third" ]
	[ "$(printed HEAD)" = "$third" ]
	[ "$(printed STATUS)" = 0 ]
	[ "$(printed COMMITS)" = 3 ]
	# objects are borrowed from the mirror: none is copied or linked
	src=$(src_of "$LOG")
	[ "$(cat "$src/.git/objects/info/alternates")" = "$mirror/objects" ]
	[ -z "$(find "$src/.git/objects" -type f ! -path '*/info/*')" ]
}

@test "an artifact with '**/*' ships a .git that works once the cache is gone" {
	make_repo
	cat >"$REPO/buildspec.yml" <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo built >out.txt
artifacts:
  files:
    - '**/*'
EOF
	g add -A && g commit -q -m spec
	cache_build -o "$T/out"
	[ "$status" -eq 0 ]
	need_cache
	cache_build -o "$T/out"
	[ "$status" -eq 0 ]
	buildlog | grep -q 'Source cache: mirror hit'
	mkdir "$T/unzipped"
	(cd "$T/unzipped" && unzip -q "$T/out/artifacts.zip")
	mv "$STATE" "$T/gone" # the spare may still be written: no rm -rf race
	[ "$(git -C "$T/unzipped" log --oneline | wc -l)" -eq 3 ]
	git -C "$T/unzipped" fsck --full --no-dangling
	[ "$(git -C "$T/unzipped" rev-parse HEAD)" = "$(git -C "$REPO" rev-parse HEAD)" ]
	[ "$(git -C "$T/unzipped" describe --tags HEAD~2)" = v1 ]
	# the shipped .git got copies, never links to the cache or the repo
	src=$(src_of "$LOG")
	[ ! -e "$src/.git/objects/info/alternates" ]
	[ -z "$(find "$src/.git/objects" -type f -links +1)" ]
}

# The owner, mode, inode and content of every object file of $REPO (the
# mirror may link them: their link counts may change).
repo_objects() {
	(cd "$REPO/.git/objects" && find . -type f -printf '%p %u %m %i\n' |
		sort && find . -type f -exec sha256sum {} + | sort)
}

# A build that takes over its .git (chown, chmod, appending to an object
# file), as CI scripts that fix ownership do.
hostile_git_spec() {
	cat >"$REPO/buildspec.yml" <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - chown -R nobody .git
      - chmod -R u+w .git
      - for f in $(find .git/objects -type f ! -path '*/info/*'); do printf garbage >>"$f"; done
      - echo "TOUCHED=$(find .git/objects -type f ! -path '*/info/*' | wc -l)"
EOF
	g add -A && g commit -q -m hostile
}

# Build twice (the second from the mirror) and check that nothing of the
# user's repository or of the mirror changed.
check_git_untouched() { # options...
	hostile_git_spec
	before=$(repo_objects)
	cache_build "$@"
	[ "$status" -eq 0 ]
	need_cache
	cache_build "$@"
	[ "$status" -eq 0 ]
	buildlog | grep -q 'Source cache: mirror hit'
	[ "$(repo_objects)" = "$before" ]
	git -C "$REPO" fsck --full --no-dangling
	mirror=$(ls -d "$STATE"/sources/*.git)
	[ -z "$(find "$mirror" ! -user "$(id -un)")" ]
	git --git-dir="$mirror" fsck --full --no-dangling
	# the build's own .git: its objects are none of the repo's or mirror's
	src=$(src_of "$LOG")
	for f in $(cd "$src/.git/objects" && find . -type f ! -path './info/*'); do
		[ "$(stat -c %h "$src/.git/objects/$f")" -eq 1 ]
	done
}

@test "a build that chowns and appends to its .git leaves the repository and the cache alone" {
	[ "$(id -u)" -eq 0 ] || skip "chown to nobody needs root"
	make_repo
	check_git_untouched
}

@test "a sandboxed build that chowns and appends to its .git leaves the repository and the cache alone" {
	[ "$(id -u)" -eq 0 ] || skip "the sandbox needs root here"
	unshare --pid --fork --mount --ipc --uts --net true 2>/dev/null ||
		skip "namespaces are unavailable"
	make_repo
	check_git_untouched --isolation sandbox
}

@test "a build checks out the tree prepared after the previous one" {
	make_repo
	cache_build
	[ "$status" -eq 0 ]
	need_cache
	# made in the background at the lowest priority: slow under load
	for i in $(seq 600); do
		ls "$STATE"/sources/*.spare/[0-9a-f]*.* >/dev/null 2>&1 && break
		sleep 0.1
	done
	cache_build
	[ "$status" -eq 0 ]
	buildlog | grep -q 'Source cache: mirror hit, 0 objects fetched in .* checked out (spare)'
	[ "$(printed MARKER)" = second ]
	[ "$(printed STATUS)" = 0 ]
}

@test "--no-cache clones directly" {
	make_repo
	cache_build --no-cache
	[ "$status" -eq 0 ]
	! buildlog | grep -q 'Source cache: ' || false
	[ ! -e "$STATE/sources" ] || [ -z "$(ls "$STATE/sources")" ]
	src=$(src_of "$LOG")
	[ ! -e "$src/.git/objects/info/alternates" ]
	[ "$(printed MARKER)" = second ]
	[ "$(printed STATUS)" = 0 ]
}

@test "only the newest SLIPWAY_KEEP_BUILDS build trees are kept" {
	make_repo
	export SLIPWAY_KEEP_BUILDS=2
	for i in 1 2 3 4; do
		cache_build
		[ "$status" -eq 0 ]
		[ "$i" -gt 1 ] || need_cache
	done
	builds=$(find "$STATE/builds" -mindepth 1 -maxdepth 1 -type d)
	[ "$(echo "$builds" | wc -l)" -eq 4 ]
	[ "$(find "$STATE/builds" -mindepth 2 -maxdepth 2 -name codebuild | wc -l)" -eq 2 ]
	[ "$(find "$STATE/builds" -mindepth 2 -maxdepth 2 -name report.json | wc -l)" -eq 4 ]
	[ "$(find "$STATE/builds" -mindepth 2 -maxdepth 2 -name build.log | wc -l)" -eq 4 ]
	# the newest build keeps its tree
	[ -d "$(src_of "$LOG")" ]
	# the trash empties itself in the background (lowest priority)
	for i in $(seq 600); do
		[ -z "$(ls "$STATE/trash")" ] && break
		sleep 0.1
	done
	[ -z "$(ls "$STATE/trash")" ]
}

@test "an artifact's .git whose pack directory the build made a symlink is not written through" {
	make_repo
	cat >"$REPO/buildspec.yml" <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - mkdir decoy && rm -rf .git/objects/pack && ln -s ../../decoy .git/objects/pack
artifacts:
  files:
    - '**/*'
EOF
	g add -A && g commit -q -m spec
	g gc -q
	cache_build -o "$T/out"
	[ "$status" -eq 1 ]
	need_cache
	buildlog | grep -q "CLIENT_ERROR.*cannot make '.*/.git' stand alone"
	[ -z "$(ls -A "$(src_of "$LOG")/decoy")" ]
	[ ! -e "$T/out/artifacts.zip" ]
}

@test "a URL's buildspec is read from the mirror's commit, no checkout, and the wait is in the report" {
	make_repo
	# no probe checkout can be made: batches/ is a file
	mkdir -p "$STATE"
	: >"$STATE/batches"
	REPO_URL="file://$REPO"
	rm -f "$REPORT"
	run "$SLIPWAY" build "$REPO_URL" --state-dir "$STATE" --report "$REPORT"
	[ "$status" -eq 0 ]
	LOG=$(jq -r .logs.location "$REPORT")
	[ "$(printed MARKER)" = second ]
	buildlog | grep -q 'Provisioning took [0-9.]* s'
	[ "$(phase_types)" = "PROVISIONING DOWNLOAD_SOURCE INSTALL PRE_BUILD BUILD POST_BUILD UPLOAD_ARTIFACTS FINALIZING COMPLETED" ]
	[ "$(phase_status PROVISIONING)" = SUCCEEDED ]
	# the build starts when the wait began: PROVISIONING first, no gap
	[ "$(rj '.startTime == .phases[0].startTime')" = true ]
	[ "$(rj '.phases[0].endTime <= .phases[1].startTime')" = true ]
	# a batch section is found the same way, at the ref given
	cat >"$REPO/buildspec.yml" <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - echo "task=$CODEBUILD_BATCH_BUILD_IDENTIFIER"
batch:
  build-list:
    - identifier: one
EOF2
	g add -A && g commit -q -m batch
	rm "$STATE/batches"
	run "$SLIPWAY" build "$REPO_URL" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"one   | task=one"* ]]
	[ -z "$(find "$STATE/batches" -maxdepth 1 -name '.probe-*')" ]
}

# Objects in the packs of the mirror of state $1 (there is one mirror).
mirror_packed() {
	local n=0 idx
	for idx in "$1"/sources/*.git/objects/pack/*.idx; do
		[ -e "$idx" ] || continue
		n=$((n + $(git show-index <"$idx" | wc -l)))
	done
	echo "$n"
}

@test "a file:// URL's mirror gets only the objects it lacks, whatever the tags" {
	make_repo
	# a tree big enough that packing it again shows
	mkdir "$REPO/d"
	for i in $(seq 60); do echo "$i" >"$REPO/d/f$i"; done
	g add -A && g commit -q -m files && g tag -a -m two v2
	run "$SLIPWAY" build "file://$REPO" --state-dir "$STATE" -q
	[ "$status" -eq 0 ]
	before=$(mirror_packed "$STATE")
	[ "$before" -gt 60 ]
	# one changed file: its blob, two trees, the commit, a new tag
	echo third >"$REPO/marker.txt"
	g commit -q -am third && g tag -a -m three v3
	rm -f "$REPORT"
	run "$SLIPWAY" build "file://$REPO" --state-dir "$STATE" \
		--report "$REPORT"
	[ "$status" -eq 0 ]
	LOG=$(jq -r .logs.location "$REPORT")
	[ "$(printed MARKER)" = third ]
	[ "$(printed DESCRIBE)" = v3 ]
	after=$(mirror_packed "$STATE")
	echo "objects packed: $before, then $after"
	[ "$((after - before))" -eq 4 ]
	mirror=$(ls -d "$STATE"/sources/*.git)
	git -C "$mirror" fsck --connectivity-only
	[ "$(git -C "$mirror" rev-parse v3 main v1^{commit})" = \
		"$(git -C "$REPO" rev-parse v3 main v1^{commit})" ]
	# a branch deleted at the source goes from the mirror too
	g branch gone HEAD~1
	run "$SLIPWAY" build "file://$REPO" --state-dir "$STATE" -q
	[ "$status" -eq 0 ]
	git -C "$mirror" rev-parse --verify -q refs/heads/gone
	g branch -D gone
	run "$SLIPWAY" build "file://$REPO" --state-dir "$STATE" -q
	[ "$status" -eq 0 ]
	! git -C "$mirror" rev-parse --verify -q refs/heads/gone || false
}
