/*
** fuzz_url: the fetch family's checks before libcurl (fetchcheck.c).
** The first byte picks the check (its value mod 4; 4 mod 8 is a
** redirect's target), the rest is its input: a URL, a header
** "name:value", a method, a protocol list, a Location. What passes
** carries no byte that could split a request line or a header (CR, LF,
** other controls, space), a URL's scheme comes back lower-cased, and a
** host that passes is one the strict parsers take: a dotted quad, [v6]
** with no zone id, or a host name (never 127.1, 0x7f.1, 2130706433).
*/
#include "netbasics.h"
#include "fuzz.h"

static int hasbyte(const uint8_t *d, size_t n, int lo, int hi) {
  size_t i;
  for (i = 0; i < n; i++)
    if (d[i] >= lo && d[i] <= hi) return 1;
  return 0;
}

/* a host a URL check let through is one of the strict forms */
static void check_host(const char *h, size_t n) {
  uint8_t a[16];
  NB_CHECK(n > 0);
  if (h[0] == '[') {
    NB_CHECK(n >= 2 && h[n - 1] == ']');
    NB_CHECK(memchr(h, '%', n) == NULL);
    NB_CHECK(nb_parse_ipv6(h + 1, n - 2, a) == 0);
  } else {
    NB_CHECK(nb_parse_ipv4(h, n, a) == 0 || nb_check_hostname(h, n) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s;
  size_t n, i, hs, hl;
  if (size == 0) return 0;
  s = (const char *)data + 1;
  n = size - 1;
  if (data[0] % 8 == 4) {
    if (nb_check_location(s, n, &hs, &hl) == NULL) {
      NB_CHECK(!hasbyte(data + 1, n, 0, 0x1f)
               && !hasbyte(data + 1, n, 0x7f, 0x7f));
      NB_CHECK(memchr(s, '\\', n) == NULL);
      if (hl > 0) {
        NB_CHECK(hs + hl <= n);
        check_host(s + hs, hl);
      }
    }
    return 0;
  }
  switch (data[0] % 4) {
    case 0: {
      char scheme[NB_SCHEME_MAX];
      const char *why = nb_check_url(s, n, scheme);
      NB_CHECK(strlen(scheme) < NB_SCHEME_MAX);
      for (i = 0; scheme[i]; i++)
        NB_CHECK((scheme[i] >= 'a' && scheme[i] <= 'z')
                 || (scheme[i] >= '0' && scheme[i] <= '9')
                 || scheme[i] == '+' || scheme[i] == '-' || scheme[i] == '.');
      if (why == NULL) {
        NB_CHECK(n > 0 && n <= NB_URL_MAX);
        NB_CHECK(!hasbyte(data + 1, n, 0, 0x20) && !hasbyte(data + 1, n,
                                                            0x7f, 0x7f));
        NB_CHECK(memchr(s, '\\', n) == NULL);
        NB_CHECK(scheme[0] != '\0' && nb_protocol_listed(scheme, scheme));
        /* the same host, read as a redirect's target, passes too */
        if (strcmp(scheme, "file") != 0) {
          NB_CHECK(nb_check_location(s, n, &hs, &hl) == NULL);
          NB_CHECK(hl > 0 && hs + hl <= n);
          check_host(s + hs, hl);
        }
      }
      break;
    }
    case 1: {
      const char *colon = memchr(s, ':', n);
      size_t nl = colon ? (size_t)(colon - s) : n;
      const char *v = colon ? colon + 1 : s + n;
      size_t vl = colon ? n - nl - 1 : 0;
      if (nb_check_header(s, nl, v, vl) == NULL) {
        NB_CHECK(nl > 0 && !hasbyte(data + 1, nl, 0, 0x20));
        NB_CHECK(memchr(v, '\r', vl) == NULL && memchr(v, '\n', vl) == NULL);
        NB_CHECK(memchr(v, '\0', vl) == NULL);
      }
      break;
    }
    case 2:
      if (nb_check_method(s, n) == NULL)
        NB_CHECK(n >= 1 && n <= 32 && !hasbyte(data + 1, n, 0, 0x20));
      break;
    default:
      if (nb_check_protocols(s, n) == NULL) {
        /* every name in the list is found in it, and text with a NUL
        ** never passed */
        char list[260], *p, *comma;
        NB_CHECK(n < sizeof list && memchr(s, '\0', n) == NULL);
        memcpy(list, s, n);
        list[n] = '\0';
        for (p = list;; p = comma + 1) {
          char name[260];
          size_t w;
          comma = strchr(p, ',');
          w = comma ? (size_t)(comma - p) : strlen(p);
          memcpy(name, p, w);
          name[w] = '\0';
          NB_CHECK(w > 0 && nb_protocol_listed(list, name));
          if (comma == NULL) break;
        }
      }
      break;
  }
  return 0;
}
