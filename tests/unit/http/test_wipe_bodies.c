/* The HTTP layer zeroes the bodies that can hold a key before freeing them (issue 13.8): every
 * request body (set_key's holds a key) and a response body marked wipe (view_key's, freed by
 * libmicrohttpd through the wiping callback). A real server on a free port; what is freed is
 * seen through the debug build's free hook (util/alloc.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/http.h"
#include "util/alloc.h"

#define SECRET "http-wipe-key-Xr7uK2mQ9vB4nT6yL1pW8cZ3hD5sF0gJ"

static atomic_long seen_blocks, blocks_with_secret;

static void watch(const void *p, size_t size)
{
    if (size >= strlen(SECRET))
        atomic_fetch_add(&seen_blocks, 1);
    if (memmem(p, size, SECRET, strlen(SECRET)) != NULL)
        atomic_fetch_add(&blocks_with_secret, 1);
}

/* Answers {"key": <the request body's "key">}, as view_key answers a key. */
static void echo_key(struct tk_request *req, struct tk_response *res, void *ctx)
{
    (void)ctx;
    res->body.wipe = true;
    const char *k = req->body_len ? strstr(req->body, SECRET) : NULL;
    tk_buf_puts(&res->body, "{\"key\":\"");
    tk_buf_puts(&res->body, k ? SECRET : "");
    tk_buf_puts(&res->body, "\"}");
    res->status = 200;
}

/* One request on a fresh connection; the whole answer (Connection: close) into out. */
static size_t exchange(uint16_t port, const char *request, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    size_t len = strlen(request);
    assert_int_equal(write(fd, request, len), (ssize_t)len);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < cap && (n = read(fd, out + got, cap - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(fd);
    return got;
}

static void request_and_response_bodies_are_zeroed(void **state)
{
    (void)state;
    tk_alloc_init();
    struct tk_router *r = tk_router_new();
    assert_non_null(r);
    assert_int_equal(tk_router_add(r, "/k/", "POST", echo_key, NULL, NULL), 0);
    struct tk_http_opts o = {.listen = "127.0.0.1:0",
                             .threads = 2,
                             .max_connections = 8,
                             .connection_timeout_s = 5,
                             .quiet = true};
    struct tk_http *h = NULL;
    char err[256];
    assert_int_equal(tk_http_start(&o, r, &h, err, sizeof(err)), 0);
    atomic_store(&seen_blocks, 0);
    atomic_store(&blocks_with_secret, 0);
    tk_alloc_set_free_hook(watch);

    const char *body = "{\"key\": \"" SECRET "\"}";
    char req[1024], answer[4096];
    snprintf(req, sizeof(req),
             "POST /k/ HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             strlen(body), body);
    exchange(tk_http_port(h), req, answer, sizeof(answer));
    assert_non_null(strstr(answer, "HTTP/1.1 200"));
    assert_non_null(strstr(answer, "{\"key\":\"" SECRET "\"}"));
    tk_http_stop(h, 1000); /* every request state and response is released by now */
    tk_alloc_set_free_hook(NULL);
    tk_router_free(r);

    /* the request body's buffer and the response's went through the wiping free */
    assert_true(atomic_load(&seen_blocks) >= 2);
    assert_int_equal(atomic_load(&blocks_with_secret), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_and_response_bodies_are_zeroed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
