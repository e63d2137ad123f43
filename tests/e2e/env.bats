#!/usr/bin/env bats
# The shell session (what persists between commands), the build's
# environment, env files and secrets.

load helpers

# ---- the shell session ----

@test "variables and cwd persist across commands and phases" {
	spec <<'EOF'
version: 0.2
phases:
  install:
    commands:
      - PLAIN=p1
      - export EXPO=e1
      - mkdir -p sub/dir && cd sub/dir
  build:
    commands:
      - echo "PLAIN=$PLAIN"
      - echo "EXPO=$EXPO"
      - echo "CWD=$(pwd)"
      - sh -c 'echo "CHILD=$PLAIN"'
EOF
	sw_build
	[ "$status" -eq 0 ]
	[ "$(printed PLAIN)" = p1 ]
	[ "$(printed EXPO)" = e1 ]
	[ "$(printed CWD)" = "$(src_of "$(rj .logs.location)")/sub/dir" ]
	[ "$(printed CHILD)" = p1 ]
}

@test "functions and set -e do not carry over to the next command" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - myfn() { echo in-fn; }; myfn
      - myfn || echo "FN=gone"
      - set -e
      - "false || true; false; echo SETE=off"
EOF
	sw_build
	[ "$status" -eq 0 ]
	[ "$(buildlog | grep -cx in-fn)" -eq 1 ]
	[ "$(printed FN)" = gone ]
	[ "$(printed SETE)" = off ]
}

@test "version 0.1 carries nothing between commands" {
	spec <<'EOF'
version: 0.1
phases:
  build:
    commands:
      - export V1=set
      - mkdir -p d && cd d
      - echo "V1=[$V1]"
      - echo "CWD=$(basename "$(pwd)")"
EOF
	sw_build
	[ "$status" -eq 0 ]
	[ "$(printed V1)" = "[]" ]
	[ "$(printed CWD)" = src ]
}

@test "exit inside a command only ends that command" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - "if true; then echo first; exit 0; fi; echo unreached"
      - echo second
EOF
	sw_build
	[ "$status" -eq 0 ]
	buildlog | grep -qx first
	buildlog | grep -qx second
	! buildlog | grep -qx unreached || false
}

@test "exit 3 inside a command fails it with exit status 3" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo before; exit 3
      - echo after
EOF
	sw_build
	[ "$status" -eq 1 ]
	[ "$(phase_ctx BUILD message)" = "Error while executing command: echo before; exit 3. Reason: exit status 3" ]
	! buildlog | grep -qx after || false
}

@test "the default shell is /bin/sh: [[ fails there" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - "[[ 1 == 1 ]] && echo bashism-ok"
EOF
	sw_build
	[ "$status" -eq 1 ]
	! buildlog | grep -qx bashism-ok || false
}

@test "env shell bash runs bash syntax" {
	spec <<'EOF'
version: 0.2
env:
  shell: bash
phases:
  build:
    commands:
      - "[[ 1 == 1 ]] && echo bashism-ok"
      - echo "BV=${BASH_VERSION:+yes}"
EOF
	sw_build
	[ "$status" -eq 0 ]
	buildlog | grep -qx bashism-ok
	[ "$(printed BV)" = yes ]
}

@test "--shell bash overrides the default shell" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - "[[ 1 == 1 ]] && echo bashism-ok"
EOF
	sw_build --shell bash
	[ "$status" -eq 0 ]
	buildlog | grep -qx bashism-ok
}

@test "a missing command is reported on line 4 of the script" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - no-such-command-xyz
EOF
	sw_build
	[ "$status" -eq 1 ]
	buildlog | grep -q 'script.sh: 4: .*no-such-command-xyz'
	[ "$(phase_ctx BUILD message)" = "Error while executing command: no-such-command-xyz. Reason: exit status 127" ]
}

@test "exported-variables lands in the report, unexported assignments too" {
	spec <<'EOF'
version: 0.2
env:
  exported-variables:
    - PLAIN_OUT
    - EXP_OUT
phases:
  pre_build:
    commands:
      - export EXP_OUT=from-pre-build
  build:
    commands:
      - PLAIN_OUT=from-build
EOF
	sw_build
	[ "$status" -eq 0 ]
	[ "$(rj '.exportedEnvironmentVariables[] | select(.name=="PLAIN_OUT") | .value')" = from-build ]
	[ "$(rj '.exportedEnvironmentVariables[] | select(.name=="EXP_OUT") | .value')" = from-pre-build ]
}

