/*
** validate.c: the validate family of netbasics.core (see API.md).
** PROVISIONAL parsers built on inet_pton/inet_ntop so the other families
** can start; to be replaced by the strict hand-written ones.
*/
#include <arpa/inet.h>
#include <string.h>

#include "netbasics.h"

static int tocstr(const char *s, size_t n, char *buf, size_t size) {
  if (n == 0 || n >= size || memchr(s, '\0', n) != NULL) return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  return 0;
}

int nb_parse_ipv4(const char *s, size_t n, uint8_t out[4]) {
  char buf[NB_IPV4_STRLEN];
  if (tocstr(s, n, buf, sizeof buf) < 0) return -1;
  return inet_pton(AF_INET, buf, out) == 1 ? 0 : -1;
}

int nb_parse_ipv6(const char *s, size_t n, uint8_t out[16]) {
  char buf[NB_IPV6_STRLEN];
  if (tocstr(s, n, buf, sizeof buf) < 0) return -1;
  return inet_pton(AF_INET6, buf, out) == 1 ? 0 : -1;
}

size_t nb_format_ipv4(const uint8_t a[4], char out[NB_IPV4_STRLEN]) {
  inet_ntop(AF_INET, a, out, NB_IPV4_STRLEN);
  return strlen(out);
}

size_t nb_format_ipv6(const uint8_t a[16], char out[NB_IPV6_STRLEN]) {
  inet_ntop(AF_INET6, a, out, NB_IPV6_STRLEN);
  return strlen(out);
}

int nb_parse_port(const char *s, size_t n, unsigned *port) {
  unsigned long v = 0;
  size_t i;
  if (n == 0 || n > 5) return n > 5 ? -2 : -1;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  if (v > 65535) return -2;
  *port = (unsigned)v;
  return 0;
}

int nb_check_hostname(const char *s, size_t n) {
  size_t i, label = 0;
  if (n > 0 && s[n - 1] == '.') n--;
  if (n == 0 || n > 253) return -1;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '.') {
      if (label == 0) return -1;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
               || (c >= '0' && c <= '9') || c == '-' || c == '_') {
      if (++label > 63) return -1;
    } else {
      return -1;
    }
  }
  return label > 0 ? 0 : -1;
}

int nb_parse_endpoint(const char *s, size_t n, nb_endpoint *ep) {
  const char *colon;
  size_t hl;
  int r;
  if (n > 0 && s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (close == NULL || close + 1 >= s + n || close[1] != ':') return -1;
    hl = (size_t)(close - s - 1);
    if (nb_parse_ipv6(s + 1, hl, ep->addr) < 0) return -1;
    ep->family = NB_FAM_INET6;
    ep->host = s + 1;
    ep->hostlen = hl;
    colon = close + 1;
  } else {
    colon = memchr(s, ':', n);
    if (colon == NULL || memchr(colon + 1, ':', (size_t)(s + n - colon - 1)))
      return -1;
    hl = (size_t)(colon - s);
    ep->host = s;
    ep->hostlen = hl;
    if (nb_parse_ipv4(s, hl, ep->addr) == 0)
      ep->family = NB_FAM_INET;
    else if (nb_check_hostname(s, hl) == 0)
      ep->family = NB_FAM_NAME;
    else
      return -1;
  }
  r = nb_parse_port(colon + 1, (size_t)(s + n - colon - 1), &ep->port);
  return r;
}

void nb_open_validate(lua_State *L) {
  (void)L;
}
