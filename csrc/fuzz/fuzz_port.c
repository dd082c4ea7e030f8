/*
** fuzz_port: nb_parse_port against a plain reference: one or more ASCII
** digits and nothing else; out of range above 65535 however long.
*/
#include "netbasics.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  unsigned port = 70000;
  int r = nb_parse_port(s, size, &port);
  size_t i, first = size;
  int digits = size > 0;
  for (i = 0; i < size; i++) {
    if (data[i] < '0' || data[i] > '9') digits = 0;
    else if (data[i] != '0' && first == size) first = i;
  }
  if (!digits) {
    NB_CHECK(r == -1);
    return 0;
  }
  if (size - first > 5) {
    NB_CHECK(r == -2);
    return 0;
  }
  {
    unsigned long v = 0;
    for (i = first; i < size; i++) v = v * 10 + (unsigned)(data[i] - '0');
    if (v > 65535) {
      NB_CHECK(r == -2);
    } else {
      NB_CHECK(r == 0 && port == v);
    }
  }
  return 0;
}
