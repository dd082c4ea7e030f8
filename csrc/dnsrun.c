/*
** dnsrun.c: the c-ares side of the resolve family: one channel, one
** server, the questions of a dns_run, and the event loop that waits for
** their answers (see dnsrun.h). No Lua here.
*/
#include <errno.h>
#include <ifaddrs.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <ares.h>

#include "dnsrun.h"

long long nb_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned short query_id(void) {
  unsigned short id;
  if (getrandom(&id, sizeof id, GRND_NONBLOCK) != (ssize_t)sizeof id) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    id = (unsigned short)(ts.tv_nsec ^ (getpid() << 4));
  }
  return id;
}

/*
** ** Called by c-ares, also from ares_destroy (ARES_EDESTRUCTION). It
** only fills the C struct: no Lua here.
*/
static void on_answer(void *arg, int status, int timeouts,
                      unsigned char *abuf, int alen) {
  dns_query *q = (dns_query *)arg;
  (void)timeouts;
  if (q->done)
    return;
  q->done = 1;
  q->status = status;
  if (status == ARES_SUCCESS)
    q->walked = alen > 0 ? nb_dns_walk(abuf, (size_t)alen, &q->msg)
                         : NB_DNS_EMALFORMED;
}

static int all_done(const dns_run *r, int from) {
  int i;
  for (i = from; i < r->nq; i++)
    if (!r->q[i].done)
      return 0;
  return 1;
}

/* keep only one server: the one given, or the system's first */
static int pick_server(ares_channel ch, dns_run *r) {
  struct ares_addr_port_node one, *list = NULL;
  int st;
  memset(&one, 0, sizeof one);
  if (r->family == 0) {
    st = ares_get_servers_ports(ch, &list);
    if (st != ARES_SUCCESS)
      return st;
    if (list == NULL)
      return ARES_ESERVFAIL;  /* c-ares 1.18 always has one */
    one.family = list->family;
    if (one.family == AF_INET)
      memcpy(&one.addr.addr4, &list->addr.addr4, 4);
    else
      memcpy(&one.addr.addr6, &list->addr.addr6, 16);
    one.udp_port = list->udp_port;
    one.tcp_port = list->tcp_port;
    ares_free_data(list);
  } else {
    one.family = r->family;
    if (r->family == AF_INET)
      memcpy(&one.addr.addr4, r->addr, 4);
    else
      memcpy(&one.addr.addr6, r->addr, 16);
    one.udp_port = one.tcp_port = (int)r->port;
  }
  r->server_port = one.udp_port != 0 ? (unsigned)one.udp_port : 53;
  one.udp_port = one.tcp_port = (int)r->server_port;
  if (one.family == AF_INET)
    nb_format_ipv4((const uint8_t *)&one.addr.addr4, r->server);
  else
    nb_format_ipv6((const uint8_t *)&one.addr.addr6, r->server);
  return ares_set_servers_ports(ch, &one);
}

/* c-ares opens and closes sockets: tell the loop of each one closed */
static void sock_state(void *data, ares_socket_t fd, int readable,
                       int writable) {
  dns_run *r = (dns_run *)data;
  if (!readable && !writable && r->closed != NULL) r->closed((int)fd);
}

/* the descriptors c-ares waits on, into pfd; how many */
static int channel_fds(ares_channel ch, struct pollfd *pfd) {
  ares_socket_t socks[ARES_GETSOCK_MAXNUM];
  int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM), i, n = 0;
  for (i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
    short ev = 0;
    /* c-ares' ARES_GETSOCK_WRITABLE shifts an int 1 into its sign bit
    ** for the 16th socket (undefined behaviour): test the bits here */
    if ((unsigned)bits & (1u << i)) ev |= POLLIN;
    if ((unsigned)bits & (1u << (i + ARES_GETSOCK_MAXNUM))) ev |= POLLOUT;
    if (ev == 0) continue;
    pfd[n].fd = socks[i];
    pfd[n].events = ev;
    pfd[n].revents = 0;
    n++;
  }
  return n;
}

