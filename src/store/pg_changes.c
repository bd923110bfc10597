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
 * 0 for that request. */
#include "store/internal.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/log.h"
#include "util/metrics.h"

#define HEARTBEAT_MS 1000 /* the counter is re-read this often, which also proves the link */
#define ANSWER_MS 2000    /* a heartbeat unanswered this long: the link is taken as lost */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

struct tk_changes {
    bool notified;          /* the mode; strict: no thread, the counter is the version */
    _Atomic uint64_t epoch; /* never 0, only grows */
    _Atomic bool trusted;   /* connected, listening, counter read since */
    _Atomic int fd;         /* the listener's socket while trusted, else -1 */
    _Atomic bool stop;
    int wake[2]; /* a pipe: tk_changes_stop wakes the thread */
    char *url;
    PGconn *conn;
    int64_t counter; /* the change counter at the last heartbeat */
    bool heard;      /* a notification arrived since the last heartbeat */
    pthread_t thread;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
    if (fd < 0 || poll(&p, 1, 0) != 0)
        return 0;
    /* the link lost and regained meanwhile (fd reused): v may be older than what was missed */
    return atomic_load(&c->trusted) && atomic_load(&c->epoch) == v ? v : 0;
}

void tk_changes_committed(struct tk_changes *c)
{
    if (c != NULL)
        atomic_fetch_add(&c->epoch, 1);
}

static void distrust(struct tk_changes *c)
{
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

/* Reads what arrived; every notification advances the epoch. false: the link is lost. */
static bool drain(struct tk_changes *c)
{
    if (!PQconsumeInput(c->conn))
        return false;
    PGnotify *n;
    while ((n = PQnotifies(c->conn)) != NULL) {
        atomic_fetch_add(&c->epoch, 1);
        c->heard = true;
        PQfreemem(n);
    }
    return PQstatus(c->conn) == CONNECTION_OK;
}

/* The counter, asked without blocking the notifications: they are drained while waiting. */
static bool read_counter(struct tk_changes *c, int64_t *out)
{
    if (!PQsendQuery(c->conn, "SELECT SUM(n) FROM change_count_shards"))
        return false;
    int64_t deadline = now_ms() + ANSWER_MS;
    bool ok = false, got = false;
    for (;;) {
        if (!drain(c))
            return false;
        while (!PQisBusy(c->conn)) {
            PGresult *r = PQgetResult(c->conn);
            if (r == NULL)
                return ok && got;
            if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
                *out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
                ok = got = true;
            }
            PQclear(r);
        }
        int64_t left = deadline - now_ms();
        if (left <= 0 || wait_readable(c, (int)left) < 0)
            return false;
    }
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
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {c->url, "3", "tokend-changes", NULL};
    if (c->conn != NULL)
        PQfinish(c->conn);
    c->conn = PQconnectdbParams(keys, vals, 1);
    if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK)
        return false;
    PGresult *r = PQexec(c->conn, "LISTEN tokend_changed");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    /* What was cached before the link was lost may have missed a change: it is all retired.
     * The counter read after LISTEN starts the heartbeat's comparisons. */
    if (!ok || !confirm(c, true))
        return false;
    atomic_store(&c->fd, PQsocket(c->conn));
    atomic_store(&c->trusted, true);
    tk_metrics_change_watch(true);
    return true;
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
        int64_t next = now_ms() + HEARTBEAT_MS;
        bool ok = true;
        while (ok && !atomic_load(&c->stop)) {
            int64_t left = next - now_ms();
            if (left <= 0)
                break;
            int w = wait_readable(c, (int)left);
            if (w < 0)
                ok = atomic_load(&c->stop);
            else if (w > 0)
                ok = drain(c);
        }
        if (ok && !atomic_load(&c->stop))
            ok = confirm(c, false);
        if (!ok && !atomic_load(&c->stop)) {
            distrust(c);
            tk_log(TK_LOG_INFO, "tokend.changes",
                   "change watch lost: caches off until it listens again");
        }
    }
    distrust(c);
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
    atomic_init(&c->stop, false);
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
    free(c->url);
    free(c);
}
