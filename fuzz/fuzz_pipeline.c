/*
 * libFuzzer harness for the pipeline file parser (and the yaml loader and
 * the variable reference scanner under it): any input must give either a
 * pipeline that holds together or an ERR_SPEC error naming the file, never
 * a crash, a leak or undefined behaviour. The directory is one that does
 * not exist, so only sources bound to git URLs can pass.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_action(const struct pipeline *pl, size_t s, size_t a)
{
	const struct pl_stage *st = &pl->stages[s];
	const struct pl_action *ac = &st->actions[a];

	if (!ac->name || !ac->name[0] || strlen(ac->name) > PL_MAX_NAME ||
	    ac->run_order < 1 || ac->run_order > PL_MAX_RUN_ORDER ||
	    ac->group < 0 || ac->group >= st->nr_groups)
		__builtin_trap();
	/* stage 1 holds sources, and only stage 1 */
	if ((s == 0) != (ac->category == PL_SOURCE))
		__builtin_trap();
	for (size_t i = 0; i < ac->nr_inputs; i++) {
		const struct pl_input *in = &ac->inputs[i];
		const struct pl_action *prod;

		if (in->stage >= pl->nr_stages ||
		    in->action >= pl->stages[in->stage].nr_actions)
			__builtin_trap();
		prod = &pl->stages[in->stage].actions[in->action];
		if (strvec_find(&prod->outputs, in->name) < 0)
			__builtin_trap();
		if (!(in->stage < s ||
		      (in->stage == s && prod->run_order < ac->run_order)))
			__builtin_trap();
	}
	for (size_t i = 0; i < ac->nr_config; i++)
		if (!ac->config[i].value[0] ||
		    strlen(ac->config[i].value) > PL_MAX_CONFIG_VALUE)
			__builtin_trap();
	/* runOrder groups rank the distinct values */
	for (size_t j = 0; j < st->nr_actions; j++)
		if ((st->actions[j].run_order < ac->run_order) !=
		    (st->actions[j].group < ac->group))
			__builtin_trap();
}

static void check_model(const struct pipeline *pl)
{
	if (!pl->name || pl->nr_stages < PL_MIN_STAGES ||
	    pl->nr_stages > PL_MAX_STAGES ||
	    pipeline_nr_actions(pl) > PL_MAX_ACTIONS ||
	    strcmp(pl->dir, "/srv/fuzz"))
		__builtin_trap();
	for (size_t s = 0; s < pl->nr_stages; s++) {
		const struct pl_stage *st = &pl->stages[s];

		if (!st->nr_actions || st->nr_groups < 1 ||
		    st->nr_groups > (int)st->nr_actions)
			__builtin_trap();
		if (st->on_failure == PL_ROLLBACK &&
		    (s == 0 || pl->mode == PL_PARALLEL))
			__builtin_trap();
		for (size_t a = 0; a < st->nr_actions; a++)
			check_action(pl, s, a);
	}
	for (size_t i = 0; i < pl->nr_sources; i++)
		if (!pl->sources[i].url)
			__builtin_trap(); /* /srv/fuzz has no files */
	if (pl->nr_groups || pl->webhook_secret_file)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pipeline pl = PIPELINE_INIT;
	struct sw_err e = SW_ERR_INIT;

	if (pipeline_parse("fuzz.yml", "/srv/fuzz", (const char *)data, size,
			   &pl, &e) < 0) {
		if (e.code != ERR_SPEC || !e.msg[0] ||
		    strncmp(e.msg, "fuzz.yml:", 9) || pl.file || pl.stages)
			__builtin_trap();
		return 0;
	}
	if (e.code)
		__builtin_trap();
	check_model(&pl);
	pipeline_release(&pl);
	return 0;
}
