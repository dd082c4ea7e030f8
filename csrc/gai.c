/*
** gai.c: names in tasks. The system's getaddrinfo has no descriptor to
** wait on: in a task it would stop every task while one waits for a slow
** DNS server. So net.getaddrinfo (and with it net.connect and
** net.listen) and net.resolve, called in a task, ask c-ares'
** ares_getaddrinfo instead (dnsrun.c's dns_gai: the hosts file, then DNS
** as resolv.conf says, its search list walked by glibc's rules, one name
** at a time), and the task waits on the loop for its sockets
** and timers while the others run. The results have the form and order
** of the system's; a failure has its code and words. Outside tasks the
** system's getaddrinfo answers, as before; given a timeout it runs in a
** thread of its own and is given up at the deadline (the end of this
** file).
*/
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ares.h>

#include "socket.h"
#include "dnsrun.h"

#define NB_GAI_T "netbasics.gai"

enum { GAI_ADDRS, GAI_HOSTS };  /* net.getaddrinfo's form, net.resolve's */

typedef struct gai_box {
  dns_gai g;
  int mode;
  unsigned port;
  int cut;           /* net.deadline or the call's timeout passed */
  int werr;          /* the loop could not take the wait: its errno */
} gai_box;

static int gai_gc(lua_State *L) {
  nb_gai_end((dns_gai *)lua_touserdata(L, 1));  /* a task cancelled */
  return 0;
}

int nb_gai_wanted(lua_State *L) {
  return nb_task_of(L) != NULL && lua_isyieldable(L);
}

/* c-ares' status as the system's getaddrinfo would say it */
static int eai_of(int status) {
  switch (status) {
    case ARES_ENOTFOUND: case ARES_EBADNAME: return EAI_NONAME;
#ifdef EAI_NODATA
    case ARES_ENODATA: return EAI_NODATA;
#else
    case ARES_ENODATA: return EAI_NONAME;
#endif
    case ARES_ETIMEOUT: case ARES_ESERVFAIL: case ARES_ECONNREFUSED:
    case ARES_EREFUSED: return EAI_AGAIN;
    case ARES_ENOMEM: return EAI_MEMORY;
    default: return EAI_FAIL;
  }
}

