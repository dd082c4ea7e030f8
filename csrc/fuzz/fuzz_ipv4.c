/*
** fuzz_ipv4: nb_parse_ipv4. What it accepts is exactly the canonical
** dotted quad (it formats back to the same bytes), and it agrees with
** glibc's inet_pton(AF_INET), which is strict in the same way (no
** leading zeros, four parts), on every input without a NUL.
*/
#include <arpa/inet.h>

#include "netbasics.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  uint8_t a[4], b[4], c[4];
  char text[NB_IPV4_STRLEN], z[64];
  int ours = nb_parse_ipv4(s, size, a);
  if (ours == 0) {
    size_t k = nb_format_ipv4(a, text);
    NB_CHECK(k == strlen(text) && k < NB_IPV4_STRLEN);
    NB_CHECK(k == size && memcmp(text, s, size) == 0);
    NB_CHECK(nb_parse_ipv4(text, k, b) == 0 && memcmp(a, b, 4) == 0);
  } else {
    NB_CHECK(ours == -1);
  }
  if (size < sizeof z && memchr(s, '\0', size) == NULL) {
    int theirs;
    memcpy(z, s, size);
    z[size] = '\0';
    theirs = inet_pton(AF_INET, z, c) == 1;
    NB_CHECK(theirs == (ours == 0));
    if (theirs) NB_CHECK(memcmp(a, c, 4) == 0);
  }
  return 0;
}