/* how long c-ares may wait, at most `left` ms */
static int channel_ms(ares_channel ch, long long left) {
  struct timeval maxtv, tv, *tvp;
  maxtv.tv_sec = (time_t)(left / 1000);
  maxtv.tv_usec = (suseconds_t)(left % 1000 * 1000);
  tvp = ares_timeout(ch, &maxtv, &tv);
  return (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000);
}

/* poll's revents to c-ares; none: only its timers */
static void channel_process(ares_channel ch, const struct pollfd *pfd,
                            int nfds) {
  int i, any = 0;
  for (i = 0; i < nfds; i++) {
    short rev = pfd[i].revents;
    ares_socket_t rfd = (rev & (POLLIN | POLLERR | POLLHUP))
                        ? pfd[i].fd : ARES_SOCKET_BAD;
    ares_socket_t wfd = (rev & POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD;
    if (rfd != ARES_SOCKET_BAD || wfd != ARES_SOCKET_BAD) {
      ares_process_fd(ch, rfd, wfd);
      any = 1;
    }
  }
  if (!any) ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

/* c-ares' memory from ours (netbasics.h), once */
static int library_ready(void) {
  static int ready = 0;
  if (!ready) {
    int st = ares_library_init_mem(ARES_LIB_INIT_ALL, nb_malloc, free,
                                   nb_realloc);
    if (st != ARES_SUCCESS) return st;
    ready = 1;
  }
  return ARES_SUCCESS;
}

int nb_dns_pending(dns_run *r, struct pollfd *pfd, int *nfds, int *ms) {
  ares_channel ch = (ares_channel)r->ch;
  long long left;
  *nfds = 0;
  if (ch == NULL || r->outcome != RUN_DONE) return 0;
  if (all_done(r, r->from)) return 0;
  left = r->deadline - nb_now_ms();
  if (left <= 0) {
    r->outcome = RUN_TIMEOUT;
    return 0;
  }
  *nfds = channel_fds(ch, pfd);
  *ms = channel_ms(ch, left);
  return 1;
}

void nb_dns_process(dns_run *r, const struct pollfd *pfd, int nfds) {
  channel_process((ares_channel)r->ch, pfd, nfds);
}

/* the event loop: until every question is answered or the deadline */
static void wait_answers(dns_run *r) {
  for (;;) {
    struct pollfd pfd[ARES_GETSOCK_MAXNUM];
    int n, nfds, ms;
    if (!nb_dns_pending(r, pfd, &nfds, &ms))
      return;
    n = poll(pfd, (nfds_t)nfds, ms);
    if (n < 0) {
      if (errno == EINTR && *nb_interrupt_flag) {
        r->outcome = RUN_INTERRUPTED;
        return;
      }
      continue;              /* EINTR without Ctrl-C, or ENOMEM: retry */
    }
    nb_dns_process(r, pfd, n == 0 ? 0 : nfds);
  }
}

int nb_dns_start(dns_run *r, int from, void (*closed)(int fd)) {
  ares_channel ch;
  struct ares_options o;
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES
             | ARES_OPT_SOCK_STATE_CB;
  int i, st = library_ready();
  if (st != ARES_SUCCESS) {
    r->outcome = RUN_ESETUP;
    r->setup_status = st;
    r->ch = NULL;
    return -1;
  }
  memset(&o, 0, sizeof o);
  /* NOCHECKRESP: let SERVFAIL and REFUSED reach us, as nslookup shows */
  o.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
  o.timeout = r->timeout_ms;
  o.tries = r->tries;
  o.sock_state_cb = sock_state;
  o.sock_state_cb_data = r;
  r->closed = closed;
  if (r->family != 0) {     /* ours: do not take the system's servers */
    mask |= ARES_OPT_SERVERS;
    o.servers = NULL;
    o.nservers = 0;
  }
  r->outcome = RUN_DONE;
  r->from = from;
  r->ch = NULL;
  st = ares_init_options(&ch, &o, mask);
  if (st != ARES_SUCCESS) {
    r->outcome = RUN_ESETUP;
    r->setup_status = st;
    return -1;
  }
  st = pick_server(ch, r);
  for (i = from; st == ARES_SUCCESS && i < r->nq; i++) {
    unsigned char *qbuf = NULL;
    int qlen = 0;
    st = ares_create_query(r->q[i].name, 1, (int)r->q[i].qtype, query_id(), 1,
                           &qbuf, &qlen, 0);
    if (st == ARES_SUCCESS) {
      ares_send(ch, qbuf, qlen, on_answer, &r->q[i]);
      ares_free_string(qbuf);
    }
  }
  if (st != ARES_SUCCESS) {
    r->outcome = RUN_ESETUP;
    r->setup_status = st;
    ares_destroy(ch);
    return -1;
  }
  r->ch = ch;
  return 0;
}

void nb_dns_end(dns_run *r) {
  if (r->ch != NULL) {
    ares_channel ch = (ares_channel)r->ch;
    r->ch = NULL;
    ares_destroy(ch);       /* pending questions end as ARES_EDESTRUCTION */
  }
}

/*
** ** Asks r->q[from..nq) and waits, never past r->deadline (c-ares
** doubles the wait of each retry, so the deadline is ours). The channel
** lives only inside this function.
*/
void nb_dns_run(dns_run *r, int from) {
  if (nb_dns_start(r, from, NULL) != 0) return;
  wait_answers(r);
  nb_dns_end(r);
}

/* ---------------------------------------------------------------------
** A name's addresses, as getaddrinfo (dnsrun.h: dns_gai)
** ------------------------------------------------------------------ */

/*
** ** The order of the system's getaddrinfo (glibc's, with no gai.conf):
** RFC 3484's rules 1 (a destination we have a source address for), 2
** (source of the same scope), 5 (matching label), 6 (higher
** precedence), 8 (smaller scope), 9 (longest matching prefix, within a
** family) and 10 (the order found), with glibc's default tables. An IPv4
** address is ranked as its mapped form ::ffff:a.b.c.d. c-ares' own sort
** is RFC 6724's, which puts IPv4 above a unique local IPv6 address: so
** we ask for the answers unsorted and sort them here.
*/
typedef struct rank {
  unsigned char a[16];      /* the destination, IPv4 mapped */
  int v4, idx, have_src, prefix;
  unsigned char src[16];    /* its source, IPv4 mapped */
} rank;

static int in_prefix(const unsigned char *a, const unsigned char *p,
                     int bits) {
  int i;
  for (i = 0; i < bits; i++)
    if (((a[i / 8] ^ p[i / 8]) >> (7 - i % 8)) & 1) return 0;
  return 1;
}

static const unsigned char LOOP6[16] = { [15] = 1 };
static const unsigned char P2002[16] = { 0x20, 0x02 };
static const unsigned char ZERO[16] = { 0 };
static const unsigned char MAPPED[16] = { [10] = 0xff, [11] = 0xff };
static const unsigned char PFEC0[16] = { 0xfe, 0xc0 };
static const unsigned char PFC00[16] = { 0xfc };
static const unsigned char P2001[16] = { 0x20, 0x01 };

static int precedence(const unsigned char *a) {
  if (in_prefix(a, LOOP6, 128)) return 50;
  if (in_prefix(a, P2002, 16)) return 30;
  if (in_prefix(a, ZERO, 96)) return 20;
  if (in_prefix(a, MAPPED, 96)) return 10;
  return 40;
}

static int label(const unsigned char *a) {
  if (in_prefix(a, LOOP6, 128)) return 0;
  if (in_prefix(a, P2002, 16)) return 2;
  if (in_prefix(a, ZERO, 96)) return 3;
  if (in_prefix(a, MAPPED, 96)) return 4;
  if (in_prefix(a, PFEC0, 10)) return 5;
  if (in_prefix(a, PFC00, 7)) return 6;
  if (in_prefix(a, P2001, 32)) return 7;
  return 1;
}

static int scope(const unsigned char *a) {
  if (in_prefix(a, MAPPED, 96)) {  /* IPv4: link-local and loopback 2 */
    if ((a[12] == 169 && a[13] == 254) || a[12] == 127) return 2;
    return 14;
  }
  if (a[0] == 0xff) return a[1] & 0xf;  /* multicast */
  if ((a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || in_prefix(a, LOOP6, 128))
    return 2;
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) return 5;  /* site-local */
  return 14;
}

/* the highest bit set, 1 to 32; 0 for none */
static int fls32(unsigned x) {
  int n = 0;
  while (x != 0) {
    n++;
    x >>= 1;
  }
  return n;
}

static unsigned word(const unsigned char *a, int i) {
  return (unsigned)a[4 * i] << 24 | (unsigned)a[4 * i + 1] << 16
         | (unsigned)a[4 * i + 2] << 8 | a[4 * i + 3];
}

/* how many leading bits a destination shares with its source; for IPv4
** none outside the source's subnet */
static int common_bits(const rank *r) {
  int i, n = 0;
  if (r->v4) {
    unsigned d = word(r->a, 3), c = word(r->src, 3);
    unsigned m = r->prefix > 0 ? 0xffffffffu << (32 - r->prefix) : 0;
    return (d & m) == (c & m) ? 32 - fls32(d ^ c) : 0;
  }
  for (i = 0; i < 4 && word(r->a, i) == word(r->src, i); i++) n += 32;
  if (i < 4) n += 32 - fls32(word(r->a, i) ^ word(r->src, i));
  return n;
}

static int rank_cmp(const void *x, const void *y) {
  const rank *r1 = (const rank *)x, *r2 = (const rank *)y;
  int s1 = scope(r1->a), s2 = scope(r2->a), p1, p2;
  if (r1->have_src != r2->have_src) return r1->have_src ? -1 : 1;  /* 1 */
  if (r1->have_src) {
    int m1 = s1 == scope(r1->src), m2 = s2 == scope(r2->src);
    if (m1 != m2) return m1 ? -1 : 1;                                /* 2 */
    m1 = label(r1->a) == label(r1->src);
    m2 = label(r2->a) == label(r2->src);
    if (m1 != m2) return m1 ? -1 : 1;                                /* 5 */
  }
  p1 = precedence(r1->a);
  p2 = precedence(r2->a);
  if (p1 != p2) return p1 > p2 ? -1 : 1;                             /* 6 */
  if (s1 != s2) return s1 < s2 ? -1 : 1;                             /* 8 */
  if (r1->have_src && r1->v4 == r2->v4) {                            /* 9 */
    int b1 = common_bits(r1), b2 = common_bits(r2);
    if (b1 != b2) return b1 > b2 ? -1 : 1;
  }
  return r1->idx < r2->idx ? -1 : r1->idx > r2->idx;                 /* 10 */
}

/* the prefix length of the interface that has the IPv4 address a */
static int v4_prefix(struct ifaddrs *ifs, const unsigned char *a) {
  struct ifaddrs *i;
  for (i = ifs; i != NULL; i = i->ifa_next) {
    const struct sockaddr_in *sa = (const struct sockaddr_in *)(void *)
                                   i->ifa_addr;
    const struct sockaddr_in *nm = (const struct sockaddr_in *)(void *)
                                   i->ifa_netmask;
    if (sa == NULL || nm == NULL || sa->sin_family != AF_INET
        || memcmp(&sa->sin_addr, a, 4) != 0)
      continue;
    return __builtin_popcount(nm->sin_addr.s_addr);
  }
  return 0;
}

/* the source address the kernel would use for a, as glibc finds it: a
** UDP socket connected there (no packet is sent) */
static int source_of(int family, const unsigned char *a,
                     unsigned char *src) {
  struct sockaddr_storage ss, me;
  socklen_t len = sizeof me;
  int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_IP), ok = 0;
  if (fd < 0) return 0;
  memset(&ss, 0, sizeof ss);
  if (family == AF_INET) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(9);
    memcpy(&s4->sin_addr, a, 4);
  } else {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(9);
    memcpy(&s6->sin6_addr, a, 16);
  }
  if (connect(fd, (struct sockaddr *)&ss, family == AF_INET
              ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) == 0
      && getsockname(fd, (struct sockaddr *)&me, &len) == 0
      && me.ss_family == family) {
    if (family == AF_INET) {
      memcpy(src, MAPPED, 12);
      memcpy(src + 12, &((struct sockaddr_in *)(void *)&me)->sin_addr, 4);
    } else {
      memcpy(src, &((struct sockaddr_in6 *)(void *)&me)->sin6_addr, 16);
    }
    ok = 1;
  }
  close(fd);
  return ok;
}

