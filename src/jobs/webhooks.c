/* Webhook delivery (webhooks.h). */
#include "jobs/webhooks.h"

#include <curl/curl.h>
#include <netdb.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "crypto/webhook_sign.h"
#include "http/client_addr.h"
#include "util/alloc.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/time.h"

#define POLL_MS 1000             /* the outbox is looked at least this often */
#define STATS_EVERY_US 5000000LL /* the queue gauges are read this often */
#define ERR_NOT_ALLOWED "address not allowed"

/* Addresses a receiver may not have unless TOKEND_WEBHOOK_ALLOW_PRIVATE is true: everything
 * but the public unicast internet (RFC 6890's special-purpose blocks). */
static const char *const non_public[] = {
    "0.0.0.0/8",       "10.0.0.0/8",     "100.64.0.0/10", "127.0.0.0/8",    "169.254.0.0/16",
    "172.16.0.0/12",   "192.0.0.0/24",   "192.0.2.0/24",  "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",   "240.0.0.0/4",    "::/128",
    "::1/128",         "64:ff9b::/96",   "100::/64",      "2001:db8::/32",  "fc00::/7",
    "fe80::/10",       "fec0::/10",      "ff00::/8",
};

static bool address_public(const struct tk_ip *ip)
{
    for (size_t i = 0; i < sizeof(non_public) / sizeof(non_public[0]); i++) {
        struct tk_net n;
        if (tk_net_parse(non_public[i], strlen(non_public[i]), &n) && tk_net_contains(&n, ip))
            return false;
    }
    return true;
}

struct xfer {
    struct xfer *next;
    CURL *easy;
    struct curl_slist *headers, *resolve;
    struct tk_arena *arena; /* the item's strings, the body sent */
    struct tk_outbox_item item;
    char error[CURL_ERROR_SIZE];
};

struct tk_webhooks {
    struct tk_webhook_config cfg;
    pthread_t thread;
    atomic_bool stop;
    CURLM *multi;
    struct xfer *live;
    size_t n_live;
    /* attempts in flight per receiver, while a claim runs (take) */
    struct {
        int64_t id;
        unsigned n;
    } counts[TK_WEBHOOK_IN_FLIGHT];
    size_t n_counts, total;
};

static void count_reset(struct tk_webhooks *w)
{
    w->n_counts = 0;
    w->total = 0;
    for (struct xfer *x = w->live; x; x = x->next) {
        size_t i = 0;
        while (i < w->n_counts && w->counts[i].id != x->item.endpoint_id)
            i++;
        if (i == w->n_counts) {
            w->counts[i].id = x->item.endpoint_id;
            w->counts[i].n = 0;
            w->n_counts++;
        }
        w->counts[i].n++;
        w->total++;
    }
}

/* tk_store_outbox_take_fn: room for one more attempt, to this receiver and in all? */
static bool take(void *ctx, int64_t endpoint_id)
{
    struct tk_webhooks *w = ctx;
    if (w->total >= TK_WEBHOOK_IN_FLIGHT)
        return false;
    size_t i = 0;
    while (i < w->n_counts && w->counts[i].id != endpoint_id)
        i++;
    if (i < w->n_counts && w->counts[i].n >= TK_WEBHOOK_PER_ENDPOINT)
        return false;
    if (i == w->n_counts) {
        w->counts[i].id = endpoint_id;
        w->counts[i].n = 0;
        w->n_counts++;
    }
    w->counts[i].n++;
    w->total++;
    return true;
}

/* ---- outcomes ---- */

struct result_tx {
    const struct tk_outbox_item *item;
    struct tk_outbox_result r;
    int64_t now;
};

static int result_tx(struct tk_db *db, void *arg)
{
    struct result_tx *x = arg;
    return tk_store_outbox_result(db, x->item, &x->r, x->now);
}

/* The wait before attempt n + 1 after n failed ones: TK_WEBHOOK_FIRST_RETRY_US doubled n - 1
 * times, at most TK_WEBHOOK_MAX_RETRY_US, each a random time in its upper half (jitter, so
 * receivers that were down are not hit by every message at once when they come back). */
static int64_t backoff_us(int64_t n)
{
    int64_t d = TK_WEBHOOK_FIRST_RETRY_US;
    for (int64_t i = 1; i < n && d < TK_WEBHOOK_MAX_RETRY_US; i++)
        d *= 2;
    if (d > TK_WEBHOOK_MAX_RETRY_US)
        d = TK_WEBHOOK_MAX_RETRY_US;
    int64_t half_ms = d / 2000;
    return d / 2 + (int64_t)randombytes_uniform((uint32_t)half_ms + 1) * 1000;
}

/* Records an attempt: delivered on a 2xx; else retried later, or failed once the message is
 * older than TK_WEBHOOK_RETRY_FOR_US. One log line per failed attempt. */
