/*
** validate.c: the validate family of netbasics.core (see API.md), and
** the plain-C parsers every family shares (netbasics.h): addresses,
** ports, endpoints and host names as users type them.
**
** The parsers are written by hand, byte by byte, and never hand the
** text to libc: inet_aton and getaddrinfo read "010.0.0.1" as 8.0.0.1,
** "127.1" as 127.0.0.1 and "0x7f.1" as 127.0.0.1. They read exactly the
** `n` bytes given (an embedded NUL is just a bad byte), accept only
** ASCII, use no Lua types (a fuzzer calls them directly) and allocate
** nothing, so a 1 MB string costs one pass and no memory.
**
** Policy, written down once:
** - IPv4: four decimal octets 0..255 of 1 to 3 digits, no leading zero
**   ("0" alone is fine), no sign, no space, no hex or octal, no fewer
**   parts ("127.1").
** - IPv6: RFC 4291 section 2.2 text forms: eight groups of 1 to 4 hex
**   digits (either case), one "::" for one or more zero groups, an
**   optional dotted quad (strict, as above) in the last 32 bits. A
**   zone id ("fe80::1%eth0", RFC 4007) is malformed here: these are
**   addresses, not interface-scoped socket addresses. (Python's
**   ipaddress accepts a zone id since 3.9; we do not.)
** - Output: dotted quad; IPv6 per RFC 5952 (lowercase, no leading
**   zeros, the longest run of two or more zero groups as "::", the
**   first such run on a tie), and IPv4-mapped addresses in the mixed
**   form "::ffff:192.0.2.1" that RFC 5952 section 5 recommends.
*/
#include <string.h>

#include "netbasics.h"

/* ---------------------------------------------------------------------
** Addresses
** ------------------------------------------------------------------ */

static int isdigit_ascii(unsigned char c) {
  return c >= '0' && c <= '9';
}

/* value of a hex digit, or -1 */
static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int nb_parse_ipv4(const char *s, size_t n, uint8_t out[4]) {
  uint8_t a[4];
  size_t i = 0;
  int part;
  if (n < 7 || n > 15) return -1;  /* "0.0.0.0" .. "255.255.255.255" */
  for (part = 0; part < 4; part++) {
    unsigned v = 0;
    size_t start = i;
    if (part > 0) {
      if (i >= n || s[i] != '.') return -1;
      start = ++i;
    }
    while (i < n && isdigit_ascii((unsigned char)s[i]) && i - start < 3)
      v = v * 10 + (unsigned)(s[i++] - '0');
    if (i == start) return -1;                   /* no digits */
    if (s[start] == '0' && i - start > 1) return -1;  /* leading zero */
    if (v > 255) return -1;
    a[part] = (uint8_t)v;
  }
  if (i != n) return -1;  /* trailing bytes, or a fourth digit */
  memcpy(out, a, 4);
  return 0;
}

/*
** One pass, left to right: groups go to `w`; at "::" we remember where
** the gap is and, at the end, slide the groups after it to the right.
*/
int nb_parse_ipv6(const char *s, size_t n, uint8_t out[16]) {
  uint8_t w[16];
  size_t i = 0;
  int ng = 0;        /* groups (16 bits) written so far */
  int gap = -1;      /* group index where "::" stands, or -1 */
  if (n < 2 || n > 45) return -1;  /* "::" .. longest mixed form */
  if (s[0] == ':') {
    if (s[1] != ':') return -1;    /* one leading colon */
    gap = 0;
    i = 2;
    if (i == n) goto done;         /* "::" */
  }
  for (;;) {
    unsigned v = 0;
    size_t start = i;
    int d;
    while (i < n && i - start < 4 && (d = hexval((unsigned char)s[i])) >= 0) {
      v = (v << 4) | (unsigned)d;
      i++;
    }
    if (i == start) return -1;     /* empty group (":::" or trailing ":") */
    if (i < n && s[i] == '.') {
      /* a dotted quad: the rest of the text, the last 32 bits */
      if (ng > 6) return -1;
      if (nb_parse_ipv4(s + start, n - start, w + 2 * ng) < 0) return -1;
      ng += 2;
      break;
    }
    if (ng >= 8) return -1;
    w[2 * ng] = (uint8_t)(v >> 8);
    w[2 * ng + 1] = (uint8_t)(v & 0xff);
    ng++;
    if (i == n) break;
    if (s[i] != ':') return -1;    /* a bad byte, or a fifth hex digit */
    i++;
    if (i < n && s[i] == ':') {
      if (gap >= 0) return -1;     /* a second "::" */
      gap = ng;
      i++;
      if (i == n) break;           /* "1::" */
    } else if (i == n) {
      return -1;                   /* "1:" */
    }
  }
done:
  if (gap >= 0) {
    int tail = ng - gap;           /* groups after "::" */
    if (ng > 7) return -1;         /* "::" must stand for one group or more */
    memset(out, 0, 16);
    memcpy(out, w, (size_t)(2 * gap));
    memcpy(out + 16 - 2 * tail, w + 2 * gap, (size_t)(2 * tail));
  } else {
    if (ng != 8) return -1;
    memcpy(out, w, 16);
  }
  return 0;
}

