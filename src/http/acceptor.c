/* The listening socket and its accept thread (acceptor.h). The thread sleeps in poll(2) on the
 * socket and on an eventfd that stop() writes; it accepts until the backlog is empty and gives
 * the connections to the workers in turn, so a burst is spread over all of them. */
#include "http/acceptor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/error.h"
#include "util/log.h"

struct tk_acceptor {
    int fd;   /* listening */
    int wake; /* eventfd: stop */
    struct MHD_Daemon *const *workers;
    unsigned n_workers, next; /* next: the worker of the next connection */
    tk_accept_fn admit;
    tk_dropped_fn dropped;
    void *cls;
    pthread_t thread;
    bool running;
};

int tk_acceptor_listen(const struct sockaddr *addr, socklen_t addrlen, int backlog,
                       struct tk_acceptor **out, uint16_t *port)
{
    *out = NULL;
    struct tk_acceptor *a = tk_calloc(1, sizeof(*a));
    if (a == NULL)
        return TK_ERR_NOMEM;
    a->wake = -1;
    a->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int on = 1;
    if (a->fd < 0 || setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        (addr->sa_family == AF_INET6 &&
         setsockopt(a->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) ||
        bind(a->fd, addr, addrlen) != 0 || listen(a->fd, backlog) != 0)
        goto fail;
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    if (getsockname(a->fd, (struct sockaddr *)&bound, &bl) != 0)
        goto fail;
    *port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
    if ((a->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        goto fail;
    *out = a;
    return 0;
fail:;
    int e = errno;
    if (a->fd >= 0)
        close(a->fd);
    free(a);
    errno = e;
    return TK_ERR_IO;
}

/* Accepts everything waiting; false once the socket failed for good. */
static bool accept_all(struct tk_acceptor *a)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(a->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors or memory: the backlog waits; try again shortly */
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
                return true;
            }
            tk_log(TK_LOG_ERROR, "tokend.http", "accept failed: errno %d", errno);
            return false;
        }
        if (!a->admit(a->cls, (struct sockaddr *)&ss, sl, fd)) {
            close(fd);
            continue;
        }
        /* libmicrohttpd closes the descriptor itself when it cannot take it; told before the
         * next accept can reuse the number */
        if (MHD_add_connection(a->workers[a->next], fd, (struct sockaddr *)&ss, sl) != MHD_YES &&
            a->dropped != NULL)
            a->dropped(a->cls, fd);
        a->next = (a->next + 1) % a->n_workers;
    }
}

static void *acceptor_main(void *arg)
{
    struct tk_acceptor *a = arg;
    struct pollfd p[2] = {{.fd = a->fd, .events = POLLIN}, {.fd = a->wake, .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents && !accept_all(a))
            break;
    }
    return NULL;
}

int tk_acceptor_start(struct tk_acceptor *a, struct MHD_Daemon *const *workers, unsigned n,
                      tk_accept_fn admit, tk_dropped_fn dropped, void *cls)
{
    if (n == 0)
        return TK_ERR_INVALID;
    a->workers = workers;
    a->n_workers = n;
    a->next = 0;
    a->admit = admit;
    a->dropped = dropped;
    a->cls = cls;
    if (pthread_create(&a->thread, NULL, acceptor_main, a) != 0)
        return TK_ERR_NOMEM;
    a->running = true;
    return 0;
}

void tk_acceptor_stop(struct tk_acceptor *a)
{
    if (a == NULL)
        return;
    if (a->running) {
        uint64_t one = 1;
        while (write(a->wake, &one, sizeof(one)) < 0 && errno == EINTR) {
        }
        pthread_join(a->thread, NULL);
    }
    close(a->wake);
    close(a->fd);
    free(a);
}
