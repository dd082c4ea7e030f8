/*
** loop.c: the event loop and the tasks (net.spawn, net.run, net.sleep,
** task:join, task:cancel; see docs/api/sched.md).
**
** A task is a coroutine with a small C record (the task userdata). A call
** that would block inside a task parks it with nb_task_waitfd: the task
** is recorded as the reader or the writer of a descriptor, gets a timer
** if it has a deadline, and yields from C (lua_yieldk) with a
** continuation that calls the same C function again once the descriptor
** is ready. No Lua wrapper per call: the socket methods are the same
** functions inside and outside tasks.
**
** The loop: epoll on Linux (each socket added once, edge-triggered, for
** reading and writing: a task waits only after EAGAIN, so every later
** arrival is a new edge), poll() elsewhere; timers in a binary heap; a
** FIFO of tasks ready to run. One turn costs O(ready events + expired
** timers): nothing scans every task or every descriptor. When nothing is
** ready the loop sleeps in the kernel until the next event or timer.
*/
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif

#include "loop.h"

#define NB_TASK_T "netbasics.task"

enum { T_READY, T_RUNNING, T_WAITING, T_DONE };
enum { S_OK, S_ERROR, S_CANCELLED };
enum { D_READ, D_WRITE };

typedef struct waitfd_s {
  int fd, dir;
} waitfd_s;

struct nb_task {
  lua_State *co;        /* the coroutine (also uservalue 1) */
  int anchor;           /* registry ref keeping the task alive, or NOREF */
  int held;             /* registry ref: weak set of resources it holds */
  int state, status;
  int nargs;            /* arguments of the first resume */
  int queued;           /* in the ready FIFO */
  int heapi;            /* index in the timer heap, -1 if none */
  double wake;          /* when the timer fires */
  double limit;         /* net.deadline: < 0 none */
  double opdl;          /* the parked call's own deadline */
  int resuming;         /* the parked call is being called again */
  int expired;          /* ... because its time was up */
  int closed;           /* ... because its descriptor was closed */
  int wfd;              /* the descriptor the parked call waits on */
  unsigned wgen;        /* ... its generation then (loop.gen) */
  nb_res *due;          /* resources to settle before it waits */
  int cancelled;
  size_t progress;
  lua_CFunction op;     /* the parked C function */
  waitfd_s *fds;        /* the descriptors it waits on */
  int nfds, fdcap;
  waitfd_s fd1;         /* room for the usual single one */
  nb_task *joiners;     /* tasks waiting in join for this one */
  nb_task *nextjoin;
  nb_task *joining;     /* the task this one waits for in join */
  nb_task *prev, *next; /* the list of live tasks */
};

static struct {
  int epfd;             /* -1 until the first wait (Linux) */
  nb_task **rd, **wr;   /* per descriptor: the task reading, writing */
  unsigned char *reg;   /* per descriptor: added to epoll */
  unsigned char *rok;   /* per descriptor: a read may find bytes (cleared
                           by nb_loop_drained, set by every event) */
  unsigned *gen;        /* per descriptor: closes seen (nb_loop_forget) */
  int fdcap;
  nb_task **heap;
  int nheap, heapcap;
  nb_task **ring;       /* ready FIFO */
  int rhead, rcount, rcap;
  int live;             /* tasks not done */
  nb_task *tasks;       /* ... in a list, for Ctrl-C */
  int nwaitfd;          /* descriptor waits recorded */
  int running, stop;
  nb_task *current;     /* the task being resumed */
  nb_task *until;       /* run() returns when this one is done */
} loop = {-1, NULL, NULL, NULL, NULL, NULL, 0, NULL, 0, 0, NULL, 0, 0, 0, 0,
          NULL, 0, 0, 0, NULL, NULL};

double nb_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *grow(void *p, int *cap, int need, size_t size) {
  int n = *cap ? *cap : 16;
  void *q;
  while (n < need) n *= 2;
  q = nb_realloc(p, (size_t)n * size);
  if (q == NULL) return NULL;
  *cap = n;
  return q;
}

/* ---------------------------------------------------------------------
** Timers: a binary min-heap on wake
** ------------------------------------------------------------------ */

static void heap_swap(int i, int j) {
  nb_task *a = loop.heap[i];
  loop.heap[i] = loop.heap[j];
  loop.heap[j] = a;
  loop.heap[i]->heapi = i;
  loop.heap[j]->heapi = j;
}

static void heap_up(int i) {
  while (i > 0 && loop.heap[(i - 1) / 2]->wake > loop.heap[i]->wake) {
    heap_swap(i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

static void heap_down(int i) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < loop.nheap && loop.heap[l]->wake < loop.heap[m]->wake) m = l;
    if (r < loop.nheap && loop.heap[r]->wake < loop.heap[m]->wake) m = r;
    if (m == i) return;
    heap_swap(i, m);
    i = m;
  }
}

static void timer_del(nb_task *t) {
  int i = t->heapi;
  if (i < 0) return;
  t->heapi = -1;
  loop.nheap--;
  if (i == loop.nheap) return;
  loop.heap[i] = loop.heap[loop.nheap];
  loop.heap[i]->heapi = i;
  heap_down(i);
  heap_up(i);
}

