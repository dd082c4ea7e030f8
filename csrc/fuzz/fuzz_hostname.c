/*
** fuzz_hostname: nb_check_hostname. A name it accepts is 1..253 bytes
** (plus a final dot) of labels of 1..63 allowed bytes, and is never
** something libc would read as an address: neither inet_aton (which
** takes "127.1", "0x7f.1", "2130706433") nor inet_pton nor our own
** IPv4 parser accepts it.
*/
#include <arpa/inet.h>

#include "netbasics.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  char z[300];
  size_t i, n = size, label = 0;
  struct in_addr in;
  uint8_t a[16];
  if (nb_check_hostname(s, size) != 0) return 0;
  if (n > 0 && s[n - 1] == '.') n--;
  NB_CHECK(n >= 1 && n <= 253);
  for (i = 0; i < n; i++) {
    unsigned char c = data[i];
    if (c == '.') {
      NB_CHECK(label >= 1);
      label = 0;
      continue;
    }
    NB_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
             || (c >= '0' && c <= '9') || c == '-' || c == '_');
    NB_CHECK(++label <= 63);
  }
  NB_CHECK(label >= 1);
  NB_CHECK(nb_parse_ipv4(s, n, a) != 0 && nb_parse_ipv4(s, size, a) != 0);
  memcpy(z, s, size);
  z[size] = '\0';
  NB_CHECK(inet_aton(z, &in) == 0);
  NB_CHECK(inet_pton(AF_INET, z, a) != 1 && inet_pton(AF_INET6, z, a) != 1);
  z[n] = '\0';
  NB_CHECK(inet_aton(z, &in) == 0);
  return 0;
}
