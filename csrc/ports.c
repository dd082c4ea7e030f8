/*
** ports.c: the ports family of netbasics.core: net.connections(), the
** `netstat -an` view, read from Linux's /proc/net/{tcp,tcp6,udp,udp6}
** and, for Unix domain sockets (`netstat -x`), /proc/net/unix. The line
** parsers take plain C types (a fuzzer can call them).
*/
#include <stdio.h>
#include <string.h>

#include "netbasics.h"

#define NB_PROCFILE_T "netbasics.procfile"

typedef struct nb_conn {
  uint8_t laddr[16], raddr[16];
  unsigned lport, rport, state;
} nb_conn;

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* `n` hex digits at *p into *v; advances *p. 0 ok, -1 not */
static int hexnum(const char **p, const char *end, size_t n,
                  unsigned long *v) {
  size_t i;
  *v = 0;
  if ((size_t)(end - *p) < n) return -1;
  for (i = 0; i < n; i++) {
    int h = hexval((*p)[i]);
    if (h < 0) return -1;
    *v = *v << 4 | (unsigned long)h;
  }
  *p += n;
  return 0;
}

/*
** ** "0100007F:1F8F" (IPv4) or 32 hex digits and a port (IPv6). The
** kernel prints each 32-bit word of the address as the number its
** network-order bytes make in host order, so copying the number's bytes
** back gives the address on either endianness.
*/
static int parse_endpoint(const char **p, const char *end, int v6,
                          uint8_t addr[16], unsigned *port) {
  int words = v6 ? 4 : 1, i;
  unsigned long v;
  for (i = 0; i < words; i++) {
    uint32_t w;
    if (hexnum(p, end, 8, &v) != 0) return -1;
    w = (uint32_t)v;
    memcpy(addr + 4 * i, &w, 4);
  }
  if (*p >= end || **p != ':') return -1;
  (*p)++;
  if (hexnum(p, end, 4, &v) != 0) return -1;
  *port = (unsigned)v;
  return 0;
}

static void skipspace(const char **p, const char *end) {
  while (*p < end && (**p == ' ' || **p == '\t')) (*p)++;
}

/*
** ** One line of /proc/net/{tcp,udp}[6]:
** "  0: 0100007F:1F8F 00000000:0000 0A ..." Returns 0 and fills `c`, or
** -1 for the header line or anything malformed.
*/
static int parse_procline(const char *s, size_t n, int v6, nb_conn *c) {
  const char *p = s, *end = s + n;
  unsigned long st;
  skipspace(&p, end);
  if (p >= end || hexval(*p) < 0 || *p > '9') return -1;
  while (p < end && *p >= '0' && *p <= '9') p++;
  if (p >= end || *p != ':') return -1;
  p++;
  skipspace(&p, end);
  if (parse_endpoint(&p, end, v6, c->laddr, &c->lport) != 0) return -1;
  skipspace(&p, end);
  if (parse_endpoint(&p, end, v6, c->raddr, &c->rport) != 0) return -1;
  skipspace(&p, end);
  if (hexnum(&p, end, 2, &st) != 0) return -1;
  c->state = (unsigned)st;
  return 0;
}

/* one line of /proc/net/unix */
typedef struct nb_uconn {
  unsigned long refcnt, flags, type, state, inode;
  const char *path;  /* into the line; "" when none */
  size_t pathlen;
} nb_uconn;

/* hex digits at *p, at least one and at most 16: 0, or -1 */
static int hexrun(const char **p, const char *end, unsigned long *v) {
  size_t n = 0;
  while (*p + n < end && n <= 16 && hexval((*p)[n]) >= 0) n++;
  if (n == 0 || n > 16) return -1;
  return hexnum(p, end, n, v);
}

