#include "transport.h"

#include "banned.h"

/* Not there yet: every ssh host fails with a clear message. */
static int ssh_start(const struct transport_host *h,
		     const struct agent_request *rq, struct transport_run *run,
		     struct sw_err *e)
{
	(void)rq;
	(void)run;
	return err_set(e, ERR_FAILED, "host %s: ssh hosts are not supported",
		       h->name);
}

const struct transport transport_ssh = { "ssh", ssh_start };
