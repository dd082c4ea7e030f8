/*
** socket.c: the socket family of netbasics.core (see API.md and
** docs/api/socket.md). Mechanism only: one socket, one address at a time;
** trying each address of a name, net.listen, net.connect and net.netcat
** are policy, written in lua/netbasics/socket.lua.
**
** Waiting. A socket with no timeout (the default) is a blocking
** descriptor: the kernel waits, exactly as a plain C program would. A
** socket with a timeout is non-blocking and waits in poll() until a
** deadline; settimeout(0) never waits: a call that would block returns
** nil, msg, "timeout" and keeps whatever it already read, so the caller
** (a scheduler) can wait for readiness and call again. EINTR is retried
** after nb_checkinterrupt(), which raises if the host got Ctrl-C.
**
** Reading. recv and recvline share one read buffer per socket. It holds
** only bytes read past the end of a line, is allocated when recvline
** needs it and freed as soon as it is empty, so an idle socket holds no
** buffer. recv with an empty buffer reads into a scratch area shared by
** the module (one per Lua state) and pushes the Lua string from there:
** one copy, no allocation per call.
*/
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "socket.h"

/* ---------------------------------------------------------------------
** The socket userdata
** ------------------------------------------------------------------ */

/*
** Our socket userdata carry the address of nb_sock_tag and have exactly the
** size of an nb_sock: checking that is much cheaper than
** luaL_checkudata's lookup of the metatable by name in the registry (or
** a compare with it), and it runs twice per line in a talk loop. Only
** this file makes such a userdata; anything else takes the general way,
** for its error message.
*/
const char nb_sock_tag = 0;

nb_sock *nb_testsock(lua_State *L, int i) {
  nb_sock *s = (nb_sock *)lua_touserdata(L, i);
  /* the size first: a smaller userdata (or a light one, size 0) has no
  ** tag to read */
  if (s != NULL && lua_rawlen(L, i) == sizeof *s && s->tag == &nb_sock_tag)
    return s;
  return NULL;
}

nb_sock *nb_tosock(lua_State *L, int i) {
  nb_sock *s = nb_testsock(L, i);
  return s != NULL ? s : (nb_sock *)luaL_checkudata(L, i, NB_SOCKET_T);
}

nb_sock *nb_checkopen_slow(lua_State *L, int i) {
  return nb_useopen(L, nb_tosock(L, i));
}

nb_sock *nb_useopen(lua_State *L, nb_sock *s) {
  if (s->fd < 0)
    luaL_error(L, "attempt to use a closed socket");
  if (!s->tasked && nb_task_of(L) != NULL) {
    /* in a task a call waits on the loop, never in the kernel */
    if (s->timeout < 0) nb_setblocking(s->fd, 0);
    s->tasked = 1;
  }
  return s;
}

/* cancelling the task that holds a socket (loop.h) closes it as
** s:close() would */
static void sock_res_close(lua_State *L, nb_res *r) {
  (void)r;
  lua_getfield(L, -1, "close");
  lua_pushvalue(L, -2);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) lua_pop(L, 1);
}

/* what the loop knows of a socket: its two functions */
static const nb_res_ops sock_res = {nb_sock_settle, sock_res_close};

/* a new socket userdata, created closed (fd -1) */
nb_sock *nb_newsock(lua_State *L, int family, int type) {
  nb_sock *s = (nb_sock *)lua_newuserdatauv(L, sizeof(nb_sock), 0);
  memset(s, 0, sizeof *s);
  nb_res_init(&s->res, &sock_res);
  s->tag = &nb_sock_tag;
  s->fd = -1;
  s->family = family;
  s->type = type;
  s->timeout = -1;
  luaL_setmetatable(L, NB_SOCKET_T);
  return s;
}

/*
** ** Answers a task held back (sockio.c) that the kernel could not take
** at once when the socket is released outside that task (its task ended
** without closing it, or the collector took it): wait for the kernel
** here, blocking, rather than drop them. Bounded by the socket's timeout,
** or NB_LINGER_MAX seconds without one; only a peer that stopped reading
** makes this wait at all.
*/
#define NB_LINGER_MAX 10.0

