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
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netbasics.h"

#define NB_LINE_MAX   65536      /* recvline's default bound */
#define NB_RBUF_MIN   8192       /* first size of a read buffer */
#define NB_RECV_CHUNK (1 << 20)  /* most bytes one recv returns */
#define NB_DGRAM_MAX  65535      /* recvfrom's default */

typedef struct nb_sock {
  int fd;              /* -1: closed */
  int family;          /* AF_INET or AF_INET6 */
  int type;            /* SOCK_STREAM or SOCK_DGRAM */
  double timeout;      /* seconds; < 0: block */
  char *rbuf;          /* read buffer: bytes [rpos, rend) not yet read */
  size_t rcap, rpos, rend;
  size_t rscan;        /* [rpos, rscan) has no '\n' */
  struct sockaddr_in6 peer;  /* set by connect and accept, for messages
                                after the peer is gone */
} nb_sock;

/* the module's scratch area for recv and recvfrom (upvalue 1) */
typedef struct nb_scratch {
  char *p;
  size_t cap;
} nb_scratch;

/* an address to bind, connect or send to */
typedef struct nb_addr {
  struct sockaddr_storage ss;
  socklen_t len;
} nb_addr;

/* ---------------------------------------------------------------------
** Plain C helpers: time, waiting, addresses, error texts
** ------------------------------------------------------------------ */

static double nb_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* the deadline of a call on `s`: < 0 none, 0 never wait */
static double deadline_of(const nb_sock *s) {
  if (s->timeout < 0) return -1;
  if (s->timeout == 0) return 0;
  return nb_now() + s->timeout;
}

/*
** ** Wait until `fd` is ready for `events` or `deadline` passes. Returns
** 0 when ready (or in error: the next call will say which), ETIMEDOUT
** when the time is up. EINTR: nb_checkinterrupt (may raise), then wait
** again for what is left.
*/
static int waitfd(lua_State *L, int fd, short events, double deadline) {
  for (;;) {
    struct pollfd p;
    int ms = -1, r;
    if (deadline == 0) return ETIMEDOUT;
    if (deadline > 0) {
      double left = deadline - nb_now();
      if (left <= 0) return ETIMEDOUT;
      ms = (int)(left * 1000 + 0.999);
    }
    p.fd = fd;
    p.events = events;
    p.revents = 0;
    r = poll(&p, 1, ms);
    if (r > 0) return 0;
    if (r == 0) {
      if (deadline < 0) continue;
      if (nb_now() >= deadline) return ETIMEDOUT;
      continue;
    }
    if (errno != EINTR) return errno;
    nb_checkinterrupt(L);
  }
}

static int setblocking(int fd, int block) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return -1;
  fl = block ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK);
  return fcntl(fd, F_SETFL, fl);
}

/* "1.2.3.4:80" or "[::1]:80"; the port alone in *port */
static void addr_text(const struct sockaddr *sa, char *host, size_t size,
                      unsigned *port) {
  char buf[NB_IPV6_STRLEN];
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    nb_format_ipv4((const uint8_t *)&in->sin_addr, buf);
    *port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    nb_format_ipv6((const uint8_t *)&in6->sin6_addr, buf);
    *port = ntohs(in6->sin6_port);
  } else {
    strcpy(buf, "?");
    *port = 0;
  }
  snprintf(host, size, "%s", buf);
}

static void endpoint_text(const struct sockaddr *sa, char *out,
                          size_t size) {
  char host[NB_IPV6_STRLEN];
  unsigned port;
  addr_text(sa, host, sizeof host, &port);
  if (sa->sa_family == AF_INET6)
    snprintf(out, size, "[%s]:%u", host, port);
  else
    snprintf(out, size, "%s:%u", host, port);
}

/* the short stable code of an errno (documented in docs/api/socket.md) */
static const char *errcode(int e) {
  switch (e) {
    case ECONNREFUSED: return "refused";
    case ETIMEDOUT: case EAGAIN: case EINPROGRESS: case EALREADY:
      return "timeout";
    case EPIPE: case ECONNRESET: case ENOTCONN: case ESHUTDOWN:
    case ECONNABORTED:
      return "closed";
    case EADDRINUSE: return "inuse";
    case EADDRNOTAVAIL: return "unavailable";
    case ENETUNREACH: case EHOSTUNREACH: case ENETDOWN: case EHOSTDOWN:
      return "unreachable";
    case EACCES: case EPERM: return "denied";
    case EMSGSIZE: return "toolong";
    case EAFNOSUPPORT: case EPFNOSUPPORT: return "family";
    case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM: return "resources";
    default: return "failed";
  }
}

/* strerror, but "timed out" for waits and a lower-case first letter */
static void errtext(int e, char *out, size_t size) {
  const char *t;
  if (e == ETIMEDOUT || e == EAGAIN || e == EINPROGRESS || e == EALREADY)
    t = "timed out";
  else
    t = strerror(e);
  snprintf(out, size, "%s", t);
  if (out[0] >= 'A' && out[0] <= 'Z' && !(out[1] >= 'A' && out[1] <= 'Z'))
    out[0] = (char)(out[0] - 'A' + 'a');
}

/* ---------------------------------------------------------------------
** The socket userdata
** ------------------------------------------------------------------ */

