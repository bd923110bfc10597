/* Expiry sweeper (sweeper.h). */
#include "jobs/sweeper.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/audit.h"
#include "api/notify.h"
#include "domain/tokens.h"
#include "util/alloc.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/time.h"

#define SWEEP_BATCH 500

struct batch {
    const struct tk_sweep_config *cfg;
    int64_t now;
    struct tk_sweep_stats *stats;
    size_t n;      /* tokens handled in this batch */
    size_t notice; /* the notice being sent (notices_tx) */
};

static int rotate(struct batch *b, struct tk_db *db, struct tk_token *t, struct tk_arena *a)
{
    struct tk_token_new tn = {.uuid = t->uuid};
    struct tk_buf sealed; /* nobody sees the new key: a new view_key shows it */
    int rc = tk_token_mint(b->cfg->secret, b->cfg->key_length, NULL, 0, &tn, &sealed, NULL);
    /* the expired key is rotated out without grace and remembered for reuse detection; a grace
     * window of an earlier rotation ends (docs/api.md §19.5) */
    if (rc == 0)
        rc = tk_store_token_supersede(db, t->id, b->now, b->now - 1,
                                      b->now + b->cfg->reuse_window_us);
    if (rc == 0)
        rc = tk_store_token_set_key(db, t->id, tn.key_hash, tn.key_sealed, tn.key_sealed_len,
                                    TK_KEY_SET);
    tk_buf_free(&sealed);
    t->has_expires = true;
    t->expires = b->now + b->cfg->token_duration_us;
    if (rc == 0)
        rc = tk_store_token_set_expires(db, t->id, t->expires);
    if (rc)
        return rc;

    struct tk_buf msg;
    tk_buf_init(&msg, TK_MAX_TEXT_BYTES);
    tk_buf_printf(&msg, "Token %s's secret was rotated.", t->identifier);
    rc = tk_audit_system_token(db, b->now, b->cfg->event_retention_us, "secret_rotate",
                               TK_APP_MODELS, t, msg.data ? msg.data : "");
    tk_buf_free(&msg);
    if (rc == 0)
        rc = tk_notify_token(db, a, b->now, "token.rotated", t, 0, NULL);
    if (rc == 0)
        b->stats->rotated++;
    return rc;
}

static int batch_tx(struct tk_db *db, void *arg)
{
    struct batch *b = arg;
    struct tk_arena *a = tk_arena_new(TK_SWEEP_ARENA_BYTES);
    if (a == NULL)
        return TK_ERR_NOMEM;
    struct tk_token *tokens;
    int rc = tk_store_token_expired(db, b->now, SWEEP_BATCH, a, &tokens, &b->n);
    for (size_t i = 0; rc == 0 && i < b->n; i++) {
        if (strcmp(tokens[i].intent, "api") == 0) {
            rc = rotate(b, db, &tokens[i], a);
        } else {
            rc = tk_notify_token(db, a, b->now, "token.deleted", &tokens[i], 0, NULL);
            if (rc == 0)
                rc = tk_store_token_delete_id(db, tokens[i].id);
            if (rc == 0)
                b->stats->deleted++;
        }
    }
    tk_arena_free(a);
    return rc;
}

/* One batch of expiry notices for notice b->notice: each token within it and not yet told gets
 * the notice recorded, and sent unless a shorter notice applies too (that one is sent instead,
 * by its own pass). */
static int notices_tx(struct tk_db *db, void *arg)
{
    struct batch *b = arg;
    const struct tk_sweep_config *cfg = b->cfg;
    struct tk_arena *a = tk_arena_new(TK_SWEEP_ARENA_BYTES);
    if (a == NULL)
        return TK_ERR_NOMEM;
    int64_t notice = cfg->notices_us[b->notice];
    int64_t *ids;
    int rc = tk_store_notice_due(db, b->now, notice, TK_WEBHOOK_NOTICE_BATCH, a, &ids, &b->n);
    for (size_t i = 0; rc == 0 && i < b->n; i++) {
        struct tk_token *t;
        rc = tk_store_token_get_by_id(db, ids[i], 0, a, &t);
        if (rc)
            break;
        bool shorter =
            b->notice + 1 < cfg->n_notices && t->expires - b->now <= cfg->notices_us[b->notice + 1];
        bool first = false;
        rc = tk_store_notice_record(db, t->id, notice, t->expires, &first);
        if (rc == 0 && first && !shorter) {
            rc = tk_notify_token(db, a, b->now, "token.expiring", t, 0,
                                 cfg->notice_texts[b->notice]);
            b->stats->notices++;
        }
    }
    tk_arena_free(a);
    return rc;
}

/* Every notice, longest first; nothing when no receiver takes token.expiring. */
static int send_notices(struct batch *b, struct tk_db *db)
{
    bool wanted = false;
    int rc = b->cfg->n_notices ? tk_store_outbox_wanted(db, "token.expiring", &wanted) : 0;
    for (size_t k = 0; rc == 0 && wanted && k < b->cfg->n_notices; k++) {
        b->notice = k;
        do {
            int64_t before = b->stats->notices;
            rc = tk_store_write_tx(db, notices_tx, b);
            if (rc)
                b->stats->notices = before; /* rolled back */
        } while (rc == 0 && b->n == TK_WEBHOOK_NOTICE_BATCH);
    }
    return rc;
}