/* when releasing s stops waiting for the kernel */
static double linger_deadline(const nb_sock *s) {
  double limit = s->timeout >= 0 && s->timeout < NB_LINGER_MAX
                 ? s->timeout : NB_LINGER_MAX;
  return nb_now() + limit;
}

/* wait, blocking, until s's descriptor is ready for `events`: 0, or -1
** once the deadline passed or poll() failed */
static int linger_wait(const nb_sock *s, short events, double deadline) {
  struct pollfd p;
  double left = deadline - nb_now();
  if (left <= 0) return -1;
  p.fd = s->fd;
  p.events = events;
  p.revents = 0;
  if (poll(&p, 1, (int)(left * 1000) + 1) < 0 && errno != EINTR) return -1;
  return 0;
}

static void flush_linger(nb_sock *s) {
  double deadline = linger_deadline(s);
  short want;
  while (nb_flush_now(s, &want) == EAGAIN
         && linger_wait(s, want, deadline) == 0)
    ;
}

/* a layer ends its stream (within the same bound), then goes: the
** descriptor is plain again */
static void layer_release(nb_sock *s) {
  double deadline = linger_deadline(s);
  for (;;) {
    int e = 0;
    short want = POLLIN;
    if (s->lops->shutdown(s, &e, &want) == 0) break;
    if (e == EINTR) continue;
    if (e != EAGAIN || linger_wait(s, want, deadline) != 0) break;
  }
  s->lops->release(s);
  s->lops = NULL;
  s->layer = NULL;
}

/*
** ** Input the program never read, still in the kernel at close, makes
** Linux answer with a reset instead of an orderly end, and a reset throws
** away what the peer had not read yet of our answers. Take that input
** first (what is already there, never waiting; at most NB_DISCARD_MAX
** bytes) so the peer gets all that was written and then end of file, as
** nginx's lingering close does. Input arriving after the close still
** gets a reset: that is TCP.
*/
#define NB_DISCARD_MAX (4u << 20)

static void discard_input(nb_sock *s) {
  char sink[8192];
  size_t total = 0;
  while (total < NB_DISCARD_MAX) {
    ssize_t r = recv(s->fd, sink, sizeof sink, MSG_DONTWAIT);
    if (r > 0) total += (size_t)r;
    else if (r < 0 && errno == EINTR) continue;
    else break;  /* end of file, nothing more now, or not connected */
  }
}

/* the one release function: close(), __gc and __close */
void nb_sock_release(nb_sock *s) {
  if (s->fd >= 0 && s->wlen > s->wpos)
    flush_linger(s);  /* held output goes before the descriptor */
  nb_wbuf_free(s);
  nb_res_drop(&s->res);  /* no task settles it any more */
  if (s->lops != NULL) layer_release(s);
  if (s->fd >= 0 && s->type == SOCK_STREAM) discard_input(s);
  if (s->fd >= 0) {
    nb_loop_forget(s->fd);  /* wakes a task waiting on it */
    close(s->fd);  /* no retry on EINTR: Linux has closed it anyway */
    s->fd = -1;
  }
  nb_unix_release(s);  /* a Unix socket's file goes with it */
  nb_rbuf_free(s);
}

/* ---------------------------------------------------------------------
** Module functions
** ------------------------------------------------------------------ */

/* net.socket([family [, type]]): family "inet", "inet6" or "unix" */
static int net_socket(lua_State *L) {
  int family = nb_checkfamily(L, 1, AF_INET);
  int type = nb_checktype(L, 2, SOCK_STREAM);
  nb_sock *s = nb_newsock(L, family, type);
  int intask = nb_task_of(L) != NULL;
  int fd = socket(family, type | SOCK_CLOEXEC | (intask ? SOCK_NONBLOCK : 0),
                  0);
  if (fd < 0) {
    int e = errno;
    char text[128];
    nb_errtext(e, text, sizeof text);
    return nb_fail(L, nb_errcode(e), "socket: %s", text);
  }
  s->fd = fd;
  s->tasked = intask;
  nb_task_hold(L, -1);
  return 1;
}

