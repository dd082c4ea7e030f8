/*
** sockaddr.c: the socket family's addresses and messages: hosts and ports
** checked with the strict parsers, getaddrinfo for names, sockaddr to
** text, and the one-line failure messages ("connect to 1.2.3.4:80:
** connection refused") with their short codes.
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
** Addresses as text, error texts
** ------------------------------------------------------------------ */

/* "1.2.3.4:80" or "[::1]:80"; the port alone in *port */
void nb_addr_text(const struct sockaddr *sa, char *host, size_t size,
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

void nb_endpoint_text(const struct sockaddr *sa, char *out,
                          size_t size) {
  char host[NB_IPV6_STRLEN];
  unsigned port;
  nb_addr_text(sa, host, sizeof host, &port);
  if (sa->sa_family == AF_INET6)
    snprintf(out, size, "[%s]:%u", host, port);
  else
    snprintf(out, size, "%s:%u", host, port);
}

/* the short stable code of an errno (documented in docs/api/socket.md) */
const char *nb_errcode(int e) {
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
    case EBUSY: return "busy";
    default: return "failed";
  }
}

/* strerror, but "timed out" for waits and a lower-case first letter */
void nb_errtext(int e, char *out, size_t size) {
  const char *t;
  if (e == ETIMEDOUT || e == EAGAIN || e == EINPROGRESS || e == EALREADY)
    t = "timed out";
  else if (e == EBUSY)  /* from the loop (loop.c) */
    t = "another task is waiting on this socket";
  else
    t = strerror(e);
  snprintf(out, size, "%s", t);
  if (out[0] >= 'A' && out[0] <= 'Z' && !(out[1] >= 'A' && out[1] <= 'Z'))
    out[0] = (char)(out[0] - 'A' + 'a');
}

/* ---------------------------------------------------------------------
** Failure messages
** ------------------------------------------------------------------ */

/* the peer's "host:port" for messages: asked of the kernel, else the
** one remembered from connect or accept (a reset peer is gone) */
int nb_peertext(const nb_sock *s, char *ep, size_t size) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (s->fd >= 0 && getpeername(s->fd, (struct sockaddr *)&ss, &len) == 0)
    nb_endpoint_text((struct sockaddr *)&ss, ep, size);
  else if (s->peer.sin6_family != 0)
    nb_endpoint_text((const struct sockaddr *)&s->peer, ep, size);
  else
    return 0;
  return 1;
}

/* nil, "<op> to|from <peer>: <error>", code */
int nb_sockfail(lua_State *L, nb_sock *s, const char *op, int e) {
  char text[128], ep[64];
  if (e == NB_ELAYER) {  /* the layer's own words (a TLS failure) */
    const char *code = s->lops != NULL ? s->lops->code(s) : "failed";
    const char *msg = s->lops != NULL ? s->lops->msg(s) : "layer failed";
    if (nb_peertext(s, ep, sizeof ep))
      return nb_fail(L, code, "%s %s %s: %s", op,
                     strncmp(op, "recv", 4) == 0 ? "from" : "to", ep, msg);
    return nb_fail(L, code, "%s: %s", op, msg);
  }
  nb_errtext(e, text, sizeof text);
  if (nb_peertext(s, ep, sizeof ep))
    return nb_fail(L, nb_errcode(e), "%s %s %s: %s", op,
                   strncmp(op, "recv", 4) == 0 ? "from" : "to", ep, text);
  return nb_fail(L, nb_errcode(e), "%s: %s", op, text);
}

/* nil, "<op> from <peer>: connection closed", "closed" (end of stream) */
int nb_closedfail(lua_State *L, nb_sock *s, const char *op) {
  char ep[64];
  if (nb_peertext(s, ep, sizeof ep))
    return nb_fail(L, "closed", "%s from %s: connection closed", op, ep);
  return nb_fail(L, "closed", "%s: connection closed", op);
}

int nb_addrfail(lua_State *L, const char *op, const nb_addr *a, int e) {
  char text[128], ep[64];
  nb_errtext(e, text, sizeof text);
  nb_endpoint_text((const struct sockaddr *)&a->ss, ep, sizeof ep);
  return nb_fail(L, nb_errcode(e), "%s %s: %s", op, ep, text);
}
/* ---------------------------------------------------------------------
** Arguments: families, types, ports, hosts
** ------------------------------------------------------------------ */

int nb_checkfamily(lua_State *L, int i, int def) {
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

int nb_checktype(lua_State *L, int i, int def) {
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
int nb_getaddrs(lua_State *L, int hi, int pi, int family, int type,
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
int nb_getaddr(lua_State *L, nb_sock *s, int hi, int pi, int passive,
                   const char *op, nb_addr *a) {
  nb_addr *list;
  int n, r = nb_getaddrs(L, hi, pi, s->family, s->type, passive, op, &list, &n);
  if (r != 0) return r;
  *a = list[0];
  lua_pop(L, 1);
  return 0;
}

void nb_pushaddr(lua_State *L, const struct sockaddr *sa) {
  char host[NB_IPV6_STRLEN];
  unsigned port;
  nb_addr_text(sa, host, sizeof host, &port);
  lua_pushstring(L, host);
  lua_pushinteger(L, port);
}
