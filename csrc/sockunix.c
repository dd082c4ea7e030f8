/*
** sockunix.c: Unix domain sockets (AF_UNIX) for the socket family: a path
** (or "@name", Linux's abstract namespace) as an address, the address as
** text for Lua and for messages, the socket file a bound socket removes
** when it closes, s:peercred() and net.remove_stale(path). Every other
** method is the one of TCP and UDP sockets: a Unix socket is a descriptor
** like them (socket.c, sockio.c).
*/
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "socket.h"

/* the longest path or abstract name: sun_path less its final zero byte
** (a path needs one; an abstract name is kept as long as a path) */
#define NB_UNIX_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* the file a socket bound, removed when it closes if it is still that
** file (a later server may have replaced it) */
struct nb_unixfile {
  dev_t dev;
  ino_t ino;
  char path[];
};

/* ---------------------------------------------------------------------
** Addresses
** ------------------------------------------------------------------ */

/* n bytes of a path for a message (out: 4 n + 1 bytes): bytes outside
** printable ASCII, and '\\', as \xHH */
static void shown_path(const char *p, size_t n, char *out) {
  size_t i, k = 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 32 && c < 127 && c != '\\') out[k++] = (char)c;
    else k += (size_t)sprintf(out + k, "\\x%02X", c);
  }
  out[k] = '\0';
}

/*
** ** The address of the path at stack index i: a file name, or "@name"
** for the abstract namespace (no file; gone with the last socket).
** 0 and *a, or pushes a failure and returns its count: an empty path,
** a zero byte in it, or one longer than sun_path can hold is "malformed".
*/
int nb_unix_addr(lua_State *L, int i, const char *op, nb_addr *a) {
  size_t n;
  const char *p = luaL_checklstring(L, i, &n);
  struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;
  int abstract = n > 0 && p[0] == '@';
  if (n == 0 || (abstract && n == 1))
    return nb_fail(L, "malformed", "%s: empty Unix socket path", op);
  if (memchr(p, '\0', n) != NULL)
    return nb_fail(L, "malformed", "%s: a zero byte in a Unix socket path",
                   op);
  if (n - (size_t)abstract > NB_UNIX_MAX) {
    char shown[4 * 40 + 1];
    shown_path(p, n < 40 ? n : 40, shown);
    return nb_fail(L, "malformed", "%s %s...: Unix socket path too long "
                   "(%d bytes; at most %d)", op, shown,
                   (int)(n - (size_t)abstract), (int)NB_UNIX_MAX);
  }
  memset(a, 0, sizeof *a);
  un->sun_family = AF_UNIX;
  if (abstract) {
    memcpy(un->sun_path + 1, p + 1, n - 1);  /* sun_path[0] stays 0 */
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  } else {
    memcpy(un->sun_path, p, n);
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  }
  return 0;
}

/* the name of an AF_UNIX address of `len` bytes in out (NB_UNIX_MAX + 2
** bytes): the path, "@name", or "" (a socket that never bound);
** returns its length */
static size_t unix_name(const struct sockaddr *sa, socklen_t len, char *out) {
  const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
  size_t off = offsetof(struct sockaddr_un, sun_path), n;
  if (len <= off) {
    out[0] = '\0';
    return 0;
  }
  n = len - off;
  if (n > NB_UNIX_MAX + 1) n = NB_UNIX_MAX + 1;
  if (un->sun_path[0] == '\0') {  /* abstract: exactly n bytes */
    out[0] = '@';
    memcpy(out + 1, un->sun_path + 1, n - 1);
    out[n] = '\0';
    return n;
  }
  memcpy(out, un->sun_path, n);
  out[n] = '\0';
  return strlen(out);  /* the kernel may count the final zero, or not */
}

/* the name for a message: bytes outside printable ASCII as \xHH */
void nb_unix_text(const struct sockaddr *sa, socklen_t len, char *out,
                  size_t size) {
  char name[NB_UNIX_MAX + 2], shown[4 * (NB_UNIX_MAX + 1) + 1];
  size_t n = unix_name(sa, len, name);
  shown_path(name, n, shown);
  snprintf(out, size, "%s", shown);
}

