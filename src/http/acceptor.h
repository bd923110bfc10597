/* The listening socket and the thread that accepts on it, for server.c. Each accepted
 * connection goes through an admission check and is then handed (MHD_add_connection) to the
 * next of the workers, libmicrohttpd daemons of one thread each, in turn. With libmicrohttpd's
 * own pool accepting, the first worker awake took a whole burst of new connections (a proxy's,
 * a client pool's) and served them one after the other while it waited on PostgreSQL, the
 * other workers idle (bench/RESULTS.md). */
#ifndef TK_HTTP_ACCEPTOR_H
#define TK_HTTP_ACCEPTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct MHD_Daemon;
struct tk_acceptor;

/* Whether to serve the connection fd from addr; false closes it at once. */
typedef bool (*tk_accept_fn)(void *cls, const struct sockaddr *addr, socklen_t addrlen, int fd);
/* A connection accept said yes to that libmicrohttpd did not take (it closed fd already). */
typedef void (*tk_dropped_fn)(void *cls, int fd);

/* Binds and listens (backlog); 0, or TK_ERR_IO with errno kept (address in use, not
 * available). The port is the one bound (the one asked, or the kernel's for port 0). */
int tk_acceptor_listen(const struct sockaddr *addr, socklen_t addrlen, int backlog,
                       struct tk_acceptor **out, uint16_t *port);
/* Starts accepting into the n workers (daemons started with MHD_USE_NO_LISTEN_SOCKET and an
 * internal thread; borrowed until stop). */
int tk_acceptor_start(struct tk_acceptor *a, struct MHD_Daemon *const *workers, unsigned n,
                      tk_accept_fn admit, tk_dropped_fn dropped, void *cls);
/* Stops accepting, joins the thread, closes the socket; NULL: nothing. Connections already
 * handed over stay libmicrohttpd's. */
void tk_acceptor_stop(struct tk_acceptor *a);

#endif