/*
** ** net.getaddrinfo(host, port [, type [, passive [, timeout]]]): the
** addresses a socket can use, as a list of {family=, host=, port=}: the
** mechanism under net.connect and net.listen (which try them in turn).
** In a task a name is asked of c-ares on the loop (gai.c), within
** `timeout` seconds.
*/
static int net_getaddrinfo(lua_State *L) {
  int type = nb_checktype(L, 3, SOCK_STREAM);
  int passive = lua_toboolean(L, 4);
  double timeout = luaL_optnumber(L, 5, -1);
  nb_addr *list;
  int n, i, r;
  size_t hl;
  const char *host = luaL_checklstring(L, 1, &hl);
  luaL_argcheck(L, timeout == timeout, 5, "not a number");
  if (timeout > 1e9) timeout = 1e9;  /* as good as none, and no overflow */
  if (nb_gai_wanted(L) && nb_isname(host, hl))
    return nb_gai_addrs(L, type, passive, timeout < 0 ? -1 : timeout);
  r = nb_getaddrs_within(L, 1, 2, 0, type, passive, NULL, &list, &n,
                         timeout);
  if (r != 0) return r;
  lua_createtable(L, n, 0);
  for (i = 0; i < n; i++) {
    const struct sockaddr *sa = (const struct sockaddr *)&list[i].ss;
    lua_createtable(L, 0, 3);
    lua_pushstring(L, sa->sa_family == AF_INET6 ? "inet6" : "inet");
    lua_setfield(L, -2, "family");
    nb_pushaddr(L, sa);
    lua_setfield(L, -3, "port");
    lua_setfield(L, -2, "host");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* a layer holds bytes a read takes with no syscall (the kernel may no
** longer signal them) */
static int layer_pending(const nb_sock *s) {
  return s->lops != NULL && s->lops->pending(s) > 0;
}

/* the pollfd of the i-th entry of the list at `t`, or skip non-sockets */
static int addpolls(lua_State *L, int t, struct pollfd *p, int k,
                    short events, int *dirty) {
  lua_Integer i, n;
  if (lua_isnoneornil(L, t)) return k;
  luaL_checktype(L, t, LUA_TTABLE);
  n = luaL_len(L, t);
  for (i = 1; i <= n; i++) {
    nb_sock *s;
    lua_geti(L, t, i);
    s = nb_testsock(L, -1);
    if (s == NULL)
      luaL_error(L, "select: entry %d is not a socket", (int)i);
    if (s->fd < 0)
      luaL_error(L, "attempt to use a closed socket");
    p[k].fd = s->fd;
    p[k].events = events;
    p[k].revents = 0;
    if (events == POLLIN && (s->rend > s->rpos || layer_pending(s))) {
      p[k].revents = POLLIN;  /* bytes already buffered */
      (*dirty)++;
    }
    lua_pop(L, 1);
    k++;
  }
  return k;
}

/* the sockets of list `t` whose poll entries are ready, from p[k] on */
static int collect(lua_State *L, int t, struct pollfd *p, int k) {
  lua_Integer i, n = lua_isnoneornil(L, t) ? 0 : luaL_len(L, t);
  int out = 0;
  lua_newtable(L);
  for (i = 1; i <= n; i++, k++) {
    if (p[k].revents == 0) continue;
    lua_geti(L, t, i);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, ++out);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);  /* also t[sock] = true, as LuaSocket */
  }
  return k;
}

static int net_select(lua_State *L);

/* a select in a task woken: again, with what is left of its timeout */
static int select_k(lua_State *L, int status, lua_KContext ctx) {
  double deadline = lua_tonumber(L, 5);
  int cut = nb_task_timedout(nb_task_of(L));
  (void)status;
  (void)ctx;
  lua_settop(L, 3);
  if (cut || deadline >= 0) {
    double left = deadline - nb_now();
    lua_pushnumber(L, cut || left < 0 ? 0 : left);
    lua_replace(L, 3);
  }
  return net_select(L);
}