static void system_order(dns_gai *g) {
  rank r[NB_GAI_MAX];
  struct ifaddrs *ifs = NULL;
  int i, have_ifs = 0;
  if (g->n < 2) return;
  for (i = 0; i < g->n; i++) {
    rank *k = &r[i];
    memset(k, 0, sizeof *k);
    k->idx = i;
    k->v4 = g->addr[i].family == AF_INET;
    if (k->v4) {
      memcpy(k->a, MAPPED, 12);
      memcpy(k->a + 12, g->addr[i].a, 4);
    } else {
      memcpy(k->a, g->addr[i].a, 16);
    }
    k->have_src = source_of(g->addr[i].family, g->addr[i].a, k->src);
    if (k->have_src && k->v4) {
      if (!have_ifs) have_ifs = getifaddrs(&ifs) == 0 ? 1 : -1;
      if (have_ifs > 0) k->prefix = v4_prefix(ifs, k->src + 12);
    }
  }
  if (have_ifs > 0) freeifaddrs(ifs);
  qsort(r, (size_t)g->n, sizeof r[0], rank_cmp);
  for (i = 0; i < g->n; i++) {
    g->addr[i].family = r[i].v4 ? AF_INET : AF_INET6;
    if (r[i].v4) {
      memset(g->addr[i].a, 0, 16);
      memcpy(g->addr[i].a, r[i].a + 12, 4);
    } else {
      memcpy(g->addr[i].a, r[i].a, 16);
    }
  }
}

