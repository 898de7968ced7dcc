/* webhook_conf.c: the webhook client's settings from the daemon's configuration, one place for the daemon and `dialerd takeover` (both must sign and time out alike) */
#include "daemon/config.h"
#include "daemon/webhook.h"

void webhook_conf_from(struct webhook_conf *wc, const struct config *cfg,
		       struct store *store)
{
	*wc = (struct webhook_conf){
		.account_sid = cfg->account_sid,
		.auth_token = cfg->auth_token,
		.user_agent = cfg->webhook_user_agent,
		.max_connections = cfg->webhook_max_connections,
		.connect_timeout_ms = cfg->webhook_connect_timeout_ms,
		.timeout_ms = cfg->webhook_timeout_ms,
		.tls_ca_file = cfg->webhook_tls_ca_file,
		.tls_insecure = cfg->webhook_tls_insecure,
		.store = store,
	};
}