static int events_tx(struct tk_db *db, void *arg)
{
    struct batch *b = arg;
    int64_t n = 0;
    int rc = tk_store_event_expire(db, b->now, &n);
    b->n = (size_t)n;
    return rc;
}

#define SWEEP_LOCK 7206315

int tk_sweep_once(const struct tk_sweep_config *cfg, struct tk_db *db, int64_t now,
                  struct tk_sweep_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    struct batch b = {.cfg = cfg, .now = now, .stats = stats};
    /* one sweeper at a time across every process on the database */
    bool got = false;
    int rc = tk_store_try_lock(db, SWEEP_LOCK, &got);
    if (rc || !got)
        return rc;
    do {
        struct tk_sweep_stats before = *stats;
        rc = tk_store_write_tx(db, batch_tx, &b);
        if (rc)
            *stats = before; /* rolled back */
    } while (rc == 0 && b.n == SWEEP_BATCH);
    if (rc == 0)
        rc = send_notices(&b, db);
    /* rotated-out keys past their reuse window are forgotten; so are notices of past expiry
     * dates and finished webhook deliveries */
    if (rc == 0)
        rc = tk_store_old_keys_forget(db, now);
    if (rc == 0)
        rc = tk_store_notice_forget(db, now);
    if (rc == 0)
        rc = tk_store_outbox_forget(db, now - TK_WEBHOOK_KEEP_US);
    if (rc == 0)
        rc = tk_store_rate_forget(db, now);
    /* expired events too a batch per transaction: a year of events expiring at once (a shorter
     * TOKEND_EVENT_RETENTION) is not one statement that runs past the store's time budget */
    while (rc == 0) {
        rc = tk_store_write_tx(db, events_tx, &b);
        if (rc == 0)
            stats->events_expired += (int64_t)b.n;
        if (b.n < TK_EVENT_EXPIRE_BATCH)
            break;
    }
    /* a pass, or a user's deletion since the last one, may have removed most tokens: the
     * planner's statistics follow (SQLite never analyzes on its own) */
    int n_analyzed = 0;
    if (rc == 0 && tk_store_restat(db, &n_analyzed) != 0)
        tk_log(TK_LOG_DEBUG, "tokend.sweeper", "statistics refresh failed; next pass");
    stats->analyzed = n_analyzed;
    /* search's trigram statistics follow a token table that grew or shrank a lot; failing, they
     * only make searches slower until the next sweep tries again */
    if (rc == 0 && tk_store_search_stats_refresh(db, &stats->search_stats) != 0)
        stats->search_stats = false;
    tk_store_unlock(db, SWEEP_LOCK);
    return rc;
}

struct tk_sweeper {
    struct tk_sweep_config cfg;
    int64_t interval_us;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static void *sweeper_main(void *arg)
{
    struct tk_sweeper *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (s->interval_us % 1000000) * 1000;
        ts.tv_sec += (time_t)(s->interval_us / 1000000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
            ;
        if (s->stop)
            break;
        pthread_mutex_unlock(&s->mu);
        struct tk_db *db = tk_store_db(s->cfg.store);
        struct tk_sweep_stats st;
        int rc = db ? tk_sweep_once(&s->cfg, db, tk_now_us(), &st) : TK_ERR_BUSY;
        tk_metrics_sweep(rc == 0, rc ? 0 : st.rotated, rc ? 0 : st.deleted,
                         rc ? 0 : st.events_expired);
        struct tk_log_line l;
        if (rc) {
            if (tk_log_begin(&l, TK_LOG_WARNING, "tokend.sweeper", "expiry sweep failed")) {
                tk_log_cstr(&l, "error", tk_strerror(rc));
                tk_log_cstr(&l, "retry", "next interval");
                tk_log_end(&l);
            }
        } else if (tk_log_begin(&l,
                                st.rotated || st.deleted || st.events_expired || st.notices ||
                                        st.search_stats
                                    ? TK_LOG_INFO
                                    : TK_LOG_DEBUG,
                                "tokend.sweeper", "expiry sweep")) {
            tk_log_int(&l, "rotated", st.rotated);
            tk_log_int(&l, "deleted", st.deleted);
            tk_log_int(&l, "events_expired", st.events_expired);
            if (st.analyzed)
                tk_log_int(&l, "tables_analyzed", st.analyzed);
            tk_log_int(&l, "expiry_notices", st.notices);
            if (st.search_stats)
                tk_log_int(&l, "search_stats", 1);
            tk_log_end(&l);
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    tk_store_thread_done(s->cfg.store);
    return NULL;
}

int tk_sweeper_start(const struct tk_sweep_config *cfg, int64_t interval_us,
                     struct tk_sweeper **out)
{
    struct tk_sweeper *s = tk_calloc(1, sizeof(*s));
    if (s == NULL)
        return TK_ERR_NOMEM;
    s->cfg = *cfg;
    s->interval_us = interval_us;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    if (pthread_create(&s->thread, NULL, sweeper_main, s) != 0) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return TK_ERR_NOMEM;
    }
    *out = s;
    return 0;
}

void tk_sweeper_stop(struct tk_sweeper *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
