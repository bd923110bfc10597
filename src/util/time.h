/* Time as tokend keeps it: int64 microseconds since the Unix epoch, UTC, for years 1..9999.
 * Parsing of client datetimes (docs/api.md §1.3), RFC 3339 output, Python str() output for
 * messages (§6.2 rule 4), and authentik's duration strings (§12.3). No I/O but the clock. */
#ifndef TK_UTIL_TIME_H
#define TK_UTIL_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Room for any formatted time, with NUL. */
#define TK_TIME_BUFSZ 40

/* Smallest and largest representable instants: 0001-01-01T00:00:00Z, 9999-12-31T23:59:59.999999Z.
 */
#define TK_TIME_MIN_US (-62135596800000000LL)
#define TK_TIME_MAX_US (253402300799999999LL)

/* Current time in microseconds (CLOCK_REALTIME). Thread-safe. */
int64_t tk_now_us(void);
/* Monotonic milliseconds (CLOCK_MONOTONIC), for deadlines and ages. Thread-safe. */
int64_t tk_mono_ms(void);

/* Parses a datetime as Django's parse_datetime accepts it (Python 3.11 fromisoformat, then
 * Django's regex): "YYYY-MM-DD", "YYYY-MM-DD[T| ]HH:MM[:SS[.f{1,6}]]" with an optional "Z" or
 * "±HH", "±HHMM", "±HH:MM" offset, seconds fraction with '.' or ','. A naive value is UTC.
 * s need not be NUL-terminated. Returns 0 and *out, or TK_ERR_INVALID for anything else,
 * including out-of-range fields and instants outside years 1..9999 after applying the offset. */
int tk_time_parse(const char *s, size_t len, int64_t *out) TK_MUST_USE;

/* RFC 3339 as DRF emits it: "2024-09-27T14:26:18.082123Z", or "2024-09-27T14:26:18Z" when the
 * microseconds are 0. Writes a NUL-terminated string into out, returns its length. */
size_t tk_time_format(int64_t us, char out[TK_TIME_BUFSZ]);

/* Python str() of an aware UTC datetime: "2024-09-27 16:26:18.082123+00:00", microseconds
 * only when non-zero. Returns the length. */
size_t tk_time_format_py(int64_t us, char out[TK_TIME_BUFSZ]);

/* authentik's timedelta_string_validator / timedelta_from_string (docs/api.md §12.3):
 * "key=value;key=value", keys case-insensitive among microseconds, milliseconds, seconds,
 * minutes, hours, days, weeks; values Python floats (surrounding whitespace allowed, sign,
 * fraction, exponent, "inf"/"nan" refused); unknown keys skipped; a repeated key: the last
 * wins; a pair without exactly one '=', a bad number, or no known key at all: TK_ERR_INVALID.
 * The sum is rounded to whole microseconds as Python's timedelta does; results beyond
 * +-999999999 days are TK_ERR_INVALID. */
int tk_duration_parse(const char *s, size_t len, int64_t *out_us) TK_MUST_USE;

#endif
