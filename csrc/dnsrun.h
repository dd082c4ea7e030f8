/*
** dnsrun.h: asking one DNS server with c-ares (dnsrun.c), plain C: no
** Lua between creating the channel and destroying it. resolve.c fills a
** dns_run, calls nb_dns_run and reads the answers (walked by dnsmsg.c).
*/
#ifndef NB_DNSRUN_H
#define NB_DNSRUN_H

#include <poll.h>

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
  /* a run in steps (nb_dns_start ... nb_dns_end), for the loop */
  void *ch;                 /* the c-ares channel while it runs */
  int from;
  int phase;                /* resolve.c: which run of a lookup */
  int want_a, want_aaaa;    /* resolve.c: what lookup asks */
  void (*closed)(int fd);   /* told of each socket c-ares closes */
} dns_run;

#define NB_DNS_MAXFD 16     /* ARES_GETSOCK_MAXNUM */

/* the monotonic clock in milliseconds */
long long nb_now_ms(void);

/*
** Asks r->q[from..nq) and waits, never past r->deadline (c-ares
** doubles the wait of each retry, so the deadline is ours). The channel
** lives only inside this function. r->outcome says how it ended.
*/
void nb_dns_run(dns_run *r, int from);

/*
** The same in steps, for a caller with its own event loop: nb_dns_start
** asks (0, or -1 with r->outcome RUN_ESETUP and no channel);
** nb_dns_pending says what to wait for: 0 when the run is over
** (r->outcome set; call nb_dns_end), else the descriptors in pfd[*nfds]
** (events POLLIN / POLLOUT) and at most *ms milliseconds;
** nb_dns_process handles pfd's revents (none: only the timers).
** `closed(fd)` is told of each socket c-ares closes (NULL: none).
*/
int nb_dns_start(dns_run *r, int from, void (*closed)(int fd));
int nb_dns_pending(dns_run *r, struct pollfd *pfd, int *nfds, int *ms);
void nb_dns_process(dns_run *r, const struct pollfd *pfd, int nfds);
void nb_dns_end(dns_run *r);

/*
** A name's addresses as getaddrinfo gives them, asked with c-ares'
** ares_getaddrinfo (csrc/gai.c drives it for tasks): the hosts file
** first, then DNS with the system's resolv.conf (servers, search list,
** ndots, timeout, attempts), in steps as a dns_run: nb_gai_start asks
** (0, or -1 with g->status set and no channel), nb_gai_pending says what
** to wait for (0 once over: g->status and the addresses set),
** nb_gai_process takes poll's revents, nb_gai_end frees the channel.
** The search list is walked here, one name at a time, with the rules
** of glibc's res_search (c-ares 1.18's own walk ends at the first
** SERVFAIL, REFUSED or timeout and forgets a NODATA seen before it).
*/
#define NB_GAI_MAX 16       /* addresses kept, as getaddrinfo's copy */
#define NB_GAI_NAMES 16     /* names of a walk: as given, each suffix */

typedef struct dns_gai {
  char name[256];           /* the name asked, checked */
  int family;               /* AF_INET, AF_INET6, or 0: both */
  long long deadline;       /* nb_now_ms(); < 0 none */
  int done;                 /* the walk is over */
  int status;               /* ARES_SUCCESS or c-ares' failure */
  int n;                    /* addresses found, in the system's order, no
                               duplicates */
  struct { int family; unsigned char a[16]; } addr[NB_GAI_MAX];
  void *ch;
  void (*closed)(int fd);
  /* the walk: the names to ask in turn and what each one is */
  int nnames, step;
  char names[NB_GAI_NAMES][256];
  unsigned char role[NB_GAI_NAMES];  /* GAI_AS_IS_FIRST, ... (dnsrun.c) */
  int saved;                /* the status of the name as given, asked
                               first; -1: not asked first */
  int got_nodata, got_servfail, last;
  int rcode;                /* of the last answer over UDP; -1: none */
} dns_gai;

int nb_gai_start(dns_gai *g, void (*closed)(int fd));
int nb_gai_pending(dns_gai *g, struct pollfd *pfd, int *nfds, int *ms);
void nb_gai_process(dns_gai *g, const struct pollfd *pfd, int nfds);
void nb_gai_end(dns_gai *g);

#endif
