/*
** gai.c: names in tasks. The system's getaddrinfo has no descriptor to
** wait on: in a task it would stop every task while one waits for a slow
** DNS server. So net.getaddrinfo (and with it net.connect and
** net.listen) and net.resolve, called in a task, ask c-ares'
** ares_getaddrinfo instead (dnsrun.c's dns_gai: the hosts file, then DNS
** as resolv.conf says), and the task waits on the loop for its sockets
** and timers while the others run. The results have the form and order
** of the system's; a failure has its code and words. Outside tasks
** nothing changes.
*/
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

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
      b->g.done = 1;
      b->g.status = ARES_ENOMEM;
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
** ** glibc's getaddrinfo_a runs the lookup in a thread of its own; we
** wait for it with gai_suspend at most until the deadline. A lookup
** given up and not cancellable (it is inside the resolver) keeps its
** request: it goes on a list and is freed on a later call once glibc is
** done with it (never more than NB_GAI_ABANDONED at once; past that we
** wait for the oldest).
*/
#define NB_GAI_ABANDONED 16

typedef struct sys_req {
  struct gaicb cb;
  struct addrinfo hints;
  char name[256];
} sys_req;

static sys_req *abandoned[NB_GAI_ABANDONED];

static void reap(void) {
  int i;
  for (i = 0; i < NB_GAI_ABANDONED; i++) {
    if (abandoned[i] != NULL && gai_error(&abandoned[i]->cb) != EAI_INPROGRESS) {
      if (abandoned[i]->cb.ar_result != NULL)
        freeaddrinfo(abandoned[i]->cb.ar_result);
      free(abandoned[i]);
      abandoned[i] = NULL;
    }
  }
}

static int abandon(sys_req *q) {
  int i;
  for (i = 0; i < NB_GAI_ABANDONED; i++)
    if (abandoned[i] == NULL) {
      abandoned[i] = q;
      return 1;
    }
  return 0;
}

int nb_sys_getaddrinfo(lua_State *L, const char *host,
                       const struct addrinfo *hints, struct addrinfo **res,
                       double timeout) {
  sys_req *q;
  struct gaicb *list[1];
  double deadline;
  int r;
  if (timeout < 0) return getaddrinfo(host, NULL, hints, res);
  reap();
  q = (sys_req *)nb_malloc(sizeof *q);
  if (q == NULL) return EAI_MEMORY;
  memset(q, 0, sizeof *q);
  snprintf(q->name, sizeof q->name, "%s", host);
  q->hints = *hints;
  q->cb.ar_name = q->name;
  q->cb.ar_request = &q->hints;
  list[0] = &q->cb;
  if ((r = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL)) != 0) {
    free(q);
    return r;
  }
  deadline = nb_now() + timeout;
  for (;;) {
    double left = deadline - nb_now();
    struct timespec ts;
    const struct gaicb *wait[1];
    if ((r = gai_error(&q->cb)) != EAI_INPROGRESS) break;
    if (left <= 0 || *nb_interrupt_flag) {
      r = *nb_interrupt_flag ? EAI_INTR : NB_EAI_TIMEDOUT;
      if (gai_cancel(&q->cb) == EAI_CANCELED || gai_error(&q->cb)
          != EAI_INPROGRESS) {
        if (q->cb.ar_result != NULL) freeaddrinfo(q->cb.ar_result);
        free(q);
      } else if (!abandon(q)) {
        /* too many lookups still running: wait for this one */
        while (gai_error(&q->cb) == EAI_INPROGRESS) {
          wait[0] = &q->cb;
          gai_suspend(wait, 1, NULL);
        }
        if (q->cb.ar_result != NULL) freeaddrinfo(q->cb.ar_result);
        free(q);
      }
      if (r == EAI_INTR) nb_checkinterrupt(L);  /* raises */
      return r;
    }
    ts.tv_sec = (time_t)left;
    ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
    wait[0] = &q->cb;
    gai_suspend(wait, 1, &ts);
  }
  *res = q->cb.ar_result;  /* the caller frees it */
  free(q);
  return r;
}