static nb_sock *tosock(lua_State *L, int i) {
  return (nb_sock *)luaL_checkudata(L, i, NB_SOCKET_T);
}

static nb_sock *checkopen(lua_State *L, int i) {
  nb_sock *s = tosock(L, i);
  if (s->fd < 0)
    luaL_error(L, "attempt to use a closed socket");
  return s;
}

/* a new socket userdata, created closed (fd -1) */
static nb_sock *newsock(lua_State *L, int family, int type) {
  nb_sock *s = (nb_sock *)lua_newuserdatauv(L, sizeof(nb_sock), 0);
  memset(s, 0, sizeof *s);
  s->fd = -1;
  s->family = family;
  s->type = type;
  s->timeout = -1;
  luaL_setmetatable(L, NB_SOCKET_T);
  return s;
}

static void rbuf_free(nb_sock *s) {
  free(s->rbuf);
  s->rbuf = NULL;
  s->rcap = s->rpos = s->rend = s->rscan = 0;
}

/* the one release function: close(), __gc and __close */
static void sock_release(nb_sock *s) {
  if (s->fd >= 0) {
    close(s->fd);  /* no retry on EINTR: Linux has closed it anyway */
    s->fd = -1;
  }
  rbuf_free(s);
}

/* the peer's "host:port" for messages: asked of the kernel, else the
** one remembered from connect or accept (a reset peer is gone) */
static int peertext(const nb_sock *s, char *ep, size_t size) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (s->fd >= 0 && getpeername(s->fd, (struct sockaddr *)&ss, &len) == 0)
    endpoint_text((struct sockaddr *)&ss, ep, size);
  else if (s->peer.sin6_family != 0)
    endpoint_text((const struct sockaddr *)&s->peer, ep, size);
  else
    return 0;
  return 1;
}

/* nil, "<op> to|from <peer>: <error>", code */
static int sockfail(lua_State *L, nb_sock *s, const char *op, int e) {
  char text[128], ep[64];
  errtext(e, text, sizeof text);
  if (peertext(s, ep, sizeof ep))
    return nb_fail(L, errcode(e), "%s %s %s: %s", op,
                   strncmp(op, "recv", 4) == 0 ? "from" : "to", ep, text);
  return nb_fail(L, errcode(e), "%s: %s", op, text);
}

/* nil, "<op> from <peer>: connection closed", "closed" (end of stream) */
static int closedfail(lua_State *L, nb_sock *s, const char *op) {
  char ep[64];
  if (peertext(s, ep, sizeof ep))
    return nb_fail(L, "closed", "%s from %s: connection closed", op, ep);
  return nb_fail(L, "closed", "%s: connection closed", op);
}

static int addrfail(lua_State *L, const char *op, const nb_addr *a, int e) {
  char text[128], ep[64];
  errtext(e, text, sizeof text);
  endpoint_text((const struct sockaddr *)&a->ss, ep, sizeof ep);
  return nb_fail(L, errcode(e), "%s %s: %s", op, ep, text);
}

/* ---------------------------------------------------------------------
** Arguments: families, types, ports, hosts
** ------------------------------------------------------------------ */

static int checkfamily(lua_State *L, int i, int def) {
  static const char *const names[] = {"inet", "inet6", NULL};
  if (lua_isnoneornil(L, i)) return def;
  if (lua_type(L, i) == LUA_TSTRING)
    return luaL_checkoption(L, i, NULL, names) == 0 ? AF_INET : AF_INET6;
  else {
    lua_Integer f = luaL_checkinteger(L, i);
    luaL_argcheck(L, f == AF_INET || f == AF_INET6, i,
                  "expected AF_INET or AF_INET6");
    return (int)f;
  }
}

static int checktype(lua_State *L, int i, int def) {
  static const char *const names[] = {"stream", "dgram", "tcp", "udp", NULL};
  if (lua_isnoneornil(L, i)) return def;
  if (lua_type(L, i) == LUA_TSTRING)
    return luaL_checkoption(L, i, NULL, names) % 2 == 0 ? SOCK_STREAM
                                                         : SOCK_DGRAM;
  else {
    lua_Integer t = luaL_checkinteger(L, i);
    luaL_argcheck(L, t == SOCK_STREAM || t == SOCK_DGRAM, i,
                  "expected SOCK_STREAM or SOCK_DGRAM");
    return (int)t;
  }
}

/* a port (integer or decimal string): 0 and *port, or pushes a failure
** and returns its count */
static int getport(lua_State *L, int i, unsigned *port) {
  if (lua_type(L, i) == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, i);
    if (!(n >= 0 && n <= 65535))
      return nb_fail(L, "range", "port %s out of range (0..65535)",
                     lua_tostring(L, i));
    if ((lua_Number)(unsigned)n != n)
      return nb_fail(L, "malformed", "port %s: not a whole number",
                     lua_tostring(L, i));
    *port = (unsigned)n;
    return 0;
  }
  if (lua_type(L, i) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, i, &n);
    int r = nb_parse_port(s, n, port);
    if (r == -2)
      return nb_fail(L, "range", "port %s out of range (0..65535)", s);
    if (r < 0)
      return nb_fail(L, "malformed", "malformed port '%s'", s);
    return 0;
  }
  return luaL_typeerror(L, i, "number");
}

