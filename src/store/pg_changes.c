/* Knowing, on PostgreSQL, when any process may have changed what the caches derive from
 * (docs/api.md §20.1): a change counter the database keeps (pg 0005: statement triggers on the
 * tables the caches read bump it in the writing transaction and NOTIFY tokend_changed).
 *
 * Strict (the default): the data version is the counter itself, read on the request's own
 * connection: one round trip, exact (a commit the client saw answered is counted).
 *
 * Notified: one listener thread per process on a connection of its own. The process's data version
 * is an epoch that every notification and every commit of this process advance, and a heartbeat
 * that finds the counter moved without a notification. While the listener is not connected and
 * listening, and until it has listened again (which advances the epoch: a change may have been
 * missed), the version is 0 and nothing is cached or served from a cache. A request also looks
 * at the listener's socket: a notification that arrived but was not yet read makes the version
 * 0 for that request.
 *
 * The listener also confirms the sync ids committers send on tokend_sync (pg_sync.c), on
 * tokend_ack, once it has handled every notification before them. */
#include "store/internal.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/time.h"

#define HEARTBEAT_MS 1000 /* the counter is re-read this often, which also proves the link */
#define ANSWER_MS 2000    /* a heartbeat unanswered this long: the link is taken as lost */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
#define ACK_PAYLOAD_BYTES 7000 /* below NOTIFY's 8000-byte payload limit */

struct tk_changes {
    bool notified;          /* the mode; strict: no thread, the counter is the version */
    _Atomic uint64_t epoch; /* never 0, only grows */
    _Atomic bool trusted;   /* connected, listening, counter read since */
    _Atomic int fd;         /* the listener's socket while trusted, else -1 */
    _Atomic int pid;        /* its backend's pid while it listens, else 0 */
    _Atomic bool stop;
    _Atomic bool reading; /* the listener is taking notifications from its connection */
    int wake[2];          /* a pipe: tk_changes_stop wakes the thread */
    char *url;
    PGconn *conn;
    int64_t counter; /* the change counter at the last heartbeat */
    bool heard;      /* a notification arrived since the last heartbeat */
    char *acks;      /* sync ids to confirm, space-separated */
    size_t acks_len, acks_cap;
    bool acks_lost; /* an id could not be kept: the connection is given up */
    pthread_t thread;
};

/* Strict: the counter, through the request's connection (0 when it cannot be read). */
static uint64_t counter_version(struct tk_db *db)
{
    struct tk_db_stmt *st;
    int64_t n = 0;
    if (tk_db_prepare(db, "SELECT SUM(n) FROM change_count_shards", &st) != 0 ||
        tk_st_one_int(db, st, &n) != 0 || n < 0)
        return 0;
    return (uint64_t)n + 1;
}

uint64_t tk_changes_version(struct tk_changes *c, struct tk_db *db)
{
    if (c != NULL && !c->notified)
        return counter_version(db);
    if (c == NULL || !atomic_load(&c->trusted))
        return 0;
    uint64_t v = atomic_load(&c->epoch);
    int fd = atomic_load(&c->fd);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    /* something unread on the listener's connection may be a commit's notification */
    if (fd < 0 || poll(&p, 1, 0) != 0 || atomic_load(&c->reading))
        return 0;
    /* the link lost and regained meanwhile (fd reused): v may be older than what was missed */
    return atomic_load(&c->trusted) && atomic_load(&c->epoch) == v ? v : 0;
}

int tk_changes_listener_pid(struct tk_changes *c)
{
    return c != NULL && c->notified ? atomic_load(&c->pid) : 0;
}

void tk_changes_committed(struct tk_changes *c)
{
    if (c != NULL)
        atomic_fetch_add(&c->epoch, 1);
}

static void distrust(struct tk_changes *c)
{
    atomic_store(&c->pid, 0);
    atomic_store(&c->trusted, false);
    atomic_store(&c->fd, -1);
    tk_metrics_change_watch(false);
}

/* Waits until the connection's socket is readable, the stop pipe is, or ms pass. 1: readable,
 * 0: timeout, -1: stop or error. */
