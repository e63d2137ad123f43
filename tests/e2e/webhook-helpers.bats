#!/usr/bin/env bats
# The delivery fixtures of webhook_helpers.bash sign as the forges do and
# make payloads of the shapes the server parses.

load helpers
load webhook_helpers

@test "webhook-helpers: the HMAC is GitHub's documented example" {
	printf 'Hello, World!' >"$T/body"
	[ "$(wh_hmac "It's a Secret to Everybody" "$T/body")" = \
		757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17 ]
}

@test "webhook-helpers: payloads carry what each forge names" {
	sha=0123456789abcdef0123456789abcdef01234567
	wh_github_push acme/web refs/heads/main $sha src/a.c docs/b.md >"$T/p"
	[ "$(jq -r '.repository.full_name + " " + .ref + " " + .after' "$T/p")" = "acme/web refs/heads/main $sha" ]
	[ "$(jq -c '.commits[0].added' "$T/p")" = '["src/a.c","docs/b.md"]' ]
	[ "$(jq -r .before "$T/p")" = 1111111111111111111111111111111111111111 ]
	[ "$(wh_github_pr acme/web opened 4 $sha main 1 | jq -r '.pull_request.head.repo.full_name')" = eve/fork ]
	[ "$(wh_gitea_pr acme/web synchronized 4 $sha main | jq -r '.pull_request.head.repo_id')" = 1 ]
	[ "$(wh_gitlab_push grp/web refs/tags/v1 $sha | jq -r .object_kind)" = tag_push ]
	[ "$(wh_gitlab_mr grp/web update 7 $sha main | jq -r .object_attributes.oldrev)" != null ]
	[ "$(wh_gitlab_mr grp/web open 7 $sha main 1 | jq -r '.object_attributes.source_project_id')" = 4 ]
}
