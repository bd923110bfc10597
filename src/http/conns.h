/* Connection admission and request deadlines, for server.c (README "Connections, deadlines,
 * client addresses"): open connections counted in all and per peer address, each new one
 * classed as normal or health-only reserve, and a watchdog thread that cuts a connection whose
 * current request has been arriving for longer than the request deadline. Sees connections only
 * as peer addresses and file descriptors, never libmicrohttpd's structures. Thread-safe. */
#ifndef TK_HTTP_CONNS_H
#define TK_HTTP_CONNS_H

#include <stdbool.h>
#include <sys/socket.h>

#include "http/client_addr.h"
#include "util/error.h"

enum tk_conn_class {
    TK_CONN_NORMAL,       /* within every cap */
    TK_CONN_OVER_ADDRESS, /* past its peer address's share: health only, short life */
    TK_CONN_OVER_TOTAL,   /* past the total: health only, short life */
};

struct tk_conns_opts {
    unsigned max_total;           /* normal connections in all */
    unsigned max_per_address;     /* normal connections per peer address (IPv6: per /64), 0: none */
    unsigned reserve_per_address; /* health-only connections one address may hold past a cap */
    unsigned reserve_total;       /* health-only connections in all */
    unsigned reserve_life_s;      /* a health-only connection is cut this long after accept */
    unsigned request_timeout_s;   /* to deliver one request, from accept or the last response */
    const struct tk_proxies *trusted; /* peers exempt from the per-address cap; borrowed */
};

struct tk_conns;
struct tk_conn;

/* Makes the tables and starts the watchdog thread. */
int tk_conns_new(const struct tk_conns_opts *o, struct tk_conns **out) TK_MUST_USE;
/* Stops the watchdog and frees everything; every connection must be closed. Accepts NULL. */
void tk_conns_free(struct tk_conns *cs);

/* At accept: is there a place for a connection from peer (in any class)? When the reserve is
 * full, cuts the oldest health-only connection that has not sent a request within
 * TK_CONN_RESERVE_GRACE_MS (of peer's address, or of anyone past the total) to make one.
 * Counts nothing: tk_conns_open does. */
bool tk_conns_admit(struct tk_conns *cs, const struct sockaddr *peer);
/* A connection was accepted on fd: counts it, classes it, arms its first request's deadline.
 * NULL when out of memory (the caller drops the connection). */
struct tk_conn *tk_conns_open(struct tk_conns *cs, const struct sockaddr *peer, int fd);
/* The connection is closing; its fd is still open. Accepts NULL. After this returns the
 * watchdog never touches fd again. */
void tk_conns_close(struct tk_conns *cs, struct tk_conn *c);

/* Reading a request began (at accept, after each response: true) or the whole request has
 * arrived (false: the deadline is off while it is handled and answered). Accepts NULL. */
void tk_conn_reading(struct tk_conn *c, bool reading);
/* A request's headers have arrived on c: a health-only connection is no longer cut to make room
 * for another. Accepts NULL. */
void tk_conn_spoke(struct tk_conn *c);
enum tk_conn_class tk_conn_class_of(const struct tk_conn *c);

#endif