static int finish(lua_State *L, gai_box *b) {
  dns_gai *g = &b->g;
  int i;
  if (g->status == ARES_ETIMEOUT && g->deadline >= 0
      && nb_now_ms() >= g->deadline)
    b->cut = 1;  /* the call's timeout, not the DNS servers' */
  if (b->werr != 0) {
    char text[128];
    nb_errtext(b->werr, text, sizeof text);
    return nb_fail(L, nb_errcode(b->werr), "%s%s: %s",
                   b->mode == GAI_HOSTS ? "resolve " : "", g->name, text);
  }
  if (g->status != ARES_SUCCESS) {
    int eai = eai_of(g->status);
    if (eai == EAI_MEMORY) return luaL_error(L, "not enough memory");
    if (b->mode == GAI_HOSTS) {
      if (b->cut)
        return nb_fail(L, "timeout", "resolve %s: timed out", g->name);
      return nb_resolve_fail(L, eai, g->name);
    } else {
      const char *code, *msg = nb_gaierr(eai, &code);
      if (b->cut) {
        code = "timeout";
        msg = "timed out";
      }
      return nb_fail(L, code, "%s: %s", g->name, msg);
    }
  }
  lua_createtable(L, g->n, 0);
  for (i = 0; i < g->n; i++) {
    char buf[NB_IPV6_STRLEN];
    int v6 = g->addr[i].family == AF_INET6;
    size_t len = v6 ? nb_format_ipv6(g->addr[i].a, buf)
                    : nb_format_ipv4(g->addr[i].a, buf);
    if (b->mode == GAI_HOSTS) {
      lua_pushlstring(L, buf, len);
    } else {
      lua_createtable(L, 0, 3);
      lua_pushstring(L, v6 ? "inet6" : "inet");
      lua_setfield(L, -2, "family");
      lua_pushlstring(L, buf, len);
      lua_setfield(L, -2, "host");
      lua_pushinteger(L, (lua_Integer)b->port);
      lua_setfield(L, -2, "port");
    }
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int gai_k(lua_State *L, int status, lua_KContext ctx);

/*
** ** Until the lookup of the box at stack index bi is over: a look
** without waiting first (the loop is edge-triggered and c-ares may leave
** bytes unread), then the task waits on the loop and gai_k goes on.
*/
static int drive(lua_State *L, int bi) {
  gai_box *b = (gai_box *)lua_touserdata(L, bi);
  nb_task *t = nb_task_of(L);
  for (;;) {
    struct pollfd pfd[NB_DNS_MAXFD];
    int nfds, ms, n, r;
    if (!nb_gai_pending(&b->g, pfd, &nfds, &ms)) break;
    n = nfds > 0 ? poll(pfd, (nfds_t)nfds, 0) : 0;
    if (n > 0 || ms <= 0) {
      nb_gai_process(&b->g, pfd, n > 0 ? nfds : 0);
      continue;
    }
    r = nb_task_park(L, t, pfd, nfds, nb_now() + ms / 1000.0,
                     (lua_KContext)bi, gai_k);
    if (r != 0) {  /* the loop cannot take the wait: fail, never block */
      b->werr = r;
      break;
    }
    n = poll(pfd, (nfds_t)nfds, ms);  /* it cannot yield after all */
    if (n < 0 && errno == EINTR) nb_checkinterrupt(L);
    nb_gai_process(&b->g, pfd, n > 0 ? nfds : 0);
  }
  nb_gai_end(&b->g);
  return finish(L, b);
}

static int gai_k(lua_State *L, int status, lua_KContext ctx) {
  gai_box *b = (gai_box *)lua_touserdata(L, (int)ctx);
  (void)status;
  if (nb_task_timedout(nb_task_of(L))) {  /* net.deadline passed */
    nb_gai_end(&b->g);
    b->g.done = 1;
    b->g.status = ARES_ETIMEOUT;
    b->cut = 1;
  }
  return drive(L, (int)ctx);
}

static int start(lua_State *L, const char *name, int mode, unsigned port,
                 double timeout) {
  gai_box *b = (gai_box *)lua_newuserdatauv(L, sizeof *b, 0);
  int bi = lua_gettop(L);
  memset(b, 0, sizeof *b);
  if (luaL_newmetatable(L, NB_GAI_T)) {
    lua_pushcfunction(L, gai_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  b->mode = mode;
  b->port = port;
  snprintf(b->g.name, sizeof b->g.name, "%s", name);
  b->g.deadline = timeout >= 0 ? nb_now_ms() + (long long)(timeout * 1000)
                               : -1;
  if (nb_gai_start(&b->g, nb_loop_closed) != 0) {
    b->g.done = 1;
    return finish(L, b);
  }
  return drive(L, bi);
}

/* net.getaddrinfo(name, port, type, passive, timeout) in a task: every
** type and both families, as the system's list (type and passive change
** nothing for a name) */
int nb_gai_addrs(lua_State *L, int type, int passive, double timeout) {
  unsigned port;
  int r = nb_getport(L, 2, &port);
  (void)type;
  (void)passive;
  if (r != 0) return r;
  return start(L, lua_tostring(L, 1), GAI_ADDRS, port, timeout);
}

/* net.resolve(name) in a task */
int nb_gai_hosts(lua_State *L, const char *name, double timeout) {
  return start(L, name, GAI_HOSTS, 0, timeout);
}

/* ---------------------------------------------------------------------
** Outside tasks: the system's getaddrinfo within a timeout
** ------------------------------------------------------------------ */

/*
** ** The lookup runs in a thread of its own, which writes one byte to a
** pipe when it is done; we wait for that byte in poll() at most until
** the deadline (a Ctrl-C interrupts poll too). Done in time: we join the
** thread and take its result. Not done: we leave it running, detached;
** whichever of the two lets go of the request last frees it (a count of
** two holders, changed atomically), so a lookup given up costs nothing
** once the resolver returns.
*/
typedef struct sys_req {
  int holders;               /* 2, then 1, then freed */
  int pipe[2];
  char name[256];
  struct addrinfo hints, *res;
  int r;
} sys_req;

static void req_drop(sys_req *q) {
  if (__atomic_sub_fetch(&q->holders, 1, __ATOMIC_ACQ_REL) == 0) {
    if (q->res != NULL) freeaddrinfo(q->res);
    close(q->pipe[0]);
    close(q->pipe[1]);
    free(q);
  }
}

static void *lookup_thread(void *arg) {
  sys_req *q = (sys_req *)arg;
  char one = 1;
  q->r = getaddrinfo(q->name, NULL, &q->hints, &q->res);
  while (write(q->pipe[1], &one, 1) < 0 && errno == EINTR)
    ;
  req_drop(q);
  return NULL;
}

int nb_sys_getaddrinfo(lua_State *L, const char *host,
                       const struct addrinfo *hints, struct addrinfo **res,
                       double timeout) {
  sys_req *q;
  pthread_t th;
  sigset_t all, old;
  double deadline;
  int r;
  if (timeout < 0) return getaddrinfo(host, NULL, hints, res);
  q = (sys_req *)nb_malloc(sizeof *q);
  if (q == NULL) return EAI_MEMORY;
  memset(q, 0, sizeof *q);
  q->holders = 2;
  snprintf(q->name, sizeof q->name, "%s", host);
  q->hints = *hints;
  if (pipe2(q->pipe, O_CLOEXEC) != 0) {
    free(q);
    return EAI_SYSTEM;
  }
  /* the thread takes no signal: Ctrl-C stays the main thread's */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  r = pthread_create(&th, NULL, lookup_thread, q);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r != 0) {
    close(q->pipe[0]);
    close(q->pipe[1]);
    free(q);
    return EAI_AGAIN;
  }
  deadline = nb_now() + timeout;
  for (;;) {
    struct pollfd p;
    double left = deadline - nb_now();
    p.fd = q->pipe[0];
    p.events = POLLIN;
    p.revents = 0;
    r = left > 0 ? poll(&p, 1, (int)(left * 1000 + 0.999)) : 0;
    if (r > 0) {  /* done: its result is ours */
      pthread_join(th, NULL);
      r = q->r;
      *res = q->res;
      q->res = NULL;
      req_drop(q);
      return r;
    }
    if (r == 0 && nb_now() < deadline) continue;
    if (r < 0 && errno == EINTR && !*nb_interrupt_flag) continue;
    /* the time is up, or Ctrl-C: let the thread finish alone */
    pthread_detach(th);
    req_drop(q);
    nb_checkinterrupt(L);  /* raises after Ctrl-C */
    return NB_EAI_TIMEDOUT;
  }
}