static void fill_in4(nb_addr *a, const uint8_t ip[4], unsigned port) {
  struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;
  memset(a, 0, sizeof *a);
  in->sin_family = AF_INET;
  in->sin_port = htons((uint16_t)port);
  memcpy(&in->sin_addr, ip, 4);
  a->len = sizeof *in;
}

static void fill_in6(nb_addr *a, const uint8_t ip[16], unsigned port) {
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
  memset(a, 0, sizeof *a);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons((uint16_t)port);
  memcpy(&in6->sin6_addr, ip, 16);
  a->len = sizeof *in6;
}

static const char *gaierr(int r, const char **code) {
  switch (r) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
      *code = "nxdomain";
      return "name not found";
    case EAI_AGAIN:
      *code = "timeout";
      return "temporary failure in name resolution";
    case EAI_FAMILY:
      *code = "family";
      return "no address of that family";
    default:
      *code = "failed";
      return gai_strerror(r);
  }
}

/*
** ** Would libc read `host` as a number (inet_aton's forms: "127.1",
** "0x7f.1", "017.0.0.1", "2130706433")? Such a host is malformed, not a
** name: the last label of a real name is never all digits, and a label
** "0x.." is a hex number to getaddrinfo.
*/
static int numeric_form(const char *h, size_t n) {
  size_t i = n, start;
  int allnum = 1;
  if (n > 0 && h[n - 1] == '.') n--;
  for (start = 0, i = 0; i <= n; i++) {
    if (i == n || h[i] == '.') {
      size_t len = i - start, k;
      const char *l = h + start;
      int num;
      if (len > 1 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X')) {
        num = 1;
        for (k = 2; k < len; k++)
          if (!((l[k] >= '0' && l[k] <= '9') || (l[k] >= 'a' && l[k] <= 'f')
                || (l[k] >= 'A' && l[k] <= 'F'))) num = 0;
      } else {
        num = len > 0;
        for (k = 0; k < len; k++)
          if (l[k] < '0' || l[k] > '9') num = 0;
      }
      if (i == n && num) return 1;  /* the last label is a number */
      if (!num) allnum = 0;
      start = i + 1;
    }
  }
  return allnum;
}

/*
** ** The addresses of host:port for sockets of `family` (0: any) and
** `type`. The host is checked with the strict parsers first: an IPv4 or
** IPv6 literal needs no libc at all; anything else must be a well-formed
** host name before getaddrinfo sees it; "*" is every local address.
** Pushes a list of nb_addr into a userdata (returned count in *n) or
** a failure (returns its count).
*/
static int getaddrs(lua_State *L, int hi, int pi, int family, int type,
                    int passive, const char *op, nb_addr **out, int *n) {
  size_t hl;
  const char *host = luaL_checklstring(L, hi, &hl);
  unsigned port;
  uint8_t ip[16];
  int r;
  if ((r = getport(L, pi, &port)) != 0) return r;
  if (hl == 1 && host[0] == '*') {
    static const uint8_t any[16] = {0};
    *out = (nb_addr *)lua_newuserdatauv(L, sizeof(nb_addr), 0);
    if (family == AF_INET6) fill_in6(*out, any, port);
    else fill_in4(*out, any, port);
    *n = 1;
    return 0;
  }
  if (nb_parse_ipv4(host, hl, ip) == 0) {
    if (family == AF_INET6)
      return nb_fail(L, "family", "%s %s:%d: an IPv4 address for an IPv6 "
                     "socket", op ? op : "address", host, (int)port);
    *out = (nb_addr *)lua_newuserdatauv(L, sizeof(nb_addr), 0);
    fill_in4(*out, ip, port);
    *n = 1;
    return 0;
  }
  if (nb_parse_ipv6(host, hl, ip) == 0) {
    if (family == AF_INET)
      return nb_fail(L, "family", "%s [%s]:%d: an IPv6 address for an IPv4 "
                     "socket", op ? op : "address", host, (int)port);
    *out = (nb_addr *)lua_newuserdatauv(L, sizeof(nb_addr), 0);
    fill_in6(*out, ip, port);
    *n = 1;
    return 0;
  }
  if (nb_check_hostname(host, hl) != 0 || numeric_form(host, hl)) {
    luaL_Buffer b;
    size_t k;
    /* show the bad host safely: printable bytes, others as \xHH */
    luaL_buffinit(L, &b);
    for (k = 0; k < hl && k < 80; k++) {
      unsigned char c = (unsigned char)host[k];
      if (c >= 32 && c < 127) luaL_addchar(&b, (char)c);
      else {
        char hex[5];
        snprintf(hex, sizeof hex, "\\x%02X", c);
        luaL_addstring(&b, hex);
      }
    }
    if (hl > 80) luaL_addstring(&b, "...");
    luaL_pushresult(&b);
    return nb_fail(L, "malformed", "%s%smalformed host '%s'",
                   op ? op : "", op ? ": " : "", lua_tostring(L, -1));
  } else {
    struct addrinfo hints, *res = NULL, *ai;
    int count = 0, k;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = type;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    r = getaddrinfo(host, NULL, &hints, &res);
    if (r != 0) {
      const char *code, *msg = gaierr(r, &code);
      if (r == EAI_SYSTEM) msg = strerror(errno);
      return nb_fail(L, code, "%s%s%s: %s", op ? op : "", op ? " " : "",
                     host, msg);
    }
    for (ai = res; ai; ai = ai->ai_next)
      if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) count++;
    if (count == 0) {
      freeaddrinfo(res);
      return nb_fail(L, "nxdomain", "%s%s%s: no address", op ? op : "",
                     op ? " " : "", host);
    }
    /* lua_newuserdatauv may raise: copy out of res first (on the C
    ** stack, bounded), then free it, then allocate */
    {
      nb_addr tmp[16];
      int m = 0;
      for (ai = res; ai && m < 16; ai = ai->ai_next) {
        int dup = 0;
        if (ai->ai_family == AF_INET)
          fill_in4(&tmp[m], (const uint8_t *)&((struct sockaddr_in *)
                   ai->ai_addr)->sin_addr, port);
        else if (ai->ai_family == AF_INET6)
          fill_in6(&tmp[m], (const uint8_t *)&((struct sockaddr_in6 *)
                   ai->ai_addr)->sin6_addr, port);
        else continue;
        for (k = 0; k < m; k++)
          if (tmp[k].len == tmp[m].len
              && memcmp(&tmp[k].ss, &tmp[m].ss, tmp[m].len) == 0)
            dup = 1;
        if (!dup) m++;
      }
      freeaddrinfo(res);
      *out = (nb_addr *)lua_newuserdatauv(L, sizeof(nb_addr) * m, 0);
      memcpy(*out, tmp, sizeof(nb_addr) * m);
      *n = m;
    }
    return 0;
  }
}