/* the addresses of one answer, added to g's (no duplicates) */
static void collect(dns_gai *g, const struct ares_addrinfo *res) {
  struct ares_addrinfo_node *ai;
  for (ai = res ? res->nodes : NULL; ai && g->n < NB_GAI_MAX;
       ai = ai->ai_next) {
    unsigned char a[16];
    int k, dup = 0;
    if (ai->ai_family == AF_INET)
      memcpy(a, &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, 4);
    else if (ai->ai_family == AF_INET6)
      memcpy(a, &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr,
             16);
    else
      continue;
    for (k = 0; k < g->n && !dup; k++)
      dup = g->addr[k].family == ai->ai_family
            && memcmp(g->addr[k].a, a, ai->ai_family == AF_INET ? 4 : 16)
               == 0;
    if (dup) continue;
    g->addr[g->n].family = ai->ai_family;
    memcpy(g->addr[g->n].a, a, 16);
    g->n++;
  }
}

/* the walk's names: as given (first, or last), each with a suffix */
enum { GAI_AS_IS_FIRST, GAI_SUFFIX, GAI_AS_IS_LAST };

static void add_name(dns_gai *g, const char *name, const char *suffix,
                     int role) {
  size_t n = strlen(name), m = suffix == NULL ? 0 : strlen(suffix) + 1;
  char *to = g->names[g->nnames];
  if (g->nnames >= NB_GAI_NAMES || n + m >= 256)
    return;  /* too long to ask: not a name */
  memmove(to, name, n);
  if (suffix != NULL) {
    to[n] = '.';
    memmove(to + n + 1, suffix, m - 1);
  }
  to[n + m] = '\0';
  g->role[g->nnames++] = (unsigned char)role;
}

