/* Unit tests for src/http/client_addr.c: addresses parsed and written as Python's ipaddress
 * does (expected values taken from Python 3.11), IPv4-mapped IPv6 read as IPv4, networks with
 * host bits cleared, the TOKEND_TRUSTED_PROXIES list and the X-Forwarded-For rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "http/client_addr.h"
#include "util/limits.h"

/* The canonical text of s, or "ERR" when it does not parse. */
static const char *canon(const char *s)
{
    static char out[TK_IP_TEXT_MAX];
    struct tk_ip ip;
    if (!tk_ip_parse(s, strlen(s), &ip))
        return "ERR";
    tk_ip_format(&ip, out);
    return out;
}

static void addresses_read_and_written_as_python_does(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
        {"::", "::"},
        {"::1", "::1"},
        {"1::", "1::"},
        {"2001:db8::", "2001:db8::"},
        {"0:0:1:0:0:0:1:0", "0:0:1::1:0"},
        {"1:0:0:2:0:0:0:3", "1:0:0:2::3"},
        {"::1.2.3.4", "::102:304"},
        {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
        {"fe80::1:0:0:0", "fe80::1:0:0:0"},
        {"0001:0002::00ab", "1:2::ab"},
        {"1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"},
        {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
        {"::1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"},
        {"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
        {"0.0.0.0", "0.0.0.0"},
        {"255.255.255.255", "255.255.255.255"},
        {"10.0.0.1", "10.0.0.1"},
        /* IPv4-mapped IPv6 is the IPv4 address, however it is spelt */
        {"::ffff:10.1.2.3", "10.1.2.3"},
        {"::FFFF:0a01:0203", "10.1.2.3"},
        {"0:0:0:0:0:ffff:127.0.0.1", "127.0.0.1"},
        /* refused, as by Python (and zones, which tokend does not take) */
        {"010.1.2.3", "ERR"},
        {"1.2.3.04", "ERR"},
        {"1.2.3", "ERR"},
        {"256.1.1.1", "ERR"},
        {"1.2.3.4.5", "ERR"},
        {"1.2.3.4 ", "ERR"},
        {" 1.2.3.4", "ERR"},
        {"1..2.3", "ERR"},
        {"1::2::3", "ERR"},
        {":1::", "ERR"},
        {"1:2:3:4:5:6:7:8:9", "ERR"},
        {"1:2:3:4:5:6:7:8::", "ERR"},
        {"12345::", "ERR"},
        {"1:2:3:4:5:6:7:1.2.3.4", "ERR"},
        {"::1.2.3", "ERR"},
        {"1.2.3.4::", "ERR"},
        {"1::2:", "ERR"},
        {"::1%eth0", "ERR"},
        {"[::1]", "ERR"},
        {"1.2.3.4:80", "ERR"},
        {"g::1", "ERR"},
        {"", "ERR"},
        {"unknown", "ERR"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = canon(cases[i][0]);
        if (strcmp(got, cases[i][1]) != 0)
            fail_msg("%s: got %s, want %s", cases[i][0], got, cases[i][1]);
    }
}

static void socket_addresses_unmap_ipv4(void **state)
{
    (void)state;
    struct sockaddr_in6 s6 = {0};
    s6.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, "::ffff:192.0.2.7", &s6.sin6_addr), 1);
    struct tk_ip ip;
    char out[TK_IP_TEXT_MAX];
    assert_true(tk_ip_from_sockaddr((struct sockaddr *)&s6, &ip));
    assert_int_equal(ip.family, 4);
    tk_ip_format(&ip, out);
    assert_string_equal(out, "192.0.2.7");
    struct sockaddr_in s4 = {0};
    s4.sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, "192.0.2.7", &s4.sin_addr), 1);
    struct tk_ip ip4;
    assert_true(tk_ip_from_sockaddr((struct sockaddr *)&s4, &ip4));
    assert_memory_equal(&ip, &ip4, sizeof(ip));
    struct sockaddr other = {.sa_family = AF_UNIX};
    assert_false(tk_ip_from_sockaddr(&other, &ip));
    assert_false(tk_ip_from_sockaddr(NULL, &ip));
}

/* A network read and written back in canonical form (tk_net_format), or "ERR". */
static const char *net(const char *s)
{
    static char out[TK_NET_TEXT_MAX];
    struct tk_net n;
    if (!tk_net_parse(s, strlen(s), &n))
        return "ERR";
    size_t len = tk_net_format(&n, out);
    assert_int_equal(len, strlen(out));
    return out;
}