static int wait_readable(struct tk_changes *c, int ms)
{
    struct pollfd p[2] = {{.fd = PQsocket(c->conn), .events = POLLIN},
                          {.fd = c->wake[0], .events = POLLIN}};
    int n = poll(p, 2, ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    if (atomic_load(&c->stop) || (p[1].revents & POLLIN))
        return -1;
    return n > 0 ? 1 : 0;
}

/* A sync id is the committing connection's backend pid, a dot and a number: nothing else is
 * confirmed (a payload is text anyone with access to the database can send). */
static bool sync_id_ok(const char *id, size_t len)
{
    if (len == 0 || len > TK_PG_SYNC_ID_BYTES)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((id[i] < '0' || id[i] > '9') && id[i] != '.')
            return false;
    return true;
}

static void queue_ack(struct tk_changes *c, const char *id)
{
    size_t len = strlen(id);
    if (!sync_id_ok(id, len))
        return;
    if (c->acks_len + len + 2 > c->acks_cap) {
        size_t cap = c->acks_cap ? c->acks_cap * 2 : 256;
        while (cap < c->acks_len + len + 2)
            cap *= 2;
        char *p = tk_realloc(c->acks, cap);
        if (p == NULL) {
            c->acks_lost = true; /* unconfirmed: the committer ends this connection */
            return;
        }
        c->acks = p;
        c->acks_cap = cap;
    }
    if (c->acks_len > 0)
        c->acks[c->acks_len++] = ' ';
    memcpy(c->acks + c->acks_len, id, len + 1);
    c->acks_len += len;
}

/* Handles the notifications libpq has read: a change advances the epoch, a sync id is queued
 * for confirmation (after the changes that came before it). */
static void take_notes(struct tk_changes *c)
{
    PGnotify *n;
    while ((n = PQnotifies(c->conn)) != NULL) {
        if (strcmp(n->relname, "tokend_sync") == 0) {
            queue_ack(c, n->extra);
        } else {
            atomic_fetch_add(&c->epoch, 1);
            c->heard = true;
        }
        PQfreemem(n);
    }
}

/* Reads what arrived and handles it. The caller has set c->reading: while it is set, requests
 * take the version as 0, for what was taken from the socket is not in the epoch yet. false:
 * the link is lost. */
static bool drain(struct tk_changes *c)
{
    bool ok = PQconsumeInput(c->conn) == 1;
    take_notes(c);
    return ok && PQstatus(c->conn) == CONNECTION_OK;
}

static bool drain_now(struct tk_changes *c)
{
    atomic_store(&c->reading, true);
    bool ok = drain(c);
    atomic_store(&c->reading, false);
    return ok;
}

/* One statement on the listener's connection, without blocking the notifications: they are
 * handled while it waits, and those read with its answer before it returns (requests use no
 * cache meanwhile). Its first value, if any, in *out. */
static bool ask(struct tk_changes *c, const char *sql, const char *param, int64_t *out)
{
    int ok = param ? PQsendQueryParams(c->conn, sql, 1, NULL, &param, NULL, NULL, 0)
                   : PQsendQuery(c->conn, sql);
    if (!ok)
        return false;
    atomic_store(&c->reading, true);
    int64_t deadline = tk_mono_ms() + ANSWER_MS;
    bool good = false, done = false;
    while (!done) {
        if (!drain(c))
            break;
        while (!done && !PQisBusy(c->conn)) {
            PGresult *r = PQgetResult(c->conn);
            if (r == NULL) {
                done = true;
                break;
            }
            ExecStatusType st = PQresultStatus(r);
            good = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
            if (good && out != NULL) {
                good = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0);
                if (good)
                    *out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            }
            PQclear(r);
        }
        int64_t left = deadline - tk_mono_ms();
        if (!done && (left <= 0 || wait_readable(c, (int)left) < 0))
            break;
    }
    take_notes(c);
    atomic_store(&c->reading, false);
    return done && good;
}

static bool read_counter(struct tk_changes *c, int64_t *out)
{
    return ask(c, "SELECT SUM(n) FROM change_count_shards", NULL, out);
}

/* Confirms the sync ids queued, in payloads under NOTIFY's limit. Ids that arrive meanwhile
 * are confirmed on the next call. */
static bool send_acks(struct tk_changes *c)
{
    if (c->acks_lost)
        return false;
    while (c->acks_len > 0) {
        size_t cut = c->acks_len;
        if (cut > ACK_PAYLOAD_BYTES) {
            cut = ACK_PAYLOAD_BYTES;
            while (c->acks[cut] != ' ')
                cut--;
        }
        char payload[ACK_PAYLOAD_BYTES + 1];
        memcpy(payload, c->acks, cut);
        payload[cut] = '\0';
        size_t rest = c->acks_len - cut - (cut < c->acks_len ? 1 : 0);
        memmove(c->acks, c->acks + c->acks_len - rest, rest + 1);
        c->acks_len = rest;
        if (!ask(c, "SELECT pg_notify('tokend_ack', $1)", payload, NULL))
            return false;
    }
    return !c->acks_lost;
}

/* The heartbeat: a counter that changed while no notification came means a commit this
 * process did not hear of. (A change whose notification is still on its way is counted here
 * but not taken as missed: it arrives while the connection lives, and a lost connection
 * retires everything anyway.) */
static bool confirm(struct tk_changes *c, bool listening_anew)
{
    int64_t n;
    if (!read_counter(c, &n))
        return false;
    if (listening_anew || (n != c->counter && !c->heard))
        atomic_fetch_add(&c->epoch, 1);
    c->counter = n;
    c->heard = false;
    return true;
}