static void record(struct tk_webhooks *w, struct tk_db *db, const struct tk_outbox_item *item,
                   long status, const char *error)
{
    struct result_tx x = {.item = item, .now = tk_now_us()};
    x.r.status = status;
    x.r.error = status > 0 ? NULL : error;
    enum tk_webhook_outcome outcome = TK_WEBHOOK_DELIVERED;
    if (status >= 200 && status < 300) {
        x.r.state = TK_OUTBOX_DELIVERED;
    } else {
        int64_t deadline = item->created + TK_WEBHOOK_RETRY_FOR_US;
        int64_t next = x.now + backoff_us(item->attempts + 1);
        if (x.now >= deadline) {
            x.r.state = TK_OUTBOX_FAILED;
            outcome = TK_WEBHOOK_FAILED;
        } else {
            x.r.state = TK_OUTBOX_PENDING;
            x.r.next_attempt = next < deadline ? next : deadline;
            outcome = TK_WEBHOOK_RETRIED;
        }
    }
    int rc = db ? tk_store_write_tx(db, result_tx, &x) : TK_ERR_BUSY;
    tk_metrics_webhook_attempt(outcome);
    struct tk_log_line l;
    if (outcome != TK_WEBHOOK_DELIVERED &&
        tk_log_begin(&l, TK_LOG_WARNING, "tokend.webhooks", "webhook delivery attempt failed")) {
        tk_log_cstr(&l, "webhook", item->endpoint_uuid);
        tk_log_cstr(&l, "message_id", item->msg_id);
        tk_log_cstr(&l, "type", item->type);
        tk_log_int(&l, "attempt", item->attempts + 1);
        if (status > 0)
            tk_log_int(&l, "status", status);
        else
            tk_log_cstr(&l, "error", error);
        tk_log_cstr(&l, "next", outcome == TK_WEBHOOK_FAILED ? "none, given up" : "retry");
        tk_log_end(&l);
    }
    if (rc && tk_log_begin(&l, TK_LOG_ERROR, "tokend.webhooks", "cannot record an attempt")) {
        /* the claim's lease ends and the message is sent again: at least once */
        tk_log_cstr(&l, "message_id", item->msg_id);
        tk_log_cstr(&l, "error", tk_strerror(rc));
        tk_log_end(&l);
    }
}

/* ---- starting an attempt ---- */

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    return size * n; /* the receiver's answer body is not read */
}

static void xfer_free(struct xfer *x)
{
    if (x == NULL)
        return;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    curl_slist_free_all(x->resolve);
    tk_arena_free(x->arena);
    tk_free(x);
}

/* The receiver's host and port, resolved and checked: every address must be public unless
 * private ones are allowed. *resolve gets the CURLOPT_RESOLVE entry that pins the connection
 * to these very addresses ("host:port:addr,addr"; NULL for a literal address). NULL with the
 * reason in *why when the attempt cannot go ahead. */
static bool resolve(const struct tk_webhooks *w, struct xfer *x, const char **why)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    bool ok = false;
    *why = "invalid URL";
    if (u == NULL || curl_url_set(u, CURLUPART_URL, x->item.url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        goto out;
    char name[TK_WEBHOOK_URL_MAX + 1];
    size_t len = strlen(host);
    if (len >= sizeof(name))
        goto out;
    if (host[0] == '[' && len > 2 && host[len - 1] == ']') { /* an IPv6 literal */
        memcpy(name, host + 1, len - 2);
        name[len - 2] = '\0';
    } else {
        memcpy(name, host, len + 1);
    }
    struct tk_ip literal;
    bool is_literal = tk_ip_parse(name, strlen(name), &literal);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(name, port, &hints, &res) != 0 || res == NULL) {
        *why = "cannot resolve the host name";
        goto out;
    }
    struct tk_buf entry;
    tk_buf_init(&entry, TK_WEBHOOK_URL_MAX * 4);
    tk_buf_printf(&entry, "%s:%s:", host, port);
    bool first = true, refused = false;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        struct tk_ip ip;
        if (!tk_ip_from_sockaddr(ai->ai_addr, &ip))
            continue;
        if (!w->cfg.allow_private && !address_public(&ip))
            refused = true;
        char text[TK_IP_TEXT_MAX];
        tk_ip_format(&ip, text);
        tk_buf_printf(&entry, ip.family == 6 ? "%s[%s]" : "%s%s", first ? "" : ",", text);
        first = false;
    }
    freeaddrinfo(res);
    if (refused || first) {
        *why = refused ? ERR_NOT_ALLOWED : "cannot resolve the host name";
    } else if (entry.err) {
        *why = "too many addresses";
    } else if (!is_literal) {
        x->resolve = curl_slist_append(NULL, entry.data);
        ok = x->resolve != NULL;
        *why = "out of memory";
    } else {
        ok = true;
    }
    tk_buf_free(&entry);