static int timer_set(nb_task *t, double when) {
  timer_del(t);
  if (when < 0) return 0;
  if (loop.nheap == loop.heapcap) {
    nb_task **h = (nb_task **)grow(loop.heap, &loop.heapcap, loop.nheap + 1,
                                   sizeof *h);
    if (h == NULL) return -1;
    loop.heap = h;
  }
  t->wake = when;
  t->heapi = loop.nheap;
  loop.heap[loop.nheap++] = t;
  heap_up(t->heapi);
  return 0;
}

/* ---------------------------------------------------------------------
** Descriptors and the ready FIFO
** ------------------------------------------------------------------ */

static int fd_room(int fd) {
  if (fd < loop.fdcap) return 0;
  {
    int old = loop.fdcap, cap = old;
    nb_task **rd, **wr;
    unsigned char *reg, *rok;
    unsigned *gen;
    rd = (nb_task **)grow(loop.rd, &cap, fd + 1, sizeof *rd);
    if (rd == NULL) return -1;
    loop.rd = rd;
    cap = old;
    wr = (nb_task **)grow(loop.wr, &cap, fd + 1, sizeof *wr);
    if (wr == NULL) return -1;
    loop.wr = wr;
    cap = old;
    reg = (unsigned char *)grow(loop.reg, &cap, fd + 1, 1);
    if (reg == NULL) return -1;
    loop.reg = reg;
    cap = old;
    rok = (unsigned char *)grow(loop.rok, &cap, fd + 1, 1);
    if (rok == NULL) return -1;
    loop.rok = rok;
    cap = old;
    gen = (unsigned *)grow(loop.gen, &cap, fd + 1, sizeof *gen);
    if (gen == NULL) return -1;
    loop.gen = gen;
    memset(gen + old, 0, (size_t)(cap - old) * sizeof *gen);
    memset(rok + old, 1, (size_t)(cap - old));
    memset(rd + old, 0, (size_t)(cap - old) * sizeof *rd);
    memset(wr + old, 0, (size_t)(cap - old) * sizeof *wr);
    memset(reg + old, 0, (size_t)(cap - old));
    loop.fdcap = cap;
  }
  return 0;
}

/* stop waiting on descriptors and timers */
static void unwait(nb_task *t) {
  int i;
  for (i = 0; i < t->nfds; i++) {
    int fd = t->fds[i].fd;
    nb_task **slot = t->fds[i].dir == D_READ ? loop.rd : loop.wr;
    if (fd < loop.fdcap && slot[fd] == t) slot[fd] = NULL;
  }
  loop.nwaitfd -= t->nfds;
  t->nfds = 0;
  timer_del(t);
}

static int ring_push(nb_task *t) {
  if (loop.rcount == loop.rcap) {
    int old = loop.rcap, i;
    nb_task **r = (nb_task **)nb_malloc(sizeof *r
                                        * (size_t)(old ? old * 2 : 64));
    if (r == NULL) return -1;
    for (i = 0; i < loop.rcount; i++)
      r[i] = loop.ring[(loop.rhead + i) % old];
    free(loop.ring);
    loop.ring = r;
    loop.rhead = 0;
    loop.rcap = old ? old * 2 : 64;
  }
  loop.ring[(loop.rhead + loop.rcount) % loop.rcap] = t;
  loop.rcount++;
  t->queued = 1;
  return 0;
}

static nb_task *ring_pop(void) {
  nb_task *t = loop.ring[loop.rhead];
  loop.rhead = (loop.rhead + 1) % loop.rcap;
  loop.rcount--;
  t->queued = 0;
  return t;
}

static void make_ready(nb_task *t) {
  unwait(t);
  t->state = T_READY;
  if (!t->queued && ring_push(t) != 0) {
    /* no memory for the FIFO: keep it on a timer that fires at once */
    t->state = T_WAITING;
    timer_set(t, 0);
  }
}

