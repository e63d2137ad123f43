# Forge deliveries for the end-to-end tests of `slipway serve`: payloads
# shaped as GitHub, GitLab and Gitea send them, signed with openssl, and
# POSTed with curl to a running server.
#
#   load webhook_helpers
#   wh_github_push acme/web refs/heads/main "$SHA" src/a.c >"$T/push.json"
#   wh_deliver github "http://127.0.0.1:$PORT" "$SECRET" push "$T/push.json"
#   [ "$WH_STATUS" = 202 ]               -- the HTTP status
#   jq -r '.started[0].revision' <<<"$WH_BODY"
#
# wh_deliver signs as the forge does (GitHub: X-Hub-Signature-256
# "sha256=" + HMAC-SHA256 of the body; Gitea: X-Gitea-Signature, the bare
# hex; GitLab: X-Gitlab-Token, the secret itself), with a fresh delivery
# id unless WH_DELIVERY is set (set it to send a repeat). WH_SIGNATURE,
# when set, is sent instead of the right one (a wrong or malformed
# signature); WH_UNSIGNED=1 sends none.

# HMAC-SHA256 of a file's bytes, as lowercase hex.
wh_hmac() { # secret file
	openssl dgst -sha256 -hmac "$1" -r "$2" | cut -d' ' -f1
}

wh_uuid() {
	cat /proc/sys/kernel/random/uuid
}

# JSON array of the arguments as strings.
wh_json_list() {
	if [ $# -eq 0 ]; then
		echo '[]'
	else
		printf '%s\n' "$@" | jq -R . | jq -cs .
	fi
}

# A GitHub (or Gitea) push of commit sha to ref; files are added.
wh_github_push() { # repo ref sha [file...]
	local repo=$1 ref=$2 sha=$3
	shift 3
	jq -nc --arg repo "$repo" --arg ref "$ref" --arg sha "$sha" \
		--argjson files "$(wh_json_list "$@")" '{
		ref: $ref, before: "1111111111111111111111111111111111111111",
		after: $sha,
		created: false, deleted: false, forced: false,
		repository: {id: 1, full_name: $repo, default_branch: "main"},
		pusher: {name: "ann"}, sender: {login: "ann", id: 7},
		head_commit: {id: $sha, message: "change"},
		commits: [{id: $sha, message: "change", added: $files,
			modified: [], removed: []}]}'
}

# A GitHub pull request event; from_fork 1 puts the head in another repo.
wh_github_pr() { # repo action number head_sha base_branch [from_fork]
	jq -nc --arg repo "$1" --arg action "$2" --argjson n "$3" \
		--arg sha "$4" --arg base "$5" --argjson fork "${6:-0}" '{
		action: $action, number: $n,
		pull_request: {number: $n, state: "open", merged: false,
			head: {ref: "feature", sha: $sha,
				repo: {id: (1 + $fork),
					full_name: (if $fork == 1 then "eve/fork" else $repo end)}},
			base: {ref: $base, sha: "2222222222222222222222222222222222222222", repo: {id: 1, full_name: $repo}}},
		repository: {id: 1, full_name: $repo}, sender: {login: "ann"}}'
}

# A Gitea pull request: its update is `synchronized`.
wh_gitea_pr() { # repo action number head_sha base_branch [from_fork]
	jq -nc --arg repo "$1" --arg action "$2" --argjson n "$3" \
		--arg sha "$4" --arg base "$5" --argjson fork "${6:-0}" '{
		action: $action, number: $n,
		pull_request: {number: $n,
			head: {ref: "feature", sha: $sha, repo_id: (1 + $fork)},
			base: {ref: $base, repo_id: 1}},
		repository: {id: 1, full_name: $repo}, sender: {login: "ann"}}'
}

# A GitLab push (object_kind push, or tag_push for refs/tags/).
wh_gitlab_push() { # path_with_namespace ref sha [file...]
	local repo=$1 ref=$2 sha=$3 kind=push
	shift 3
	case $ref in refs/tags/*) kind=tag_push ;; esac
	jq -nc --arg repo "$repo" --arg ref "$ref" --arg sha "$sha" \
		--arg kind "$kind" --argjson files "$(wh_json_list "$@")" '{
		object_kind: $kind, ref: $ref,
		before: "1111111111111111111111111111111111111111",
		after: $sha, checkout_sha: $sha, user_username: "ann",
		project_id: 3, project: {id: 3, path_with_namespace: $repo},
		commits: [{id: $sha, message: "change", added: $files,
			modified: [], removed: []}],
		total_commits_count: 1}'
}

# A GitLab merge request; action open, reopen, update (with code), close.
wh_gitlab_mr() { # path_with_namespace action iid last_commit target [from_fork]
	jq -nc --arg repo "$1" --arg action "$2" --argjson iid "$3" \
		--arg sha "$4" --arg target "$5" --argjson fork "${6:-0}" '{
		object_kind: "merge_request", user: {username: "ann"},
		project: {id: 3, path_with_namespace: $repo},
		object_attributes: ({action: $action, iid: $iid,
			source_branch: "feature", target_branch: $target,
			source_project_id: (3 + $fork), target_project_id: 3,
			last_commit: {id: $sha, message: "change"},
			source: {path_with_namespace:
				(if $fork == 1 then "eve/fork" else $repo end)}}
			+ (if $action == "update"
				then {oldrev: "1111111111111111111111111111111111111111"}
				else {} end))}'
}

# POST file to <base>/webhooks/<forge> as that forge would; sets
# WH_STATUS (HTTP status) and WH_BODY (the answer).
wh_deliver() { # forge base secret event file
	local forge=$1 base=$2 secret=$3 event=$4 file=$5
	local id=${WH_DELIVERY:-$(wh_uuid)} out
	local -a h=(-H "Content-Type: application/json")

	case $forge in
	github)
		h+=(-H "X-GitHub-Event: $event" -H "X-GitHub-Delivery: $id")
		[ -n "$WH_UNSIGNED" ] ||
			h+=(-H "X-Hub-Signature-256: ${WH_SIGNATURE:-sha256=$(wh_hmac "$secret" "$file")}")
		;;
	gitea)
		h+=(-H "X-Gitea-Event: $event" -H "X-Gitea-Delivery: $id")
		[ -n "$WH_UNSIGNED" ] ||
			h+=(-H "X-Gitea-Signature: ${WH_SIGNATURE:-$(wh_hmac "$secret" "$file")}")
		;;
	gitlab)
		h+=(-H "X-Gitlab-Event: $event" -H "X-Gitlab-Event-UUID: $id")
		[ -n "$WH_UNSIGNED" ] ||
			h+=(-H "X-Gitlab-Token: ${WH_SIGNATURE:-$secret}")
		;;
	esac
	out=$(curl -sS -o - -w '\n%{http_code}' "${h[@]}" \
		--data-binary "@$file" "$base/webhooks/$forge")
	WH_STATUS=${out##*$'\n'}
	WH_BODY=${out%$'\n'*}
	WH_LAST_DELIVERY=$id
}