size_t nb_format_ipv4(const uint8_t a[4], char out[NB_IPV4_STRLEN]) {
  size_t k = 0;
  int i;
  for (i = 0; i < 4; i++) {
    unsigned v = a[i];
    if (i > 0) out[k++] = '.';
    if (v >= 100) out[k++] = (char)('0' + v / 100);
    if (v >= 10) out[k++] = (char)('0' + v / 10 % 10);
    out[k++] = (char)('0' + v % 10);
  }
  out[k] = '\0';
  return k;
}

size_t nb_format_ipv6(const uint8_t a[16], char out[NB_IPV6_STRLEN]) {
  static const char hex[] = "0123456789abcdef";
  unsigned g[8];
  int i, best = -1, bestlen = 1, run = 0;
  size_t k = 0;
  for (i = 0; i < 8; i++)
    g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
  /* IPv4-mapped, ::ffff:0:0/96: the mixed form of RFC 5952 section 5 */
  if (g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0
      && g[5] == 0xffff) {
    memcpy(out, "::ffff:", 7);
    return 7 + nb_format_ipv4(a + 12, out + 7);
  }
  /* the longest run of two or more zero groups; the first on a tie */
  for (i = 0; i < 8; i++) {
    if (g[i] == 0) {
      if (++run > bestlen) {
        bestlen = run;
        best = i - run + 1;
      }
    } else {
      run = 0;
    }
  }
  for (i = 0; i < 8; i++) {
    unsigned v = g[i];
    int shift, started = 0;
    if (i == best) {
      out[k++] = ':';
      out[k++] = ':';
      i += bestlen - 1;
      continue;
    }
    if (i > 0 && i != best + bestlen) out[k++] = ':';
    for (shift = 12; shift >= 0; shift -= 4) {
      unsigned d = (v >> shift) & 0xf;
      if (d != 0 || started || shift == 0) {
        out[k++] = hex[d];
        started = 1;
      }
    }
  }
  out[k] = '\0';
  return k;
}

/* ---------------------------------------------------------------------
** Ports, host names, endpoints
** ------------------------------------------------------------------ */

int nb_parse_port(const char *s, size_t n, unsigned *port) {
  unsigned long v = 0;
  size_t i;
  int big = 0;
  if (n == 0) return -1;
  for (i = 0; i < n; i++) {
    if (!isdigit_ascii((unsigned char)s[i])) return -1;
    if (!big) {
      v = v * 10 + (unsigned)(s[i] - '0');
      if (v > 65535) big = 1;  /* keep reading: "99999x" is malformed */
    }
  }
  if (big) return -2;
  *port = (unsigned)v;
  return 0;
}

/*
** Besides the usual rules (RFC 1123: labels of letters, digits and
** hyphens, not starting or ending with a hyphen; '_' allowed as DNS
** itself allows), the last label may be neither all digits nor "0x"
** and hex digits: such a "name" is a number to getaddrinfo, which
** reads "127.1" and "0x7f000001" as 127.0.0.1. No top-level domain
** looks like that.
*/
int nb_check_hostname(const char *s, size_t n) {
  size_t i, label = 0, last = 0;
  int alldigits = 1, allhex = 1;
  if (n > 0 && s[n - 1] == '.') n--;
  if (n == 0 || n > 253) return -1;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') return -1;
      label = 0;
      last = i + 1;
      alldigits = allhex = 1;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
               || isdigit_ascii(c) || c == '-' || c == '_') {
      if (c == '-' && label == 0) return -1;
      if (++label > 63) return -1;
      if (!isdigit_ascii(c)) alldigits = 0;
      if (hexval(c) < 0 && !(label == 2 && (c == 'x' || c == 'X')))
        allhex = 0;
    } else {
      return -1;
    }
  }
  if (label == 0 || s[n - 1] == '-') return -1;
  if (alldigits) return -1;
  if (allhex && label >= 2 && s[last] == '0'
      && (s[last + 1] == 'x' || s[last + 1] == 'X'))
    return -1;
  return 0;
}