@test "a block scalar command: an earlier failing line is masked by a later success" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - |
        false
        echo block-end
      - echo next-command
EOF
	sw_build
	[ "$status" -eq 0 ]
	buildlog | grep -qx block-end
	buildlog | grep -qx next-command
}

@test "a block scalar command whose last line fails fails the phase" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - |
        echo block-start
        exit 4
EOF
	sw_build
	[ "$status" -eq 1 ]
	buildlog | grep -qx block-start
	[[ "$(phase_ctx BUILD message)" == *"Reason: exit status 4" ]]
}

# ---- the environment ----

@test "CODEBUILD_* variables describe the build" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "ID=$CODEBUILD_BUILD_ID"
      - echo "NUM=$CODEBUILD_BUILD_NUMBER"
      - echo "SRC=$CODEBUILD_SRC_DIR"
      - echo "START=$CODEBUILD_START_TIME"
      - echo "LOCAL=$CODEBUILD_LOCAL_BUILD"
      - echo "REGION=$AWS_REGION"
      - echo "PWD0=$(pwd)"
EOF
	before=$(now_ms)
	sw_build
	after=$(now_ms)
	[ "$status" -eq 0 ]
	id=$(printed ID)
	[ "$id" = "$(rj .id)" ]
	[[ "$id" =~ ^proj:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]
	[ "$(printed NUM)" = 1 ]
	src=$(printed SRC)
	# the directory is the id with ':' made '-' (PATH-safe); the id links to it
	dir=${id/:/-}
	[[ "$src" =~ ^("$STATE"|"$(cd "$STATE" && pwd -P)")/builds/"$dir"/codebuild/output/src[0-9]+/src$ ]]
	[[ "$src" != *:* ]]
	[ "$(readlink "$STATE/builds/$id")" = "$dir" ]
	[ -f "$STATE/builds/$id/report.json" ]
	[ "$(printed PWD0)" = "$src" ]
	start=$(printed START)
	[[ "$start" =~ ^[0-9]{13}$ ]]
	[ "$start" -ge $((before - 1000)) ]
	[ "$start" -le "$after" ]
	[ "$(printed LOCAL)" = true ]
	[ "$(printed REGION)" = us-east-1 ]
}