/* register fd for task t in direction dir: 0, -1 (no memory, or epoll
** failed: errno says which) or -2 (another task waits on it) */
static int fd_wait(nb_task *t, int fd, int dir) {
  nb_task **slot;
  if (fd < 0) {
    errno = EBADF;
    return -1;
  }
  if (fd_room(fd) != 0) {
    errno = ENOMEM;
    return -1;
  }
  slot = dir == D_READ ? loop.rd : loop.wr;
  if (slot[fd] != NULL && slot[fd] != t) return -2;  /* busy */
#ifdef __linux__
  if (!loop.reg[fd]) {
    struct epoll_event ev;
    if (loop.epfd < 0) {
      loop.epfd = epoll_create1(EPOLL_CLOEXEC);
      if (loop.epfd < 0) return -1;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    if (epoll_ctl(loop.epfd, EPOLL_CTL_ADD, fd, &ev) != 0
        && (errno != EEXIST
            || epoll_ctl(loop.epfd, EPOLL_CTL_MOD, fd, &ev) != 0))
      return -1;
    loop.reg[fd] = 1;
    loop.rok[fd] = 1;
  }
#endif
  if (t->nfds == t->fdcap) {
    waitfd_s *f;
    if (t->fds == &t->fd1) {
      f = (waitfd_s *)nb_malloc(sizeof *f * 8);
      if (f == NULL) {
        errno = ENOMEM;
        return -1;
      }
      f[0] = t->fd1;
      t->fdcap = 8;
    } else {
      int cap = t->fdcap;
      f = (waitfd_s *)grow(t->fds, &cap, t->nfds + 1, sizeof *f);
      if (f == NULL) {
        errno = ENOMEM;
        return -1;
      }
      t->fdcap = cap;
    }
    t->fds = f;
  }
  t->fds[t->nfds].fd = fd;
  t->fds[t->nfds].dir = dir;
  t->nfds++;
  loop.nwaitfd++;
  slot[fd] = t;
  return 0;
}

int nb_loop_readable(int fd) {
  return fd < 0 || fd >= loop.fdcap || !loop.reg[fd] || loop.rok[fd];
}

void nb_loop_drained(int fd) {
#ifdef __linux__
  /* only while in the epoll set: a later arrival is an event that says
  ** so again */
  if (fd >= 0 && fd < loop.fdcap && loop.reg[fd] && loop.rok[fd] == 1)
    loop.rok[fd] = 0;
#else
  (void)fd;
#endif
}

void nb_loop_forget(int fd) {
  if (fd < 0 || fd >= loop.fdcap) return;
  loop.reg[fd] = 0;  /* close() took it out of the epoll set */
  loop.rok[fd] = 1;
  loop.gen[fd]++;    /* a task woken before this sees it in `again` */
  if (loop.rd[fd]) {
    loop.rd[fd]->closed = 1;
    make_ready(loop.rd[fd]);
  }
  if (loop.wr[fd]) {
    loop.wr[fd]->closed = 1;
    make_ready(loop.wr[fd]);
  }
}

/* ---------------------------------------------------------------------
** Parking a task
** ------------------------------------------------------------------ */

nb_task *nb_task_of(lua_State *L) {
  nb_task *t = loop.current;
  return t != NULL && t->co == L ? t : NULL;
}

size_t nb_task_progress(nb_task *t) {
  return t != NULL && t->resuming ? t->progress : 0;
}

void nb_task_setprogress(nb_task *t, size_t n) {
  if (t != NULL) t->progress = n;
}

static double earliest(double a, double b) {
  if (a < 0) return b;
  if (b < 0) return a;
  return a < b ? a : b;
}

/* the descriptor the parked call waited on was closed by another task
** after its event woke this one and before it ran */
static int waited_gone(nb_task *t) {
  return t->wfd >= 0 && t->wfd < loop.fdcap
         && loop.gen[t->wfd] != t->wgen;
}

/* called again after a wait: the C function, from the start */
static int again(lua_State *L, int status, lua_KContext ctx) {
  nb_task *t = nb_task_of(L);
  int r;
  (void)status;
  lua_settop(L, (int)ctx);
  if (t == NULL || t->op == NULL) return 0;
  if (t->closed || waited_gone(t)) {
    t->closed = t->expired = 0;
    return nb_fail(L, "closed", "socket closed while waiting");
  }
  t->resuming = 1;
  r = t->op(L);
  t->resuming = t->expired = 0;
  t->progress = 0;
  return r;
}

/* the C function running in L (the one that is parking) */
static lua_CFunction running_cfunction(lua_State *L) {
  lua_Debug ar;
  lua_CFunction f = NULL;
  if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "f", &ar)) {
    f = lua_tocfunction(L, -1);
    lua_pop(L, 1);
  }
  return f;
}

/*
** fd_wait failed with r (-1: errno says why, -2: another task waits on
** the descriptor the same way): forget t's waits and say why. The call
** fails with it: waiting in poll() instead would stop every other task,
** maybe the one it waits for (asyncio, too, refuses a second reader).
*/
static int cannot_wait(nb_task *t, int r) {
  int e = r == -2 ? EBUSY : errno != 0 ? errno : ENOMEM;
  unwait(t);
  return e;
}

/* park t on its recorded descriptors (and deadline) and yield to the
** loop; `op` is called again when it is woken. Returns only when it
** cannot: 0 (the caller waits in poll()) or ENOMEM */
static int park(lua_State *L, nb_task *t, double deadline) {
  t->op = running_cfunction(L);
  if (t->op == NULL) {
    unwait(t);
    return 0;
  }
  if (timer_set(t, deadline) != 0) {
    unwait(t);
    return ENOMEM;
  }
  t->state = T_WAITING;
  return lua_yieldk(L, 0, (lua_KContext)lua_gettop(L), again);
}

