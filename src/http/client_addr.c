/* Client addresses (client_addr.h): strict parsing, canonical text, trusted networks and the
 * X-Forwarded-For rule. Written here rather than left to inet_pton/inet_ntop because their
 * forms differ from Python's ipaddress in corners (IPv4-compatible IPv6 is written "::1.2.3.4"
 * by glibc, "::102:304" by Python) and the text is what logs, events and throttle keys share. */
#include "http/client_addr.h"

#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/limits.h"

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* ::ffff:a.b.c.d is a.b.c.d everywhere (README). */
static void unmap(struct tk_ip *ip)
{
    if (ip->family == 6 && memcmp(ip->b, mapped_prefix, 12) == 0) {
        memmove(ip->b, ip->b + 12, 4);
        memset(ip->b + 4, 0, 12);
        ip->family = 4;
    }
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Four decimal octets, 0..255, no leading zeros (Python >= 3.9.5 refuses them: "010" is octal
 * to some parsers and decimal to others). */
static bool parse_v4(const char *s, size_t len, uint8_t out[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < len && is_digit(s[i]) && i - start < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
            return false;
        if (i < len && is_digit(s[i]))
            return false; /* a fourth digit */
        out[part] = (uint8_t)v;
    }
    return i == len;
}

/* RFC 4291 text: up to eight groups of 1-4 hex digits, "::" at most once standing for one or
 * more zero groups, an IPv4 tail in place of the last two groups. */
static bool parse_v6(const char *s, size_t len, uint8_t out[16])
{
    uint16_t groups[8] = {0};
    int n = 0, gap = -1; /* gap: index where "::" stands */
    size_t i = 0;
    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        gap = 0;
        i = 2;
    } else if (len >= 1 && s[0] == ':') {
        return false;
    }
    while (i < len) {
        if (n == 8)
            return false;
        /* an IPv4 tail: the rest holds a '.' before the next ':' */
        size_t end = i;
        while (end < len && s[end] != ':')
            end++;
        if (memchr(s + i, '.', end - i) != NULL) {
            uint8_t v4[4];
            if (end != len || n > 6 || !parse_v4(s + i, len - i, v4))
                return false;
            groups[n++] = (uint16_t)(v4[0] << 8 | v4[1]);
            groups[n++] = (uint16_t)(v4[2] << 8 | v4[3]);
            i = len;
            break;
        }
        if (end == i || end - i > 4)
            return false;
        char group[5] = {0};
        for (size_t k = i; k < end; k++) {
            if (!isxdigit((unsigned char)s[k]))
                return false;
            group[k - i] = s[k];
        }
        groups[n++] = (uint16_t)strtoul(group, NULL, 16);
        i = end;
        if (i == len)
            break;
        i++; /* the ':' */
        if (i < len && s[i] == ':') {
            if (gap >= 0)
                return false;
            gap = n;
            i++;
        } else if (i == len) {
            return false; /* a trailing single ':' */
        }
    }
    if (gap < 0 && n != 8)
        return false;
    if (gap >= 0 && n == 8)
        return false; /* "::" must stand for at least one group */
    uint16_t full[8] = {0};
    if (gap < 0) {
        memcpy(full, groups, sizeof(full));
    } else {
        int tail = n - gap;
        memcpy(full, groups, (size_t)gap * sizeof(uint16_t));
        memcpy(full + 8 - tail, groups + gap, (size_t)tail * sizeof(uint16_t));
    }
    for (int g = 0; g < 8; g++) {
        out[2 * g] = (uint8_t)(full[g] >> 8);
        out[2 * g + 1] = (uint8_t)(full[g] & 0xff);
    }
    return true;
}

bool tk_ip_parse(const char *s, size_t len, struct tk_ip *out)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || len >= TK_IP_TEXT_MAX + 8)
        return false;
    if (memchr(s, ':', len) == NULL) {
        out->family = 4;
        return parse_v4(s, len, out->b);
    }
    out->family = 6;
    if (!parse_v6(s, len, out->b))
        return false;
    unmap(out);
    return true;
}

bool tk_ip_from_sockaddr(const struct sockaddr *sa, struct tk_ip *out)
{
    memset(out, 0, sizeof(*out));
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        out->family = 4;
        memcpy(out->b, &s4->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        out->family = 6;
        memcpy(out->b, &s6->sin6_addr, 16);
        unmap(out);
        return true;
    }
    return false;
}

void tk_ip_format(const struct tk_ip *ip, char out[TK_IP_TEXT_MAX])
{
    if (ip->family == 4) {
        snprintf(out, TK_IP_TEXT_MAX, "%u.%u.%u.%u", ip->b[0], ip->b[1], ip->b[2], ip->b[3]);
        return;
    }
    uint16_t g[8];
    for (int i = 0; i < 8; i++)
        g[i] = (uint16_t)(ip->b[2 * i] << 8 | ip->b[2 * i + 1]);
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (g[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    if (best_len < 2)
        best = -1;
    size_t o = 0;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            /* the previous group wrote its ':' already, except at the start */
            o += (size_t)snprintf(out + o, TK_IP_TEXT_MAX - o, i == 0 ? "::" : ":");
            i += best_len - 1;
            continue;
        }
        o += (size_t)snprintf(out + o, TK_IP_TEXT_MAX - o, "%x%s", g[i], i < 7 ? ":" : "");
    }
}

static void clear_host_bits(struct tk_ip *ip, unsigned prefix)
{
    unsigned bytes = ip->family == 4 ? 4 : 16;
    for (unsigned i = 0; i < bytes; i++) {
        unsigned lo = i * 8;
        if (prefix >= lo + 8)
            continue;
        unsigned keep = prefix > lo ? prefix - lo : 0;
        ip->b[i] &= (uint8_t)(0xff00u >> keep);
    }
}