/*
** "host:port" with host an IPv4 address or a name, or "[v6]:port".
** The brackets hold an IPv6 address and nothing else; an unbracketed
** host has no colon (so "::1:80" is malformed, not guessed at).
*/
int nb_parse_endpoint(const char *s, size_t n, nb_endpoint *ep) {
  const char *colon;
  size_t hl;
  if (n == 0) return -1;
  if (s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (close == NULL || (size_t)(close - s) + 1 >= n || close[1] != ':')
      return -1;
    hl = (size_t)(close - s - 1);
    if (nb_parse_ipv6(s + 1, hl, ep->addr) < 0) return -1;
    ep->family = NB_FAM_INET6;
    ep->host = s + 1;
    ep->hostlen = hl;
    colon = close + 1;
  } else {
    colon = memchr(s, ':', n);
    if (colon == NULL) return -1;
    hl = (size_t)(colon - s);
    ep->host = s;
    ep->hostlen = hl;
    if (nb_parse_ipv4(s, hl, ep->addr) == 0)
      ep->family = NB_FAM_INET;
    else if (nb_check_hostname(s, hl) == 0)
      ep->family = NB_FAM_NAME;
    else
      return -1;
  }
  /* the port: digits only, so a second ':' is malformed here */
  return nb_parse_port(colon + 1, (size_t)(s + n - colon - 1), &ep->port);
}

/* ---------------------------------------------------------------------
** Lua functions
** ------------------------------------------------------------------ */

/* isip(s [, "inet" or "inet6"]): true or false, never nil */
static int net_isip(lua_State *L) {
  static const char *const families[] = {"any", "inet", "inet6", NULL};
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  int fam = luaL_checkoption(L, 2, "any", families);
  uint8_t a[16];
  int ok;
  if (fam == 1)
    ok = nb_parse_ipv4(s, n, a) == 0;
  else if (fam == 2)
    ok = nb_parse_ipv6(s, n, a) == 0;
  else
    ok = (memchr(s, ':', n) ? nb_parse_ipv6(s, n, a)
                            : nb_parse_ipv4(s, n, a)) == 0;
  lua_pushboolean(L, ok);
  return 1;
}

static int net_parse_endpoint(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  nb_endpoint ep;
  int r = nb_parse_endpoint(s, n, &ep);
  if (r < 0) {
    const char *shown = nb_pushshown(L, s, n);
    /* out of range is still a malformed endpoint: no socket can use it */
    if (r == -2)
      return nb_fail(L, "malformed", "port out of range (0..65535) in "
                     "endpoint \"%s\"", shown);
    return nb_fail(L, "malformed", "malformed endpoint \"%s\" (expected "
                   "host:port or [IPv6]:port)", shown);
  }
  lua_createtable(L, 0, 3);
  lua_pushlstring(L, ep.host, ep.hostlen);
  lua_setfield(L, -2, "host");
  lua_pushinteger(L, (lua_Integer)ep.port);
  lua_setfield(L, -2, "port");
  lua_pushstring(L, ep.family == NB_FAM_INET ? "inet"
                    : ep.family == NB_FAM_INET6 ? "inet6" : "name");
  lua_setfield(L, -2, "family");
  return 1;
}

/*
** The lesson's function (seed: isipandport), with its bugs fixed: the
** address is checked strictly (the seed's inet_aton took "127.1" and
** "0x7f.1"), the port is digits only (int() took " 80" and "+80"),
** and a port no socket can use (0, or above 65535) is refused instead
** of accepted with a whine. Ports 1..6 are still accepted with the
** whine, as the lesson does. Messages are returned, not printed.
*/
static int isipandport_say(lua_State *L, int ok, const char *what,
                           const char *s, size_t n) {
  const char *shown = nb_pushshown(L, s, n);
  lua_pushboolean(L, ok);
  lua_pushfstring(L, "%s in %s", what, shown);
  return 2;
}

static int net_isipandport(lua_State *L) {
  size_t n;
  const char *s, *colon;
  uint8_t a[4];
  unsigned port;
  int r;
  if (lua_isnoneornil(L, 1)) {
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "empty");
    return 2;
  }
  s = luaL_checklstring(L, 1, &n);  /* a number becomes text, as str() */
  if (n == 0) {
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "empty");
    return 2;
  }
  colon = memchr(s, ':', n);
  if (colon == NULL || nb_parse_ipv4(s, (size_t)(colon - s), a) < 0)
    return isipandport_say(L, 0, "malformed socket", s, n);
  r = nb_parse_port(colon + 1, (size_t)(s + n - colon - 1), &port);
  if (r == -1)
    return isipandport_say(L, 0, "malformed socket", s, n);
  if (r == -2 || port == 0)
    return isipandport_say(L, 0, "port out of range", s, n);
  if (port < 7)
    return isipandport_say(L, 1, "port out of range", s, n);
  lua_pushboolean(L, 1);
  return 1;
}

static const luaL_Reg validate_funcs[] = {
  {"isip", net_isip},
  {"parse_endpoint", net_parse_endpoint},
  {"isipandport", net_isipandport},
  {NULL, NULL}
};

void nb_open_validate(lua_State *L) {
  luaL_setfuncs(L, validate_funcs, 0);
}