/*
** ** The names to ask, as glibc's res_search: the name as given first
** when it has at least ndots dots (or ends in one); then, unless it ends
** in a dot, the name with each suffix of the search list; then the name
** as given if not asked yet and no suffix was the root.
*/
static void plan_walk(dns_gai *g, char **domains, int ndomains, int ndots) {
  const char *name = g->name;
  size_t len = strlen(name), i;
  int dots = 0, trailing = len > 0 && name[len - 1] == '.', as_is = 0,
      root = 0, k;
  for (i = 0; i < len; i++) dots += name[i] == '.';
  g->nnames = 0;
  if (dots >= ndots || trailing) {
    add_name(g, name, NULL, GAI_AS_IS_FIRST);
    as_is = 1;
  }
  if (!trailing)
    for (k = 0; k < ndomains; k++) {
      const char *d = domains[k];
      if (d[0] == '.') d++;
      if (d[0] == '\0') {
        root = 1;
        add_name(g, name, "", GAI_SUFFIX);  /* "name." */
      } else {
        add_name(g, name, d, GAI_SUFFIX);
      }
    }
  if (!as_is && !root) add_name(g, name, NULL, GAI_AS_IS_LAST);
}

static void on_step(void *arg, int status, int timeouts,
                    struct ares_addrinfo *res);

