/* Client addresses (README "Connections, deadlines, client addresses"): IP addresses and networks
 * parsed strictly (as Python's ipaddress reads them), an IPv4-mapped IPv6 address taken as the
 * IPv4 address everywhere, canonical text, the trusted-proxy list (TOKEND_TRUSTED_PROXIES) and
 * the X-Forwarded-For rule. Pure: no I/O, no libmicrohttpd, no allocation but the list's. */
#ifndef TK_HTTP_CLIENT_ADDR_H
#define TK_HTTP_CLIENT_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/error.h"

/* Longest canonical text of an address, with its NUL ("ffff:...:255.255.255.255" never
 * appears: mapped addresses are written as IPv4). */
#define TK_IP_TEXT_MAX 46

struct tk_ip {
    uint8_t family; /* 4 or 6 */
    uint8_t b[16];  /* IPv4: b[0..3], the rest zero */
};

struct tk_net {
    struct tk_ip ip; /* host bits cleared */
    uint8_t prefix;  /* 0..32 or 0..128 */
};

struct tk_proxies {
    struct tk_net *nets; /* owned */
    size_t n;
};

/* Parses one address: IPv4 as four decimal octets without leading zeros, or IPv6 (lower or
 * upper case, "::" once, an IPv4 tail allowed; no zone). "::ffff:a.b.c.d" (in any spelling) is
 * the IPv4 address a.b.c.d. False when s[0..len) is anything else. */
bool tk_ip_parse(const char *s, size_t len, struct tk_ip *out);
/* The address of an AF_INET or AF_INET6 socket address, mapped IPv6 as IPv4. False for other
 * families. */
bool tk_ip_from_sockaddr(const struct sockaddr *sa, struct tk_ip *out);
/* Canonical text: dotted IPv4, or IPv6 lower-case with the longest run (two or more) of zero
 * groups written "::" (the first of equal runs), as Python's ipaddress writes them. */
void tk_ip_format(const struct tk_ip *ip, char out[TK_IP_TEXT_MAX]);

/* Parses "ADDRESS" or "ADDRESS/PREFIX" (prefix 0..32 for IPv4, 0..128 for IPv6; no netmask
 * form); host bits set are accepted and cleared. A mapped IPv6 network of prefix 96 or more is
 * the IPv4 network of prefix - 96. */
bool tk_net_parse(const char *s, size_t len, struct tk_net *out);
bool tk_net_contains(const struct tk_net *n, const struct tk_ip *ip);
/* Longest canonical text of a network, with its NUL ("<address>/128"). */
#define TK_NET_TEXT_MAX (TK_IP_TEXT_MAX + 4)
/* Canonical text "ADDRESS/PREFIX": tk_ip_format's address, the prefix always written (an
 * allowed_networks item as docs/api.md §19.1 returns it). Returns its length. */
size_t tk_net_format(const struct tk_net *n, char out[TK_NET_TEXT_MAX]);

/* Parses a comma-separated list of networks (spaces around each allowed; empty text: an empty
 * list; an empty item is an error). At most TK_MAX_TRUSTED_PROXIES networks. On error writes
 * one line naming `setting` and the bad item to err and returns TK_ERR_INVALID; TK_ERR_NOMEM
 * when the list cannot be allocated. */
int tk_proxies_parse(const char *text, const char *setting, struct tk_proxies *out, char *err,
                     size_t err_len) TK_MUST_USE;
/* Accepts NULL and an empty list. */
void tk_proxies_free(struct tk_proxies *p);
bool tk_proxies_contains(const struct tk_proxies *p, const struct tk_ip *ip);

/* The client address of a request whose TCP peer is `peer` (docs/api.md §3.5, README
 * "Connections, deadlines, client addresses"): when the peer is inside `trusted`, the right-most
 * X-Forwarded-For address that is not itself trusted (the left-most listed when all are, the peer
 * when the header is absent, or an element reached from the right does not parse, or more than
 * TK_MAX_FORWARDED_HOPS would have to be read); otherwise the peer, and X-Forwarded-For is ignored.
 * xff holds the field's values in the order they were received (several header lines are one list).
 */
void tk_client_ip(const struct tk_proxies *trusted, const struct tk_ip *peer,
                  const char *const *xff, const size_t *xff_len, size_t n_xff, struct tk_ip *out);

#endif
