/*
** fuzz_cidr: nb_parse_cidr, strict and not. A block that parses has a
** prefix in range and no host bits; written back as network/prefix it
** parses (strictly) to the same block; strict success implies the same
** result without strictness.
*/
#include "netbasics.h"
#include "fuzz.h"

static void format_cidr(const nb_cidr *c, char *out, size_t size) {
  char ip[NB_IPV6_STRLEN];
  if (c->family == NB_FAM_INET)
    nb_format_ipv4(c->net, ip);
  else
    nb_format_ipv6(c->net, ip);
  snprintf(out, size, "%s/%d", ip, c->prefix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  nb_cidr c, loose, back;
  char text[NB_IPV6_STRLEN + 8];
  int i, len, r = nb_parse_cidr(s, size, 1, &c);
  int rl = nb_parse_cidr(s, size, 0, &loose);
  NB_CHECK(r == 0 || r == -1 || r == -2);
  NB_CHECK(rl == 0 || rl == -1);
  if (r == 0)
    NB_CHECK(rl == 0 && memcmp(&c, &loose, sizeof c) == 0);
  if (r == -2) NB_CHECK(rl == 0);
  if (rl != 0) {
    NB_CHECK(r == -1);
    return 0;
  }
  NB_CHECK(loose.family == NB_FAM_INET || loose.family == NB_FAM_INET6);
  len = loose.family == NB_FAM_INET ? 4 : 16;
  NB_CHECK(loose.prefix >= 0 && loose.prefix <= 8 * len);
  for (i = 0; i < 16; i++) {
    int bits = loose.prefix - 8 * i;
    uint8_t hostmask = i >= len ? 0xff : bits >= 8 ? 0 : bits <= 0 ? 0xff
                       : (uint8_t)(0xff >> bits);
    NB_CHECK((loose.net[i] & hostmask) == 0);
  }
  format_cidr(&loose, text, sizeof text);
  NB_CHECK(nb_parse_cidr(text, strlen(text), 1, &back) == 0);
  NB_CHECK(memcmp(&back, &loose, sizeof back) == 0);
  return 0;
}