static void ask_step(dns_gai *g) {
  struct ares_addrinfo_hints hints;
  g->rcode = -1;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = g->family;
  hints.ai_socktype = SOCK_STREAM;  /* each address once */
  hints.ai_flags = ARES_AI_NOSORT;  /* system_order sorts */
  ares_getaddrinfo((ares_channel)g->ch, g->names[g->step], NULL, &hints,
                   on_step, g);
}

static void walk_over(dns_gai *g, int status) {
  g->done = 1;
  g->status = status;
  if (status == ARES_SUCCESS) system_order(g);
}

/*
** ** One name's answer (also from ares_destroy): no Lua. As glibc's
** res_search: addresses end the walk; after a suffix's NXDOMAIN, NODATA
** or SERVFAIL the next suffix is asked; after anything else (REFUSED, no
** answer) the suffixes stop, but the name as given is still asked last.
** (glibc ends it all when no server can be reached; here that goes on
** as REFUSED does: the name as given then fails the same way.) When no
** name has an
** address: the answer of the name as given if it was asked first, else
** NODATA if a name had one, else SERVFAIL if one had one, else the last
** answer.
*/
static void on_step(void *arg, int status, int timeouts,
                    struct ares_addrinfo *res) {
  dns_gai *g = (dns_gai *)arg;
  int role;
  (void)timeouts;
  if (g->done) {
    if (res != NULL) ares_freeaddrinfo(res);
    return;
  }
  if (status == ARES_SUCCESS) collect(g, res);
  if (res != NULL) ares_freeaddrinfo(res);
  if (g->n > 0) {
    walk_over(g, ARES_SUCCESS);
    return;
  }
  if (status == ARES_SUCCESS) status = ARES_ENODATA;
  if (status == ARES_ECONNREFUSED && g->rcode == 2) status = ARES_ESERVFAIL;
  if (status == ARES_ECONNREFUSED && g->rcode == 5) status = ARES_EREFUSED;
  if (status == ARES_EDESTRUCTION || status == ARES_ENOMEM) {
    walk_over(g, status);
    return;
  }
  role = g->role[g->step];
  g->last = status;
  if (role == GAI_AS_IS_FIRST) {
    g->saved = status;
  } else if (role == GAI_SUFFIX) {
    if (status == ARES_ENODATA) g->got_nodata = 1;
    else if (status == ARES_ESERVFAIL) g->got_servfail = 1;
    else if (status != ARES_ENOTFOUND)  /* the suffixes stop here */
      while (g->step + 1 < g->nnames && g->role[g->step + 1] == GAI_SUFFIX)
        g->step++;
  }
  if (++g->step < g->nnames) {
    ask_step(g);
    return;
  }
  if (g->saved >= 0) status = g->saved;
  else if (g->got_nodata) status = ARES_ENODATA;
  else if (g->got_servfail) status = ARES_ESERVFAIL;
  else status = g->last;
  walk_over(g, status);
}

