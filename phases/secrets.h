/*
 * secrets: local stand-ins for SSM Parameter Store and Secrets Manager,
 * which resolve a buildspec's env/parameter-store and env/secrets-manager.
 *
 *   struct secrets s = SECRETS_INIT;
 *   secrets_set_mask(&s, &mask);            -- optional: mask every value
 *   if (secrets_load_file(&s, "secrets.yml", &e) < 0)
 *           -- ERR_SPEC "secrets.yml:4:3: ..."
 *   secrets_set_command(&s, "pass-lookup");  -- optional
 *   char *v;
 *   if (secrets_get_parameter(&s, "/prod/db/password", &v, &e) < 0)
 *           -- ERR_FAILED "parameter does not exist: /prod/db/password"
 *   free(v);
 *   if (secrets_get_secret(&s, "prod/api:token", &v, &e) < 0) ...
 *   free(v);
 *   secrets_release(&s);
 *
 * Providers are asked in order: the secrets files (a later file's entry
 * wins over an earlier one's), then the command.
 *
 * The secrets file (YAML):
 *
 *   parameter-store:
 *     /prod/db/password: s3cr3t          -- parameter name -> value
 *   secrets-manager:
 *     prod/api: '{"token": "tok-123"}'   -- secret id -> secret string
 *     prod/api:token: tok-123            -- secret-id:json-key -> value
 *
 * Both keys are optional; any other top-level key is an error. Values
 * must be scalars and are taken as written (`5432` is "5432", `yes` is
 * "yes"); a null value is an error (write '' for an empty value).
 *
 * The secrets command: for each lookup the file could not answer,
 *   /bin/sh -c '<command> "$@"' sh <kind> <name>
 * runs, with kind "parameter-store" or "secrets-manager" and name the
 * parameter name or the secret id (never the json-key: the command
 * returns the whole secret string). Its stdout, less one trailing
 * newline, is the value; exit status 0 means found, any other means
 * "does not exist" (127 too: the shell's "not found" on stderr tells a
 * misspelt command apart). Its stdin is /dev/null and its stderr is slipway's.
 * Output over SECRETS_COMMAND_MAX bytes, death by a signal, or a failed
 * spawn is an error, not "does not exist". Answers are cached, so a
 * name is asked for once per struct secrets.
 *
 * A secrets-manager reference is
 *   secret-id[:json-key[:version-stage[:version-id]]]
 * where secret-id is a name or an ARN; an ARN
 * (arn:aws:secretsmanager:region:acct:secret:name) holds colons, so when
 * the reference starts with "arn:" its first 7 colon-separated fields are
 * the id. The rest is split on ':' only; spaces stay part of the
 * json-key. version-stage and version-id are accepted and ignored: a
 * local provider has one version of each secret. An empty json-key means
 * the whole secret string. A secret looked up by ARN and not found is
 * looked up again by the name inside the ARN, then by that name without
 * the random suffix Secrets Manager appends ("prod/api-AbCdEf" ->
 * "prod/api"), so a secrets file can list plain names.
 *
 * With a json-key the lookup order is: an "id:json-key" entry of the
 * file; else the secret string (file, then command) parsed as a JSON
 * object, whose member json-key gives the value: a string as is, any
 * other JSON value serialised compactly (5, true, {"a":1}).
 *
 * Errors (ERR_FAILED unless said), messages never hold a value:
 *   parameter does not exist: <name>
 *   secret does not exist: <id>
 *   json key not found: <key> in secret <id>
 *   secret <id> is not a JSON object, cannot read key <key>
 *   invalid secrets-manager reference '<ref>'        (ERR_SPEC)
 * CodeBuild prints the first as the phase context "Decrypted Variables
 * Error Message: parameter does not exist: <name>"; that prefix is the
 * caller's.
 */
#ifndef SW_SECRETS_H
#define SW_SECRETS_H

#include <stddef.h>

#include "err.h"
#include "strvec.h"

struct mask;

#define SECRETS_COMMAND_MAX (1u << 20)

/* name -> value pairs; keys[i] -> values[i] */
struct secrets_table {
	struct strvec keys, values;
};

struct secrets {
	struct secrets_table params; /* parameter-store, from files */
	struct secrets_table secrets; /* secrets-manager, from files */
	/* answers of the command, found ones only */
	struct secrets_table cmd_params, cmd_secrets;
	char *command; /* owned, or NULL */
	struct mask *mask; /* borrowed, or NULL */
};

#define SECRETS_INIT                                                           \
	{                                                                      \
		0                                                              \
	}

void secrets_init(struct secrets *s);

/*
 * Add the entries of a secrets file. Returns -1 with ERR_SPEC and
 * "file:line:col: ..." for a malformed file (nothing of it is added), or
 * ERR_SYSTEM when it cannot be read.
 */
int secrets_load_file(struct secrets *s, const char *path, struct sw_err *e);

/* The same from a buffer; `name` is the file name in messages. */
int secrets_load_buffer(struct secrets *s, const char *name, const char *data,
			size_t len, struct sw_err *e);

/* Set (copied) or clear (NULL) the provider command. */
void secrets_set_command(struct secrets *s, const char *cmd);

/*
 * Register with m (borrowed; it must outlive s) every value that a get
 * function returns from now on.
 */
void secrets_set_mask(struct secrets *s, struct mask *m);

/* Resolve a parameter name; *value is the caller's to free. */
int secrets_get_parameter(struct secrets *s, const char *name, char **value,
			  struct sw_err *e);

/* Resolve a secrets-manager reference; *value is the caller's to free. */
int secrets_get_secret(struct secrets *s, const char *ref, char **value,
		       struct sw_err *e);

/*
 * Split a reference into its parts (each the caller's to free; an absent
 * part is NULL, an empty json-key is NULL). Returns -1 with ERR_SPEC for
 * an empty id or more than four parts.
 */
int secrets_parse_ref(const char *ref, char **id, char **json_key,
		      char **version_stage, char **version_id,
		      struct sw_err *e);

void secrets_release(struct secrets *s);

#endif
