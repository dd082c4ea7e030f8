/*
** sockio.c: waiting and the buffered I/O core of the socket family (see
** socket.c for the rules: timeouts, the shared read buffer, the scratch
** area): send, sendall, recv, recvline, sendto, recvfrom.
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
#include <unistd.h>

#include "socket.h"

/* ---------------------------------------------------------------------
** Plain C helpers: deadlines, waiting
** ------------------------------------------------------------------ */

/* the deadline of a call on `s`: < 0 none, 0 never wait */
double nb_deadline_of(const nb_sock *s) {
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
int nb_waitfd(lua_State *L, int fd, short events, double deadline) {
  nb_task *t = nb_task_of(L);
  if (t != NULL) {  /* in a task: park it on the loop (does not return) */
    int e = nb_task_waitfd(L, t, fd, events, deadline);
    if (e != 0) return e;
  }
  for (;;) {
    struct pollfd p;
    int ms = -1, r;
    if (deadline == 0) return ETIMEDOUT;
    if (deadline > 0) {
      double left = deadline - nb_now();
      if (left <= 0) return ETIMEDOUT;
      ms = nb_ms(left);
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

int nb_setblocking(int fd, int block) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return -1;
  fl = block ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK);
  return fcntl(fd, F_SETFL, fl);
}

/* ---------------------------------------------------------------------
** The transport: the descriptor itself, or the layer over it (socket.h)
**
** One read or one write: >= 0 (a read's 0: end of stream), or -1 with *e
** an errno (EAGAIN: wait for *want) or NB_ELAYER. Without a layer it is
** the plain recv() or send().
** ------------------------------------------------------------------ */

static ssize_t io_read(nb_sock *s, char *p, size_t n, int *e,
                       short *want) {
  ssize_t r;
  if (s->lops != NULL) return s->lops->read(s, p, n, e, want);
  r = recv(s->fd, p, n, 0);
  if (r < 0) {
    *e = errno;
    *want = POLLIN;
  }
  return r;
}

static ssize_t io_write(nb_sock *s, const char *p, size_t n, int *e,
                        short *want) {
  ssize_t r;
  if (s->lops != NULL) return s->lops->write(s, p, n, e, want);
  r = send(s->fd, p, n, MSG_NOSIGNAL);
  if (r < 0) {
    *e = errno;
    *want = POLLOUT;
  }
  return r;
}

/* a layer holds bytes a read takes with no syscall */
static int io_pending(const nb_sock *s) {
  return s->lops != NULL && s->lops->pending(s) > 0;
}

void nb_rbuf_free(nb_sock *s) {
  free(s->rbuf);
  s->rbuf = NULL;
  s->rcap = s->rpos = s->rend = s->rscan = 0;
}

/* ---------------------------------------------------------------------
** Output held back in a task
**
** A talk-like server in a task reads several lines at once when a client
** sends them ahead (pipelining) and answers each with sendall or write.
** While the read buffer still holds input, the task is going to take it
** next without a syscall, so sendall and write keep small answers in the
** socket's wbuf and they go in one send() with the last one (instead of
** one per line). Held output goes to the kernel before anything else
** happens on the socket (a read for the rest of a partial line too), and
** before the task waits for anything or yields: holding makes the socket
** due for the task (nb_res_due, loop.h) and the loop calls its settle
** then, so nobody waits for bytes held here. Output is held for one task
** at a time: the one running now (or one waiting to give it to a full
** kernel).
** ------------------------------------------------------------------ */

#define NB_HOLD_MAX 16384  /* bytes held back at most */

void nb_wbuf_free(nb_sock *s) {
  free(s->wbuf);
  s->wbuf = NULL;
  s->wcap = s->wpos = s->wlen = 0;
}

int nb_flush_now(nb_sock *s, short *want) {
  *want = POLLOUT;
  while (s->wpos < s->wlen) {
    int e;
    ssize_t r = io_write(s, s->wbuf + s->wpos, s->wlen - s->wpos, &e,
                         want);
    if (r >= 0) {
      s->wpos += (size_t)r;
      continue;
    }
    if (e == EINTR) continue;
    if (e == EAGAIN) return EAGAIN;
    s->werr = e;  /* the next send on it says so */
    break;
  }
  nb_wbuf_free(s);
  return 0;
}

/* the loop settles a socket a task held output on (s->res is first) */
int nb_sock_settle(nb_res *r, int *fd, short *events) {
  nb_sock *s = (nb_sock *)(void *)r;
  *fd = s->fd;
  return nb_flush_now(s, events);
}

/* give what s holds to the kernel, waiting (in a task) while it is full */
static int flush_wait(lua_State *L, nb_sock *s, double deadline) {
  while (s->wlen > s->wpos) {
    short want;
    int e = nb_flush_now(s, &want);
    if (e != EAGAIN) break;
    e = nb_waitfd(L, s->fd, want, deadline);
    if (e != 0) return e;
  }
  if (s->werr != 0) {
    int e = s->werr;
    s->werr = 0;
    return e;
  }
  return 0;
}

/* room for n more bytes of held output on s while more input waits in
** its read buffer (else NULL): the caller copies them there */
static char *hold_room(lua_State *L, nb_sock *s, size_t n) {
  nb_task *t;
  char *p;
  if (s->type != SOCK_STREAM || !s->tasked || n == 0
      || s->wlen + n > NB_HOLD_MAX || s->rend <= s->rpos
      || (t = nb_task_of(L)) == NULL
      || (s->res.due != NULL && s->res.due != t) || !lua_isyieldable(L))
    return NULL;
  if (s->wcap < s->wlen + n) {
    size_t cap = s->wcap ? s->wcap * 2 : 2048;
    while (cap < s->wlen + n) cap *= 2;
    p = (char *)nb_realloc(s->wbuf, cap);
    if (p == NULL) return NULL;
    s->wbuf = p;
    s->wcap = cap;
  }
  p = s->wbuf + s->wlen;
  s->wlen += n;
  nb_res_due(t, &s->res);
  return p;
}

/* keep [d, d+n) back while more input waits (hold_room) */
static int hold(lua_State *L, nb_sock *s, const char *d, size_t n) {
  char *p = hold_room(L, s, n);
  if (p == NULL) return 0;
  memcpy(p, d, n);
  return 1;
}

int nb_sock_holds(lua_State *L, nb_sock *s) {
  return s->res.due != NULL && s->res.due == nb_task_of(L);
}

/* ---------------------------------------------------------------------
** The scratch area
** ------------------------------------------------------------------ */

char *nb_scratch_get(lua_State *L, size_t want) {
  nb_scratch *sc = (nb_scratch *)lua_touserdata(L, lua_upvalueindex(1));
  if (sc->cap < want) {
    char *p = (char *)nb_realloc(sc->p, want);
    if (p == NULL) {
      luaL_error(L, "not enough memory");
      return NULL;
    }
    sc->p = p;
    sc->cap = want;
  }
  return sc->p;
}

int nb_scratch_gc(lua_State *L) {
  nb_scratch *sc = (nb_scratch *)lua_touserdata(L, 1);
  free(sc->p);
  sc->p = NULL;
  sc->cap = 0;
  return 0;
}
/* the optional i, j of send/sendall (as string.sub; LuaSocket's send) */
static const char *checkrange(lua_State *L, size_t *n) {
  size_t len;
  const char *d = luaL_checklstring(L, 2, &len);
  lua_Integer i, j;
  if (lua_gettop(L) <= 2) {  /* the common call: all of it */
    *n = len;
    return d;
  }
  i = luaL_optinteger(L, 3, 1);
  j = luaL_optinteger(L, 4, -1);
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
** ** Send from `d` until `n` bytes are gone (all = SEND_ALL, or
** SEND_ALL_NOW when the caller found it cannot be held) or one send()
** took some (all = SEND_SOME). *sent comes in as what went before a wait
** (a task's call is made again from the start when woken) and counts
** what went; `base` is what the call sent before `d` (the earlier pieces
** of a write), so the task's progress is base + *sent. Returns 0 or an
** errno.
*/
enum { SEND_SOME, SEND_ALL, SEND_ALL_NOW };

static int sendloop(lua_State *L, nb_sock *s, const char *d, size_t n,
                    int all, size_t base, size_t *sent) {
  double deadline = nb_deadline_of(s);
  nb_task *t = nb_task_of(L);
  if (s->wlen > s->wpos || s->werr != 0) {
    /* held output first (called again: only what is left of it) */
    if (*sent == 0 && all == SEND_ALL && hold(L, s, d, n)) {
      *sent = n;
      return 0;
    }
    if (*sent == 0 && s->wlen > s->wpos && s->wlen + n <= NB_HOLD_MAX
        && s->wcap >= s->wlen + n) {
      memcpy(s->wbuf + s->wlen, d, n);  /* one send() for all of it */
      s->wlen += n;
      *sent = n;
    }
    nb_task_setprogress(t, base + *sent);
    {
      int e = flush_wait(L, s, deadline);
      if (e != 0) return e;
    }
    if (*sent == n && n > 0) return 0;
  } else if (all == SEND_ALL && *sent == 0 && hold(L, s, d, n)) {
    *sent = n;
    return 0;
  }
  if (n == 0 && s->lops != NULL) return 0;  /* a layer sends nothing */
  while (*sent < n || n == 0) {
    int e;
    short want;
    ssize_t r = io_write(s, d + *sent, n - *sent, &e, &want);
    if (r >= 0) {
      *sent += (size_t)r;
      if (!all || n == 0) return 0;
      continue;
    }
    if (e == EINTR) {
      nb_checkinterrupt(L);
      continue;
    }
    if (e == EAGAIN) {
      nb_task_setprogress(t, base + *sent);
      e = nb_waitfd(L, s->fd, want, deadline);
      if (e != 0) return e;
      continue;
    }
    return e;
  }
  return 0;
}

/* s:send(data [, i [, j]]) -> bytes sent */
int sock_send(lua_State *L) {
  nb_sock *s = nb_checkopen(L, 1);
  size_t n, sent = nb_task_progress(nb_task_of(L));
  const char *d = checkrange(L, &n);
  int e = sendloop(L, s, d, n, SEND_SOME, 0, &sent);
  if (e != 0) return nb_sockfail(L, s, "send", e);
  lua_pushinteger(L, (lua_Integer)sent);
  return 1;
}

/* nil, msg, code, bytes sent */
static int sendfail(lua_State *L, nb_sock *s, int e, size_t sent) {
  nb_sockfail(L, s, "send", e);
  lua_pushinteger(L, (lua_Integer)sent);
  return 4;
}

/* s:sendall(data [, i [, j]]) -> true, or nil, msg, code, bytes sent */
int sock_sendall(lua_State *L) {
  nb_sock *s = nb_checkopen(L, 1);
  size_t n, sent = nb_task_progress(nb_task_of(L));
  const char *d = checkrange(L, &n);
  int e = sendloop(L, s, d, n, SEND_ALL, 0, &sent);
  if (e != 0) return sendfail(L, s, e, sent);
  lua_pushboolean(L, 1);
  return 1;
}

#define NB_WRITE_SMALL 512     /* write(...) joins this much on the stack */
#define NB_WRITE_JOIN 65536    /* ... this much in the scratch area */
#define NB_WRITE_ARGS 8        /* pieces remembered from the first pass */

/*
** ** s:write(...) -> s, or nil, msg, code, bytes sent: every argument
** (strings or numbers, as file:write) in order, all of it, as sendall.
** Joined (straight into the held output when a task answers pipelined
** lines, else on the stack, or up to NB_WRITE_JOIN bytes in the scratch
** area), so write("You said ", line, "\n") is one send() (or one held
** copy) and no string is made; more than that goes piece by piece.
*/
int sock_write(lua_State *L) {
  nb_sock *s = nb_checkopen(L, 1);
  int i, e, top = lua_gettop(L), np = top - 1;
  size_t total = 0, done = nb_task_progress(nb_task_of(L)), base = 0;
  const char *piece[NB_WRITE_ARGS];
  size_t plen[NB_WRITE_ARGS];
  char small[NB_WRITE_SMALL], *p;
  const char *d = small;
  for (i = 2; i <= top; i++) {
    size_t len;
    const char *a = lua_tolstring(L, i, &len);
    if (a == NULL) luaL_checklstring(L, i, &len);  /* raises */
    if (i - 2 < NB_WRITE_ARGS) {
      piece[i - 2] = a;
      plen[i - 2] = len;
    }
    total += len;
  }
  if (total == 0) {  /* nothing to send (file:write() too) */
    lua_settop(L, 1);
    return 1;
  }
  if (np <= NB_WRITE_ARGS && done == 0
      && (p = hold_room(L, s, total)) != NULL) {
    for (i = 0; i < np; i++) {
      memcpy(p, piece[i], plen[i]);
      p += plen[i];
    }
    lua_pushvalue(L, 1);
    return 1;
  }
  if (total > NB_WRITE_JOIN) {  /* piece by piece */
    for (i = 2; i <= top; i++) {
      size_t len, sent;
      const char *a = lua_tolstring(L, i, &len);
      if (done >= base + len) {  /* sent before a wait */
        base += len;
        continue;
      }
      sent = done > base ? done - base : 0;
      e = sendloop(L, s, a, len, SEND_ALL, base, &sent);
      if (e != 0) return sendfail(L, s, e, base + sent);
      base += len;
    }
    lua_settop(L, 1);
    return 1;
  }
  if (np == 1)
    d = piece[0];
  else {
    d = p = total <= sizeof small ? small : nb_scratch_get(L, total);
    for (i = 0; i < np; i++) {
      size_t len;
      const char *a;
      if (i < NB_WRITE_ARGS) {
        a = piece[i];
        len = plen[i];
      } else
        a = lua_tolstring(L, i + 2, &len);
      memcpy(p, a, len);
      p += len;
    }
  }
  e = sendloop(L, s, d, total, done == 0 && np <= NB_WRITE_ARGS
               ? SEND_ALL_NOW : SEND_ALL, 0, &done);
  if (e != 0) return sendfail(L, s, e, done);
  lua_pushvalue(L, 1);
  return 1;
}

/* take `n` bytes from the read buffer, freeing it once empty */
static void rbuf_take(nb_sock *s, size_t n) {
  s->rpos += n;
  if (s->rscan < s->rpos) s->rscan = s->rpos;
  if (s->rpos >= s->rend) nb_rbuf_free(s);
}

/* is the running call in a task, with a socket whose reads wait on the
** loop? */
static int reads_in_task(lua_State *L, nb_sock *s) {
  return s->tasked && s->type == SOCK_STREAM && nb_task_of(L) != NULL;
}

/*
** ** Before a read: held output goes first; in a task, when nothing
** arrived since the last read emptied the kernel's buffer, wait at once
** (the call is made again from the start when ready). 0 or an errno.
*/
static int before_read(lua_State *L, nb_sock *s, double deadline,
                       int tasked) {
  if (s->wlen > s->wpos) {
    int e = flush_wait(L, s, deadline);
    if (e != 0 && e != EPIPE && e != ECONNRESET) return e;
  }
  if (tasked && deadline != 0 && !nb_loop_readable(s->fd)
      && !io_pending(s))
    return nb_waitfd(L, s->fd, POLLIN, deadline);
  return 0;
}

/* one recv() of up to `n` bytes into `p`, waiting per the timeout while
** there is nothing: the count (0: end of stream), or -1 with *err (an
** errno or NB_ELAYER). A short plain read emptied the kernel's buffer
** (a layer may have left bytes there: never said of it). */
static ssize_t recv_some(lua_State *L, nb_sock *s, char *p, size_t n,
                         double deadline, int tasked, int *err) {
  for (;;) {
    int e;
    short want;
    ssize_t r = io_read(s, p, n, &e, &want);
    if (r >= 0) {
      if (tasked && r > 0 && (size_t)r < n && s->lops == NULL)
        nb_loop_drained(s->fd);
      return r;
    }
    if (e == EINTR) {
      nb_checkinterrupt(L);
      continue;
    }
    if (e == EAGAIN) {
      e = nb_waitfd(L, s->fd, want, deadline);
      if (e != 0) {
        *err = e;
        return -1;
      }
      continue;
    }
    *err = e;
    return -1;
  }
}

/* before_read, then recv_some */
static ssize_t readsome(lua_State *L, nb_sock *s, char *p, size_t n,
                        double deadline, int *err) {
  int tasked = reads_in_task(L, s);
  int e = before_read(L, s, deadline, tasked);
  if (e != 0) {
    *err = e;
    return -1;
  }
  return recv_some(L, s, p, n, deadline, tasked, err);
}

/* s:recv([max=65536]) -> 1..max bytes, "" at end of stream */
int sock_recv(lua_State *L) {
  nb_sock *s = nb_checkopen(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, 65536);
  size_t want;
  ssize_t r;
  char *p;
  double deadline;
  int tasked, e;
  luaL_argcheck(L, max >= 1, 2, "must be at least 1");
  if (s->rend > s->rpos) {  /* what recvline read ahead comes first */
    size_t n = s->rend - s->rpos;
    if ((lua_Integer)n > max) n = (size_t)max;
    lua_pushlstring(L, s->rbuf + s->rpos, n);
    rbuf_take(s, n);
    return 1;
  }
  want = max > NB_RECV_CHUNK ? NB_RECV_CHUNK : (size_t)max;
  deadline = nb_deadline_of(s);
  tasked = reads_in_task(L, s);
  e = before_read(L, s, deadline, tasked);
  if (e != 0) return nb_sockfail(L, s, "recv", e);
  p = nb_scratch_get(L, want);  /* after a wait: the call was made again */
  r = recv_some(L, s, p, want, deadline, tasked, &e);
  if (r < 0) return nb_sockfail(L, s, "recv", e);
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

/* keep bytes [p, p+n) in the (empty) read buffer, of at least `min`
** bytes (whole lines past the one taken need no more room than theirs:
** a small block is the allocator's quickest) */
static void rbuf_keep(lua_State *L, nb_sock *s, const char *p, size_t n,
                      size_t min) {
  size_t cap = n < min ? min : n;
  char *b = (char *)nb_malloc(cap);
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
  int tasked = reads_in_task(L, s);
  int e = before_read(L, s, deadline, tasked);
  char *p, *nl;
  ssize_t r;
  if (e != 0) return nb_sockfail(L, s, "recvline", e);
  p = nb_scratch_get(L, want);  /* after a wait: the call was made again */
  r = recv_some(L, s, p, want, deadline, tasked, &e);
  if (r < 0) return nb_sockfail(L, s, "recvline", e);
  if (r == 0) return nb_closedfail(L, s, "recvline");
  nl = (char *)memchr(p, '\n', (size_t)r);
  if (nl != NULL) {
    size_t len = (size_t)(nl - p), rest = (size_t)r - len - 1, l = len;
    if (l > 0 && p[l - 1] == '\r') l--;
    if (l > max) {
      if (rest > 0) rbuf_keep(L, s, nl + 1, rest, 0);
      return nb_fail(L, "toolong", "recvline: line longer than %I bytes",
                     (lua_Integer)max);
    }
    if (rest > 0) rbuf_keep(L, s, nl + 1, rest, 0);  /* before the push */
    lua_pushlstring(L, p, l);
    return 1;
  }
  rbuf_keep(L, s, p, (size_t)r, NB_RBUF_MIN);
  return -1;
}

/*
** ** s:recvline([max=65536]): one line without "\n" (and "\r"). The
** buffer never holds more than max + 2 bytes plus one read: a longer
** line is nil, msg, "toolong" (its bytes so far are dropped). At the end
** of the stream a last line without "\n" is returned as is, then
** nil, msg, "closed". A timeout keeps the partial line for the next call.
*/
static int recvline_on(lua_State *L, nb_sock *s, lua_Integer max) {
  double deadline = -1;  /* taken at the first read: a line already */
  int timed = 0;         /* buffered needs no clock */
  size_t limit;
  limit = (size_t)max + 2;  /* the line, "\r", "\n" */
  if (s->rend == s->rpos) {
    int r = recvline_fresh(L, s, (size_t)max, deadline = nb_deadline_of(s));
    if (r >= 0) return r;
    timed = 1;
  }
  for (;;) {
    ssize_t r;
    int e;
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
      nb_rbuf_free(s);
      return nb_fail(L, "toolong", "recvline: line longer than %I bytes",
                     max);
    }
    /* make room: move the partial line to the front, grow if full (or
    ** small: kept for whole lines only) */
    if (s->rbuf != NULL && s->rpos > 0) {
      memmove(s->rbuf, s->rbuf + s->rpos, s->rend - s->rpos);
      s->rend -= s->rpos;
      s->rscan -= s->rpos;
      s->rpos = 0;
    }
    if (s->rend == s->rcap || s->rcap < NB_RBUF_MIN) {
      size_t cap = s->rcap ? s->rcap * 2 : NB_RBUF_MIN;
      char *p;
      if (cap > limit && s->rcap < limit) cap = limit;
      if (cap < NB_RBUF_MIN) cap = NB_RBUF_MIN;
      p = (char *)nb_realloc(s->rbuf, cap);
      if (p == NULL) return luaL_error(L, "not enough memory");
      s->rbuf = p;
      s->rcap = cap;
    }
    if (!timed) {
      deadline = nb_deadline_of(s);
      timed = 1;
    }
    r = readsome(L, s, s->rbuf + s->rend, s->rcap - s->rend, deadline, &e);
    if (r > 0) {
      s->rend += (size_t)r;
      continue;
    }
    if (r == 0) {  /* end of stream */
      if (s->rend > s->rpos) {
        pushline(L, s, s->rend - s->rpos, 0);
        return 1;
      }
      nb_rbuf_free(s);
      return nb_closedfail(L, s, "recvline");
    }
    if (s->rend == s->rpos) nb_rbuf_free(s);
    return nb_sockfail(L, s, "recvline", e);
  }
}

int sock_recvline(lua_State *L) {
  nb_sock *s = nb_checkopen(L, 1);
  lua_Integer max = lua_gettop(L) < 2 ? NB_LINE_MAX
                                      : luaL_optinteger(L, 2, NB_LINE_MAX);
  luaL_argcheck(L, max >= 1 && max <= ((lua_Integer)1 << 40), 2,
                "out of range");
  return recvline_on(L, s, max);
}

/* after recvline_on in the iterators: the line, or the end of the loop
** (end of stream, the peer gone), or an error raised as file:lines does */
static int lines_result(lua_State *L, int r) {
  if (r == 1) return 1;  /* the line (a failure is nil, msg, code) */
  if (strcmp(lua_tostring(L, -1), "closed") == 0) return 0;
  return luaL_error(L, "%s", lua_tostring(L, -2));
}

/* the socket an iterator works on, at 1 as for every method (a call made
** again after a wait starts from the start): the for loop's state, else
** the upvalue (an iterator called by hand) */
static nb_sock *lines_sock(lua_State *L, int up) {
  nb_sock *s = (nb_sock *)lua_touserdata(L, lua_upvalueindex(up));
  if (lua_touserdata(L, 1) != s) {
    lua_settop(L, 0);
    lua_pushvalue(L, lua_upvalueindex(up));
  }
  return s->fd >= 0 && s->tasked ? s : nb_useopen(L, s);
}

/* the iterators of s:lines(): upvalues the scratch area and the socket;
** of s:lines(max): and max */
static int lines_next(lua_State *L) {
  nb_sock *s = lines_sock(L, 2);
  return lines_result(L, recvline_on(L, s, NB_LINE_MAX));
}

static int lines_next_max(lua_State *L) {
  nb_sock *s = lines_sock(L, 2);
  return lines_result(L, recvline_on(L, s,
                      lua_tointeger(L, lua_upvalueindex(3))));
}

/* s:lines([max]) -> iterator, s: a generic for over s:recvline(max) */
int sock_lines(lua_State *L) {
  lua_Integer max;
  nb_tosock(L, 1);
  max = luaL_optinteger(L, 2, NB_LINE_MAX);
  luaL_argcheck(L, max >= 1 && max <= ((lua_Integer)1 << 40), 2,
                "out of range");
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  if (max == NB_LINE_MAX)
    lua_pushcclosure(L, lines_next, 2);
  else {
    lua_pushinteger(L, max);
    lua_pushcclosure(L, lines_next_max, 3);
  }
  lua_pushvalue(L, 1);
  return 2;
}

/* s:sendto(data, host, port) -> bytes sent */
int sock_sendto(lua_State *L) {
  nb_sock *s = nb_checkopen(L, 1);
  size_t n;
  const char *d = luaL_checklstring(L, 2, &n);
  double deadline = nb_deadline_of(s);
  nb_addr a;
  int r = nb_getaddr(L, s, 3, 4, 0, "send to", &a);
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
      int e = nb_waitfd(L, s->fd, POLLOUT, deadline);
      if (e != 0) return nb_addrfail(L, "send to", &a, e);
      continue;
    }
    return nb_addrfail(L, "send to", &a, errno);
  }
}

/* s:recvfrom([max=65535]) -> data, host, port [, true if cut] */
int sock_recvfrom(lua_State *L) {
  nb_sock *s = nb_checkopen(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, NB_DGRAM_MAX);
  double deadline = nb_deadline_of(s);
  size_t want;
  char *p;
  luaL_argcheck(L, max >= 1, 2, "must be at least 1");
  want = max > NB_RECV_CHUNK ? NB_RECV_CHUNK : (size_t)max;
  p = nb_scratch_get(L, want);
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
      nb_pushsockaddr(L, (struct sockaddr *)&ss, len);
      if (!cut) return 3;
      lua_pushboolean(L, 1);  /* truncated: the rest is lost */
      return 4;
    }
    if (errno == EINTR) {
      nb_checkinterrupt(L);
      continue;
    }
    if (errno == EAGAIN) {
      int e = nb_waitfd(L, s->fd, POLLIN, deadline);
      if (e != 0) return nb_sockfail(L, s, "recvfrom", e);
      continue;
    }
    return nb_sockfail(L, s, "recvfrom", errno);
  }
}