/* the hosts file's answer, given at once */
static void on_file(void *arg, int status, int timeouts,
                    struct ares_addrinfo *res) {
  dns_gai *g = (dns_gai *)arg;
  (void)timeouts;
  if (status == ARES_SUCCESS) collect(g, res);
  else g->status = status;
  if (res != NULL) ares_freeaddrinfo(res);
}

static void gai_sock_state(void *data, ares_socket_t fd, int readable,
                           int writable) {
  dns_gai *g = (dns_gai *)data;
  if (!readable && !writable && g->closed != NULL) g->closed((int)fd);
}

/*
** ** resolv.conf's "options timeout:N attempts:N", which c-ares 1.18 does
** not read (it knows only BSD's retrans: and retry:), with glibc's
** defaults (5 s, 2) and caps (30 s, 5): so a lookup in a task waits as
** long as the system's would.
*/
static void system_limits(int *timeout_ms, int *tries) {
  char line[512];
  int timeout = 5, attempts = 2;
  FILE *f = fopen("/etc/resolv.conf", "re");
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    char *p = line, *tok, *save = NULL;
    if (strncmp(p, "options", 7) != 0 || (p[7] != ' ' && p[7] != '\t'))
      continue;
    for (tok = strtok_r(p + 7, " \t\r\n", &save); tok != NULL;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
      if (strncmp(tok, "timeout:", 8) == 0)
        timeout = atoi(tok + 8);
      else if (strncmp(tok, "attempts:", 9) == 0)
        attempts = atoi(tok + 9);
    }
  }
  if (f != NULL) fclose(f);
  if (timeout < 1) timeout = 1;
  if (timeout > 30) timeout = 30;
  if (attempts < 1) attempts = 1;
  if (attempts > 5) attempts = 5;
  *timeout_ms = timeout * 1000;
  *tries = attempts;
}

/*
** ** c-ares 1.18 ends a lookup whose server answered SERVFAIL or REFUSED
** with ARES_ECONNREFUSED, as when nothing answered at all; glibc's walk
** goes on after a SERVFAIL, not after a REFUSED. So the channel's
** sockets are ours, and an answer's rcode is seen as it arrives.
*/
/* c-ares 1.18 leaves a socket of ours as it is made: non-blocking here */
static ares_socket_t gai_socket(int domain, int type, int proto, void *u) {
  (void)u;
  return socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
}

static int gai_close(ares_socket_t fd, void *u) {
  (void)u;
  return close(fd);
}

static int gai_connect(ares_socket_t fd, const struct sockaddr *a,
                       ares_socklen_t len, void *u) {
  (void)u;
  return connect(fd, a, len);
}

static ares_ssize_t gai_recvfrom(ares_socket_t fd, void *buf, size_t len,
                                 int flags, struct sockaddr *from,
                                 ares_socklen_t *fromlen, void *u) {
  ssize_t n = from != NULL ? recvfrom(fd, buf, len, flags, from, fromlen)
                           : recv(fd, buf, len, flags);
  if (n >= 4 && from != NULL)  /* a whole answer (UDP): its rcode */
    ((dns_gai *)u)->rcode = ((unsigned char *)buf)[3] & 0xf;
  return n;
}

static ares_ssize_t gai_sendv(ares_socket_t fd, const struct iovec *v,
                              int n, void *u) {
  (void)u;
  return writev(fd, v, n);
}

static const struct ares_socket_functions GAI_SOCKETS = {
  gai_socket, gai_close, gai_connect, gai_recvfrom, gai_sendv
};

