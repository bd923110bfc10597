/* Connection admission and request deadlines (conns.h). One mutex guards the counts, the
 * per-address table and the lists the watchdog walks: accept and close happen once per
 * connection, not per request, so it is never hot. Requests arm and disarm their deadline
 * with one atomic store. The table is keyed by a hash with a random per-process key
 * (SipHash), so nobody can aim many addresses at one chain.
 *
 * The health-only reserve must stay usable by a probe from the very host that floods us (the
 * usual case on one machine): a host that merely holds its reserve places open, without
 * sending a request, loses the oldest of them to each newcomer once it has had
 * TK_CONN_RESERVE_GRACE_MS to speak. A probe speaks at once and is never the one cut. */
#include "http/conns.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "util/alloc.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/time.h"

/* How often the watchdog looks; deadlines are whole seconds, so this is their resolution. */
#define WATCHDOG_TICK_MS 200

struct addr_count {
    struct addr_count *next;
    struct tk_ip key; /* IPv6: the /64 */
    unsigned normal, reserve;
};

struct tk_conn {
    struct tk_conn *prev, *next; /* in tk_conns.list[cls != TK_CONN_NORMAL] */
    struct addr_count *count;    /* NULL: a trusted peer, not counted per address */
    int fd;
    enum tk_conn_class cls;
    bool counted;                  /* in the counts (until closed, or cut to make room) */
    bool cut;                      /* shut down already */
    int64_t accepted_ms;           /* monotonic */
    _Atomic int64_t read_since_ms; /* reading a request since then; 0: not reading */
    atomic_bool spoke;             /* a request's headers arrived */
};

struct tk_conns {
    struct tk_conns_opts o;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t watchdog;
    bool stopping;
    unsigned normal, reserve; /* open connections by class */
    struct tk_conn *list[2];  /* normal ones, health-only ones */
    struct addr_count **buckets;
    size_t mask;
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
};

/* One host holds a whole IPv6 /64 (privacy addresses, SLAAC): counting /128s would give it
 * 2^64 shares. IPv4 counts per address. */
static struct tk_ip count_key(const struct tk_ip *ip)
{
    struct tk_ip k = *ip;
    if (k.family == 6)
        memset(k.b + 8, 0, 8);
    return k;
}

static size_t slot(const struct tk_conns *cs, const struct tk_ip *k)
{
    uint8_t in[17], out[crypto_shorthash_BYTES];
    in[0] = k->family;
    memcpy(in + 1, k->b, 16);
    crypto_shorthash(out, in, sizeof(in), cs->hash_key);
    uint64_t h;
    memcpy(&h, out, sizeof(h));
    return (size_t)h & cs->mask;
}

/* The count of peer's address, NULL when none is kept yet; the caller holds the lock. */
static struct addr_count *find(struct tk_conns *cs, const struct tk_ip *k)
{
    for (struct addr_count *a = cs->buckets[slot(cs, k)]; a != NULL; a = a->next)
        if (a->key.family == k->family && memcmp(a->key.b, k->b, 16) == 0)
            return a;
    return NULL;
}

/* The class a new connection would get; *room: whether it fits (a normal one always does; a
 * health-only one within the reserve's bounds). The caller holds the lock. exempt: the peer is
 * a trusted proxy, counted in the total only; a: its address's counts, NULL when none yet. */
static enum tk_conn_class class_of(const struct tk_conns *cs, bool exempt,
                                   const struct addr_count *a, bool *room)
{
    bool over_total = cs->normal >= cs->o.max_total;
    bool over_addr =
        !exempt && cs->o.max_per_address > 0 && a != NULL && a->normal >= cs->o.max_per_address;
    *room = true;
    if (!over_total && !over_addr)
        return TK_CONN_NORMAL;
    if (cs->reserve >= cs->o.reserve_total ||
        (a != NULL && a->reserve >= cs->o.reserve_per_address))
        *room = false;
    return over_addr ? TK_CONN_OVER_ADDRESS : TK_CONN_OVER_TOTAL;
}

static bool peer_of(struct tk_conns *cs, const struct sockaddr *sa, struct tk_ip *peer,
                    bool *exempt)
{
    if (!tk_ip_from_sockaddr(sa, peer))
        return false;
    *exempt = tk_proxies_contains(cs->o.trusted, peer);
    return true;
}