/*
** Settle what t's resources put off (nb_res_due): 0, or EAGAIN with the
** descriptor and events to wait for first (those stay due). `stopping`:
** t stops running without waiting (a yield, its end): what the kernel
** does not take stays with the resource, due no more.
*/
static int settle(nb_task *t, int *fd, short *events, int stopping) {
  nb_res **p = &t->due;
  int e = 0;
  while (*p != NULL) {
    nb_res *r = *p;
    int f = -1;
    short ev = POLLOUT;
    if (r->ops->settle(r, &f, &ev) == EAGAIN && !stopping) {
      if (e == 0) {
        e = EAGAIN;
        *fd = f;
        *events = ev;
      }
      p = &r->nextdue;
      continue;
    }
    *p = r->nextdue;
    r->due = NULL;
    r->nextdue = NULL;
  }
  return e;
}

const char nb_res_tag = 0;

void nb_res_init(nb_res *r, const nb_res_ops *ops) {
  r->tag = &nb_res_tag;
  r->ops = ops;
  r->due = NULL;
  r->nextdue = NULL;
}

void nb_res_due_slow(nb_task *t, nb_res *r) {
  nb_res_drop(r);
  if (t == NULL) return;
  r->due = t;
  r->nextdue = t->due;
  t->due = r;
}

void nb_res_drop(nb_res *r) {
  nb_res **p;
  if (r->due == NULL) return;
  for (p = &r->due->due; *p != NULL; p = &(*p)->nextdue)
    if (*p == r) {
      *p = r->nextdue;
      break;
    }
  r->due = NULL;
  r->nextdue = NULL;
}

/* t ends or is collected: its due resources forget it */
static void forget_due(nb_task *t) {
  while (t->due != NULL) {
    nb_res *r = t->due;
    t->due = r->nextdue;
    r->due = NULL;
    r->nextdue = NULL;
  }
}

/* the resource whose userdata is at `i`, or NULL */
static nb_res *res_at(lua_State *L, int i) {
  nb_res *r = (nb_res *)lua_touserdata(L, i);
  if (r != NULL && lua_type(L, i) == LUA_TUSERDATA
      && lua_rawlen(L, i) >= sizeof *r && r->tag == &nb_res_tag)
    return r;
  return NULL;
}

/* nb_task_waitfd; `watch`: `again` tells the call that fd was closed
** meanwhile (not for sleep and join, which wait on held output only) */
static int waitfd(lua_State *L, nb_task *t, int fd, short events,
                  double deadline, int watch) {
  double dl;
  int hfd, r, wfd = fd;
  short hev;
  if (deadline == 0) return ETIMEDOUT;   /* settimeout(0): never wait */
  if (t->expired) return ETIMEDOUT;
  if (t->due != NULL && settle(t, &hfd, &hev, 0) == EAGAIN) {
    /* what its resources held back first; then the call again */
    fd = hfd;
    events = hev;
  }
  if (!t->resuming) t->opdl = deadline;
  dl = earliest(t->opdl, t->limit);
  if (dl >= 0 && dl <= nb_now()) return ETIMEDOUT;
  if (!lua_isyieldable(L)) return 0;
  r = fd_wait(t, fd, (events & POLLOUT) ? D_WRITE : D_READ);
  if (r != 0) return cannot_wait(t, r);
  t->wfd = -1;
  if (watch && fd_room(wfd) == 0) {  /* for `again`: closed meanwhile? */
    t->wfd = wfd;
    t->wgen = loop.gen[wfd];
  }
  return park(L, t, dl);
}

int nb_task_waitfd(lua_State *L, nb_task *t, int fd, short events,
                   double deadline) {
  return waitfd(L, t, fd, events, deadline, 1);
}

int nb_task_park(lua_State *L, nb_task *t, const struct pollfd *p, int n,
                 double deadline, lua_KContext ctx, lua_KFunction k) {
  int i, hfd, r = 0;
  short hev;
  if (!lua_isyieldable(L)) return 0;
  if (t->due != NULL && settle(t, &hfd, &hev, 0) == EAGAIN)
    r = fd_wait(t, hfd, (hev & POLLOUT) ? D_WRITE : D_READ);
  for (i = 0; i < n && r == 0; i++) {
    if (p[i].events & POLLIN) r = fd_wait(t, p[i].fd, D_READ);
    if (r == 0 && (p[i].events & POLLOUT)) r = fd_wait(t, p[i].fd, D_WRITE);
  }
  if (r != 0) return cannot_wait(t, r);
  t->expired = 0;
  t->op = NULL;
  t->wfd = -1;
  if (timer_set(t, earliest(deadline, t->limit)) != 0) {
    unwait(t);
    return ENOMEM;
  }
  t->state = T_WAITING;
  return lua_yieldk(L, 0, ctx, k);
}

int nb_task_timedout(nb_task *t) {
  int e = t != NULL && t->expired && t->limit >= 0 && nb_now() >= t->limit;
  if (t != NULL) t->expired = 0;
  return e;
}

void nb_loop_closed(int fd) {
  if (fd >= 0 && fd < loop.fdcap) {
    loop.reg[fd] = 0;
    loop.rok[fd] = 1;
  }
}

/* ---------------------------------------------------------------------
** Tasks
** ------------------------------------------------------------------ */

static nb_task *totask(lua_State *L, int i) {
  return (nb_task *)luaL_checkudata(L, i, NB_TASK_T);
}

