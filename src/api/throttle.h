/* Throttling of failed authentications (issue 7, reworked in issue 13): a token bucket per
 * client address (the resolved address, README "Connections, deadlines, client addresses"). Each
 * failed authentication takes a token; once an address's bucket is empty its further failures are
 * answered 429 instead of 403. It is consulted only after a credential was looked up and found
 * invalid, so a valid key is never refused because others failed from its address (every
 * client behind one proxy shares it); requests without credentials never count. The buckets
 * live in this process (several processes each allow the configured rate). Thread-safe. */
#ifndef TK_API_THROTTLE_H
#define TK_API_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

struct tk_throttle;

/* burst: failures allowed at once; per_second: refill rate. burst 0 disables throttling. NULL
 * when out of memory. */
struct tk_throttle *tk_throttle_new(unsigned burst, double per_second);
void tk_throttle_free(struct tk_throttle *t);
/* Records one failed authentication from addr (any text; longer than an IPv6 address is cut).
 * Returns true when addr had no failure left: the caller answers 429 with Retry-After
 * *retry_after_s (whole seconds, at least 1) instead of its failure. Always false when t is
 * NULL or throttling is off. */
bool tk_throttle_fail(struct tk_throttle *t, const char *addr, int64_t now_us,
                      unsigned *retry_after_s);

#endif