/*
** ** net.select(readers, writers [, timeout]): poll(), so any number of
** descriptors. A socket with bytes in its read buffer is ready at once.
** In a task: a look without waiting, then the task waits on the loop.
*/
static int net_select(lua_State *L) {
  lua_Integer nr, nw;
  double timeout, deadline;
  struct pollfd *p;
  int k, dirty = 0, r, i;
  lua_settop(L, 3);  /* the poll array at 4 (and select_k's deadline) */
  nr = lua_isnoneornil(L, 1) ? 0 : luaL_len(L, 1);
  nw = lua_isnoneornil(L, 2) ? 0 : luaL_len(L, 2);
  timeout = luaL_optnumber(L, 3, -1);
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  luaL_argcheck(L, nr + nw <= 1 << 20, 1, "too many sockets");
  p = (struct pollfd *)lua_newuserdatauv(L,
        sizeof(struct pollfd) * (size_t)(nr + nw + 1), 0);
  k = addpolls(L, 1, p, 0, POLLIN, &dirty);
  k = addpolls(L, 2, p, k, POLLOUT, &dirty);
  deadline = timeout < 0 ? -1 : nb_now() + timeout;
  if (!dirty && timeout != 0 && nb_task_of(L) != NULL
      && poll(p, (nfds_t)k, 0) == 0) {
    lua_settop(L, 4);
    lua_pushnumber(L, deadline);  /* 5: for select_k */
    r = nb_task_park(L, nb_task_of(L), p, k, deadline, 0, select_k);
    if (r != 0) {
      char text[128];
      nb_errtext(r, text, sizeof text);
      return nb_fail(L, nb_errcode(r), "select: %s", text);
    }
  }
  for (;;) {
    int ms = -1;
    if (dirty || timeout == 0) ms = 0;
    else if (deadline >= 0) {
      double left = deadline - nb_now();
      ms = nb_ms(left);
    }
    r = poll(p, (nfds_t)k, ms);
    if (r >= 0) break;
    if (errno != EINTR) {
      char text[128];
      nb_errtext(errno, text, sizeof text);
      return nb_fail(L, nb_errcode(errno), "select: %s", text);
    }
    nb_checkinterrupt(L);
  }
  if (dirty) {
    /* poll() cleared revents: mark the buffered readers again */
    for (i = 0; i < (int)nr; i++) {
      nb_sock *s;
      lua_geti(L, 1, i + 1);
      s = (nb_sock *)lua_touserdata(L, -1);
      if (s->rend > s->rpos || layer_pending(s)) p[i].revents |= POLLIN;
      lua_pop(L, 1);
    }
  }
  k = collect(L, 1, p, 0);
  collect(L, 2, p, k);
  if (r == 0 && !dirty) {
    lua_pushliteral(L, "timeout");
    return 3;
  }
  return 2;
}
/* ---------------------------------------------------------------------
** Methods
** ------------------------------------------------------------------ */

/* s:bind(host, port) */
static int sock_bind(lua_State *L) {
  nb_sock *s = nb_checkopen(L, 1);
  nb_addr a;
  int r = nb_getaddr(L, s, 2, 3, 1, "bind to", &a);
  if (r != 0) return r;
  if (bind(s->fd, (struct sockaddr *)&a.ss, a.len) != 0)
    return nb_addrfail(L, "bind to", &a, errno);
  if (s->family == AF_UNIX) nb_unix_bound(s, &a);
  lua_pushboolean(L, 1);
  return 1;
}

/* s:listen([backlog]) */
static int sock_listen(lua_State *L) {
  nb_sock *s = nb_checkopen(L, 1);
  lua_Integer backlog = luaL_optinteger(L, 2, SOMAXCONN);
  if (backlog < 0) backlog = 0;
  if (backlog > 65535) backlog = 65535;
  if (listen(s->fd, (int)backlog) != 0)
    return nb_sockfail(L, s, "listen", errno);
  lua_pushboolean(L, 1);
  return 1;
}