out:
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return ok;
}

/* The signature headers, with the receiver's secret opened for the signing only. */
static bool sign(const struct tk_webhooks *w, struct tk_db *db, struct xfer *x, const char **why)
{
    const uint8_t *sealed;
    size_t sealed_len;
    *why = "cannot read the receiver's secret";
    if (tk_store_webhook_secret(db, x->item.endpoint_id, x->arena, &sealed, &sealed_len) != 0)
        return false;
    struct tk_buf secret;
    tk_buf_init(&secret, TK_WEBHOOK_SECRET_TEXT_MAX);
    secret.wipe = true;
    int64_t ts = tk_now_us() / 1000000;
    char sig[TK_WEBHOOK_SIG_MAX];
    bool ok = false;
    if (tk_key_open(w->cfg.secret, x->item.endpoint_uuid, sealed, sealed_len, &secret) != 0) {
        *why = "the receiver's secret cannot be opened: the server secret has changed";
    } else if (tk_webhook_sign(secret.data, x->item.msg_id, ts, x->item.body, strlen(x->item.body),
                               sig) == 0) {
        ok = true;
    }
    tk_buf_free(&secret);
    if (!ok)
        return false;
    char line[TK_WEBHOOK_SIG_MAX + 128];
    const char *fixed[] = {"Content-Type: application/json", "User-Agent: tokend/" TOKEND_VERSION,
                           "Expect:"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        x->headers = curl_slist_append(x->headers, fixed[i]);
    snprintf(line, sizeof(line), "webhook-id: %s", x->item.msg_id);
    x->headers = curl_slist_append(x->headers, line);
    snprintf(line, sizeof(line), "webhook-timestamp: %lld", (long long)ts);
    x->headers = curl_slist_append(x->headers, line);
    snprintf(line, sizeof(line), "webhook-signature: %s", sig);
    x->headers = curl_slist_append(x->headers, line);
    sodium_memzero(sig, sizeof(sig));
    *why = "out of memory";
    return x->headers != NULL;
}

static bool copy_item(struct xfer *x, const struct tk_outbox_item *it)
{
    x->item = *it;
    x->item.url = tk_arena_strdup(x->arena, it->url);
    x->item.msg_id = tk_arena_strdup(x->arena, it->msg_id);
    x->item.type = tk_arena_strdup(x->arena, it->type);
    x->item.body = tk_arena_strdup(x->arena, it->body);
    return x->item.url && x->item.msg_id && x->item.type && x->item.body;
}

/* Starts one attempt, or records at once why it cannot be made. */
static void start(struct tk_webhooks *w, struct tk_db *db, const struct tk_outbox_item *it)
{
    struct xfer *x = tk_calloc(1, sizeof(*x));
    const char *why = "out of memory";
    if (x == NULL || (x->arena = tk_arena_new(TK_ROW_ARENA_BYTES)) == NULL || !copy_item(x, it) ||
        !resolve(w, x, &why) || !sign(w, db, x, &why) || (x->easy = curl_easy_init()) == NULL) {
        record(w, db, x && x->item.msg_id ? &x->item : it, 0, why);
        xfer_free(x);
        return;
    }
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, x->item.url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->item.body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->item.body));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    if (x->resolve)
        curl_easy_setopt(e, CURLOPT_RESOLVE, x->resolve);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)TK_WEBHOOK_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* no proxy from the environment */
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(w->multi, e) != CURLM_OK) {
        record(w, db, &x->item, 0, "cannot start the request");
        xfer_free(x);
        return;
    }
    x->next = w->live;
    w->live = x;
    w->n_live++;
}

