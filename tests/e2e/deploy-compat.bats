#!/usr/bin/env bats
# slipway deploy on appspecs and hooks the CodeDeploy agent (v1.8.1)
# accepts and runs in its own way: the shapes real revisions have, each
# run the way the agent runs it (codedeploy.md sections 1.5, 2.7-2.10).

load helpers
load deploy_helpers

SCRIPTS_LOG() { echo "$DR/$DG/$DEP/logs/scripts.log"; }
DLOG() { echo "$DR/deployment-logs/codedeploy-agent-deployments.log"; }

# A hook that outlives a one-second timeout.
slow_script() { # PATH
	printf '%s\n' '#!/bin/sh' 'echo slow' 'sleep 5' >"$1"
	chmod 0755 "$1"
}

@test "appspec: timeout written as a string \"30s\" runs with 30 s, as the agent does" {
	rev r1 r1
	slow_script "$T/r1/scripts/slow.sh"
	appspec r1 <<'YML'
version: 0.0
os: linux
hooks:
  BeforeInstall:
    - location: scripts/hook.sh
      timeout: "30s"
  AfterInstall:
    - location: scripts/slow.sh
      timeout: "1s"
YML
	local t0=$SECONDS
	sw_deploy "$T/r1"
	[ "$status" -eq 1 ]
	[ $((SECONDS - t0)) -lt 5 ]
	ev_is BeforeInstall Succeeded
	ev_is AfterInstall Failed
	same "$(ev_diag AfterInstall errorCode)" ScriptTimedOut
	same "$(ev_diag AfterInstall message)" \
		"Script at specified location: scripts/slow.sh failed to complete in 1 seconds"
	# the warning names the place, as validate does
	[[ "$output" == *"local | [slipway] warning: $T/r1/appspec.yml:6:16: timeout \"30s\" in 'hooks.BeforeInstall[0]' is read as 30 seconds, as the agent reads it (Ruby's to_i)"* ]]
}

@test "appspec: timeout written as a fraction 1.9 runs with 1 s, as the agent's to_i does" {
	rev r1 r1
	slow_script "$T/r1/scripts/slow.sh"
	appspec r1 <<'YML'
version: 0.0
os: linux
hooks:
  AfterInstall:
    - location: scripts/slow.sh
      timeout: 1.9
YML
	sw_deploy "$T/r1"
	[ "$status" -eq 1 ]
	same "$(ev_diag AfterInstall message)" \
		"Script at specified location: scripts/slow.sh failed to complete in 1 seconds"
	[[ "$output" == *"appspec.yml:6:16: timeout 1.9 in 'hooks.AfterInstall[0]' is read as 1 second, as the agent reads it"* ]]
	# validate says the same, and the file is valid
	run "$SLIPWAY" validate "$T/r1/appspec.yml"
	[ "$status" -eq 0 ]
	[[ "$output" == *"timeout 1.9 in 'hooks.AfterInstall[0]' is read as 1 second"* ]]
}

@test "appspec: an event written twice runs the last one, as the agent keeps the last key" {
	rev r1 r1
	appspec r1 <<'YML'
version: 0.0
os: linux
hooks:
  AfterInstall:
    - location: scripts/fail.sh
  AfterInstall:
    - location: scripts/hook2.sh
YML
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ]
	hooks_are "r1 AfterInstall hook2.sh"
	[[ "$output" == *"local | [slipway] warning: $T/r1/appspec.yml:6:3: duplicate key 'AfterInstall': replaces the value at 4:3 (the last one wins, as the agent reads it)"* ]]
}

@test "appspec: a relative destination is refused, saying the agent would install it relative to its own directory" {
	rev r1 r1
	appspec r1 <<'YML'
version: 0.0
os: linux
files:
  - source: app
    destination: var/www
YML
	sw_deploy "$T/r1"
	[ "$status" -eq 3 ]
	[[ "$stderr$output" == *"$T/r1/appspec.yml:5:18: 'files[0].destination' must be an absolute path (var/www): the agent would install it relative to its own working directory (/opt/codedeploy-agent, or / under systemd)"* ]]
	[ ! -e "$HOST/var" ]
}