/*
** ** s:connect(host, port). With settimeout(0) the first call starts the
** connection and returns "timeout"; once the socket is writable, calling
** again returns true (or the reason it failed).
*/
static int sock_connect(lua_State *L) {
  nb_sock *s = nb_checkopen(L, 1);
  nb_addr a;
  double deadline;
  int r = nb_getaddr(L, s, 2, 3, 0, "connect to", &a), e;
  socklen_t len;
  if (r != 0) return r;
  deadline = nb_deadline_of(s);
  r = connect(s->fd, (struct sockaddr *)&a.ss, a.len);
  if (r == 0) goto done;
  e = errno;
  if (e == EISCONN) goto done;
  if (e != EINPROGRESS && e != EALREADY && e != EINTR)
    return nb_addrfail(L, "connect to", &a, e);
  if (e == EINTR) nb_checkinterrupt(L);
  /* in progress: wait until writable, then ask how it went */
  e = nb_waitfd(L, s->fd, POLLOUT, deadline);
  if (e != 0) return nb_addrfail(L, "connect to", &a, e);
  len = sizeof e;
  if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) e = errno;
  if (e != 0) return nb_addrfail(L, "connect to", &a, e);
done:
  if (a.len <= sizeof s->peer && s->family != AF_UNIX)
    memcpy(&s->peer, &a.ss, a.len);
  lua_pushboolean(L, 1);
  return 1;
}

/* s:accept() -> client, host, port */
static int sock_accept(lua_State *L) {
  nb_sock *s = nb_checkopen(L, 1);
  double deadline = nb_deadline_of(s);
  int top = lua_gettop(L), intask = s->tasked && nb_task_of(L) != NULL;
  nb_sock *c = nb_newsock(L, s->family, s->type);  /* closed until accepted */
  struct sockaddr_storage ss;
  for (;;) {
    socklen_t len = sizeof ss;
    int fd = accept4(s->fd, (struct sockaddr *)&ss, &len,
                     SOCK_CLOEXEC | (intask ? SOCK_NONBLOCK : 0));
    if (fd >= 0) {
      c->fd = fd;
      c->family = ss.ss_family;
      c->tasked = intask;
      if (len <= sizeof c->peer && ss.ss_family != AF_UNIX)
        memcpy(&c->peer, &ss, len);
      nb_task_hold(L, -1);
      nb_pushsockaddr(L, (struct sockaddr *)&ss, len);
      return 3;
    }
    switch (errno) {
      case EINTR:
        nb_checkinterrupt(L);
        break;
      case ECONNABORTED:  /* that client left already: wait for the next */
        break;
      case EAGAIN: {
        int e;
        lua_settop(L, top);  /* a task waits with its arguments only */
        e = nb_waitfd(L, s->fd, POLLIN, deadline);
        if (e != 0) return nb_sockfail(L, s, "accept", e);
        c = nb_newsock(L, s->family, s->type);
        break;
      }
      default:
        return nb_sockfail(L, s, "accept", errno);
    }
  }
}

/* s:shutdown(how): "read", "write", "both" or a SHUT_* constant */
static int sock_shutdown(lua_State *L) {
  static const char *const names[] = {"read", "write", "both", NULL};
  nb_sock *s = nb_checkopen(L, 1);
  int how;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    lua_Integer h = luaL_checkinteger(L, 2);
    luaL_argcheck(L, h == SHUT_RD || h == SHUT_WR || h == SHUT_RDWR, 2,
                  "expected SHUT_RD, SHUT_WR or SHUT_RDWR");
    how = (int)h;
  } else {
    static const int hows[] = {SHUT_RD, SHUT_WR, SHUT_RDWR};
    how = hows[luaL_checkoption(L, 2, "both", names)];
  }
  if (s->lops != NULL && how != SHUT_RD) {
    /* the layer ends its stream first (a task waits on the loop) */
    double deadline = nb_deadline_of(s);
    for (;;) {
      int e = 0;
      short want = POLLIN;
      if (s->lops->shutdown(s, &e, &want) == 0) break;
      if (e == EINTR) {
        nb_checkinterrupt(L);
        continue;
      }
      if (e == EAGAIN) e = nb_waitfd(L, s->fd, want, deadline);
      if (e != 0) return nb_sockfail(L, s, "shutdown", e);
    }
  }
  if (shutdown(s->fd, how) != 0)
    return nb_sockfail(L, s, "shutdown", errno);
  lua_pushboolean(L, 1);
  return 1;
}

