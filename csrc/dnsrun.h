/*
** dnsrun.h: asking one DNS server with c-ares (dnsrun.c), plain C: no
** Lua between creating the channel and destroying it. resolve.c fills a
** dns_run, calls nb_dns_run and reads the answers (walked by dnsmsg.c).
*/
#ifndef NB_DNSRUN_H
#define NB_DNSRUN_H

#include "netbasics.h"
#include "dnsmsg.h"

/* one question and what became of it */
typedef struct dns_query {
  char name[256];           /* the name asked, no final dot */
  unsigned qtype;
  int done;                 /* the callback ran */
  int status;               /* ARES_SUCCESS or c-ares' failure */
  int walked;               /* nb_dns_walk's result, on ARES_SUCCESS */
  nb_dns_msg msg;           /* the answer, when walked is NB_DNS_OK */
} dns_query;

enum { RUN_DONE, RUN_TIMEOUT, RUN_INTERRUPTED, RUN_ESETUP };

/* one run: one or two questions (A, then AAAA of the canonical name, as
** nslookup asks), of one server, before one deadline */
typedef struct dns_run {
  char name[256];           /* the name asked, checked, no final dot */
  long long deadline;       /* nb_now_ms() + timeout x tries */
  int family;               /* AF_INET, AF_INET6, or 0: system's first */
  unsigned char addr[16];
  unsigned port;
  int timeout_ms, tries;
  int nq;
  dns_query q[2];
  /* results */
  char server[NB_IPV6_STRLEN];
  unsigned server_port;
  int outcome;              /* RUN_* */
  int setup_status;         /* the c-ares status of a RUN_ESETUP */
} dns_run;

/* the monotonic clock in milliseconds */
long long nb_now_ms(void);

/*
** Asks r->q[from..nq) and waits, never past r->deadline (c-ares
** doubles the wait of each retry, so the deadline is ours). The channel
** lives only inside this function. r->outcome says how it ended.
*/
void nb_dns_run(dns_run *r, int from);

#endif
