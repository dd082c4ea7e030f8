/*
** fuzz_ipv6: nb_parse_ipv6 and nb_format_ipv6. Round trip: what parses
** formats (RFC 5952) to text that parses to the same 16 bytes and
** formats to itself. Differential: whatever we accept, glibc's
** inet_pton(AF_INET6) accepts with the same bytes (we are the stricter:
** no zone id, strict dotted quad).
*/
#include <arpa/inet.h>

#include "netbasics.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  uint8_t a[16], b[16], c[16];
  char text[NB_IPV6_STRLEN], again[NB_IPV6_STRLEN], z[64];
  int ours = nb_parse_ipv6(s, size, a);
  if (ours != 0) {
    NB_CHECK(ours == -1);
    return 0;
  }
  {
    size_t k = nb_format_ipv6(a, text);
    NB_CHECK(k == strlen(text) && k < NB_IPV6_STRLEN);
    NB_CHECK(nb_parse_ipv6(text, k, b) == 0 && memcmp(a, b, 16) == 0);
    NB_CHECK(nb_format_ipv6(b, again) == k && strcmp(text, again) == 0);
    /* the canonical text is also what inet_pton reads the same way */
    NB_CHECK(inet_pton(AF_INET6, text, c) == 1 && memcmp(a, c, 16) == 0);
  }
  NB_CHECK(size < sizeof z && memchr(s, '\0', size) == NULL);
  memcpy(z, s, size);
  z[size] = '\0';
  NB_CHECK(inet_pton(AF_INET6, z, c) == 1 && memcmp(a, c, 16) == 0);
  return 0;
}