/* an address of len bytes for Lua: host and port, or a Unix socket's
** name and nil */
void nb_pushsockaddr(lua_State *L, const struct sockaddr *sa,
                     socklen_t len) {
  /* no address at all (a stream's recvfrom): an empty name */
  if (len < sizeof sa->sa_family || sa->sa_family == AF_UNIX) {
    char name[NB_UNIX_MAX + 2];
    size_t n = unix_name(sa, len, name);
    lua_pushlstring(L, name, n);
    lua_pushnil(L);
  } else {
    nb_pushaddr(L, sa);
  }
}

/* ---------------------------------------------------------------------
** The socket file
** ------------------------------------------------------------------ */

/* s bound the address a: remember its file (not an abstract name) */
void nb_unix_bound(nb_sock *s, const nb_addr *a) {
  const struct sockaddr_un *un = (const struct sockaddr_un *)&a->ss;
  struct nb_unixfile *f;
  struct stat st;
  size_t n;
  if (un->sun_path[0] == '\0' || stat(un->sun_path, &st) != 0) return;
  n = strlen(un->sun_path);
  f = (struct nb_unixfile *)nb_malloc(sizeof *f + n + 1);
  if (f == NULL) return;  /* the file stays behind: nothing worse */
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  memcpy(f->path, un->sun_path, n + 1);
  free(s->ufile);
  s->ufile = f;
}

/* s closes: remove the file it bound, if that file is still there */
void nb_unix_release(nb_sock *s) {
  struct nb_unixfile *f = s->ufile;
  struct stat st;
  if (f == NULL) return;
  s->ufile = NULL;
  if (lstat(f->path, &st) == 0 && S_ISSOCK(st.st_mode)
      && st.st_dev == f->dev && st.st_ino == f->ino)
    unlink(f->path);
  free(f);
}

/*
** ** net.remove_stale(path): a socket file left by a server that died
** (nothing accepts on it: connecting is refused) is removed, so a new
** server can bind there: true. false when it is kept: no such file, not
** a socket, or a server answers. What net.listen_unix does before it
** binds again.
*/
static int net_remove_stale(lua_State *L) {
  nb_addr a;
  struct stat st;
  const char *path;
  int r = nb_unix_addr(L, 1, "remove_stale", &a), fd, e = 0;
  if (r != 0) return r;
  path = ((struct sockaddr_un *)&a.ss)->sun_path;
  if (path[0] == '\0' || lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) e = errno;
  else if (connect(fd, (struct sockaddr *)&a.ss, a.len) != 0) e = errno;
  if (fd >= 0) close(fd);
  if (fd < 0) {
    char text[128];
    nb_errtext(e, text, sizeof text);
    return nb_fail(L, nb_errcode(e), "remove_stale: %s", text);
  }
  /* EAGAIN: a listener with a full backlog is still a listener;
  ** EPROTOTYPE: a datagram socket, which some process may still use */
  if (e != ECONNREFUSED) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (unlink(path) != 0 && errno != ENOENT) {
    char text[128], shown[NB_EP_MAX];
    e = errno;
    nb_errtext(e, text, sizeof text);
    nb_unix_text((struct sockaddr *)&a.ss, a.len, shown, sizeof shown);
    return nb_fail(L, nb_errcode(e), "remove %s: %s", shown, text);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* ---------------------------------------------------------------------
** Methods
** ------------------------------------------------------------------ */

/* s:peercred() -> {pid =, uid =, gid =}: the peer of a Unix socket, as
** the kernel saw it when the connection was made */
int sock_peercred(lua_State *L) {
  nb_sock *s = nb_checkopen(L, 1);
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (s->family != AF_UNIX)
    return nb_fail(L, "family", "peercred: not a Unix socket");
  if (getsockopt(s->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return nb_sockfail(L, s, "peercred", errno);
  if (cred.pid == 0)  /* what Linux says of a socket never connected */
    return nb_fail(L, "closed", "peercred: not connected");
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, (lua_Integer)cred.pid);
  lua_setfield(L, -2, "pid");
  lua_pushinteger(L, (lua_Integer)cred.uid);
  lua_setfield(L, -2, "uid");
  lua_pushinteger(L, (lua_Integer)cred.gid);
  lua_setfield(L, -2, "gid");
  return 1;
}

static const luaL_Reg net_funcs[] = {
  {"remove_stale", net_remove_stale},
  {NULL, NULL}
};

void nb_open_sockunix(lua_State *L) {
  luaL_setfuncs(L, net_funcs, 0);
  lua_pushinteger(L, AF_UNIX);
  lua_setfield(L, -2, "AF_UNIX");
}