/* s:settimeout(seconds or nil): nil (or negative) blocks, 0 never */
static int sock_settimeout(lua_State *L) {
  nb_sock *s = nb_checkopen(L, 1);
  double t = lua_isnoneornil(L, 2) ? -1 : luaL_checknumber(L, 2);
  luaL_argcheck(L, t == t, 2, "not a number");
  if (t < 0) t = -1;
  if (!s->tasked && (t < 0) != (s->timeout < 0)
      && nb_setblocking(s->fd, t < 0) != 0)
    return nb_sockfail(L, s, "settimeout", errno);
  s->timeout = t;
  lua_pushboolean(L, 1);
  return 1;
}

/* s:gettimeout() -> seconds or nil */
static int sock_gettimeout(lua_State *L) {
  nb_sock *s = nb_checkopen(L, 1);
  if (s->timeout < 0) lua_pushnil(L);
  else lua_pushnumber(L, s->timeout);
  return 1;
}

/* s:setoption(name, value) */
static int sock_setoption(lua_State *L) {
  static const char *const names[] = {"reuseaddr", "reuseport", "nodelay",
    "keepalive", "ipv6only", "rcvbuf", "sndbuf", "linger", "broadcast",
    NULL};
  nb_sock *s = nb_checkopen(L, 1);
  int opt = luaL_checkoption(L, 2, NULL, names);
  int v, r;
  if (opt == 5 || opt == 6) {
    lua_Integer n = luaL_checkinteger(L, 3);
    luaL_argcheck(L, n >= 0 && n <= (1 << 30), 3, "out of range");
    v = (int)n;
  } else if (opt == 7) {
    struct linger lg;
    lg.l_onoff = lua_toboolean(L, 3);
    lg.l_linger = lg.l_onoff ? (int)luaL_checkinteger(L, 3) : 0;
    r = setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    goto out;
  } else {
    luaL_checktype(L, 3, LUA_TBOOLEAN);
    v = lua_toboolean(L, 3);
  }
  switch (opt) {
    case 0: r = setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v);
      break;
    case 1: r = setsockopt(s->fd, SOL_SOCKET, SO_REUSEPORT, &v, sizeof v);
      break;
    case 2: r = setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
      break;
    case 3: r = setsockopt(s->fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v);
      break;
    case 4: r = setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v);
      break;
    case 5: r = setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
      break;
    case 6: r = setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
      break;
    default: r = setsockopt(s->fd, SOL_SOCKET, SO_BROADCAST, &v, sizeof v);
      break;
  }