/* close every resource in the held set of t (its own close function) */
static void close_held(lua_State *L, nb_task *t) {
  if (t->held == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->held);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    nb_res *r;
    lua_pop(L, 1);
    r = res_at(L, -1);
    if (r != NULL) {
      int top = lua_gettop(L);
      r->ops->close(L, r);
      lua_settop(L, top);
    }
  }
  lua_pop(L, 1);
}

static void unjoin(nb_task *me);

/* keep the outcome in uservalue 2: {n=, ...} or the error */
static void finish(lua_State *L, nb_task *t, int status) {
  nb_task *j;
  if (t->due != NULL) {
    int fd;
    short ev;
    settle(t, &fd, &ev, 1);
  }
  t->state = T_DONE;
  t->status = status;
  unwait(t);
  loop.live--;
  if (t->prev) t->prev->next = t->next;
  else loop.tasks = t->next;
  if (t->next) t->next->prev = t->prev;
  t->prev = t->next = NULL;
  unjoin(t);  /* leave the list of the task it was joining */
  for (j = t->joiners; j != NULL; ) {
    nb_task *next = j->nextjoin;
    j->nextjoin = NULL;
    j->joining = NULL;
    if (j->state == T_WAITING) make_ready(j);
    j = next;
  }
  t->joiners = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, t->held);
  t->held = LUA_NOREF;
  if (t->fds != &t->fd1) {
    free(t->fds);
    t->fds = &t->fd1;
    t->fdcap = 1;
  }
  if (!t->queued) {
    luaL_unref(L, LUA_REGISTRYINDEX, t->anchor);
    t->anchor = LUA_NOREF;
  }
}

/* resume t (its userdata at the top of L's stack is pushed here) */
static void step(lua_State *L, nb_task *t) {
  int nres, st, ti, i;
  lua_State *co = t->co;
  loop.current = t;
  t->state = T_RUNNING;
  st = lua_resume(co, L, t->nargs, &nres);  /* t stays anchored */
  t->nargs = 0;
  if (t->state != T_WAITING && t->due != NULL) {
    int fd;
    short ev;
    settle(t, &fd, &ev, 1);  /* it stopped running without waiting */
  }
  loop.current = NULL;
  if (st == LUA_YIELD) {
    if (nres > 0) lua_pop(co, nres);
    if (t->state == T_RUNNING) make_ready(t);  /* coroutine.yield() */
    return;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->anchor);  /* for its outcome */
  ti = lua_gettop(L);
  if (st == LUA_OK) {
    lua_createtable(L, nres, 1);
    lua_pushinteger(L, nres);
    lua_setfield(L, ti + 1, "n");
    lua_xmove(co, L, nres);
    for (i = nres; i >= 1; i--) lua_rawseti(L, ti + 1, i);
    lua_setiuservalue(L, ti, 2);
    finish(L, t, S_OK);
  } else if (t->cancelled) {
    lua_resetthread(co);  /* closes its to-be-closed variables */
    lua_pushliteral(L, "task cancelled");
    lua_setiuservalue(L, ti, 2);
    finish(L, t, S_CANCELLED);
  } else {
    /* the error with the task's traceback, reported and kept for join;
    ** an object with __tostring shown with it, as lua.c does */
    const char *msg = lua_tostring(co, -1);
    if (msg == NULL)
      msg = nb_errortext(L, co);
    luaL_traceback(L, co, msg, 0);
    /* then its to-be-closed variables are closed, as a plain Lua error
    ** closes them on the way out (a coroutine leaves them open) */
    lua_resetthread(co);
    if (!*nb_interrupt_flag) {
      fprintf(stderr, "netbasics: task failed: %s\n", lua_tostring(L, -1));
      fflush(stderr);
    }
    lua_setiuservalue(L, ti, 2);
    finish(L, t, S_ERROR);
  }
  lua_settop(L, ti - 1);
}

/* Ctrl-C: close what every task holds, end them, and raise */
static void interrupted(lua_State *L) {
  nb_task *t;
  while (loop.rcount) ring_pop();
  for (t = loop.tasks; t != NULL; t = t->next) {
    close_held(L, t);
    unwait(t);
  }
  loop.running = 0;
  loop.current = NULL;
  nb_checkinterrupt(L);
}

#define NB_MAXEVENTS 256

