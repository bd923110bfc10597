/* Throttling of failed authentications (issue 7): a token bucket per client address. Each
 * failed authentication takes a token; an empty bucket answers 429 before any key is looked up,
 * so a guesser learns nothing more; successful authentications take nothing. The buckets live
 * in this process (several processes each allow the configured rate). Thread-safe. */
#ifndef TK_API_THROTTLE_H
#define TK_API_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

struct tk_throttle;

/* burst: failures allowed at once; per_second: refill rate. burst 0 disables throttling. */
struct tk_throttle *tk_throttle_new(unsigned burst, double per_second);
void tk_throttle_free(struct tk_throttle *t);
/* May this address try to authenticate now? Returns false when its bucket is empty and sets
 * *retry_after_s. */
bool tk_throttle_allow(struct tk_throttle *t, const char *addr, int64_t now_us,
                       unsigned *retry_after_s);
/* Records one failed authentication from addr. */
void tk_throttle_failed(struct tk_throttle *t, const char *addr, int64_t now_us);

#endif
