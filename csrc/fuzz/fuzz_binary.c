/*
** fuzz_binary: nb_parse_binary (net.frombinary) against a reference:
** 0s and 1s only, at most 63 significant bits; the value written back
** in binary parses to itself.
*/
#include "netbasics.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  int64_t v = -1, back = -1;
  int r = nb_parse_binary(s, size, &v);
  size_t i, first = size;
  int ok = size > 0;
  for (i = 0; i < size; i++) {
    if (data[i] != '0' && data[i] != '1') ok = 0;
    else if (data[i] == '1' && first == size) first = i;
  }
  if (!ok) {
    NB_CHECK(r == -1);
    return 0;
  }
  if (size - first > 63) {
    NB_CHECK(r == -2);
    return 0;
  }
  NB_CHECK(r == 0 && v >= 0);
  {
    char text[64];
    int k = 0, b;
    for (b = 62; b >= 0; b--)
      if (k > 0 || ((v >> b) & 1) || b == 0)
        text[k++] = (char)('0' + ((v >> b) & 1));
    NB_CHECK((size_t)k == (first == size ? 1 : size - first));
    NB_CHECK(nb_parse_binary(text, (size_t)k, &back) == 0 && back == v);
  }
  return 0;
}
