/* A commit in force everywhere before it is answered (docs/api.md §20.1). Notified mode alone
 * would let another process answer from its caches while the notification of a commit is still
 * on its way to it. So a connection that committed a change (whatever the mode, the command
 * line's too) asks every listening process (pg_changes.c) to confirm it before the answer goes
 * out: it notifies tokend_sync with an id, in the statement that also reads which listeners
 * there are, and waits for each to notify tokend_ack with that id. A listener handles
 * notifications in commit order, so its confirmation means the change's own notification was
 * handled first; a connection reads as a listener (application_name tokend-changes) only once
 * it listens. A listener that does not confirm within a second has its connection ended
 * (pg_terminate_backend), which keeps its process from its caches until it listens again. */
#include "store/internal.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/time.h"

#define SYNC_WAIT_MS 1000      /* for every listener's confirmation of a commit */
#define TERMINATE_WAIT_MS 1000 /* for a listener that did not confirm to be gone */

#define LISTENERS_SQL                                                                              \
    "SELECT ARRAY(SELECT pid FROM pg_stat_activity WHERE application_name = '" TK_PG_LISTENER_APP  \
    "' AND datname = current_database() AND pid <> %d)"

static _Atomic uint64_t sync_seq;

/* The pids of an int array's text ({12,34}); false when it is not one. */
static bool parse_pids(const char *s, int **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t len = strlen(s);
    if (len < 2 || s[0] != '{' || s[len - 1] != '}')
        return false;
    if (len == 2)
        return true;
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    int *pids = tk_calloc(cap, sizeof(*pids));
    if (pids == NULL)
        return false;
    const char *p = s + 1;
    for (;;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v <= 0 || v > INT32_MAX || *n == cap || (*end != ',' && *end != '}')) {
            free(pids);
            return false;
        }
        pids[(*n)++] = (int)v;
        if (*end == '}')
            break;
        p = end + 1;
    }
    *out = pids;
    return true;
}

static bool payload_has(const char *payload, const char *id)
{
    size_t len = strlen(id);
    for (const char *p = payload; (p = strstr(p, id)) != NULL; p += len)
        if ((p == payload || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
            return true;
    return false;
}

/* Takes the confirmations libpq has read on conn; *missing counts the pids not yet heard
 * from (their slots are set to 0 once heard). */
static void take_acks(PGconn *conn, const char *id, int *pids, size_t n, size_t *missing)
{
    PGnotify *note;
    while ((note = PQnotifies(conn)) != NULL) {
        if (strcmp(note->relname, "tokend_ack") == 0 && payload_has(note->extra, id)) {
            for (size_t i = 0; i < n; i++)
                if (pids[i] == note->be_pid) {
                    pids[i] = 0;
                    (*missing)--;
                }
        }
        PQfreemem(note);
    }
}

/* Ends the listening connections that did not confirm (docs/api.md §20.1): a process whose
 * listener is gone takes nothing from its caches until it listens again. */
static void end_laggards(PGconn *conn, const int *pids, size_t n, size_t missing)
{
    size_t cap = 3 + n * 12;
    char *list = tk_malloc(cap);
    if (list == NULL)
        return;
    size_t at = 0;
    list[at++] = '{';
    for (size_t i = 0; i < n; i++)
        if (pids[i] != 0)
            at += (size_t)snprintf(list + at, cap - at, "%s%d", at > 1 ? "," : "", pids[i]);
    snprintf(list + at, cap - at, "}");
    char wait[16];
    snprintf(wait, sizeof(wait), "%d", TERMINATE_WAIT_MS);
    const char *params[] = {list, wait};
    tk_metrics_store_round_trip();
    PGresult *r = PQexecParams(conn,
                               "SELECT pg_terminate_backend(pid, $2::bigint) "
                               "FROM unnest($1::int[]) AS pid",
                               2, NULL, params, NULL, NULL, 0);
    bool ended = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    tk_log(TK_LOG_WARNING, "tokend.changes",
           "%zu listening process(es) did not confirm a change within %d ms: %s %s", missing,
           SYNC_WAIT_MS, ended ? "ended their listening connections" : "could not end", list);
    free(list);
}

void tk_changes_sync(struct tk_changes *c, PGconn *conn)
{
    /* this process's own listener is not waited for: tk_changes_committed retired its caches */
    int own = tk_changes_listener_pid(c);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK ||
        PQtransactionStatus(conn) != PQTRANS_IDLE)
        return;
    /* nobody listening (one process, strict mode everywhere): nothing to wait for */
    tk_metrics_store_round_trip();
    char sql[512];
    snprintf(sql, sizeof(sql), LISTENERS_SQL "::text", own);
    PGresult *r = PQexec(conn, sql);
    bool none = PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 ||
                strcmp(PQgetvalue(r, 0, 0), "{}") == 0;
    PQclear(r);
    if (none)
        return;
    char id[TK_PG_SYNC_ID_BYTES + 1];
    snprintf(id, sizeof(id), "%d.%llu", PQbackendPID(conn),
             (unsigned long long)atomic_fetch_add(&sync_seq, 1));
    /* listeners read again, in the statement that notifies: one that was not a listener yet
     * listens from after this commit on, and reads the change counter after that */
    snprintf(sql, sizeof(sql),
             "LISTEN tokend_ack; SELECT l.p::text, CASE WHEN cardinality(l.p) > 0 THEN "
             "pg_notify('tokend_sync', '%s') END FROM (" LISTENERS_SQL " AS p) AS l",
             id, own);
    tk_metrics_store_round_trip();
    r = PQexec(conn, sql);
    int *pids = NULL;
    size_t n = 0;
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
              parse_pids(PQgetvalue(r, 0, 0), &pids, &n);
    PQclear(r);
    size_t missing = n;
    int64_t deadline = tk_mono_ms() + SYNC_WAIT_MS;
    while (ok) {
        take_acks(conn, id, pids, n, &missing); /* some may have come with the answer */
        int64_t left = deadline - tk_mono_ms();
        if (missing == 0 || left <= 0)
            break;
        struct pollfd p = {.fd = PQsocket(conn), .events = POLLIN};
        int w = poll(&p, 1, (int)left);
        if (w < 0 && errno != EINTR)
            break;
        if (w > 0)
            ok = PQconsumeInput(conn) == 1;
    }
    tk_metrics_store_round_trip();
    PQclear(PQexec(conn, "UNLISTEN tokend_ack"));
    PGnotify *note;
    while ((note = PQnotifies(conn)) != NULL)
        PQfreemem(note);
    if (ok && missing > 0)
        end_laggards(conn, pids, n, missing);
    free(pids);
}