static bool connect_and_listen(struct tk_changes *c)
{
    /* named a listener (TK_PG_LISTENER_APP) only once it listens: a committer waits for what it
     * names */
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {c->url, "3", TK_PG_LISTENER_APP "-start", NULL};
    if (c->conn != NULL)
        PQfinish(c->conn);
    c->acks_len = 0;
    c->acks_lost = false;
    c->conn = PQconnectdbParams(keys, vals, 1);
    if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK)
        return false;
    /* the confirmations need no durability: a crash forgets the commits waiting on them too */
    PGresult *r = PQexec(c->conn, "LISTEN tokend_changed; LISTEN tokend_sync; "
                                  "SET synchronous_commit = off; "
                                  "SET application_name = '" TK_PG_LISTENER_APP "'");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    /* What was cached before the link was lost may have missed a change: it is all retired.
     * The counter read after LISTEN starts the heartbeat's comparisons. */
    if (!ok || !confirm(c, true) || !send_acks(c))
        return false;
    atomic_store(&c->fd, PQsocket(c->conn));
    atomic_store(&c->pid, PQbackendPID(c->conn));
    atomic_store(&c->trusted, true);
    tk_metrics_change_watch(true);
    return true;
}

/* Stopping: the connection stops reading as a listener at once, so that no committer waits on
 * it for the moment its server process takes to go once the connection is closed. Not ask():
 * its wait ends at the stop signal, which is already given here. */
static void leave(struct tk_changes *c)
{
    if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK ||
        !PQsendQuery(c->conn, "SET application_name = '" TK_PG_LISTENER_APP "-stop'"))
        return;
    int64_t deadline = tk_mono_ms() + ANSWER_MS;
    for (;;) {
        if (PQconsumeInput(c->conn) != 1)
            return;
        while (!PQisBusy(c->conn)) {
            PGresult *r = PQgetResult(c->conn);
            if (r == NULL)
                return;
            PQclear(r);
        }
        int64_t left = deadline - tk_mono_ms();
        struct pollfd p = {.fd = PQsocket(c->conn), .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) < 0)
            return;
    }
}

static void *listener_main(void *arg)
{
    struct tk_changes *c = arg;
    int backoff = 0;
    bool logged_loss = false;
    while (!atomic_load(&c->stop)) {
        if (!atomic_load(&c->trusted)) {
            if (!connect_and_listen(c)) {
                distrust(c);
                if (!logged_loss)
                    tk_log(TK_LOG_WARNING, "tokend.changes",
                           "cannot listen for changes on PostgreSQL: caches off until it can");
                logged_loss = true;
                backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
                if (backoff > BACKOFF_MAX_MS)
                    backoff = BACKOFF_MAX_MS;
                struct pollfd p = {.fd = c->wake[0], .events = POLLIN};
                (void)poll(&p, 1, backoff);
                continue;
            }
            if (logged_loss)
                tk_log(TK_LOG_INFO, "tokend.changes", "listening for changes again: caches on");
            logged_loss = false;
            backoff = 0;
        }
        int64_t next = tk_mono_ms() + HEARTBEAT_MS;
        bool ok = true;
        while (ok && !atomic_load(&c->stop)) {
            int64_t left = next - tk_mono_ms();
            if (left <= 0)
                break;
            int w = wait_readable(c, (int)left);
            if (w < 0)
                ok = atomic_load(&c->stop);
            else if (w > 0)
                ok = drain_now(c) && send_acks(c);
        }
        if (ok && !atomic_load(&c->stop))
            ok = confirm(c, false) && send_acks(c);
        if (!ok && !atomic_load(&c->stop)) {
            distrust(c);
            tk_log(TK_LOG_INFO, "tokend.changes",
                   "change watch lost: caches off until it listens again");
        }
    }
    distrust(c);
    leave(c);
    return NULL;
}

int tk_changes_start(const char *url, bool notified, struct tk_changes **out)
{
    *out = NULL;
    struct tk_changes *c = tk_calloc(1, sizeof(*c));
    if (c == NULL)
        return TK_ERR_NOMEM;
    c->notified = notified;
    if (!notified) {
        *out = c;
        return 0;
    }
    atomic_init(&c->epoch, 1);
    atomic_init(&c->trusted, false);
    atomic_init(&c->fd, -1);
    atomic_init(&c->pid, 0);
    atomic_init(&c->stop, false);
    atomic_init(&c->reading, false);
    c->url = tk_strdup(url);
    if (c->url == NULL || pipe(c->wake) != 0) {
        free(c->url);
        free(c);
        return TK_ERR_NOMEM;
    }
    if (pthread_create(&c->thread, NULL, listener_main, c) != 0) {
        close(c->wake[0]);
        close(c->wake[1]);
        free(c->url);
        free(c);
        return TK_ERR_NOMEM;
    }
    *out = c;
    return 0;
}

void tk_changes_stop(struct tk_changes *c)
{
    if (c == NULL)
        return;
    if (!c->notified) {
        free(c);
        return;
    }
    atomic_store(&c->stop, true);
    distrust(c);
    ssize_t w = write(c->wake[1], "x", 1);
    (void)w;
    pthread_join(c->thread, NULL);
    if (c->conn != NULL)
        PQfinish(c->conn);
    close(c->wake[0]);
    close(c->wake[1]);
    free(c->acks);
    free(c->url);
    free(c);
}