/* wait for events (or the next timer) and wake their tasks */
static void poll_events(lua_State *L) {
  int ms = -1, n, i;
  double t0;
  if (loop.rcount > 0) ms = 0;
  else if (loop.nheap > 0) {
    double left = loop.heap[0]->wake - nb_now();
    ms = nb_ms(left);
  }
#ifdef __linux__
  {
    struct epoll_event ev[NB_MAXEVENTS];
    if (loop.epfd < 0) {
      loop.epfd = epoll_create1(EPOLL_CLOEXEC);
      if (loop.epfd < 0) luaL_error(L, "net.run: epoll: %s", strerror(errno));
    }
    n = epoll_wait(loop.epfd, ev, NB_MAXEVENTS, ms);
    if (n < 0) {
      if (errno == EINTR && *nb_interrupt_flag) interrupted(L);
      n = 0;
    }
    for (i = 0; i < n; i++) {
      int fd = ev[i].data.fd;
      unsigned e = ev[i].events;
      if (fd >= loop.fdcap) continue;
      if (e & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
        /* the end of the stream or an error stays: no event says it
        ** again, so a short read must not hide it (2: for good) */
        if (loop.rok[fd] != 2)
          loop.rok[fd] = (e & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) ? 2 : 1;
        if (loop.rd[fd]) make_ready(loop.rd[fd]);
      }
      if ((e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && loop.wr[fd])
        make_ready(loop.wr[fd]);
    }
  }
#else
  {
    /* poll() elsewhere: the descriptors somebody waits on */
    struct pollfd *p = NULL;
    int k = 0, fd;
    p = (struct pollfd *)lua_newuserdatauv(L, sizeof *p * (size_t)
                                           (loop.fdcap + 1), 0);
    for (fd = 0; fd < loop.fdcap; fd++) {
      short e = (short)((loop.rd[fd] ? POLLIN : 0)
                        | (loop.wr[fd] ? POLLOUT : 0));
      if (e) {
        p[k].fd = fd;
        p[k].events = e;
        p[k].revents = 0;
        k++;
      }
    }
    n = poll(p, (nfds_t)k, ms);
    if (n < 0 && errno == EINTR && *nb_interrupt_flag) interrupted(L);
    for (i = 0; n > 0 && i < k; i++) {
      fd = p[i].fd;
      if ((p[i].revents & (POLLIN | POLLERR | POLLHUP)) && loop.rd[fd])
        make_ready(loop.rd[fd]);
      if ((p[i].revents & (POLLOUT | POLLERR | POLLHUP)) && loop.wr[fd])
        make_ready(loop.wr[fd]);
    }
    lua_pop(L, 1);
  }
#endif
  t0 = nb_now();
  while (loop.nheap > 0 && loop.heap[0]->wake <= t0) {
    nb_task *t = loop.heap[0];
    timer_del(t);
    t->expired = 1;
    make_ready(t);
  }
}

/* the loop: until no task is left, net.stop(), or `loop.until` is done */
static void run(lua_State *L) {
  while (!loop.stop && loop.live > 0
         && !(loop.until && loop.until->state == T_DONE)) {
    int n = loop.rcount;
    while (n-- > 0 && loop.rcount > 0) {
      nb_task *t = ring_pop();
      if (t->state == T_DONE) {
        luaL_unref(L, LUA_REGISTRYINDEX, t->anchor);
        t->anchor = LUA_NOREF;
        continue;
      }
      step(L, t);
      if (*nb_interrupt_flag) interrupted(L);
      if (loop.stop) break;
    }
    if (loop.stop || loop.live == 0) break;
    if (loop.until && loop.until->state == T_DONE) break;
    if (loop.rcount == 0 && loop.nheap == 0 && loop.nwaitfd == 0)
      break;  /* nothing can wake anyone: every task waits for another */
    poll_events(L);
  }
}

/* net.spawn(fn, ...) -> task */
static int net_spawn(lua_State *L) {
  int n = lua_gettop(L), i;
  nb_task *t, *cur = nb_task_of(L);
  lua_State *co;
  luaL_checktype(L, 1, LUA_TFUNCTION);
  t = (nb_task *)lua_newuserdatauv(L, sizeof *t, 2);
  memset(t, 0, sizeof *t);
  t->anchor = t->held = LUA_NOREF;
  t->heapi = -1;
  t->wfd = -1;
  t->limit = -1;
  t->fds = &t->fd1;
  t->fdcap = 1;
  t->state = T_DONE;
  luaL_setmetatable(L, NB_TASK_T);
  co = lua_newthread(L);
  lua_setiuservalue(L, -2, 1);
  /* the resources among the arguments now belong to the new task */
  lua_createtable(L, 0, 4);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  for (i = 2; i <= n; i++) {
    if (res_at(L, i) != NULL) {
      lua_pushvalue(L, i);
      lua_pushboolean(L, 1);
      lua_rawset(L, -3);
      if (cur && cur->held != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, cur->held);
        lua_pushvalue(L, i);
        lua_pushnil(L);
        lua_rawset(L, -3);
        lua_pop(L, 1);
      }
    }
  }
  t->held = luaL_ref(L, LUA_REGISTRYINDEX);
  for (i = 1; i <= n; i++) lua_pushvalue(L, i);
  lua_xmove(L, co, n);
  t->co = co;
  t->nargs = n - 1;
  lua_pushvalue(L, -1);
  t->anchor = luaL_ref(L, LUA_REGISTRYINDEX);
  t->state = T_READY;
  if (ring_push(t) != 0) return luaL_error(L, "not enough memory");
  loop.live++;
  t->next = loop.tasks;
  if (loop.tasks) loop.tasks->prev = t;
  loop.tasks = t;
  return 1;
}

