/* webhook_sock.h: libcurl's multi-socket interface on the daemon's libevent
 * loop, for the webhook client (webhook.c); main thread only
 *
 * Keep-alive sockets stay registered with the loop between transfers, so
 * a webhook on a reused connection costs no epoll_ctl (webhook_sock.c).
 */
#ifndef DIALERD_WEBHOOK_SOCK_H
#define DIALERD_WEBHOOK_SOCK_H

#include <curl/curl.h>

struct event_base;
struct webhook_socks;

/* Called after libcurl ran for a socket or its timer: read its messages. */
typedef void (webhook_socks_ran_h)(void *arg);

/* Installs the socket and timer callbacks on multi. */
int webhook_socks_alloc(struct webhook_socks **sp, struct event_base *base,
			CURLM *multi, webhook_socks_ran_h *ran, void *arg);
/* Every easy handle of multi opens and closes its sockets through s. */
void webhook_socks_easy(struct webhook_socks *s, CURL *easy);
/* After curl_multi_cleanup (which closes the sockets through s). */
struct webhook_socks *webhook_socks_free(struct webhook_socks *s);

#endif