/* the first address of host:port for socket `s` */
static int getaddr(lua_State *L, nb_sock *s, int hi, int pi, int passive,
                   const char *op, nb_addr *a) {
  nb_addr *list;
  int n, r = getaddrs(L, hi, pi, s->family, s->type, passive, op, &list, &n);
  if (r != 0) return r;
  *a = list[0];
  lua_pop(L, 1);
  return 0;
}

static void pushaddr(lua_State *L, const struct sockaddr *sa) {
  char host[NB_IPV6_STRLEN];
  unsigned port;
  addr_text(sa, host, sizeof host, &port);
  lua_pushstring(L, host);
  lua_pushinteger(L, port);
}

/* ---------------------------------------------------------------------
** The scratch area
** ------------------------------------------------------------------ */

static char *scratch(lua_State *L, size_t want) {
  nb_scratch *sc = (nb_scratch *)lua_touserdata(L, lua_upvalueindex(1));
  if (sc->cap < want) {
    char *p = (char *)realloc(sc->p, want);
    if (p == NULL) {
      luaL_error(L, "not enough memory");
      return NULL;
    }
    sc->p = p;
    sc->cap = want;
  }
  return sc->p;
}

static int scratch_gc(lua_State *L) {
  nb_scratch *sc = (nb_scratch *)lua_touserdata(L, 1);
  free(sc->p);
  sc->p = NULL;
  sc->cap = 0;
  return 0;
}

/* ---------------------------------------------------------------------
** Module functions
** ------------------------------------------------------------------ */

/* net.socket([family [, type]]) */
static int net_socket(lua_State *L) {
  int family = checkfamily(L, 1, AF_INET);
  int type = checktype(L, 2, SOCK_STREAM);
  nb_sock *s = newsock(L, family, type);
  int fd = socket(family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    char text[128];
    errtext(e, text, sizeof text);
    return nb_fail(L, errcode(e), "socket: %s", text);
  }
  s->fd = fd;
  return 1;
}