@test "hooks: ./scripts/x.sh and /scripts/x.sh keep their spelling in scripts.log, the deployments log, errors and scriptName" {
	rev r1 r1
	appspec r1 <<'YML'
version: 0.0
os: linux
hooks:
  BeforeInstall:
    - location: ./scripts/hook.sh
  AfterInstall:
    - location: /scripts/fail.sh
YML
	sw_deploy "$T/r1"
	[ "$status" -eq 1 ]
	hooks_are "r1 BeforeInstall hook.sh
r1 AfterInstall fail.sh"
	same "$(sed -n 's/^.\{20\}Script - //p' "$(SCRIPTS_LOG)")" \
		"./scripts/hook.sh
/scripts/fail.sh"
	same "$(sed -n 's/^\[.\{23\}\] \[d-[A-Z0-9]*\]Script - //p' "$(DLOG)")" \
		"./scripts/hook.sh
/scripts/fail.sh"
	same "$(ev_diag AfterInstall scriptName)" /scripts/fail.sh
	same "$(ev_diag AfterInstall message)" \
		"Script at specified location: /scripts/fail.sh failed with exit code 3"
	[[ "$output" == *"AfterInstall: ScriptFailed: Script at specified location: /scripts/fail.sh failed with exit code 3"* ]]
}

@test "hooks: a script killed by SIGKILL has an empty exit code, as the agent reports it, and the summary names the signal" {
	rev r1 r1
	printf '%s\n' '#!/bin/sh' 'echo dying' 'kill -9 $$' >"$T/r1/scripts/oom.sh"
	chmod 0755 "$T/r1/scripts/oom.sh"
	appspec r1 <<'YML'
version: 0.0
os: linux
hooks:
  ApplicationStart:
    - location: scripts/oom.sh
YML
	sw_deploy "$T/r1"
	[ "$status" -eq 1 ]
	same "$(ev_diag ApplicationStart errorCode)" ScriptFailed
	same "$(ev_diag ApplicationStart scriptName)" scripts/oom.sh
	same "$(ev_diag ApplicationStart message)" \
		"Script at specified location: scripts/oom.sh failed with exit code "
	[[ "$(ev_diag ApplicationStart message)" != *137* ]]
	# slipway's own words say which signal
	[[ "$output" == *"local | [slipway] script scripts/oom.sh was killed by signal 9 (SIGKILL): the agent reports no exit code for it"* ]]
	[[ "$stderr" == *"local: ApplicationStart failed: script scripts/oom.sh was killed by signal 9 (SIGKILL)"* ]]
	same "$(jq -r '.instances[0].message' "$REPORT")" \
		"ApplicationStart failed: script scripts/oom.sh was killed by signal 9 (SIGKILL)"
}

@test "hooks: a last output line without a newline is written to scripts.log as it is, as the agent writes it" {
	rev r1 r1
	printf '%s\n' '#!/bin/sh' 'echo first' "printf 'ready'" \
		>"$T/r1/scripts/noeol.sh"
	chmod 0755 "$T/r1/scripts/noeol.sh"
	appspec r1 <<'YML'
version: 0.0
os: linux
hooks:
  BeforeInstall:
    - location: scripts/noeol.sh
  AfterInstall:
    - location: scripts/hook.sh
YML
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ]
	# "[stdout]ready" and the next message share a line, as with the agent
	run grep -cE '^[0-9-]{10} [0-9:]{8} \[stdout\]ready[0-9-]{10} [0-9:]{8} LifecycleEvent - AfterInstall$' "$(SCRIPTS_LOG)"
	same "$output" 1
	# the deployments log is line-based (Ruby's Logger adds the newline)
	grep -qE '^\[.{23}\] \[d-[A-Z0-9]{9}\]\[stdout\]ready$' "$(DLOG)"
}

@test "deployments log: a deployment with no hook output makes no deployments log, as the agent's logger" {
	rev r1 r1
	appspec r1 <<'YML'
version: 0.0
os: linux
files:
  - source: app
    destination: /var/www
YML
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ]
	[ -f "$HOST/var/www/index.html" ]
	[ ! -e "$DR/deployment-logs" ]
}

