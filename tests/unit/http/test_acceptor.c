/* Unit tests for src/http/acceptor.c with four real libmicrohttpd workers: a burst of
 * four connections whose requests each wait (as a request waits on PostgreSQL) is served by
 * four different workers, not queued behind one; a connection the admission check refuses is
 * closed unanswered; after stop the port is closed; IPv6 listens too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/acceptor.h"
#include "util/error.h"

#define WORKERS 4

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t seen[64];
static size_t n_seen;

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)data, (void)size;
    if (*con_cls == NULL) {
        *con_cls = c;
        return MHD_YES;
    }
    struct timespec ts = {0, 100 * 1000 * 1000}; /* waits, as on a database */
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&mu);
    if (n_seen < 64)
        seen[n_seen++] = pthread_self();
    pthread_mutex_unlock(&mu);
    struct MHD_Response *r = MHD_create_response_from_buffer(2, "ok", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ok;
}

static bool admit_all(void *cls, const struct sockaddr *a, socklen_t l, int fd)
{
    (void)cls, (void)a, (void)l, (void)fd;
    return true;
}

static bool admit_none(void *cls, const struct sockaddr *a, socklen_t l, int fd)
{
    (void)cls, (void)a, (void)l, (void)fd;
    return false;
}

struct server {
    struct MHD_Daemon *d[WORKERS];
    struct tk_acceptor *a;
    uint16_t port;
};

static void start(struct server *s, const struct sockaddr *addr, socklen_t len, tk_accept_fn fn)
{
    assert_int_equal(tk_acceptor_listen(addr, len, 64, &s->a, &s->port), 0);
    assert_true(s->port != 0);
    for (int i = 0; i < WORKERS; i++) {
        s->d[i] = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                                       MHD_USE_NO_LISTEN_SOCKET,
                                   0, NULL, NULL, handler, NULL, MHD_OPTION_END);
        assert_non_null(s->d[i]);
    }
    assert_int_equal(tk_acceptor_start(s->a, s->d, WORKERS, fn, NULL, NULL), 0);
}

/* On 127.0.0.1, a port the kernel picks. */
static void start_loopback(struct server *s, tk_accept_fn fn)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    start(s, (struct sockaddr *)&a, sizeof(a), fn);
}

static void stop(struct server *s)
{
    tk_acceptor_stop(s->a);
    for (int i = 0; i < WORKERS; i++)
        MHD_stop_daemon(s->d[i]);
}

static int dial(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static const char REQ[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/* Everything the server sends until it has sent a whole response or closed; its length. */
static size_t answer(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\nok") != NULL)
            break;
    }
    buf[n] = '\0';
    return n;
}

static void a_burst_is_spread_over_the_workers(void **state)
{
    (void)state;
    struct server s;
    start_loopback(&s, admit_all);
    for (int round = 0; round < 3; round++) {
        n_seen = 0;
        int fds[WORKERS];
        for (int i = 0; i < WORKERS; i++)
            assert_true((fds[i] = dial(s.port)) >= 0);
        for (int i = 0; i < WORKERS; i++)
            assert_int_equal(write(fds[i], REQ, sizeof(REQ) - 1), (ssize_t)sizeof(REQ) - 1);
        char buf[1024];
        for (int i = 0; i < WORKERS; i++) {
            assert_true(answer(fds[i], buf, sizeof(buf)) > 0);
            assert_non_null(strstr(buf, "200 OK"));
            close(fds[i]);
        }
        assert_int_equal(n_seen, WORKERS);
        for (size_t i = 0; i < n_seen; i++) /* each request on a worker of its own */
            for (size_t j = i + 1; j < n_seen; j++)
                assert_false(pthread_equal(seen[i], seen[j]));
    }
    stop(&s);
}

static void a_refused_connection_is_closed_unanswered(void **state)
{
    (void)state;
    struct server s;
    start_loopback(&s, admit_none);
    int fd = dial(s.port);
    assert_true(fd >= 0);
    (void)write(fd, REQ, sizeof(REQ) - 1);
    char buf[256];
    assert_int_equal(answer(fd, buf, sizeof(buf)), 0);
    close(fd);
    uint16_t port = s.port;
    stop(&s);
    assert_int_equal(dial(port), -1); /* stopped: nothing listens */
}

static void ipv6_listens(void **state)
{
    (void)state;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    struct tk_acceptor *acc;
    uint16_t port = 0;
    int rc = tk_acceptor_listen((struct sockaddr *)&a, sizeof(a), 8, &acc, &port);
    if (rc != 0)
        skip(); /* a host without IPv6 loopback */
    assert_true(port != 0);
    tk_acceptor_stop(acc); /* never started: closes the socket alone */
}

static void an_address_in_use_is_an_error(void **state)
{
    (void)state;
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct tk_acceptor *first, *second;
    uint16_t port;
    assert_int_equal(tk_acceptor_listen((struct sockaddr *)&a, sizeof(a), 8, &first, &port), 0);
    a.sin_port = htons(port);
    uint16_t p2 = 0;
    assert_int_equal(tk_acceptor_listen((struct sockaddr *)&a, sizeof(a), 8, &second, &p2),
                     TK_ERR_IO);
    assert_null(second);
    tk_acceptor_stop(first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_burst_is_spread_over_the_workers),
        cmocka_unit_test(a_refused_connection_is_closed_unanswered),
        cmocka_unit_test(ipv6_listens),
        cmocka_unit_test(an_address_in_use_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