/*
** ** net.getaddrinfo(host, port [, type [, passive]]): the addresses a
** socket can use, as a list of {family=, host=, port=}: the mechanism
** under net.connect and net.listen (which try them in turn).
*/
static int net_getaddrinfo(lua_State *L) {
  int type = checktype(L, 3, SOCK_STREAM);
  int passive = lua_toboolean(L, 4);
  nb_addr *list;
  int n, i, r;
  r = getaddrs(L, 1, 2, 0, type, passive, NULL, &list, &n);
  if (r != 0) return r;
  lua_createtable(L, n, 0);
  for (i = 0; i < n; i++) {
    const struct sockaddr *sa = (const struct sockaddr *)&list[i].ss;
    lua_createtable(L, 0, 3);
    lua_pushstring(L, sa->sa_family == AF_INET6 ? "inet6" : "inet");
    lua_setfield(L, -2, "family");
    pushaddr(L, sa);
    lua_setfield(L, -3, "port");
    lua_setfield(L, -2, "host");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
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
    s = (nb_sock *)luaL_testudata(L, -1, NB_SOCKET_T);
    if (s == NULL)
      luaL_error(L, "select: entry %d is not a socket", (int)i);
    if (s->fd < 0)
      luaL_error(L, "attempt to use a closed socket");
    p[k].fd = s->fd;
    p[k].events = events;
    p[k].revents = 0;
    if (events == POLLIN && s->rend > s->rpos) {
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

/*
** ** net.select(readers, writers [, timeout]): poll(), so any number of
** descriptors. A socket with bytes in its read buffer is ready at once.
*/
static int net_select(lua_State *L) {
  lua_Integer nr = lua_isnoneornil(L, 1) ? 0 : luaL_len(L, 1);
  lua_Integer nw = lua_isnoneornil(L, 2) ? 0 : luaL_len(L, 2);
  double timeout = luaL_optnumber(L, 3, -1), deadline;
  struct pollfd *p;
  int k, dirty = 0, r, i;
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  luaL_argcheck(L, nr + nw <= 1 << 20, 1, "too many sockets");
  p = (struct pollfd *)lua_newuserdatauv(L,
        sizeof(struct pollfd) * (size_t)(nr + nw + 1), 0);
  k = addpolls(L, 1, p, 0, POLLIN, &dirty);
  k = addpolls(L, 2, p, k, POLLOUT, &dirty);
  deadline = timeout < 0 ? -1 : nb_now() + timeout;
  for (;;) {
    int ms = -1;
    if (dirty || timeout == 0) ms = 0;
    else if (deadline >= 0) {
      double left = deadline - nb_now();
      ms = left <= 0 ? 0 : (int)(left * 1000 + 0.999);
    }
    r = poll(p, (nfds_t)k, ms);
    if (r >= 0) break;
    if (errno != EINTR) {
      char text[128];
      errtext(errno, text, sizeof text);
      return nb_fail(L, errcode(errno), "select: %s", text);
    }
    nb_checkinterrupt(L);
  }
  if (dirty) {
    /* poll() cleared revents: mark the buffered readers again */
    for (i = 0; i < (int)nr; i++) {
      nb_sock *s;
      lua_geti(L, 1, i + 1);
      s = (nb_sock *)lua_touserdata(L, -1);
      if (s->rend > s->rpos) p[i].revents |= POLLIN;
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
  nb_sock *s = checkopen(L, 1);
  nb_addr a;
  int r = getaddr(L, s, 2, 3, 1, "bind to", &a);
  if (r != 0) return r;
  if (bind(s->fd, (struct sockaddr *)&a.ss, a.len) != 0)
    return addrfail(L, "bind to", &a, errno);
  lua_pushboolean(L, 1);
  return 1;
}

/* s:listen([backlog]) */
static int sock_listen(lua_State *L) {
  nb_sock *s = checkopen(L, 1);
  lua_Integer backlog = luaL_optinteger(L, 2, SOMAXCONN);
  if (backlog < 0) backlog = 0;
  if (backlog > 65535) backlog = 65535;
  if (listen(s->fd, (int)backlog) != 0)
    return sockfail(L, s, "listen", errno);
  lua_pushboolean(L, 1);
  return 1;
}

/*
** ** s:connect(host, port). With settimeout(0) the first call starts the
** connection and returns "timeout"; once the socket is writable, calling
** again returns true (or the reason it failed).
*/
static int sock_connect(lua_State *L) {
  nb_sock *s = checkopen(L, 1);
  nb_addr a;
  double deadline;
  int r = getaddr(L, s, 2, 3, 0, "connect to", &a), e;
  socklen_t len;
  if (r != 0) return r;
  deadline = deadline_of(s);
  r = connect(s->fd, (struct sockaddr *)&a.ss, a.len);
  if (r == 0) goto done;
  e = errno;
  if (e == EISCONN) goto done;
  if (e != EINPROGRESS && e != EALREADY && e != EINTR)
    return addrfail(L, "connect to", &a, e);
  if (e == EINTR) nb_checkinterrupt(L);
  /* in progress: wait until writable, then ask how it went */
  e = waitfd(L, s->fd, POLLOUT, deadline);
  if (e != 0) return addrfail(L, "connect to", &a, e);
  len = sizeof e;
  if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) e = errno;
  if (e != 0) return addrfail(L, "connect to", &a, e);
done:
  if (a.len <= sizeof s->peer) memcpy(&s->peer, &a.ss, a.len);
  lua_pushboolean(L, 1);
  return 1;
}

/* s:accept() -> client, host, port */
static int sock_accept(lua_State *L) {
  nb_sock *s = checkopen(L, 1);
  double deadline = deadline_of(s);
  nb_sock *c = newsock(L, s->family, s->type);  /* closed until accepted */
  struct sockaddr_storage ss;
  for (;;) {
    socklen_t len = sizeof ss;
    int fd = accept4(s->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
    if (fd >= 0) {
      c->fd = fd;
      c->family = ss.ss_family;
      if (len <= sizeof c->peer) memcpy(&c->peer, &ss, len);
      pushaddr(L, (struct sockaddr *)&ss);
      return 3;
    }
    switch (errno) {
      case EINTR:
        nb_checkinterrupt(L);
        break;
      case ECONNABORTED:  /* that client left already: wait for the next */
        break;
      case EAGAIN: {
        int e = waitfd(L, s->fd, POLLIN, deadline);
        if (e != 0) return sockfail(L, s, "accept", e);
        break;
      }
      default:
        return sockfail(L, s, "accept", errno);
    }
  }
}

/* the optional i, j of send/sendall (as string.sub; LuaSocket's send) */
static const char *checkrange(lua_State *L, size_t *n) {
  size_t len;
  const char *d = luaL_checklstring(L, 2, &len);
  lua_Integer i = luaL_optinteger(L, 3, 1);
  lua_Integer j = luaL_optinteger(L, 4, -1);
  if (i < 0) i = (lua_Integer)len + i + 1;
  if (j < 0) j = (lua_Integer)len + j + 1;
  if (i < 1) i = 1;
  if (j > (lua_Integer)len) j = (lua_Integer)len;
  if (i > j) {
    *n = 0;
    return d;
  }
  *n = (size_t)(j - i + 1);
  return d + i - 1;
}

/*
** ** Send from `d` until `n` bytes are gone (all = 1) or one send() took
** some (all = 0). Returns 0 or an errno; *sent counts what went.
*/
static int sendloop(lua_State *L, nb_sock *s, const char *d, size_t n,
                    int all, size_t *sent) {
  double deadline = deadline_of(s);
  *sent = 0;
  while (*sent < n || n == 0) {
    ssize_t r = send(s->fd, d + *sent, n - *sent, MSG_NOSIGNAL);
    if (r >= 0) {
      *sent += (size_t)r;
      if (!all || n == 0) return 0;
      continue;
    }
    if (errno == EINTR) {
      nb_checkinterrupt(L);
      continue;
    }
    if (errno == EAGAIN) {
      int e = waitfd(L, s->fd, POLLOUT, deadline);
      if (e != 0) return e;
      continue;
    }
    return errno;
  }
  return 0;
}

/* s:send(data [, i [, j]]) -> bytes sent */
static int sock_send(lua_State *L) {
  nb_sock *s = checkopen(L, 1);
  size_t n, sent;
  const char *d = checkrange(L, &n);
  int e = sendloop(L, s, d, n, 0, &sent);
  if (e != 0) return sockfail(L, s, "send", e);
  lua_pushinteger(L, (lua_Integer)sent);
  return 1;
}

/* s:sendall(data [, i [, j]]) -> true, or nil, msg, code, bytes sent */
static int sock_sendall(lua_State *L) {
  nb_sock *s = checkopen(L, 1);
  size_t n, sent;
  const char *d = checkrange(L, &n);
  int e = sendloop(L, s, d, n, 1, &sent);
  if (e != 0) {
    sockfail(L, s, "send", e);
    lua_pushinteger(L, (lua_Integer)sent);
    return 4;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* take `n` bytes from the read buffer, freeing it once empty */
static void rbuf_take(nb_sock *s, size_t n) {
  s->rpos += n;
  if (s->rscan < s->rpos) s->rscan = s->rpos;
  if (s->rpos >= s->rend) rbuf_free(s);
}

/*
** ** One read of up to `n` bytes into `p`, waiting per the timeout.
** Returns the count (0: end of stream) or -errno.
*/
static ssize_t readsome(lua_State *L, nb_sock *s, char *p, size_t n,
                        double deadline) {
  for (;;) {
    ssize_t r = recv(s->fd, p, n, 0);
    if (r >= 0) return r;
    if (errno == EINTR) {
      nb_checkinterrupt(L);
      continue;
    }
    if (errno == EAGAIN) {
      int e = waitfd(L, s->fd, POLLIN, deadline);
      if (e != 0) return -e;
      continue;
    }
    return -errno;
  }
}

/* s:recv([max=65536]) -> 1..max bytes, "" at end of stream */
static int sock_recv(lua_State *L) {
  nb_sock *s = checkopen(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, 65536);
  size_t want;
  ssize_t r;
  char *p;
  luaL_argcheck(L, max >= 1, 2, "must be at least 1");
  if (s->rend > s->rpos) {  /* what recvline read ahead comes first */
    size_t n = s->rend - s->rpos;
    if ((lua_Integer)n > max) n = (size_t)max;
    lua_pushlstring(L, s->rbuf + s->rpos, n);
    rbuf_take(s, n);
    return 1;
  }
  want = max > NB_RECV_CHUNK ? NB_RECV_CHUNK : (size_t)max;
  p = scratch(L, want);
  r = readsome(L, s, p, want, deadline_of(s));
  if (r < 0) return sockfail(L, s, "recv", (int)-r);
  lua_pushlstring(L, p, (size_t)r);
  return 1;
}

/* push the line [rpos, rpos+len) without its "\r", consume it and the
** `skip` bytes after it */
static void pushline(lua_State *L, nb_sock *s, size_t len, size_t skip) {
  size_t l = len;
  if (l > 0 && s->rbuf[s->rpos + l - 1] == '\r') l--;
  lua_pushlstring(L, s->rbuf + s->rpos, l);
  rbuf_take(s, len + skip);
}

/* keep bytes [p, p+n) in the (empty) read buffer */
static void rbuf_keep(lua_State *L, nb_sock *s, const char *p, size_t n) {
  size_t cap = n < NB_RBUF_MIN ? NB_RBUF_MIN : n;
  char *b = (char *)malloc(cap);
  if (b == NULL) {
    luaL_error(L, "not enough memory");
    return;
  }
  memcpy(b, p, n);
  s->rbuf = b;
  s->rcap = cap;
  s->rpos = s->rscan = 0;
  s->rend = n;
}

/*
** ** recvline with an empty read buffer, the common case: read into the
** scratch area and push a whole line straight from there, so the read
** buffer is allocated only for bytes past the line (or a partial line).
** Returns the count of results, or -1 to go on with the read buffer.
*/
static int recvline_fresh(lua_State *L, nb_sock *s, size_t max,
                          double deadline) {
  size_t want = max + 2 < NB_RBUF_MIN ? NB_RBUF_MIN : NB_RBUF_MIN * 8;
  char *p = scratch(L, want), *nl;
  ssize_t r = readsome(L, s, p, want, deadline);
  if (r < 0) return sockfail(L, s, "recvline", (int)-r);
  if (r == 0) return closedfail(L, s, "recvline");
  nl = (char *)memchr(p, '\n', (size_t)r);
  if (nl != NULL) {
    size_t len = (size_t)(nl - p), rest = (size_t)r - len - 1, l = len;
    if (l > 0 && p[l - 1] == '\r') l--;
    if (l > max) {
      if (rest > 0) rbuf_keep(L, s, nl + 1, rest);
      return nb_fail(L, "toolong", "recvline: line longer than %I bytes",
                     (lua_Integer)max);
    }
    if (rest > 0) rbuf_keep(L, s, nl + 1, rest);  /* before the push */
    lua_pushlstring(L, p, l);
    return 1;
  }
  rbuf_keep(L, s, p, (size_t)r);
  return -1;
}

/*
** ** s:recvline([max=65536]): one line without "\n" (and "\r"). The
** buffer never holds more than max + 2 bytes plus one read: a longer
** line is nil, msg, "toolong" (its bytes so far are dropped). At the end
** of the stream a last line without "\n" is returned as is, then
** nil, msg, "closed". A timeout keeps the partial line for the next call.
*/
static int sock_recvline(lua_State *L) {
  nb_sock *s = checkopen(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, NB_LINE_MAX);
  double deadline = deadline_of(s);
  size_t limit;
  luaL_argcheck(L, max >= 1 && max <= ((lua_Integer)1 << 40), 2,
                "out of range");
  limit = (size_t)max + 2;  /* the line, "\r", "\n" */
  if (s->rend == s->rpos) {
    int r = recvline_fresh(L, s, (size_t)max, deadline);
    if (r >= 0) return r;
  }
  for (;;) {
    ssize_t r;
    if (s->rend > s->rscan) {
      char *nl = (char *)memchr(s->rbuf + s->rscan, '\n',
                                s->rend - s->rscan);
      if (nl != NULL) {
        size_t len = (size_t)(nl - (s->rbuf + s->rpos));
        if (len > (size_t)max
            && !(len == (size_t)max + 1 && nl[-1] == '\r')) {
          rbuf_take(s, len + 1);
          return nb_fail(L, "toolong", "recvline: line longer than %I "
                         "bytes", max);
        }
        pushline(L, s, len, 1);
        return 1;
      }
      s->rscan = s->rend;
    }
    if (s->rend - s->rpos >= limit - 1) {
      rbuf_free(s);
      return nb_fail(L, "toolong", "recvline: line longer than %I bytes",
                     max);
    }
    /* make room: move the partial line to the front, grow if full */
    if (s->rbuf != NULL && s->rpos > 0) {
      memmove(s->rbuf, s->rbuf + s->rpos, s->rend - s->rpos);
      s->rend -= s->rpos;
      s->rscan -= s->rpos;
      s->rpos = 0;
    }
    if (s->rend == s->rcap) {
      size_t cap = s->rcap ? s->rcap * 2 : NB_RBUF_MIN;
      char *p;
      if (cap > limit && s->rcap < limit) cap = limit;
      if (cap < NB_RBUF_MIN) cap = NB_RBUF_MIN;
      p = (char *)realloc(s->rbuf, cap);
      if (p == NULL) return luaL_error(L, "not enough memory");
      s->rbuf = p;
      s->rcap = cap;
    }
    r = readsome(L, s, s->rbuf + s->rend, s->rcap - s->rend, deadline);
    if (r > 0) {
      s->rend += (size_t)r;
      continue;
    }
    if (r == 0) {  /* end of stream */
      if (s->rend > s->rpos) {
        pushline(L, s, s->rend - s->rpos, 0);
        return 1;
      }
      rbuf_free(s);
      return closedfail(L, s, "recvline");
    }
    if (s->rend == s->rpos) rbuf_free(s);
    return sockfail(L, s, "recvline", (int)-r);
  }
}

/* s:sendto(data, host, port) -> bytes sent */
static int sock_sendto(lua_State *L) {
  nb_sock *s = checkopen(L, 1);
  size_t n;
  const char *d = luaL_checklstring(L, 2, &n);
  double deadline = deadline_of(s);
  nb_addr a;
  int r = getaddr(L, s, 3, 4, 0, "send to", &a);
  if (r != 0) return r;
  for (;;) {
    ssize_t k = sendto(s->fd, d, n, MSG_NOSIGNAL,
                       (struct sockaddr *)&a.ss, a.len);
    if (k >= 0) {
      lua_pushinteger(L, (lua_Integer)k);
      return 1;
    }
    if (errno == EINTR) {
      nb_checkinterrupt(L);
      continue;
    }
    if (errno == EAGAIN) {
      int e = waitfd(L, s->fd, POLLOUT, deadline);
      if (e != 0) return addrfail(L, "send to", &a, e);
      continue;
    }
    return addrfail(L, "send to", &a, errno);
  }
}

/* s:recvfrom([max=65535]) -> data, host, port */
static int sock_recvfrom(lua_State *L) {
  nb_sock *s = checkopen(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, NB_DGRAM_MAX);
  double deadline = deadline_of(s);
  size_t want;
  char *p;
  luaL_argcheck(L, max >= 1, 2, "must be at least 1");
  want = max > NB_RECV_CHUNK ? NB_RECV_CHUNK : (size_t)max;
  p = scratch(L, want);
  for (;;) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    /* on a datagram socket MSG_TRUNC makes recvfrom return the whole
    ** datagram's length, so a cut one is reported (on a stream it would
    ** discard bytes: never there) */
    ssize_t k = recvfrom(s->fd, p, want, s->type == SOCK_DGRAM ? MSG_TRUNC
                         : 0, (struct sockaddr *)&ss, &len);
    if (k >= 0) {
      int cut = (size_t)k > want;
      lua_pushlstring(L, p, cut ? want : (size_t)k);
      pushaddr(L, (struct sockaddr *)&ss);
      if (!cut) return 3;
      lua_pushboolean(L, 1);  /* truncated: the rest is lost */
      return 4;
    }
    if (errno == EINTR) {
      nb_checkinterrupt(L);
      continue;
    }
    if (errno == EAGAIN) {
      int e = waitfd(L, s->fd, POLLIN, deadline);
      if (e != 0) return sockfail(L, s, "recvfrom", e);
      continue;
    }
    return sockfail(L, s, "recvfrom", errno);
  }
}

/* s:shutdown(how): "read", "write", "both" or a SHUT_* constant */
static int sock_shutdown(lua_State *L) {
  static const char *const names[] = {"read", "write", "both", NULL};
  nb_sock *s = checkopen(L, 1);
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
  if (shutdown(s->fd, how) != 0)
    return sockfail(L, s, "shutdown", errno);
  lua_pushboolean(L, 1);
  return 1;
}

/* s:settimeout(seconds or nil): nil (or negative) blocks, 0 never */
static int sock_settimeout(lua_State *L) {
  nb_sock *s = checkopen(L, 1);
  double t = lua_isnoneornil(L, 2) ? -1 : luaL_checknumber(L, 2);
  luaL_argcheck(L, t == t, 2, "not a number");
  if (t < 0) t = -1;
  if ((t < 0) != (s->timeout < 0) && setblocking(s->fd, t < 0) != 0)
    return sockfail(L, s, "settimeout", errno);
  s->timeout = t;
  lua_pushboolean(L, 1);
  return 1;
}

/* s:gettimeout() -> seconds or nil */
static int sock_gettimeout(lua_State *L) {
  nb_sock *s = checkopen(L, 1);
  if (s->timeout < 0) lua_pushnil(L);
  else lua_pushnumber(L, s->timeout);
  return 1;
}

/* s:setoption(name, value) */
static int sock_setoption(lua_State *L) {
  static const char *const names[] = {"reuseaddr", "reuseport", "nodelay",
    "keepalive", "ipv6only", "rcvbuf", "sndbuf", "linger", "broadcast",
    NULL};
  nb_sock *s = checkopen(L, 1);
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
    errtext(e, text, sizeof text);
    return nb_fail(L, errcode(e), "setoption %s: %s", names[opt], text);
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int nameof(lua_State *L, int peer) {
  nb_sock *s = checkopen(L, 1);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int r = peer ? getpeername(s->fd, (struct sockaddr *)&ss, &len)
               : getsockname(s->fd, (struct sockaddr *)&ss, &len);
  if (r != 0)
    return sockfail(L, s, peer ? "getpeername" : "getsockname", errno);
  pushaddr(L, (struct sockaddr *)&ss);
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
  lua_pushinteger(L, checkopen(L, 1)->fd);
  return 1;
}

/* s:close(): true, also when already closed */
static int sock_close(lua_State *L) {
  sock_release(tosock(L, 1));
  lua_pushboolean(L, 1);
  return 1;
}

static int sock_gc(lua_State *L) {
  sock_release(tosock(L, 1));
  return 0;
}

static int sock_tostring(lua_State *L) {
  nb_sock *s = tosock(L, 1);
  if (s->fd < 0)
    lua_pushliteral(L, NB_SOCKET_T " (closed)");
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
  {"sendto", sock_sendto},
  {"recvfrom", sock_recvfrom},
  {"shutdown", sock_shutdown},
  {"settimeout", sock_settimeout},
  {"gettimeout", sock_gettimeout},
  {"setoption", sock_setoption},
  {"getsockname", sock_getsockname},
  {"getpeername", sock_getpeername},
  {"fileno", sock_fileno},
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
  lua_pushcfunction(L, scratch_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  /* the socket metatable: methods in __index, all sharing the scratch */
  luaL_newmetatable(L, NB_SOCKET_T);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, sock_meta, 1);
  lua_createtable(L, 0, sizeof sock_methods / sizeof sock_methods[0]);
  lua_pushvalue(L, -3);
  luaL_setfuncs(L, sock_methods, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  /* module functions */
  lua_pushvalue(L, t);
  lua_insert(L, -2);  /* table, scratch */
  luaL_setfuncs(L, net_funcs, 1);
  lua_pop(L, 1);
  for (i = 0; constants[i].name; i++) {
    lua_pushinteger(L, constants[i].value);
    lua_setfield(L, -2, constants[i].name);
  }
}