/* Takes c out of the counts; the caller holds the lock. */
static void uncount(struct tk_conns *cs, struct tk_conn *c)
{
    if (!c->counted)
        return;
    c->counted = false;
    struct addr_count *a = c->count;
    c->count = NULL;
    if (c->cls == TK_CONN_NORMAL) {
        cs->normal--;
        if (a != NULL)
            a->normal--;
    } else {
        cs->reserve--;
        if (a != NULL)
            a->reserve--;
    }
    if (a != NULL && a->normal == 0 && a->reserve == 0) {
        struct addr_count **p = &cs->buckets[slot(cs, &a->key)];
        while (*p != a)
            p = &(*p)->next;
        *p = a->next;
        free(a);
    }
}

/* Makes room in a full reserve: cuts the oldest health-only connection (of address a, or of
 * anyone when a is NULL) that has had its grace and not sent a request. The caller holds the
 * lock. False when there is none. */
static bool evict(struct tk_conns *cs, const struct addr_count *a, int64_t now)
{
    struct tk_conn *victim = NULL;
    for (struct tk_conn *c = cs->list[1]; c != NULL; c = c->next) {
        if (!c->counted || atomic_load(&c->spoke) ||
            now - c->accepted_ms < TK_CONN_RESERVE_GRACE_MS || (a != NULL && c->count != a))
            continue;
        if (victim == NULL || c->accepted_ms < victim->accepted_ms)
            victim = c;
    }
    if (victim == NULL)
        return false;
    shutdown(victim->fd, SHUT_RDWR); /* libmicrohttpd closes it; see sweep() */
    victim->cut = true;
    uncount(cs, victim);
    return true;
}

bool tk_conns_admit(struct tk_conns *cs, const struct sockaddr *sa)
{
    struct tk_ip peer;
    bool exempt = false;
    if (!peer_of(cs, sa, &peer, &exempt))
        memset(&peer, 0, sizeof(peer)); /* not IP (never, on our listeners): one shared key */
    struct tk_ip k = count_key(&peer);
    bool room = false;
    pthread_mutex_lock(&cs->mu);
    struct addr_count *a = exempt ? NULL : find(cs, &k);
    enum tk_conn_class cls = class_of(cs, exempt, a, &room);
    if (!room && cls != TK_CONN_NORMAL &&
        evict(cs, cls == TK_CONN_OVER_ADDRESS ? a : NULL, tk_mono_ms()))
        (void)class_of(cs, exempt, exempt ? NULL : find(cs, &k), &room);
    pthread_mutex_unlock(&cs->mu);
    return room;
}

struct tk_conn *tk_conns_open(struct tk_conns *cs, const struct sockaddr *sa, int fd)
{
    struct tk_ip peer;
    bool exempt = false;
    if (!peer_of(cs, sa, &peer, &exempt))
        memset(&peer, 0, sizeof(peer));
    struct tk_ip k = count_key(&peer);
    struct tk_conn *c = tk_calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->accepted_ms = tk_mono_ms();
    atomic_store(&c->read_since_ms, c->accepted_ms);
    pthread_mutex_lock(&cs->mu);
    struct addr_count *a = NULL;
    if (!exempt) {
        a = find(cs, &k);
        if (a == NULL) {
            a = tk_calloc(1, sizeof(*a));
            if (a == NULL) {
                pthread_mutex_unlock(&cs->mu);
                free(c);
                return NULL;
            }
            a->key = k;
            size_t s = slot(cs, &k);
            a->next = cs->buckets[s];
            cs->buckets[s] = a;
        }
    }
    /* No room means the reserve filled between accept and now (another worker thread took
     * the last place): this one stays a short-lived health-only connection all the same, over
     * the bound by at most one per worker thread. */
    bool room;
    c->cls = class_of(cs, exempt, a, &room);
    c->count = a;
    c->counted = true;
    if (c->cls == TK_CONN_NORMAL) {
        cs->normal++;
        if (a != NULL)
            a->normal++;
    } else {
        cs->reserve++;
        if (a != NULL)
            a->reserve++;
    }
    struct tk_conn **head = &cs->list[c->cls != TK_CONN_NORMAL];
    c->next = *head;
    if (*head != NULL)
        (*head)->prev = c;
    *head = c;
    pthread_mutex_unlock(&cs->mu);
    return c;
}

void tk_conns_close(struct tk_conns *cs, struct tk_conn *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&cs->mu);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        cs->list[c->cls != TK_CONN_NORMAL] = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    uncount(cs, c);
    pthread_mutex_unlock(&cs->mu);
    free(c);
}