bool tk_net_parse(const char *s, size_t len, struct tk_net *out)
{
    memset(out, 0, sizeof(*out));
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    struct tk_ip ip = {0};
    ip.family = memchr(s, ':', alen) ? 6 : 4;
    if (ip.family == 4 ? !parse_v4(s, alen, ip.b) : !parse_v6(s, alen, ip.b))
        return false;
    unsigned max = ip.family == 4 ? 32 : 128, prefix = max;
    if (slash != NULL) {
        const char *p = slash + 1;
        size_t plen = len - alen - 1;
        if (plen == 0 || plen > 3)
            return false;
        prefix = 0;
        for (size_t i = 0; i < plen; i++) {
            if (!is_digit(p[i]))
                return false;
            prefix = prefix * 10 + (unsigned)(p[i] - '0');
        }
        if (prefix > max)
            return false;
    }
    if (ip.family == 6 && prefix >= 96 && memcmp(ip.b, mapped_prefix, 12) == 0) {
        unmap(&ip);
        prefix -= 96;
    }
    clear_host_bits(&ip, prefix);
    out->ip = ip;
    out->prefix = (uint8_t)prefix;
    return true;
}

size_t tk_net_format(const struct tk_net *n, char out[TK_NET_TEXT_MAX])
{
    char ip[TK_IP_TEXT_MAX];
    tk_ip_format(&n->ip, ip);
    int len = snprintf(out, TK_NET_TEXT_MAX, "%s/%u", ip, (unsigned)n->prefix);
    return len > 0 ? (size_t)len : 0;
}

bool tk_net_contains(const struct tk_net *n, const struct tk_ip *ip)
{
    if (n->ip.family != ip->family)
        return false;
    unsigned full = n->prefix / 8, rest = n->prefix % 8;
    if (memcmp(n->ip.b, ip->b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff00u >> rest);
    return (ip->b[full] & mask) == n->ip.b[full];
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* s[*start..*end) without the blanks around it. */
static void trim(const char *s, size_t *start, size_t *end)
{
    while (*start < *end && is_space(s[*start]))
        (*start)++;
    while (*end > *start && is_space(s[*end - 1]))
        (*end)--;
}

int tk_proxies_parse(const char *text, const char *setting, struct tk_proxies *out, char *err,
                     size_t err_len)
{
    memset(out, 0, sizeof(*out));
    size_t len = strlen(text), a = 0, b = len;
    trim(text, &a, &b);
    if (a == b)
        return 0;
    size_t n = 1;
    for (size_t i = a; i < b; i++)
        n += text[i] == ',';
    if (n > TK_MAX_TRUSTED_PROXIES) {
        snprintf(err, err_len, "%s lists %zu networks; at most %d are allowed", setting, n,
                 TK_MAX_TRUSTED_PROXIES);
        return TK_ERR_INVALID;
    }
    out->nets = tk_calloc(n, sizeof(*out->nets));
    if (out->nets == NULL)
        return TK_ERR_NOMEM;
    size_t start = a;
    while (start <= b) {
        const char *comma = memchr(text + start, ',', b - start);
        size_t end = comma ? (size_t)(comma - text) : b, s = start, e = end;
        trim(text, &s, &e);
        if (s == e || !tk_net_parse(text + s, e - s, &out->nets[out->n])) {
            if (s == e)
                snprintf(err, err_len, "%s has an empty entry (a stray comma?)", setting);
            else
                snprintf(err, err_len,
                         "%s: \"%.*s\" is not an IP address or network (e.g. 10.0.0.0/8, "
                         "2001:db8::/32)",
                         setting, (int)(e - s > 64 ? 64 : e - s), text + s);
            tk_proxies_free(out);
            return TK_ERR_INVALID;
        }
        out->n++;
        start = end + 1;
    }
    return 0;
}

void tk_proxies_free(struct tk_proxies *p)
{
    if (p == NULL)
        return;
    free(p->nets);
    p->nets = NULL;
    p->n = 0;
}

bool tk_proxies_contains(const struct tk_proxies *p, const struct tk_ip *ip)
{
    for (size_t i = 0; p != NULL && i < p->n; i++)
        if (tk_net_contains(&p->nets[i], ip))
            return true;
    return false;
}

void tk_client_ip(const struct tk_proxies *trusted, const struct tk_ip *peer,
                  const char *const *xff, const size_t *xff_len, size_t n_xff, struct tk_ip *out)
{
    *out = *peer;
    if (!tk_proxies_contains(trusted, peer))
        return; /* an untrusted peer's X-Forwarded-For says nothing */
    struct tk_ip last = *peer;
    bool any = false;
    unsigned hops = 0;
    /* From the right: the right-most entries were appended by the proxies nearest to us. */
    for (size_t v = n_xff; v-- > 0;) {
        const char *s = xff[v];
        size_t end = xff_len[v];
        for (;;) {
            size_t start = end;
            while (start > 0 && s[start - 1] != ',')
                start--;
            size_t a = start, b = end;
            trim(s, &a, &b);
            struct tk_ip ip;
            if (a == b || ++hops > TK_MAX_FORWARDED_HOPS || !tk_ip_parse(s + a, b - a, &ip))
                return; /* unparsable: the peer */
            if (!tk_proxies_contains(trusted, &ip)) {
                *out = ip;
                return;
            }
            last = ip;
            any = true;
            if (start == 0)
                break;
            end = start - 1; /* before the ',' */
        }
    }
    /* every hop listed is a trusted proxy: the farthest one known */
    if (any)
        *out = last;
}