/* a channel of the system's resolv.conf, looking up only in `lookups` */
static int open_channel(ares_channel *ch, dns_gai *g, const char *lookups,
                        int nodomains) {
  struct ares_options o;
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES
             | ARES_OPT_LOOKUPS;
  memset(&o, 0, sizeof o);
  o.sock_state_cb = gai_sock_state;
  o.sock_state_cb_data = g;
  o.lookups = (char *)(uintptr_t)lookups;
  system_limits(&o.timeout, &o.tries);
  if (nodomains) {  /* the walk is ours: c-ares asks each name as is */
    mask |= ARES_OPT_DOMAINS;
    o.domains = NULL;
    o.ndomains = 0;
  }
  return ares_init_options(ch, &o, mask);
}

/*
** ** The hosts file first (c-ares answers it at once), then, if the name
** is not there, the walk of the search list: resolv.conf's search list
** and ndots as c-ares reads them, and a channel of our own that asks
** each name as it is, with DNS only.
*/
int nb_gai_start(dns_gai *g, void (*closed)(int fd)) {
  ares_channel ch;
  struct ares_addrinfo_hints hints;
  struct ares_options o;
  int st = library_ready(), mask = 0;
  g->ch = NULL;
  g->done = 0;
  g->n = 0;
  g->status = ARES_SUCCESS;
  g->nnames = g->step = 0;
  g->saved = -1;
  g->got_nodata = g->got_servfail = 0;
  g->last = ARES_ENOTFOUND;
  g->closed = closed;
  if (st != ARES_SUCCESS) {
    g->status = st;
    return -1;
  }
  st = open_channel(&ch, g, "f", 0);
  if (st != ARES_SUCCESS) {
    g->status = st;
    return -1;
  }
  memset(&hints, 0, sizeof hints);
  hints.ai_family = g->family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = ARES_AI_NOSORT;
  /* not there: c-ares 1.18 says ARES_ENOTFOUND, or ARES_ECONNREFUSED
  ** (no lookup left); only a lack of memory is a failure */
  ares_getaddrinfo(ch, g->name, NULL, &hints, on_file, g);
  if (g->n > 0 || g->status == ARES_ENOMEM) {
    ares_destroy(ch);
    walk_over(g, g->n > 0 ? ARES_SUCCESS : g->status);
    return g->n > 0 ? 0 : -1;
  }
  memset(&o, 0, sizeof o);
  st = ares_save_options(ch, &o, &mask);
  if (st == ARES_SUCCESS) {
    plan_walk(g, o.domains, (mask & ARES_OPT_DOMAINS) ? o.ndomains : 0,
              (mask & ARES_OPT_NDOTS) ? o.ndots : 1);
    ares_destroy_options(&o);
  }
  ares_destroy(ch);
  if (st != ARES_SUCCESS) {
    g->status = st;
    return -1;
  }
  if (g->nnames == 0) {  /* every form too long to ask */
    walk_over(g, ARES_EBADNAME);
    return 0;
  }
  g->status = ARES_SUCCESS;
  st = open_channel(&ch, g, "b", 1);
  if (st != ARES_SUCCESS) {
    g->status = st;
    return -1;
  }
  ares_set_socket_functions(ch, &GAI_SOCKETS, g);
  g->ch = ch;
  ask_step(g);
  return 0;
}

int nb_gai_pending(dns_gai *g, struct pollfd *pfd, int *nfds, int *ms) {
  ares_channel ch = (ares_channel)g->ch;
  long long left = 3600 * 1000;
  *nfds = 0;
  if (ch == NULL || g->done) return 0;
  if (g->deadline >= 0) {
    left = g->deadline - nb_now_ms();
    if (left <= 0) {
      g->done = 1;
      g->status = ARES_ETIMEOUT;
      return 0;
    }
  }
  *nfds = channel_fds(ch, pfd);
  *ms = channel_ms(ch, left);
  return 1;
}

void nb_gai_process(dns_gai *g, const struct pollfd *pfd, int nfds) {
  channel_process((ares_channel)g->ch, pfd, nfds);
}

void nb_gai_end(dns_gai *g) {
  if (g->ch != NULL) {
    ares_channel ch = (ares_channel)g->ch;
    g->ch = NULL;
    ares_destroy(ch);  /* a question still out ends as ARES_EDESTRUCTION */
  }
}