void tk_conn_reading(struct tk_conn *c, bool reading)
{
    if (c != NULL)
        atomic_store(&c->read_since_ms, reading ? tk_mono_ms() : 0);
}

void tk_conn_spoke(struct tk_conn *c)
{
    if (c != NULL)
        atomic_store(&c->spoke, true);
}

enum tk_conn_class tk_conn_class_of(const struct tk_conn *c)
{
    return c != NULL ? c->cls : TK_CONN_NORMAL;
}

/* Cuts what is past its deadline. shutdown(), not close(): libmicrohttpd owns the descriptor
 * and closes it itself once it sees the end of the stream; the lock guarantees the descriptor
 * is still this connection's (tk_conns_close runs, under the lock, before libmicrohttpd closes
 * it: MHD_CONNECTION_NOTIFY_CLOSED comes first in 0.9.75's cleanup). */
static unsigned sweep(struct tk_conns *cs, int64_t now)
{
    unsigned cut = 0;
    int64_t limit = (int64_t)cs->o.request_timeout_s * 1000;
    int64_t life = (int64_t)cs->o.reserve_life_s * 1000;
    for (int l = 0; l < 2; l++) {
        for (struct tk_conn *c = cs->list[l]; c != NULL; c = c->next) {
            if (c->cut)
                continue;
            int64_t since = atomic_load(&c->read_since_ms);
            bool late = since != 0 && now - since >= limit;
            bool expired = c->cls != TK_CONN_NORMAL && now - c->accepted_ms >= life;
            if (late || expired) {
                shutdown(c->fd, SHUT_RDWR);
                c->cut = true;
                cut++;
            }
        }
    }
    return cut;
}

static void *watchdog(void *arg)
{
    struct tk_conns *cs = arg;
    pthread_mutex_lock(&cs->mu);
    while (!cs->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += WATCHDOG_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&cs->wake, &cs->mu, &ts);
        if (cs->stopping)
            break;
        unsigned cut = sweep(cs, tk_mono_ms());
        if (cut > 0) {
            pthread_mutex_unlock(&cs->mu); /* accept and close need not wait for the log */
            tk_log(TK_LOG_INFO, "tokend.http",
                   "closed %u connection(s) past the request deadline or the health-only "
                   "connection life",
                   cut);
            pthread_mutex_lock(&cs->mu);
        }
    }
    pthread_mutex_unlock(&cs->mu);
    return NULL;
}

int tk_conns_new(const struct tk_conns_opts *o, struct tk_conns **out)
{
    if (sodium_init() < 0)
        return TK_ERR_CRYPTO;
    struct tk_conns *cs = tk_calloc(1, sizeof(*cs));
    if (cs == NULL)
        return TK_ERR_NOMEM;
    cs->o = *o;
    size_t n = 1024; /* checksrc: allow the table's least size; it grows with the caps */
    while (n < (size_t)o->max_total + o->reserve_total)
        n *= 2;
    cs->buckets = tk_calloc(n, sizeof(*cs->buckets));
    if (cs->buckets == NULL) {
        free(cs);
        return TK_ERR_NOMEM;
    }
    cs->mask = n - 1;
    randombytes_buf(cs->hash_key, sizeof(cs->hash_key));
    pthread_mutex_init(&cs->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cs->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&cs->watchdog, NULL, watchdog, cs) != 0) {
        pthread_cond_destroy(&cs->wake);
        pthread_mutex_destroy(&cs->mu);
        free(cs->buckets);
        free(cs);
        return TK_ERR_NOMEM;
    }
    *out = cs;
    return 0;
}

void tk_conns_free(struct tk_conns *cs)
{
    if (cs == NULL)
        return;
    pthread_mutex_lock(&cs->mu);
    cs->stopping = true;
    pthread_cond_signal(&cs->wake);
    pthread_mutex_unlock(&cs->mu);
    pthread_join(cs->watchdog, NULL);
    for (size_t i = 0; i <= cs->mask; i++) {
        struct addr_count *a = cs->buckets[i];
        while (a != NULL) {
            struct addr_count *next = a->next;
            free(a);
            a = next;
        }
    }
    free(cs->buckets);
    pthread_cond_destroy(&cs->wake);
    pthread_mutex_destroy(&cs->mu);
    free(cs);
}