# Every variable the reference lists (CodeBuild's documented ones, and the
# undocumented CODEBUILD_BUILD_URL real builds print), as a plain
# directory's build sees it.
@test "every documented CodeBuild variable, as a directory build sees it" {
	spec <<'EOF'
version: 0.2
phases:
  install:
    commands:
      - echo "HASH=$(codebuild-hash-files '**/*')"
  build:
    commands:
      - env | grep -E '^(CODEBUILD|AWS)_' | sort >"$OUT"
EOF
	echo data >"$PROJ/data.txt"
	sw_build -e OUT="$T/env"
	[ "$status" -eq 0 ]
	v() { sed -n "s/^$1=//p" "$T/env"; }
	id=$(rj .id)
	[ "$(v AWS_REGION)" = us-east-1 ]
	[ "$(v AWS_DEFAULT_REGION)" = us-east-1 ]
	[ "$(v CODEBUILD_BUILD_ID)" = "$id" ]
	[ "$(v CODEBUILD_BUILD_ARN)" = "arn:aws:codebuild:us-east-1:000000000000:build/$id" ]
	[ "$(v CODEBUILD_BUILD_IMAGE)" = slipway/local ]
	[ "$(v CODEBUILD_BUILD_NUMBER)" = 1 ]
	[ "$(v CODEBUILD_BUILD_SUCCEEDING)" = 1 ]
	[ -n "$(v CODEBUILD_INITIATOR)" ]
	[ "$(v CODEBUILD_KMS_KEY_ID)" = "arn:aws:kms:us-east-1:000000000000:alias/aws/s3" ]
	[ "$(v CODEBUILD_LOG_PATH)" = "${id#proj:}" ]
	[ "$(v CODEBUILD_SOURCE_REPO_URL)" = "$PROJ" ]
	[ -d "$(v CODEBUILD_SRC_DIR)" ]
	[[ "$(v CODEBUILD_START_TIME)" =~ ^[0-9]{13}$ ]]
	[ "$(v CODEBUILD_CI)" = true ]
	[ "$(v CODEBUILD_LOCAL_BUILD)" = true ]
	[ "$(v CODEBUILD_LAST_EXIT)" = 0 ]
	# a plain directory: its content hash, as codebuild-hash-files gives
	# it before the build; the report's sourceVersion too
	sv=$(v CODEBUILD_SOURCE_VERSION)
	[[ "$sv" =~ ^[0-9a-f]{64}$ ]]
	[ "$sv" = "$(printed HASH)" ]
	[ "$(rj .sourceVersion)" = "$sv" ]
	[ "$(rj '.resolvedSourceVersion // ""')" = "" ]
	# the build's page, a file:// URL of the report.html it ends with
	url=$(v CODEBUILD_BUILD_URL)
	[[ "$url" == file:///*/report.html ]]
	[ -f "${url#file://}" ]
	[ "$(cd "$(dirname "${url#file://}")" && pwd -P)" = "$(cd "$(dirname "$(rj .logs.location)")" && pwd -P)" ]
	# not set, as in CodeBuild without the feature
	for var in CODEBUILD_PUBLIC_BUILD_URL CODEBUILD_BATCH_BUILD_IDENTIFIER \
		CODEBUILD_RESOLVED_SOURCE_VERSION CODEBUILD_CURRENT_SHARD_FILES \
		CODEBUILD_WEBHOOK_EVENT CODEBUILD_WEBHOOK_TRIGGER; do
		! grep -q "^$var=" "$T/env" || false
	done

	# the same files give the same version; a changed file another
	sw_build -e OUT="$T/env"
	[ "$(v CODEBUILD_SOURCE_VERSION)" = "$sv" ]
	echo changed >"$PROJ/data.txt"
	sw_build -e OUT="$T/env"
	[ "$(v CODEBUILD_SOURCE_VERSION)" != "$sv" ]
	[[ "$(v CODEBUILD_SOURCE_VERSION)" =~ ^[0-9a-f]{64}$ ]]
}

@test "a git source: the branch as CODEBUILD_SOURCE_VERSION, the commit resolved" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "SV=$CODEBUILD_SOURCE_VERSION"
      - echo "RSV=$CODEBUILD_RESOLVED_SOURCE_VERSION"
      - echo "URL=$CODEBUILD_BUILD_URL"
EOF
	git -C "$PROJ" init -q -b trunk
	git -C "$PROJ" add .
	git -C "$PROJ" -c user.email=t@t -c user.name=t commit -qm one
	STATE="$T/state 100%"
	sw_build
	[ "$status" -eq 0 ]
	[ "$(printed SV)" = trunk ]
	[ "$(printed RSV)" = "$(git -C "$PROJ" rev-parse HEAD)" ]
	# percent-encoded, so that a browser opens it
	url=$(printed URL)
	[[ "$url" == file://*/state%20100%25/builds/*/report.html ]]
	[ -f "$(dirname "$(rj .logs.location)")/report.html" ]
}

@test "AWS_REGION is taken from the calling environment" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "REGION=$AWS_REGION"
EOF
	AWS_REGION=eu-west-3 sw_build
	[ "$status" -eq 0 ]
	[ "$(printed REGION)" = eu-west-3 ]
}

@test "env/variables are literal and the precedence is -e > --env-file > buildspec" {
	spec <<'EOF'
version: 0.2
env:
  variables:
    PATH_X: $HOME/x
    A: from-spec
    B: from-spec
    C: from-spec
phases:
  build:
    commands:
      - echo "PATH_X=$PATH_X"
      - echo "A=$A"
      - echo "B=$B"
      - echo "C=$C"
      - echo "Q=$Q"
      - echo "H=$H"
EOF
	cat >"$T/vars.env" <<'EOF'
# a comment line
B=from-file
C=from-file
Q="quoted"
  # indented comment
H=a#b
EOF
	sw_build --env-file "$T/vars.env" -e C=from-cli
	[ "$status" -eq 0 ]
	[ "$(printed PATH_X)" = '$HOME/x' ]
	[ "$(printed A)" = from-spec ]
	[ "$(printed B)" = from-file ]
	[ "$(printed C)" = from-cli ]
	[ "$(printed Q)" = '"quoted"' ]
	[ "$(printed H)" = 'a#b' ]
}

@test "an invalid env file line fails the build" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo ran-build
EOF
	printf 'GOOD=1\nBAD LINE = 2\n' >"$T/vars.env"
	sw_build --env-file "$T/vars.env"
	[ "$status" -eq 3 ]
	[ "$(phase_status DOWNLOAD_SOURCE)" = FAILED ]
	[[ "$output" == *vars.env:2* ]]
	! grep -qx ran-build "$STATE"/builds/*/build.log || false
}

@test "the base environment is clean unless --inherit-env" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "LEAK=[$SW_E2E_LEAK]"
      - echo "HASPATH=${PATH:+yes}"
EOF
	export SW_E2E_LEAK=caller-value
	sw_build
	[ "$status" -eq 0 ]
	[ "$(printed LEAK)" = "[]" ]
	[ "$(printed HASPATH)" = yes ]
	sw_build --inherit-env
	[ "$status" -eq 0 ]
	[ "$(printed LEAK)" = "[caller-value]" ]
}

# ---- secrets ----

@test "parameter-store and secrets-manager values come from --secrets-file, masked" {
	spec <<'EOF'
version: 0.2
env:
  parameter-store:
    DB_PASS: /prod/db/password
  secrets-manager:
    API_TOKEN: prod/api:token
  exported-variables:
    - LEAKED
phases:
  build:
    commands:
      - echo "pass is $DB_PASS"
      - echo "token is $API_TOKEN"
      - test "$DB_PASS" = hunter2
      - test "$API_TOKEN" = tok-12345
      - LEAKED="x${DB_PASS}y"
EOF
	cat >"$T/secrets.yml" <<'EOF'
parameter-store:
  /prod/db/password: hunter2
secrets-manager:
  prod/api: '{"token": "tok-12345", "other": "z"}'
EOF
	sw_build --secrets-file "$T/secrets.yml"
	[ "$status" -eq 0 ]
	[[ "$output" == *"pass is ***"* ]]
	[[ "$output" == *"token is ***"* ]]
	[[ "$output" != *hunter2* ]]
	[[ "$output" != *tok-12345* ]]
	buildlog | grep -qx 'pass is \*\*\*'
	! buildlog | grep -q 'hunter2\|tok-12345' || false
	! grep -q 'hunter2\|tok-12345' "$REPORT" || false
	[ "$(rj '.exportedEnvironmentVariables[] | select(.name=="LEAKED") | .value')" = 'x***y' ]
}

@test "a secret printed in two writes with a delay is still masked" {
	spec <<'EOF'
version: 0.2
env:
  parameter-store:
    DB_PASS: /prod/db/password
phases:
  build:
    commands:
      - "printf 'hun'; sleep 0.2; printf 'ter2\\n'"
      - echo done-split
EOF
	printf 'parameter-store:\n  /prod/db/password: hunter2\n' >"$T/secrets.yml"
	sw_build --secrets-file "$T/secrets.yml"
	[ "$status" -eq 0 ]
	[[ "$output" != *hunter2* ]]
	echo "$output" | grep -qx '\*\*\*'
	! buildlog | grep -q hunter2 || false
	! buildlog | grep -qx 'hun\|ter2\|hunter2' || false
	buildlog | grep -qx '\*\*\*'
	buildlog | grep -qx done-split
}

@test "a missing parameter fails DOWNLOAD_SOURCE with Decrypted Variables Error" {
	spec <<'EOF'
version: 0.2
env:
  parameter-store:
    DB_PASS: /prod/missing
phases:
  build:
    commands:
      - echo ran-build
EOF
	printf 'parameter-store:\n  /prod/other: x\n' >"$T/secrets.yml"
	sw_build --secrets-file "$T/secrets.yml"
	[ "$status" -eq 1 ]
	[ "$(phase_status DOWNLOAD_SOURCE)" = FAILED ]
	[ "$(phase_ctx DOWNLOAD_SOURCE statusCode)" = "Decrypted Variables Error" ]
	[ "$(phase_ctx DOWNLOAD_SOURCE message)" = "parameter does not exist: /prod/missing" ]
	[ "$(phase_types)" = "DOWNLOAD_SOURCE FINALIZING COMPLETED" ]
	! buildlog | grep -qx ran-build || false
}

@test "--secrets-command resolves secrets and its values are masked" {
	spec <<'EOF'
version: 0.2
env:
  parameter-store:
    P: /from/cmd
  secrets-manager:
    S: app/creds:user
phases:
  build:
    commands:
      - echo "P is $P"
      - test "$P" = "param-value-for-/from/cmd"
      - test "$S" = cmd-user-77
EOF
	cat >"$T/lookup" <<'EOF'
#!/bin/sh
echo "$1 $2" >>"$(dirname "$0")/asked"
case "$1" in
parameter-store) echo "param-value-for-$2" ;;
secrets-manager) [ "$2" = app/creds ] && echo '{"user": "cmd-user-77"}' ;;
esac
EOF
	chmod +x "$T/lookup"
	sw_build --secrets-command "$T/lookup"
	[ "$status" -eq 0 ]
	[[ "$output" == *"P is ***"* ]]
	! buildlog | grep -q 'param-value-for' || false
	grep -qx 'parameter-store /from/cmd' "$T/asked"
	grep -qx 'secrets-manager app/creds' "$T/asked"
}

@test "--secrets-command exiting non-zero is a missing secret" {
	spec <<'EOF'
version: 0.2
env:
  secrets-manager:
    S: nope/never
phases:
  build:
    commands:
      - echo ran-build
EOF
	sw_build --secrets-command false
	[ "$status" -eq 1 ]
	[ "$(phase_status DOWNLOAD_SOURCE)" = FAILED ]
	[ "$(phase_ctx DOWNLOAD_SOURCE statusCode)" = "Secrets Manager Error" ]
	! buildlog | grep -qx ran-build || false
}

@test "a secrets-manager json-key that the secret lacks fails the build" {
	spec <<'EOF'
version: 0.2
env:
  secrets-manager:
    TOKEN: prod/api:missing_key
phases:
  build:
    commands:
      - echo ran-build
EOF
	printf 'secrets-manager:\n  prod/api: %s\n' "'{\"token\": \"tok-999\"}'" >"$T/secrets.yml"
	sw_build --secrets-file "$T/secrets.yml"
	[ "$status" -eq 1 ]
	[ "$(phase_ctx DOWNLOAD_SOURCE statusCode)" = "Secrets Manager Error" ]
	! buildlog | grep -qx ran-build || false
	! grep -q tok-999 "$REPORT" "$LOG" || false
	[[ "$output" != *tok-999* ]]
}

@test "an invalid secrets file is an input error, exit 3" {
	spec <<'EOF'
version: 0.2
env:
  parameter-store:
    P: /x
phases:
  build:
    commands:
      - echo ran-build
EOF
	printf 'parameter-store: [unclosed\n' >"$T/secrets.yml"
	sw_build --secrets-file "$T/secrets.yml"
	[ "$status" -eq 3 ]
	[ "$(phase_status DOWNLOAD_SOURCE)" = FAILED ]
	! buildlog | grep -qx ran-build || false
}

@test "a multi-line secret is masked line by line" {
	spec <<'EOF'
version: 0.2
env:
  parameter-store:
    KEY: /prod/key
phases:
  build:
    commands:
      - printf '%s\n' "$KEY"
      - echo after-key
EOF
	cat >"$T/secrets.yml" <<'EOF'
parameter-store:
  /prod/key: "BEGIN-line-one-abcdef\nline-two-ghijkl-END"
EOF
	sw_build --secrets-file "$T/secrets.yml"
	[ "$status" -eq 0 ]
	[[ "$output" != *line-one-abcdef* ]]
	[[ "$output" != *line-two-ghijkl* ]]
	! grep -q 'line-one-abcdef\|line-two-ghijkl' "$LOG" || false
	grep -qx after-key "$LOG"
}

@test "buildspec variables cannot override CODEBUILD_ variables" {
	spec <<'EOF'
version: 0.2
env:
  variables:
    CODEBUILD_BUILD_NUMBER: "999"
    CODEBUILD_SRC_DIR: /nowhere
phases:
  build:
    commands:
      - echo "NUM=$CODEBUILD_BUILD_NUMBER"
      - echo "SRC=$CODEBUILD_SRC_DIR"
EOF
	sw_build
	[ "$status" -eq 0 ]
	[ "$(printed NUM)" = 1 ]
	[ "$(printed SRC)" = "$(src_of "$LOG")" ]
}

# The values a later command must see unchanged.
tricky_spec() {
	spec <<'EOF'
version: 0.2
phases:
  install:
    commands:
      - NL="$(printf 'line1\nline2')"
      - Q="it's \"quoted\" \$HOME \\ back \`tick\`"
      - SP="  two  spaces  "
      - EMPTY=
  build:
    commands:
      - printf 'NL=%s|\n' "$NL" | tr '\n' '~'; echo
      - printf 'Q=%s\n' "$Q"
      - printf 'SP=[%s]\n' "$SP"
      - printf 'EMPTY=[%s]\n' "${EMPTY-unset}"
EOF
}

check_tricky() {
	[ "$status" -eq 0 ]
	buildlog | grep -qxF 'NL=line1~line2|~'
	[ "$(printed Q)" = "it's \"quoted\" \$HOME \\ back \`tick\`" ]
	[ "$(printed SP)" = "[  two  spaces  ]" ]
	[ "$(printed EMPTY)" = "[]" ]
}

@test "values with newlines, quotes and spaces persist unchanged (sh)" {
	tricky_spec
	sw_build
	check_tricky
}

@test "values with newlines, quotes and spaces persist unchanged (bash)" {
	tricky_spec
	sw_build --shell bash
	check_tricky
}

@test "unset and a changed PATH carry over" {
	mkdir -p "$T/tools"
	printf '#!/bin/sh\necho tool-ran\n' >"$T/tools/mytool"
	chmod +x "$T/tools/mytool"
	spec <<EOF
version: 0.2
phases:
  install:
    commands:
      - export GONE=1
      - export PATH="$T/tools:\$PATH"
  build:
    commands:
      - unset GONE
      - echo "GONE=\${GONE-unset}"
      - mytool
EOF
	sw_build
	[ "$status" -eq 0 ]
	[ "$(printed GONE)" = unset ]
	buildlog | grep -qx tool-ran
}

@test "--secret-env and --parameter-env set variables from the secrets file, masked, over the buildspec's" {
	spec <<'EOF2'
version: 0.2
env:
  variables:
    TOK: from-buildspec
phases:
  build:
    commands:
      - echo "tok is $TOK and pw is $PW"
      - test "$TOK" = tok-12345
      - test "$PW" = hunter2
EOF2
	cat >"$T/secrets.yml" <<'EOF2'
parameter-store:
  /prod/db/password: hunter2
secrets-manager:
  prod/api: '{"token": "tok-12345"}'
EOF2
	sw_build --secrets-file "$T/secrets.yml" --secret-env TOK=prod/api:token --parameter-env PW=/prod/db/password
	[ "$status" -eq 0 ]
	[[ "$output" == *"tok is *** and pw is ***"* ]]
	[[ "$output" != *hunter2* && "$output" != *tok-12345* ]]
	! grep -q 'hunter2\|tok-12345' "$REPORT" || false
	# one that does not exist fails the build, naming the variable
	sw_build --secrets-file "$T/secrets.yml" --secret-env TOK=prod/nope
	[ "$status" -eq 1 ]
	[[ "$output" == *"Secrets Manager Error: TOK: "*"prod/nope"* ]]
	# malformed on the command line: a usage error
	sw_build --secret-env TOK
	[ "$status" -eq 2 ]
	[[ "$output" == *"--secret-env"* ]]
	sw_build --parameter-env PW=
	[ "$status" -eq 2 ]
	[[ "$output" == *"--parameter-env: PW=: no parameter name after '='"* ]]
}
