/*
** fuzz_dns: the resolve family's DNS answer walker (dnsmsg.c) on any
** bytes a server could send: nb_dns_walk, then nb_dns_chain from the
** question's name, then nb_dns_msg_free (ASan and LeakSanitizer see a
** read past the message or a lost name). The same bytes also go to the
** name check and, as an address, to the reverse-lookup name builder.
*/
#include "dnsmsg.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nb_dns_msg m;
  size_t i, j, chain[16];
  char ptr[NB_DNS_PTRLEN];
  const char *canonical = NULL;
  int r = nb_dns_walk(data, size, &m);
  NB_CHECK(r == NB_DNS_OK || r == NB_DNS_EMALFORMED || r == NB_DNS_ENOMEM);
  if (r == NB_DNS_OK) {
    unsigned ancount = size >= 8 ? ((unsigned)data[6] << 8 | data[7]) : 0;
    NB_CHECK(m.nrr <= ancount);
    NB_CHECK(m.aa == ((data[2] & 0x04) != 0));
    for (i = 0; i < m.nrr; i++) {
      const nb_dns_rr *rr = &m.rr[i];
      NB_CHECK(rr->name != NULL);
      NB_CHECK(rr->type == NB_DNS_A || rr->type == NB_DNS_AAAA
               || rr->type == NB_DNS_CNAME || rr->type == NB_DNS_PTR);
      NB_CHECK((rr->target != NULL)
               == (rr->type == NB_DNS_CNAME || rr->type == NB_DNS_PTR));
      /* names are plain text: no escapes, no control bytes, <= 253 */
      NB_CHECK(strlen(rr->name) <= 253 && !strchr(rr->name, '\\'));
      for (j = 0; rr->name[j]; j++)
        NB_CHECK((unsigned char)rr->name[j] > 0x20
                 && (unsigned char)rr->name[j] < 0x7f);
      if (rr->target != NULL)
        NB_CHECK(strlen(rr->target) <= 253 && !strchr(rr->target, '\\'));
    }
    if (m.qname != NULL || m.nrr > 0) {
      const char *start = m.qname != NULL ? m.qname : m.rr[0].name;
      int n = nb_dns_chain(&m, start, chain, 16, &canonical);
      NB_CHECK(n >= -2 && n <= 16);
      if (n >= 0) {
        NB_CHECK(canonical != NULL);
        for (i = 0; i < (size_t)n; i++)
          NB_CHECK(chain[i] < m.nrr && m.rr[chain[i]].type == NB_DNS_CNAME);
      }
    }
    nb_dns_msg_free(&m);
  } else {
    NB_CHECK(m.nrr == 0 && m.rr == NULL && m.qname == NULL);
  }
  (void)nb_dns_check_name((const char *)data, size);
  if (size >= 16) {
    size_t k = nb_dns_ptr_name(data, 16, ptr);
    NB_CHECK(k < NB_DNS_PTRLEN && k == strlen(ptr));
  }
  if (size >= 4) {
    size_t k = nb_dns_ptr_name(data, 4, ptr);
    NB_CHECK(k < NB_DNS_PTRLEN && k == strlen(ptr));
  }
  return 0;
}