/* net.run([task]): run until every task is done or net.stop() (or, with
** a task, until that one is done) */
static int run_protected(lua_State *L) {
  run(L);
  return 0;
}

/* net.run([task]): an error out of the loop itself (out of memory,
** Ctrl-C) leaves it stopped, not running, and goes on up */
static int net_run(lua_State *L) {
  nb_task *until = lua_isnoneornil(L, 1) ? NULL : totask(L, 1);
  nb_task *saved = loop.until;
  int st;
  if (loop.running)
    return luaL_error(L, "net.run: the loop is already running");
  lua_pushcfunction(L, run_protected);
  loop.running = 1;
  loop.stop = 0;
  loop.until = until;
  st = lua_pcall(L, 0, 0, 0);
  loop.until = saved;
  loop.running = 0;
  loop.stop = 0;
  loop.current = NULL;
  if (st != LUA_OK) return lua_error(L);
  lua_pushboolean(L, 1);
  return 1;
}

static int net_stop(lua_State *L) {
  loop.stop = 1;
  (void)L;
  return 0;
}

static int net_now(lua_State *L) {
  lua_pushnumber(L, nb_now());
  return 1;
}

static int sleep_done(lua_State *L, int status, lua_KContext ctx) {
  nb_task *t = nb_task_of(L);
  (void)status;
  (void)ctx;
  if (t && t->expired && t->wake < t->opdl) {
    t->expired = 0;
    return nb_fail(L, "timeout", "sleep: deadline reached");
  }
  if (t) t->expired = 0;
  lua_pushboolean(L, 1);
  return 1;
}

