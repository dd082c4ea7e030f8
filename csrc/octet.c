/*
** octet.c: the octet family of netbasics.core (see API.md and
** docs/api/octet.md): octets and their binary forms, addresses as
** integers, canonical text, CIDR blocks and address classes.
**
** Text is read by the strict parsers of validate.c (nb_parse_ipv4/6);
** nothing here hands user text to libc. Bad text returns
** nil, message, "malformed"; a number out of range returns
** nil, message, "range"; a wrong argument type raises.
*/
#include <math.h>
#include <string.h>

#include "netbasics.h"

#define MAX_OCTET 255

/* an address of either family: 4 or 16 bytes used */
typedef struct nb_addr {
  int family;          /* NB_FAM_INET or NB_FAM_INET6 */
  uint8_t a[16];
} nb_addr;

/* ---------------------------------------------------------------------
** Helpers
** ------------------------------------------------------------------ */

static int addrlen(int family) {
  return family == NB_FAM_INET ? 4 : 16;
}

/* either family: a colon means IPv6 (no IPv4 text has one) */
static int parse_ip(const char *s, size_t n, nb_addr *ad) {
  if (memchr(s, ':', n) != NULL) {
    ad->family = NB_FAM_INET6;
    return nb_parse_ipv6(s, n, ad->a);
  }
  ad->family = NB_FAM_INET;
  return nb_parse_ipv4(s, n, ad->a);
}

static void push_ip(lua_State *L, int family, const uint8_t *a) {
  char buf[NB_IPV6_STRLEN];
  size_t k = family == NB_FAM_INET ? nb_format_ipv4(a, buf)
                                   : nb_format_ipv6(a, buf);
  lua_pushlstring(L, buf, k);
}

static int fail_ip(lua_State *L, const char *s, size_t n, const char *what) {
  nb_pushshown(L, s, n);
  return nb_fail(L, "malformed", "\"%s\" is not %s", lua_tostring(L, -1),
                 what);
}

/* argument `arg` as an address of either family; 0 ok, else -1 and the
** failure values pushed (nil, message, "malformed") */
static int check_ip(lua_State *L, int arg, nb_addr *ad) {
  size_t n;
  const char *s = luaL_checklstring(L, arg, &n);
  if (parse_ip(s, n, ad) == 0) return 0;
  fail_ip(L, s, n, "an IP address");
  return -1;
}

/* the netmask of a prefix, 4 or 16 bytes */
static void make_mask(int prefix, int len, uint8_t mask[16]) {
  int i;
  for (i = 0; i < len; i++) {
    int bits = prefix - 8 * i;
    mask[i] = bits >= 8 ? 0xff : bits <= 0 ? 0
              : (uint8_t)(0xff << (8 - bits));
  }
}