/* An attempt libcurl finished: its outcome recorded, its transfer freed. */
static void finish(struct tk_webhooks *w, struct tk_db *db, CURL *e, CURLcode code)
{
    struct xfer *x = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
    curl_multi_remove_handle(w->multi, e);
    for (struct xfer **p = &w->live; *p; p = &(*p)->next) {
        if (*p == x) {
            *p = x->next;
            w->n_live--;
            break;
        }
    }
    long status = 0;
    if (code == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    const char *why = code == CURLE_OPERATION_TIMEDOUT ? "no answer within 10 seconds"
                      : x->error[0]                    ? x->error
                                                       : curl_easy_strerror(code);
    record(w, db, &x->item, status, why);
    xfer_free(x);
}

/* ---- claiming ---- */

struct claim {
    struct tk_webhooks *w;
    struct tk_arena *a;
    int64_t now;
    struct tk_outbox_item *items;
    size_t n;
};

static int claim_tx(struct tk_db *db, void *arg)
{
    struct claim *c = arg;
    struct tk_webhooks *w = c->w;
    count_reset(w);
    int64_t full[TK_WEBHOOK_IN_FLIGHT];
    size_t n_full = 0;
    for (size_t i = 0; i < w->n_counts; i++)
        if (w->counts[i].n >= TK_WEBHOOK_PER_ENDPOINT)
            full[n_full++] = w->counts[i].id;
    return tk_store_outbox_claim(db, c->now, c->now + TK_WEBHOOK_LEASE_US,
                                 TK_WEBHOOK_IN_FLIGHT - w->n_live, full, n_full, take, w, c->a,
                                 &c->items, &c->n);
}

/* Claims what is due and starts it; *next: when to look again. */
static void claim_and_start(struct tk_webhooks *w, struct tk_db *db, int64_t now, int64_t *next)
{
    *next = now + POLL_MS * 1000LL;
    if (w->n_live >= TK_WEBHOOK_IN_FLIGHT)
        return;
    bool any = false;
    int64_t due = 0;
    if (tk_store_outbox_next(db, &any, &due) != 0 || !any)
        return;
    if (due > now) {
        if (due < *next)
            *next = due;
        return;
    }
    struct tk_arena *a = tk_arena_new(TK_SWEEP_ARENA_BYTES);
    if (a == NULL)
        return;
    struct claim c = {.w = w, .a = a, .now = now};
    if (tk_store_write_tx(db, claim_tx, &c) == 0) {
        for (size_t i = 0; i < c.n; i++)
            start(w, db, &c.items[i]);
        if (c.n > 0)
            *next = now; /* there may be more */
    }
    tk_arena_free(a);
}

static void read_stats(struct tk_db *db)
{
    int64_t pending = 0, oldest = 0;
    bool has = false;
    if (tk_store_outbox_stats(db, &pending, &has, &oldest) != 0)
        return;
    int64_t age = has ? (tk_now_us() - oldest) / 1000000 : 0;
    tk_metrics_webhook_queue(pending, age > 0 ? age : 0);
}

static void *worker_main(void *arg)
{
    struct tk_webhooks *w = arg;
    struct tk_db *db = tk_store_db(w->cfg.store);
    /* one process on SQLite: a claim left is a dead process's, and may be taken at once */
    if (db != NULL && !tk_store_is_pg(w->cfg.store) && tk_store_outbox_release_all(db) != 0)
        tk_log(TK_LOG_WARNING, "tokend.webhooks", "cannot end earlier claims: they end by lease");
    int64_t next = 0, next_stats = 0;
    while (!atomic_load(&w->stop)) {
        int64_t now = tk_now_us();
        if (db == NULL)
            db = tk_store_db(w->cfg.store);
        if (db != NULL && now >= next)
            claim_and_start(w, db, now, &next);
        if (db != NULL && now >= next_stats) {
            read_stats(db);
            next_stats = now + STATS_EVERY_US;
        }
        int running = 0;
        curl_multi_perform(w->multi, &running);
        CURLMsg *m;
        int left = 0;
        while ((m = curl_multi_info_read(w->multi, &left)) != NULL)
            if (m->msg == CURLMSG_DONE)
                finish(w, db, m->easy_handle, m->data.result);
        int64_t wait_ms = (next - tk_now_us()) / 1000;
        if (wait_ms > POLL_MS)
            wait_ms = POLL_MS;
        if (wait_ms < 0)
            wait_ms = 0;
        curl_multi_poll(w->multi, NULL, 0, (int)wait_ms, NULL);
    }
    while (w->live) { /* abandoned: the claims' leases end */
        struct xfer *x = w->live;
        w->live = x->next;
        curl_multi_remove_handle(w->multi, x->easy);
        xfer_free(x);
    }
    tk_store_thread_done(w->cfg.store);
    return NULL;
}

int tk_webhooks_start(const struct tk_webhook_config *cfg, struct tk_webhooks **out)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return TK_ERR_NOMEM;
    struct tk_webhooks *w = tk_calloc(1, sizeof(*w));
    if (w == NULL)
        return TK_ERR_NOMEM;
    w->cfg = *cfg;
    atomic_init(&w->stop, false);
    w->multi = curl_multi_init();
    if (w->multi == NULL || pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        curl_multi_cleanup(w->multi);
        tk_free(w);
        return TK_ERR_NOMEM;
    }
    *out = w;
    return 0;
}

void tk_webhooks_stop(struct tk_webhooks *w)
{
    if (w == NULL)
        return;
    atomic_store(&w->stop, true);
    curl_multi_wakeup(w->multi);
    pthread_join(w->thread, NULL);
    curl_multi_cleanup(w->multi);
    tk_free(w);
    curl_global_cleanup();
}
