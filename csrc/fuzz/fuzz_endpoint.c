/*
** fuzz_endpoint: nb_parse_endpoint. An endpoint that parses has its
** host inside the input, a port in range, and an address that agrees
** with nb_parse_ipv4/6 or a name nb_check_hostname accepts; written
** back as host:port (or [v6]:port) it parses to the same endpoint.
*/
#include "netbasics.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  nb_endpoint ep, back;
  uint8_t a[16];
  char text[400];
  int n, r = nb_parse_endpoint(s, size, &ep);
  NB_CHECK(r == 0 || r == -1 || r == -2);
  if (r != 0) return 0;
  NB_CHECK(ep.host >= s && ep.host + ep.hostlen <= s + size);
  NB_CHECK(ep.port <= 65535);
  switch (ep.family) {
    case NB_FAM_INET:
      NB_CHECK(nb_parse_ipv4(ep.host, ep.hostlen, a) == 0);
      NB_CHECK(memcmp(a, ep.addr, 4) == 0);
      break;
    case NB_FAM_INET6:
      NB_CHECK(nb_parse_ipv6(ep.host, ep.hostlen, a) == 0);
      NB_CHECK(memcmp(a, ep.addr, 16) == 0);
      break;
    case NB_FAM_NAME:
      NB_CHECK(nb_check_hostname(ep.host, ep.hostlen) == 0);
      break;
    default:
      NB_CHECK(0);
  }
  NB_CHECK(ep.hostlen < 300);
  n = snprintf(text, sizeof text, ep.family == NB_FAM_INET6 ? "[%.*s]:%u"
               : "%.*s:%u", (int)ep.hostlen, ep.host, ep.port);
  NB_CHECK(n > 0 && (size_t)n < sizeof text);
  NB_CHECK(nb_parse_endpoint(text, (size_t)n, &back) == 0);
  NB_CHECK(back.family == ep.family && back.port == ep.port);
  NB_CHECK(back.hostlen == ep.hostlen
           && memcmp(back.host, ep.host, ep.hostlen) == 0);
  if (ep.family != NB_FAM_NAME)
    NB_CHECK(memcmp(back.addr, ep.addr, ep.family == NB_FAM_INET ? 4 : 16)
             == 0);
  return 0;
}
