/* Fuzz target: the datetime parser (docs/api.md §1) and the duration parser (§12.3). Parsed
 * instants must stay in years 1..9999 and format back to something that parses to the same
 * instant. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile int sink; /* results are not checked here, only that nothing breaks */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t t, back, d;
    if (tk_time_parse((const char *)data, size, &t) == 0) {
        if (t < TK_TIME_MIN_US || t > TK_TIME_MAX_US)
            abort();
        char buf[TK_TIME_BUFSZ];
        size_t n = tk_time_format(t, buf);
        if (tk_time_parse(buf, n, &back) != 0 || back != t)
            abort();
        (void)tk_time_format_py(t, buf);
    }
    sink += tk_duration_parse((const char *)data, size, &d);
    return 0;
}