static void networks_clear_host_bits(void **state)
{
    (void)state;
    assert_string_equal(net("10.9.9.9/8"), "10.0.0.0/8");
    assert_string_equal(net("10.1.2.3"), "10.1.2.3/32");
    assert_string_equal(net("10.1.2.255/25"), "10.1.2.128/25");
    assert_string_equal(net("2001:db8::1/32"), "2001:db8::/32");
    assert_string_equal(net("0.0.0.0/0"), "0.0.0.0/0");
    assert_string_equal(net("::/0"), "::/0");
    assert_string_equal(net("10.0.0.0/08"), "10.0.0.0/8");
    assert_string_equal(net("fe80::1/10"), "fe80::/10");
    /* a mapped network is the IPv4 one, so it matches IPv4 peers */
    assert_string_equal(net("::ffff:10.0.0.0/104"), "10.0.0.0/8");
    assert_string_equal(net("::ffff:127.0.0.1"), "127.0.0.1/32");
    assert_string_equal(net("FFFF:ffff:ffff:ffff:ffff:ffff:ffff:fffe"),
                        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/128");
    assert_string_equal(net("10.0.0.0/33"), "ERR");
    assert_string_equal(net("::/129"), "ERR");
    assert_string_equal(net("1.2.3.4/"), "ERR");
    assert_string_equal(net("1.2.3.4/-1"), "ERR");
    assert_string_equal(net("1.2.3.4/255.0.0.0"), "ERR");
    assert_string_equal(net("/8"), "ERR");
    assert_string_equal(net("010.0.0.0/8"), "ERR");
}

static bool contains(const char *n, const char *a)
{
    struct tk_net nn;
    struct tk_ip ip;
    assert_true(tk_net_parse(n, strlen(n), &nn));
    assert_true(tk_ip_parse(a, strlen(a), &ip));
    return tk_net_contains(&nn, &ip);
}

static void containment(void **state)
{
    (void)state;
    assert_true(contains("10.0.0.0/8", "10.255.1.2"));
    assert_false(contains("10.0.0.0/8", "11.0.0.1"));
    assert_true(contains("10.1.2.128/25", "10.1.2.200"));
    assert_false(contains("10.1.2.128/25", "10.1.2.127"));
    assert_true(contains("0.0.0.0/0", "203.0.113.9"));
    assert_false(contains("0.0.0.0/0", "::1")); /* families never mix */
    assert_false(contains("::/0", "203.0.113.9"));
    assert_true(contains("::/0", "::1"));
    assert_true(contains("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(contains("2001:db8::/32", "2001:db9::1"));
    assert_true(contains("127.0.0.1", "::ffff:127.0.0.1"));
    assert_true(contains("::ffff:127.0.0.0/104", "127.9.9.9"));
}

static void proxy_lists(void **state)
{
    (void)state;
    char err[256];
    struct tk_proxies p;
    assert_int_equal(tk_proxies_parse("", "TOKEND_TRUSTED_PROXIES", &p, err, sizeof(err)), 0);
    assert_int_equal(p.n, 0);
    tk_proxies_free(&p);
    assert_int_equal(tk_proxies_parse("  ", "TOKEND_TRUSTED_PROXIES", &p, err, sizeof(err)), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(tk_proxies_parse(" 10.0.0.0/8 ,\t::1, 192.168.1.7 ", "TOKEND_TRUSTED_PROXIES",
                                      &p, err, sizeof(err)),
                     0);
    assert_int_equal(p.n, 3);
    struct tk_ip ip;
    assert_true(tk_ip_parse("192.168.1.7", 11, &ip));
    assert_true(tk_proxies_contains(&p, &ip));
    assert_true(tk_ip_parse("192.168.1.8", 11, &ip));
    assert_false(tk_proxies_contains(&p, &ip));
    tk_proxies_free(&p);
    tk_proxies_free(&p); /* twice is harmless */
    tk_proxies_free(NULL);
    static const char *const bad[] = {"10.0.0.0/8,", ",10.0.0.0/8", "10.0.0.0/8,,::1",
                                      "10.0.0.0/33", "localhost",   "10.0.0.0/8 ::1",
                                      "010.0.0.1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(tk_proxies_parse(bad[i], "TOKEND_TRUSTED_PROXIES", &p, err, sizeof(err)),
                         TK_ERR_INVALID);
        assert_non_null(strstr(err, "TOKEND_TRUSTED_PROXIES"));
        assert_null(strchr(err, '\n'));
        assert_null(p.nets);
    }
    char many[TK_MAX_TRUSTED_PROXIES * 12 + 16] = "";
    for (int i = 0, o = 0; i <= TK_MAX_TRUSTED_PROXIES; i++)
        o += snprintf(many + o, sizeof(many) - (size_t)o, i ? ",10.0.0.1" : "10.0.0.1");
    assert_int_equal(tk_proxies_parse(many, "TOKEND_TRUSTED_PROXIES", &p, err, sizeof(err)),
                     TK_ERR_INVALID);
    assert_non_null(strstr(err, "at most"));
}

/* The client address from peer with trusted list `trusted` and X-Forwarded-For lines xff
 * (NULL-terminated). */
static const char *client(const char *trusted, const char *peer, const char *const *xff)
{
    static char out[TK_IP_TEXT_MAX];
    struct tk_proxies p;
    char err[256];
    assert_int_equal(tk_proxies_parse(trusted, "T", &p, err, sizeof(err)), 0);
    struct tk_ip ip, got;
    assert_true(tk_ip_parse(peer, strlen(peer), &ip));
    size_t n = 0, lens[8];
    while (xff && xff[n]) {
        lens[n] = strlen(xff[n]);
        n++;
    }
    tk_client_ip(&p, &ip, xff, lens, n, &got);
    tk_proxies_free(&p);
    tk_ip_format(&got, out);
    return out;
}

#define XFF(...) ((const char *const[]){__VA_ARGS__, NULL})

static void forwarded_for_rule(void **state)
{
    (void)state;
    /* untrusted peer: the header changes nothing */
    assert_string_equal(client("", "127.0.0.1", XFF("203.0.113.9")), "127.0.0.1");
    assert_string_equal(client("10.0.0.0/8", "127.0.0.1", XFF("203.0.113.9")), "127.0.0.1");
    /* trusted peer: the right-most entry that is not trusted */
    assert_string_equal(client("127.0.0.1", "127.0.0.1", XFF("203.0.113.9")), "203.0.113.9");
    assert_string_equal(
        client("127.0.0.1,10.0.0.0/8", "127.0.0.1", XFF("198.51.100.1, 203.0.113.9, 10.1.1.1")),
        "203.0.113.9");
    /* several header lines are one list, in order */
    assert_string_equal(
        client("127.0.0.1,10.0.0.0/8", "127.0.0.1", XFF("198.51.100.1", "203.0.113.9,10.0.0.2")),
        "203.0.113.9");
    assert_string_equal(
        client("127.0.0.1,10.0.0.0/8", "127.0.0.1", XFF("198.51.100.1", "10.0.0.2")),
        "198.51.100.1");
    /* what a client wrote left of the first untrusted hop is never read */
    assert_string_equal(client("127.0.0.1", "127.0.0.1", XFF("garbage, 203.0.113.9")),
                        "203.0.113.9");
    /* absent, empty or unparsable where it is read: the peer */
    assert_string_equal(client("127.0.0.1", "127.0.0.1", NULL), "127.0.0.1");
    assert_string_equal(client("127.0.0.1", "127.0.0.1", XFF("")), "127.0.0.1");
    assert_string_equal(client("127.0.0.1", "127.0.0.1", XFF("203.0.113.9, garbage")), "127.0.0.1");
    assert_string_equal(client("127.0.0.1", "127.0.0.1", XFF("203.0.113.9,")), "127.0.0.1");
    assert_string_equal(client("127.0.0.1", "127.0.0.1", XFF("203.0.113.9:443")), "127.0.0.1");
    /* every hop trusted: the farthest */
    assert_string_equal(client("127.0.0.1,10.0.0.0/8", "127.0.0.1", XFF("10.0.0.5, 10.0.0.6")),
                        "10.0.0.5");
    /* mapped addresses are IPv4, in the header and in the list */
    assert_string_equal(client("127.0.0.1", "127.0.0.1", XFF("::ffff:203.0.113.9")), "203.0.113.9");
    assert_string_equal(client("::ffff:127.0.0.1", "127.0.0.1", XFF("203.0.113.9")), "203.0.113.9");
    assert_string_equal(client("::1", "::1", XFF(" 2001:DB8::7 ")), "2001:db8::7");
    /* more trusted hops than are read: the peer */
    char chain[TK_MAX_FORWARDED_HOPS * 10 + 32] = "203.0.113.9";
    for (int i = 0, o = (int)strlen(chain); i < TK_MAX_FORWARDED_HOPS; i++)
        o += snprintf(chain + o, sizeof(chain) - (size_t)o, ", 10.0.0.1");
    assert_string_equal(client("127.0.0.1,10.0.0.0/8", "127.0.0.1", XFF(chain)), "127.0.0.1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(addresses_read_and_written_as_python_does),
        cmocka_unit_test(socket_addresses_unmap_ipv4),
        cmocka_unit_test(networks_clear_host_bits),
        cmocka_unit_test(containment),
        cmocka_unit_test(proxy_lists),
        cmocka_unit_test(forwarded_for_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