/*
** ** One line of /proc/net/unix: "0000000000000000: 00000002 00000000
** 00010000 0001 01 12345 /run/x.sock" (address, refcount, protocol,
** flags, type, state, inode, then the path, if any, to the end of the
** line; an abstract name starts with '@'). 0 and `c`, or -1 for the
** header line or anything malformed.
*/
static int parse_unixline(const char *s, size_t n, nb_uconn *c) {
  const char *p = s, *end = s + n;
  unsigned long v, *fields[5];
  int i;
  fields[0] = &c->refcnt;
  fields[1] = &v;  /* the protocol: always 0 */
  fields[2] = &c->flags;
  fields[3] = &c->type;
  fields[4] = &c->state;
  if (hexrun(&p, end, &v) != 0 || p >= end || *p != ':') return -1;
  p++;
  for (i = 0; i < 5; i++) {
    skipspace(&p, end);
    if (hexrun(&p, end, fields[i]) != 0) return -1;
  }
  skipspace(&p, end);
  if (p >= end || *p < '0' || *p > '9') return -1;
  c->inode = 0;
  while (p < end && *p >= '0' && *p <= '9') {
    if (c->inode > (~0UL - 9) / 10) return -1;
    c->inode = c->inode * 10 + (unsigned long)(*p++ - '0');
  }
  if (p < end && *p != ' ') return -1;
  if (p < end) p++;  /* one space before the path */
  c->path = p;
  c->pathlen = (size_t)(end - p);
  return 0;
}

/* netstat -x's words for a Unix socket's type and state */
static const char *unixtype(unsigned long t) {
  switch (t) {
    case 1: return "stream";
    case 2: return "dgram";
    case 5: return "seqpacket";
    default: return "unknown";
  }
}

#define NB_UNIX_ACC 0x10000UL  /* __SO_ACCEPTCON: listening */

static const char *unixstate(const nb_uconn *c) {
  switch (c->state) {
    case 1: return c->flags & NB_UNIX_ACC ? "LISTENING" : "UNCONN";
    case 2: return "CONNECTING";
    case 3: return "CONNECTED";
    case 4: return "DISCONNECTING";
    default: return "UNKNOWN";
  }
}

static const char *statename(int tcp, unsigned st) {
  static const char *const tcpstates[] = {"UNKNOWN", "ESTABLISHED",
    "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE",
    "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"};
  if (!tcp) return st == 1 ? "ESTABLISHED" : "UNCONN";
  return st < sizeof tcpstates / sizeof tcpstates[0] ? tcpstates[st]
                                                      : "UNKNOWN";
}

static int procfile_gc(lua_State *L) {
  FILE **f = (FILE **)luaL_checkudata(L, 1, NB_PROCFILE_T);
  if (*f != NULL) {
    fclose(*f);
    *f = NULL;
  }
  return 0;
}

static void pushhost(lua_State *L, const uint8_t *a, int v6) {
  char buf[NB_IPV6_STRLEN];
  if (v6) nb_format_ipv6(a, buf);
  else nb_format_ipv4(a, buf);
  lua_pushstring(L, buf);
}

/* append the sockets of one file to the list at the top; -1 if the
** file cannot be opened */
static int readproc(lua_State *L, const char *path, const char *proto,
                    int v6, lua_Integer *k) {
  char line[512];
  FILE **f = (FILE **)lua_newuserdatauv(L, sizeof(FILE *), 0);
  *f = NULL;
  luaL_setmetatable(L, NB_PROCFILE_T);  /* closes the file on a raise */
  *f = fopen(path, "re");
  if (*f == NULL) {
    lua_pop(L, 1);
    return -1;
  }
  while (fgets(line, sizeof line, *f) != NULL) {
    nb_conn c;
    size_t n = strcspn(line, "\n");
    if (parse_procline(line, n, v6, &c) != 0) continue;
    lua_createtable(L, 0, 7);
    lua_pushstring(L, proto);
    lua_setfield(L, -2, "proto");
    lua_pushstring(L, v6 ? "inet6" : "inet");
    lua_setfield(L, -2, "family");
    pushhost(L, c.laddr, v6);
    lua_setfield(L, -2, "local_host");
    lua_pushinteger(L, c.lport);
    lua_setfield(L, -2, "local_port");
    pushhost(L, c.raddr, v6);
    lua_setfield(L, -2, "remote_host");
    lua_pushinteger(L, c.rport);
    lua_setfield(L, -2, "remote_port");
    lua_pushstring(L, statename(proto[0] == 't', c.state));
    lua_setfield(L, -2, "state");
    lua_rawseti(L, -3, ++*k);
  }
  fclose(*f);
  *f = NULL;
  lua_pop(L, 1);
  return 0;
}