@test "a deployment that fails in ApplicationStop leaves no .deployment-archive.new behind" {
	rev r1 r1
	appspec r1 <<'YML'
version: 0.0
os: linux
hooks:
  ApplicationStop:
    - location: scripts/fail.sh
YML
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ] # a first deployment has no ApplicationStop to run
	rev r2 r2
	std_appspec r2 BeforeInstall
	sw_deploy "$T/r2"
	[ "$status" -eq 1 ]
	ev_is ApplicationStop Failed
	ev_is DownloadBundle Skipped
	[ -d "$DR/$DG/$DEP" ]
	[ ! -e "$DR/$DG/$DEP/.deployment-archive.new" ]
	[ ! -e "$DR/$DG/$DEP/deployment-archive" ]
	run find "$DR" -name '.deployment-archive.new'
	same "$output" ""
}

@test "deploy prints validate's unknown-key warnings with file:line:col, and still deploys" {
	rev r1 r1
	appspec r1 <<'YML'
version: 0.0
os: linux
Hooks:
  AfterInstall:
    - location: scripts/hook.sh
hooks:
  BeforeInstall:
    - location: scripts/hook.sh
      timout: 30
YML
	run "$SLIPWAY" validate "$T/r1/appspec.yml"
	[ "$status" -eq 0 ]
	local want1="$T/r1/appspec.yml:3:1: unknown key 'Hooks' ignored (keys are case-sensitive: did you mean 'hooks'?)"
	local want2="$T/r1/appspec.yml:9:7: unknown key 'timout' ignored"
	[[ "$output" == *"warning: $want1"* ]]
	[[ "$output" == *"warning: $want2"* ]]
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ]
	[[ "$output" == *"local | [slipway] warning: $want1"* ]]
	[[ "$output" == *"local | [slipway] warning: $want2"* ]]
	hooks_are "r1 BeforeInstall hook.sh"
	# -q keeps the hooks' output off the terminal, not the warnings
	sw_deploy "$T/r1" -q --file-exists-behavior OVERWRITE
	[ "$status" -eq 0 ]
	[[ "$output" == *"local | [slipway] warning: $want1"* ]]
	[[ "$output" != *"[stdout]"* ]]
}

@test "deploy -e ValidateService rehearses one hook after the install, as codedeploy-local --events" {
	rev r1 r1
	std_appspec r1 ApplicationStop BeforeInstall AfterInstall ApplicationStart ValidateService
	sw_deploy "$T/r1" -e ValidateService
	[ "$status" -eq 0 ]
	same "$PRINTED" "DownloadBundle Succeeded
Install Succeeded
ValidateService Succeeded"
	hooks_are "r1 ValidateService hook.sh"
	report_load
	same "$EVENTS" "DownloadBundle Succeeded
Install Succeeded
ValidateService Succeeded"
	# the files were installed, as Install ran
	file_is "$HOST/var/www/html/index.html" "r1 index"
}

@test "deploy --events runs the listed events in their order, with Install before BeforeInstall when not listed" {
	rev r1 r1
	std_appspec r1 BeforeInstall ApplicationStart ValidateService
	sw_deploy "$T/r1" --events ValidateService,ApplicationStart,BeforeInstall
	[ "$status" -eq 0 ]
	hooks_are "r1 ValidateService hook.sh
r1 ApplicationStart hook.sh
r1 BeforeInstall hook.sh"
	report_load
	same "$EVENTS" "DownloadBundle Succeeded
Install Succeeded
ValidateService Succeeded
ApplicationStart Succeeded
BeforeInstall Succeeded"
}

@test "deploy -e in an order codedeploy-local refuses is a usage error, and nothing is deployed" {
	rev r1 r1
	std_appspec r1 AfterInstall
	sw_deploy "$T/r1" -e AfterInstall,Install
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"--events: the only events that can be specified before Install are BeforeBlockTraffic,AfterBlockTraffic,ApplicationStop,DownloadBundle,BeforeInstall. Please fix the order of your specified events: AfterInstall,Install"* ]]
	sw_deploy "$T/r1" -e MyCustomCheck
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"--events: unknown lifecycle event 'MyCustomCheck' (custom events are not supported"* ]]
	sw_deploy "$T/r1" -e AfterInstall --traffic
	[ "$status" -eq 2 ]
	[ ! -e "$DR" ]
	[ ! -e "$HOST/var" ]
	file_is "$HOOKLOG" ""
}
