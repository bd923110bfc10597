/* Text escaped for a JSON string: the one escaper of the JSON writer (json/writer.h) and of
 * the log's JSON lines (util/log.c), kept here so that util/ needs nothing from json/. */
#ifndef TK_UTIL_ESCAPE_H
#define TK_UTIL_ESCAPE_H

#include <stddef.h>

#include "util/buf.h"

/* Appends the escaped body of a JSON string (no quotes) to out: as Python's
 * json.dumps(ensure_ascii=False), invalid UTF-8 written as U+FFFD. Returns out's error. */
int tk_json_escape(struct tk_buf *out, const char *s, size_t len);

#endif