/* append the Unix domain sockets to the list at the top; -1 if
** /proc/net/unix cannot be opened */
static int readunix(lua_State *L, lua_Integer *k) {
  char line[512];
  int whole = 1;
  FILE **f = (FILE **)lua_newuserdatauv(L, sizeof(FILE *), 0);
  *f = NULL;
  luaL_setmetatable(L, NB_PROCFILE_T);  /* closes the file on a raise */
  *f = fopen("/proc/net/unix", "re");
  if (*f == NULL) {
    lua_pop(L, 1);
    return -1;
  }
  while (fgets(line, sizeof line, *f) != NULL) {
    nb_uconn c;
    size_t n = strcspn(line, "\n");
    /* the rest of a line longer than the buffer (a path has at most
    ** 108 bytes, so only a path with a newline in it): skip it */
    int was_whole = whole;
    whole = line[n] == '\n';
    if (!was_whole || parse_unixline(line, n, &c) != 0) continue;
    lua_createtable(L, 0, 8);
    lua_pushliteral(L, "unix");
    lua_setfield(L, -2, "proto");
    lua_pushliteral(L, "unix");
    lua_setfield(L, -2, "family");
    lua_pushstring(L, unixtype(c.type));
    lua_setfield(L, -2, "type");
    lua_pushstring(L, unixstate(&c));
    lua_setfield(L, -2, "state");
    lua_pushstring(L, c.flags & NB_UNIX_ACC ? "ACC" : "");
    lua_setfield(L, -2, "flags");
    lua_pushinteger(L, (lua_Integer)c.refcnt);
    lua_setfield(L, -2, "refcnt");
    lua_pushinteger(L, (lua_Integer)c.inode);
    lua_setfield(L, -2, "inode");
    lua_pushlstring(L, c.path, c.pathlen);
    lua_setfield(L, -2, "path");
    lua_rawseti(L, -3, ++*k);
  }
  fclose(*f);
  *f = NULL;
  lua_pop(L, 1);
  return 0;
}

/*
** ** net.connections([which]): every TCP and UDP socket of this computer
** (its network namespace), IPv4 and IPv6, then every Unix domain socket,
** as netstat -an lists them; which: "all" (the default), "inet" or
** "unix".
*/
static int net_connections(lua_State *L) {
  static const struct { const char *path, *proto; int v6; } files[] = {
    {"/proc/net/tcp", "tcp", 0}, {"/proc/net/tcp6", "tcp", 1},
    {"/proc/net/udp", "udp", 0}, {"/proc/net/udp6", "udp", 1},
  };
  static const char *const whiches[] = {"all", "inet", "unix", NULL};
  int which = luaL_checkoption(L, 1, "all", whiches);
  lua_Integer k = 0;
  size_t i;
  lua_newtable(L);
  for (i = 0; which != 2 && i < sizeof files / sizeof files[0]; i++) {
    /* without IPv6 the *6 files are missing: nothing to list there */
    if (readproc(L, files[i].path, files[i].proto, files[i].v6, &k) != 0
        && !files[i].v6)
      return nb_fail(L, "unsupported", "connections: cannot read %s "
                     "(Linux only)", files[i].path);
  }
  if (which != 1 && readunix(L, &k) != 0)
    return nb_fail(L, "unsupported", "connections: cannot read "
                   "/proc/net/unix (Linux only)");
  return 1;
}

static const luaL_Reg net_funcs[] = {
  {"connections", net_connections},
  {NULL, NULL}
};

void nb_open_ports(lua_State *L) {
  if (luaL_newmetatable(L, NB_PROCFILE_T)) {
    lua_pushcfunction(L, procfile_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, net_funcs, 0);
}