/* does `a` start with the first `bits` bits of `p`? */
static int inprefix(const uint8_t *a, const uint8_t *p, int bits) {
  int full = bits / 8, rest = bits % 8;
  if (memcmp(a, p, (size_t)full) != 0) return 0;
  if (rest == 0) return 1;
  return ((a[full] ^ p[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* add `d` (+1 or -1) to a big-endian number of `len` bytes */
static void addone(uint8_t *a, int len, int d) {
  int i;
  for (i = len - 1; i >= 0; i--) {
    int v = a[i] + d;
    a[i] = (uint8_t)(v & 0xff);
    if (v >= 0 && v <= 0xff) break;
  }
}

/* ---------------------------------------------------------------------
** Octets and binary
** ------------------------------------------------------------------ */

static int net_octets(lua_State *L) {
  nb_addr ad;
  int i, len;
  if (check_ip(L, 1, &ad) < 0) return 3;
  len = addrlen(ad.family);
  lua_createtable(L, len, 0);
  for (i = 0; i < len; i++) {
    lua_pushinteger(L, ad.a[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int net_tobinary(lua_State *L) {
  lua_Integer v = luaL_checkinteger(L, 1);
  lua_Integer bits = luaL_optinteger(L, 2, 8);
  char buf[64];
  int i;
  luaL_argcheck(L, bits >= 1 && bits <= 64, 2, "bits must be 1..64");
  if (v < 0 || (bits < 64 && ((lua_Unsigned)v >> bits) != 0))
    return nb_fail(L, "range", "%I does not fit in %I bits", v, bits);
  for (i = 0; i < bits; i++)
    buf[i] = (char)('0' + (((lua_Unsigned)v >> (bits - 1 - i)) & 1));
  lua_pushlstring(L, buf, (size_t)bits);
  return 1;
}

int nb_parse_binary(const char *s, size_t n, int64_t *out) {
  size_t i;
  uint64_t v = 0;
  int big = 0;
  if (n == 0) return -1;
  for (i = 0; i < n; i++) {
    if (s[i] != '0' && s[i] != '1') return -1;
    if (v > (uint64_t)INT64_MAX >> 1) big = 1;
    v = v << 1 | (uint64_t)(s[i] - '0');
  }
  if (big || v > (uint64_t)INT64_MAX) return -2;
  *out = (int64_t)v;
  return 0;
}

static int net_frombinary(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  int64_t v = 0;
  int r = nb_parse_binary(s, n, &v);
  if (r == -1) {
    nb_pushshown(L, s, n);
    return nb_fail(L, "malformed", "\"%s\" is not a binary number "
                   "(only 0 and 1)", lua_tostring(L, -1));
  }
  if (r == -2)
    return nb_fail(L, "range", "binary number of %d digits is too big",
                   (int)(n > 999 ? 999 : n));
  lua_pushinteger(L, (lua_Integer)v);
  return 1;
}

/* IPv4: 8 bits per octet joined by '.'; IPv6: 16 per group joined by ':' */
static int net_ip_to_binary(lua_State *L) {
  nb_addr ad;
  char buf[8 * 17];
  size_t k = 0;
  int i, b, len;
  if (check_ip(L, 1, &ad) < 0) return 3;
  len = addrlen(ad.family);
  for (i = 0; i < len; i++) {
    if (ad.family == NB_FAM_INET && i > 0) buf[k++] = '.';
    else if (ad.family == NB_FAM_INET6 && i > 0 && i % 2 == 0)
      buf[k++] = ':';
    for (b = 7; b >= 0; b--)
      buf[k++] = (char)('0' + ((ad.a[i] >> b) & 1));
  }
  lua_pushlstring(L, buf, k);
  return 1;
}

static int net_ip_to_int(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  uint8_t a[4];
  if (nb_parse_ipv4(s, n, a) < 0)
    return fail_ip(L, s, n, "an IPv4 address");
  lua_pushinteger(L, (lua_Integer)((uint32_t)a[0] << 24 | (uint32_t)a[1] << 16
                                   | (uint32_t)a[2] << 8 | a[3]));
  return 1;
}

static int net_int_to_ip(lua_State *L) {
  lua_Integer v = luaL_checkinteger(L, 1);
  uint8_t a[4];
  if (v < 0 || v > 0xffffffffLL)
    return nb_fail(L, "range", "%I is not an IPv4 address (0..4294967295)",
                   v);
  a[0] = (uint8_t)(v >> 24);
  a[1] = (uint8_t)(v >> 16);
  a[2] = (uint8_t)(v >> 8);
  a[3] = (uint8_t)v;
  push_ip(L, NB_FAM_INET, a);
  return 1;
}

/* the lesson's "do the math": 185 = 128 + 32 + 16 + 8 + 1 */
static int net_explain_octet(lua_State *L) {
  lua_Integer v = luaL_checkinteger(L, 1);
  char buf[64];
  size_t k;
  int place, first = 1;
  if (v < 0 || v > MAX_OCTET)
    return nb_fail(L, "range", "%I is not an octet (0..255)", v);
  k = (size_t)snprintf(buf, sizeof buf, "%d =", (int)v);
  if (v == 0) k += (size_t)snprintf(buf + k, sizeof buf - k, " 0");
  for (place = 128; place >= 1; place >>= 1) {
    if (v & place) {
      k += (size_t)snprintf(buf + k, sizeof buf - k, "%s %d",
                            first ? "" : " +", place);
      first = 0;
    }
  }
  lua_pushlstring(L, buf, k);
  return 1;
}

static int net_normalize_ip(lua_State *L) {
  nb_addr ad;
  if (check_ip(L, 1, &ad) < 0) return 3;
  push_ip(L, ad.family, ad.a);
  return 1;
}

/* ---------------------------------------------------------------------
** Address classes
** ------------------------------------------------------------------ */

typedef struct nb_range {
  uint8_t p[16];
  int bits;
  const char *class;
} nb_range;

/* first match wins */
static const nb_range v4ranges[] = {
  {{0, 0, 0, 0}, 32, "unspecified"},
  {{127}, 8, "loopback"},
  {{169, 254}, 16, "link-local"},
  {{224}, 4, "multicast"},
  {{10}, 8, "private"},                 /* RFC 1918 */
  {{172, 16}, 12, "private"},
  {{192, 168}, 16, "private"},
  {{100, 64}, 10, "private"},           /* RFC 6598 shared (carrier NAT) */
  {{0}, 8, "reserved"},                 /* "this network" */
  {{192, 0, 0}, 24, "reserved"},        /* IETF protocol assignments */
  {{192, 0, 2}, 24, "reserved"},        /* documentation (RFC 5737) */
  {{198, 51, 100}, 24, "reserved"},
  {{203, 0, 113}, 24, "reserved"},
  {{198, 18}, 15, "reserved"},          /* benchmarking */
  {{240}, 4, "reserved"},               /* future use, and broadcast */
  {{0}, 0, "global"}
};

static const nb_range v6ranges[] = {
  {{0}, 128, "unspecified"},
  {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},
  {{0xfe, 0x80}, 10, "link-local"},
  {{0xff}, 8, "multicast"},
  {{0xfc}, 7, "private"},               /* unique local (RFC 4193) */
  {{0, 0x64, 0xff, 0x9b}, 96, "global"},  /* NAT64 (RFC 6052) */
  {{0x20, 0x01, 0x0d, 0xb8}, 32, "reserved"},  /* documentation */
  {{0x20, 0x01}, 23, "reserved"},       /* IETF protocol assignments */
  {{0x20}, 3, "global"},                /* global unicast */
  {{0}, 0, "reserved"}                  /* the rest: unassigned, fec0::/10 */
};

static const char *classify(const nb_addr *ad) {
  const nb_range *r = ad->family == NB_FAM_INET ? v4ranges : v6ranges;
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (ad->family == NB_FAM_INET6 && memcmp(ad->a, mapped, 12) == 0) {
    nb_addr v4;  /* ::ffff:a.b.c.d is the IPv4 address a.b.c.d */
    v4.family = NB_FAM_INET;
    memcpy(v4.a, ad->a + 12, 4);
    return classify(&v4);
  }
  for (;; r++)
    if (inprefix(ad->a, r->p, r->bits)) return r->class;
}

static int net_classify(lua_State *L) {
  nb_addr ad;
  if (check_ip(L, 1, &ad) < 0) return 3;
  lua_pushstring(L, classify(&ad));
  return 1;
}

/* ---------------------------------------------------------------------
** CIDR blocks
** ------------------------------------------------------------------ */

/*
** "192.168.1.0/24", "2001:db8::/32", a bare address (a /32 or /128),
** or (IPv4) "10.0.0.0/255.0.0.0" with a netmask or hostmask, as
** Python's ipaddress.ip_network reads them. 0 ok, -1 malformed, -2 host
** bits set (only when `strict`; otherwise they are cleared).
*/
int nb_parse_cidr(const char *s, size_t n, int strict, nb_cidr *c) {
  const char *slash = memchr(s, '/', n);
  size_t alen = slash ? (size_t)(slash - s) : n;
  nb_addr ad;
  uint8_t mask[16];
  int i, len, max, hostbits = 0;
  if (parse_ip(s, alen, &ad) < 0) return -1;
  len = addrlen(ad.family);
  max = 8 * len;
  c->family = ad.family;
  c->prefix = max;
  if (slash) {
    const char *p = slash + 1;
    size_t plen = n - alen - 1, j;
    unsigned v = 0;
    for (j = 0; j < plen && p[j] >= '0' && p[j] <= '9'; j++)
      if ((v = v * 10 + (unsigned)(p[j] - '0')) > 128) v = 129;
    if (plen > 0 && j == plen) {       /* digits */
      /* no leading zero: "/08" and "/024" are malformed (Python reads
      ** them as 8 and 24; C's strtol with base 0 would read "/010" as
      ** 8), as a leading zero in an octet is */
      if (plen > 1 && p[0] == '0') return -1;
      if (v > (unsigned)max) return -1;
      c->prefix = (int)v;
    } else if (ad.family == NB_FAM_INET && nb_parse_ipv4(p, plen, mask) == 0) {
      /* a netmask (ones then zeros) or a hostmask (zeros then ones) */
      uint32_t m = (uint32_t)mask[0] << 24 | (uint32_t)mask[1] << 16
                   | (uint32_t)mask[2] << 8 | mask[3];
      int k;
      for (k = 0; k <= 32; k++) {
        uint32_t net = k == 0 ? 0 : 0xffffffffu << (32 - k);
        if (m == net || m == ~net) break;
      }
      if (k > 32) return -1;
      /* 0.0.0.0 and 255.255.255.255 read as netmasks first, as Python */
      c->prefix = m == 0 ? 0 : (m == 0xffffffffu ? 32 : k);
    } else {
      return -1;
    }
  }
  make_mask(c->prefix, len, mask);
  memset(c->net, 0, sizeof c->net);
  for (i = 0; i < len; i++) {
    c->net[i] = ad.a[i] & mask[i];
    if (c->net[i] != ad.a[i]) hostbits = 1;
  }
  if (hostbits && strict) return -2;
  return 0;
}

static nb_cidr *check_cidr(lua_State *L, int arg) {
  return (nb_cidr *)luaL_checkudata(L, arg, NB_CIDR_T);
}

static int net_cidr(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  int strict = 1, r;
  nb_cidr c;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TBOOLEAN);
    strict = lua_toboolean(L, 2);
  }
  r = nb_parse_cidr(s, n, strict, &c);
  if (r < 0) {
    const char *shown = nb_pushshown(L, s, n);
    if (r == -2) {
      push_ip(L, c.family, c.net);
      return nb_fail(L, "malformed", "\"%s\" has host bits set "
                     "(the network is %s/%d)", shown, lua_tostring(L, -1),
                     c.prefix);
    }
    return nb_fail(L, "malformed", "\"%s\" is not a CIDR block "
                   "(address/prefix)", shown);
  }
  *(nb_cidr *)lua_newuserdatauv(L, sizeof(nb_cidr), 0) = c;
  luaL_setmetatable(L, NB_CIDR_T);
  return 1;
}

/* the usable hosts, as Python's hosts(): not the network address, and
** (IPv4) not the broadcast address, except in a /31, /32, /127, /128 */
static void cidr_ends(const nb_cidr *c, uint8_t first[16], uint8_t last[16]) {
  uint8_t mask[16];
  int i, len = addrlen(c->family), max = 8 * len;
  make_mask(c->prefix, len, mask);
  for (i = 0; i < len; i++) {
    first[i] = c->net[i];
    last[i] = (uint8_t)(c->net[i] | (uint8_t)~mask[i]);
  }
  if (c->prefix >= max - 1) return;
  addone(first, len, 1);
  if (c->family == NB_FAM_INET) addone(last, len, -1);
}

static int cidr_index(lua_State *L) {
  nb_cidr *c = check_cidr(L, 1);
  const char *k;
  uint8_t a[16], b[16];
  int i, len = addrlen(c->family), max = 8 * len;
  /* methods first; other keys that are not strings read as nil */
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  if (lua_type(L, 2) != LUA_TSTRING) {
    lua_pushnil(L);
    return 1;
  }
  k = lua_tostring(L, 2);
  if (strcmp(k, "network") == 0) {
    push_ip(L, c->family, c->net);
  } else if (strcmp(k, "prefix") == 0) {
    lua_pushinteger(L, c->prefix);
  } else if (strcmp(k, "family") == 0) {
    lua_pushstring(L, c->family == NB_FAM_INET ? "inet" : "inet6");
  } else if (strcmp(k, "netmask") == 0 || strcmp(k, "hostmask") == 0
             || strcmp(k, "broadcast") == 0) {
    make_mask(c->prefix, len, a);
    for (i = 0; i < len; i++) {
      if (k[0] == 'h') a[i] = (uint8_t)~a[i];
      else if (k[0] == 'b') a[i] = (uint8_t)(c->net[i] | (uint8_t)~a[i]);
    }
    push_ip(L, c->family, a);
  } else if (strcmp(k, "size") == 0) {
    /* an integer while it fits (up to 2^62), else a float: 2^64, 2^128 */
    if (max - c->prefix <= 62)
      lua_pushinteger(L, (lua_Integer)1 << (max - c->prefix));
    else
      lua_pushnumber(L, ldexp(1.0, max - c->prefix));
  } else if (strcmp(k, "first") == 0 || strcmp(k, "last") == 0) {
    cidr_ends(c, a, b);
    push_ip(L, c->family, k[0] == 'f' ? a : b);
  } else {
    lua_pushnil(L);
  }
  return 1;
}

/* c:contains(ip): an address (text) in the block; or another block
** (a cidr object) wholly inside it. Another family is false. */
static int cidr_contains(lua_State *L) {
  nb_cidr *c = check_cidr(L, 1);
  nb_cidr *sub = (nb_cidr *)luaL_testudata(L, 2, NB_CIDR_T);
  int in;
  if (sub != NULL) {
    in = sub->family == c->family && sub->prefix >= c->prefix
         && inprefix(sub->net, c->net, c->prefix);
  } else {
    nb_addr ad;
    if (check_ip(L, 2, &ad) < 0) return 3;
    in = ad.family == c->family && inprefix(ad.a, c->net, c->prefix);
  }
  lua_pushboolean(L, in);
  return 1;
}

static int cidr_tostring(lua_State *L) {
  nb_cidr *c = check_cidr(L, 1);
  push_ip(L, c->family, c->net);
  lua_pushfstring(L, "%s/%d", lua_tostring(L, -1), c->prefix);
  return 1;
}

static int cidr_eq(lua_State *L) {
  nb_cidr *a = check_cidr(L, 1), *b = check_cidr(L, 2);
  lua_pushboolean(L, a->family == b->family && a->prefix == b->prefix
                     && memcmp(a->net, b->net, 16) == 0);
  return 1;
}

/* ---------------------------------------------------------------------
** Registration
** ------------------------------------------------------------------ */

static const luaL_Reg cidr_methods[] = {
  {"contains", cidr_contains},
  {NULL, NULL}
};

static const luaL_Reg cidr_meta[] = {
  {"__tostring", cidr_tostring},
  {"__eq", cidr_eq},
  {NULL, NULL}
};

static const luaL_Reg octet_funcs[] = {
  {"octets", net_octets},
  {"tobinary", net_tobinary},
  {"frombinary", net_frombinary},
  {"ip_to_binary", net_ip_to_binary},
  {"ip_to_int", net_ip_to_int},
  {"int_to_ip", net_int_to_ip},
  {"explain_octet", net_explain_octet},
  {"normalize_ip", net_normalize_ip},
  {"classify", net_classify},
  {"cidr", net_cidr},
  {NULL, NULL}
};

void nb_open_octet(lua_State *L) {
  luaL_newmetatable(L, NB_CIDR_T);
  luaL_setfuncs(L, cidr_meta, 0);
  luaL_newlib(L, cidr_methods);
  lua_pushcclosure(L, cidr_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_setfuncs(L, octet_funcs, 0);
  lua_pushinteger(L, MAX_OCTET);
  lua_setfield(L, -2, "MAX_OCTET");
}