/* net.sleep(seconds): in a task, lets the others run */
static int net_sleep(lua_State *L) {
  double s = luaL_checknumber(L, 1), until;
  nb_task *t = nb_task_of(L);
  luaL_argcheck(L, s == s, 1, "not a number");
  if (s < 0) s = 0;
  until = nb_now() + s;
  if (t != NULL && lua_isyieldable(L)) {
    int hfd;
    short hev;
    if (t->due != NULL && settle(t, &hfd, &hev, 0) == EAGAIN)
      waitfd(L, t, hfd, hev, -1, 0);  /* then sleep again */
    double dl = earliest(until, t->limit);
    t->opdl = until;
    t->op = NULL;
    if (timer_set(t, dl) != 0) return luaL_error(L, "not enough memory");
    t->state = T_WAITING;
    return lua_yieldk(L, 0, 0, sleep_done);
  }
  for (;;) {
    double left = until - nb_now();
    struct timespec ts;
    if (left <= 0) break;
    nb_timespec(left, &ts);
    if (nanosleep(&ts, NULL) != 0 && errno == EINTR) nb_checkinterrupt(L);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* net.current() -> the running task, or nil outside tasks */
static int net_current(lua_State *L) {
  nb_task *t = nb_task_of(L);
  if (t == NULL || t->anchor == LUA_NOREF) lua_pushnil(L);
  else lua_rawgeti(L, LUA_REGISTRYINDEX, t->anchor);
  return 1;
}

/* core.setlimit(seconds) -> previous: bound every wait of this task (the
** earlier of the two); core.setlimit(nil, previous) restores */
static int net_setlimit(lua_State *L) {
  nb_task *t = nb_task_of(L);
  double prev;
  if (t == NULL) return 0;
  prev = t->limit;
  if (lua_isnil(L, 1)) t->limit = luaL_optnumber(L, 2, -1);
  else t->limit = earliest(t->limit, nb_now() + luaL_checknumber(L, 1));
  lua_pushnumber(L, prev);
  return 1;
}

static int push_outcome(lua_State *L, nb_task *t) {
  lua_getiuservalue(L, 1, 2);
  if (t->status == S_OK) {
    int tb = lua_gettop(L), n, i;
    lua_getfield(L, tb, "n");
    n = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    luaL_checkstack(L, n + 1, "too many results");
    lua_pushboolean(L, 1);
    for (i = 1; i <= n; i++) lua_rawgeti(L, tb, i);
    return n + 1;
  }
  return nb_fail(L, t->status == S_CANCELLED ? "cancelled" : "error", "%s",
                 lua_tostring(L, -1));
}

/* leave the list of tasks joining t->joining */
static void unjoin(nb_task *me) {
  nb_task **p;
  if (me->joining == NULL) return;
  p = &me->joining->joiners;
  while (*p && *p != me) p = &(*p)->nextjoin;
  if (*p) *p = me->nextjoin;
  me->nextjoin = NULL;
  me->joining = NULL;
}

static int join_done(lua_State *L, int status, lua_KContext ctx) {
  nb_task *me = nb_task_of(L), *t;
  (void)status;
  (void)ctx;
  lua_settop(L, 1);
  t = totask(L, 1);
  if (me != NULL && me->expired) {  /* net.deadline passed first */
    me->expired = 0;
    unjoin(me);
    if (t->state != T_DONE)
      return nb_fail(L, "timeout", "join: deadline reached");
  }
  return push_outcome(L, t);
}

/* task:join() -> true, results... | nil, message, "error"|"cancelled" */
static int task_join(lua_State *L) {
  nb_task *t = totask(L, 1), *me = nb_task_of(L);
  lua_settop(L, 1);
  if (t->state == T_DONE) return push_outcome(L, t);
  if (me == t) return luaL_error(L, "join: a task cannot join itself");
  if (me != NULL && lua_isyieldable(L)) {
    int hfd;
    short hev;
    if (me->due != NULL && settle(me, &hfd, &hev, 0) == EAGAIN)
      waitfd(L, me, hfd, hev, -1, 0);  /* then join again */
    me->nextjoin = t->joiners;
    t->joiners = me;
    me->joining = t;
    me->op = NULL;
    me->expired = 0;
    if (timer_set(me, me->limit) != 0) {
      unjoin(me);
      return luaL_error(L, "not enough memory");
    }
    me->state = T_WAITING;
    return lua_yieldk(L, 0, 0, join_done);
  }
  if (loop.running)
    return luaL_error(L, "join: outside a task while the loop runs");
  lua_pushcfunction(L, net_run);
  lua_pushvalue(L, 1);
  lua_call(L, 1, 0);
  if (t->state != T_DONE)
    return nb_fail(L, "stopped", "join: the loop stopped first");
  return push_outcome(L, t);
}

/* task:cancel(): ends the task, closing every socket it holds */
static int task_cancel(lua_State *L) {
  nb_task *t = totask(L, 1);
  if (t->state == T_DONE) {
    lua_pushboolean(L, 0);
    return 1;
  }
  t->cancelled = 1;
  if (t == nb_task_of(L)) {
    close_held(L, t);
    return luaL_error(L, "task cancelled");
  }
  close_held(L, t);
  unwait(t);
  lua_resetthread(t->co);  /* closes its to-be-closed variables */
  lua_pushliteral(L, "task cancelled");
  lua_setiuservalue(L, 1, 2);
  finish(L, t, S_CANCELLED);
  lua_pushboolean(L, 1);
  return 1;
}

/* task:status() -> "ready", "running", "waiting", "done", "failed",
** "cancelled" */
static int task_status(lua_State *L) {
  nb_task *t = totask(L, 1);
  static const char *const names[] = {"ready", "running", "waiting"};
  if (t->state != T_DONE) lua_pushstring(L, names[t->state]);
  else if (t->status == S_OK) lua_pushliteral(L, "done");
  else if (t->status == S_ERROR) lua_pushliteral(L, "failed");
  else lua_pushliteral(L, "cancelled");
  return 1;
}

static int task_tostring(lua_State *L) {
  nb_task *t = totask(L, 1);
  lua_pushfstring(L, NB_TASK_T " (%p)", (void *)t);
  return 1;
}

static int task_gc(lua_State *L) {
  nb_task *t = totask(L, 1);
  forget_due(t);
  if (t->fds != &t->fd1) free(t->fds);
  t->fds = &t->fd1;
  return 0;
}

void nb_task_hold(lua_State *L, int i) {
  nb_task *t = nb_task_of(L);
  if (t == NULL || t->held == LUA_NOREF) return;
  i = lua_absindex(L, i);
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->held);
  lua_pushvalue(L, i);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

static const luaL_Reg task_methods[] = {
  {"join", task_join},
  {"cancel", task_cancel},
  {"status", task_status},
  {NULL, NULL}
};

static const luaL_Reg funcs[] = {
  {"spawn", net_spawn},
  {"run", net_run},
  {"stop", net_stop},
  {"now", net_now},
  {"sleep", net_sleep},
  {"current", net_current},
  {"_setlimit", net_setlimit},
  {NULL, NULL}
};

static const nb_loop_api api = {
  nb_task_of, nb_task_park, nb_task_timedout, nb_loop_closed, nb_now
};

/* the Lua state closes: free the loop's tables (the module may be
** unloaded next) */
static int loop_gc(lua_State *L) {
  (void)L;
  if (loop.running) return 0;
  free(loop.rd);
  free(loop.wr);
  free(loop.reg);
  free(loop.rok);
  free(loop.gen);
  free(loop.heap);
  free(loop.ring);
  loop.rd = loop.wr = loop.heap = loop.ring = NULL;
  loop.reg = loop.rok = NULL;
  loop.gen = NULL;
  loop.fdcap = loop.heapcap = loop.nheap = 0;
  loop.rcap = loop.rcount = loop.rhead = 0;
  if (loop.epfd >= 0) close(loop.epfd);
  loop.epfd = -1;
  return 0;
}

void nb_open_loop(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&api);
  lua_setfield(L, LUA_REGISTRYINDEX, NB_LOOP_API);
  if (lua_getfield(L, LUA_REGISTRYINDEX, "netbasics.loopgc") == LUA_TNIL) {
    lua_newuserdatauv(L, 1, 0);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, loop_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "netbasics.loopgc");
  }
  lua_pop(L, 1);
  luaL_newmetatable(L, NB_TASK_T);
  lua_pushcfunction(L, task_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, task_tostring);
  lua_setfield(L, -2, "__tostring");
  luaL_newlib(L, task_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}