out:
  if (r != 0) {
    char text[128];
    int e = errno;
    nb_errtext(e, text, sizeof text);
    return nb_fail(L, nb_errcode(e), "setoption %s: %s", names[opt], text);
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int nameof(lua_State *L, int peer) {
  nb_sock *s = nb_checkopen(L, 1);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int r = peer ? getpeername(s->fd, (struct sockaddr *)&ss, &len)
               : getsockname(s->fd, (struct sockaddr *)&ss, &len);
  if (r != 0)
    return nb_sockfail(L, s, peer ? "getpeername" : "getsockname", errno);
  nb_pushsockaddr(L, (struct sockaddr *)&ss, len);
  return 2;
}

/* s:getsockname() -> host, port */
static int sock_getsockname(lua_State *L) {
  return nameof(L, 0);
}

/* s:getpeername() -> host, port */
static int sock_getpeername(lua_State *L) {
  return nameof(L, 1);
}

/* s:fileno() -> the descriptor */
static int sock_fileno(lua_State *L) {
  lua_pushinteger(L, nb_checkopen(L, 1)->fd);
  return 1;
}

/* s:close(): true, also when already closed */
static int sock_close(lua_State *L) {
  nb_sock *s = nb_tosock(L, 1);
  if (s->fd >= 0 && nb_sock_holds(L, s)) {
    /* this task's answers held back (sockio.c) go first: in the task,
    ** wait (within the timeout) while the kernel is full */
    double deadline = nb_deadline_of(s);
    short want;
    while (nb_flush_now(s, &want) == EAGAIN
           && nb_waitfd(L, s->fd, want, deadline) == 0)
      ;
  }
  nb_sock_release(s);
  lua_pushboolean(L, 1);
  return 1;
}

static int sock_gc(lua_State *L) {
  nb_sock_release(nb_tosock(L, 1));
  return 0;
}

static int sock_tostring(lua_State *L) {
  nb_sock *s = nb_tosock(L, 1);
  if (s->fd < 0)
    lua_pushliteral(L, NB_SOCKET_T " (closed)");
  else if (s->family == AF_UNIX)
    lua_pushfstring(L, NB_SOCKET_T " (unix %s, fd %d)",
                    s->type == SOCK_STREAM ? "stream" : "dgram", s->fd);
  else
    lua_pushfstring(L, NB_SOCKET_T " (%s%s, fd %d)",
                    s->type == SOCK_STREAM ? "tcp" : "udp",
                    s->family == AF_INET6 ? "6" : "", s->fd);
  return 1;
}

/* ---------------------------------------------------------------------
** Registration
** ------------------------------------------------------------------ */

static const luaL_Reg sock_methods[] = {
  {"bind", sock_bind},
  {"listen", sock_listen},
  {"connect", sock_connect},
  {"accept", sock_accept},
  {"send", sock_send},
  {"sendall", sock_sendall},
  {"recv", sock_recv},
  {"recvline", sock_recvline},
  {"lines", sock_lines},
  {"write", sock_write},
  {"sendto", sock_sendto},
  {"recvfrom", sock_recvfrom},
  {"shutdown", sock_shutdown},
  {"settimeout", sock_settimeout},
  {"gettimeout", sock_gettimeout},
  {"setoption", sock_setoption},
  {"getsockname", sock_getsockname},
  {"getpeername", sock_getpeername},
  {"fileno", sock_fileno},
  {"peercred", sock_peercred},
  {"close", sock_close},
  {NULL, NULL}
};

static const luaL_Reg sock_meta[] = {
  {"__gc", sock_gc},
  {"__close", sock_gc},
  {"__tostring", sock_tostring},
  {"__index", NULL},
  {NULL, NULL}
};

static const luaL_Reg net_funcs[] = {
  {"socket", net_socket},
  {"getaddrinfo", net_getaddrinfo},
  {"select", net_select},
  {NULL, NULL}
};

static const struct { const char *name; int value; } constants[] = {
  {"AF_INET", AF_INET}, {"AF_INET6", AF_INET6},
  {"SOCK_STREAM", SOCK_STREAM}, {"SOCK_DGRAM", SOCK_DGRAM},
  {"SHUT_RD", SHUT_RD}, {"SHUT_WR", SHUT_WR}, {"SHUT_RDWR", SHUT_RDWR},
  {NULL, 0}
};

void nb_open_socket(lua_State *L) {
  int i, t = lua_gettop(L);
  nb_scratch *sc = (nb_scratch *)lua_newuserdatauv(L, sizeof *sc, 0);
  sc->p = NULL;
  sc->cap = 0;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, nb_scratch_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  /* the socket metatable: methods in __index, all sharing the scratch
  ** (upvalue 1) */
  luaL_newmetatable(L, NB_SOCKET_T);              /* scratch, mt */
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, sock_meta, 1);
  lua_createtable(L, 0, sizeof sock_methods / sizeof sock_methods[0]);
  lua_pushvalue(L, -3);
  luaL_setfuncs(L, sock_methods, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);                                  /* scratch */
  /* module functions */
  lua_pushvalue(L, t);                            /* scratch, net */
  lua_insert(L, -2);                              /* net, scratch */
  luaL_setfuncs(L, net_funcs, 1);
  lua_pop(L, 1);
  for (i = 0; constants[i].name; i++) {
    lua_pushinteger(L, constants[i].value);
    lua_setfield(L, -2, constants[i].name);
  }
  nb_open_sockunix(L);
}

