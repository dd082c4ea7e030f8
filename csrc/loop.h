/*
** loop.h: the event loop and the tasks of netbasics.core (loop.c, the
** scheduler's mechanism; lua/netbasics/sched.lua has its policy). The
** other families ask it "is this call running in a task?" and "park this
** task until fd is ready or the deadline passes", and give it resources
** (below) to settle and close. It knows no family: it includes none of
** their headers (docs/design.md).
*/
#ifndef NB_LOOP_H
#define NB_LOOP_H

#include <poll.h>

#include "netbasics.h"

typedef struct nb_task nb_task;

/* the clock of every deadline: CLOCK_MONOTONIC, in seconds */
double nb_now(void);

/* the task running `L`, or NULL: plain blocking code, outside any task */
nb_task *nb_task_of(lua_State *L);

/*
** Park the running task until `fd` is ready for `events` (POLLIN,
** POLLOUT) or `deadline` (nb_now() seconds; < 0 none; also bounded by
** net.deadline) passes, letting other tasks run. It does not return: the
** C function that called it is called again from the start, with the
** same arguments, once the wait is over. Then, if the time was up, this
** returns ETIMEDOUT at once so the call gives its usual timeout failure.
** Returns ENOMEM (or epoll's errno) when the loop cannot take the wait,
** EBUSY when another task already waits on `fd` the same way: the call
** fails with it. Returns 0 when `L` cannot yield (then the caller polls
** as usual).
*/
int nb_task_waitfd(lua_State *L, nb_task *t, int fd, short events,
                   double deadline);

/*
** For callers that keep their own state (c-ares, libcurl, select): park
** the running task on n descriptors (p[i].fd, p[i].events: POLLIN and/or
** POLLOUT; revents unused) until one is ready, or `deadline` (nb_now()
** seconds, < 0 none; also bounded by net.deadline) passes; then
** k(L, LUA_YIELD, ctx) runs in the task (a lua_yieldk continuation: the
** C stack of the caller is gone). It does
** not return, unless L cannot yield (then 0: the caller waits itself)
** or the loop cannot take the wait (then ENOMEM, or EBUSY: another task
** waits on one of the descriptors the same way; the caller fails).
** In k, nb_task_timedout(t) says that net.deadline passed (rather than
** `deadline`).
*/
int nb_task_park(lua_State *L, nb_task *t, const struct pollfd *p, int n,
                 double deadline, lua_KContext ctx, lua_KFunction k);
int nb_task_timedout(nb_task *t);

/* a descriptor was closed by a library (c-ares): forget it */
void nb_loop_closed(int fd);

/*
** The loop for netbasics.curl, a module of its own (libcurl is slow to
** load) that cannot link to core's functions: a table of them, in the
** Lua registry as a light userdata under NB_LOOP_API.
*/
#define NB_LOOP_API "netbasics.loop"
typedef struct nb_loop_api {
  nb_task *(*task_of)(lua_State *L);
  int (*park)(lua_State *L, nb_task *t, const struct pollfd *p, int n,
              double deadline, lua_KContext ctx, lua_KFunction k);
  int (*timedout)(nb_task *t);
  void (*closed)(int fd);
  double (*now)(void);
} nb_loop_api;

/* what a call that is called again already did (sendall's bytes sent) */
size_t nb_task_progress(nb_task *t);
void nb_task_setprogress(nb_task *t, size_t n);

/*
** Resources: what a task holds (a socket). A family puts an nb_res first
** in its userdata (nb_res_init) with two functions of its own, and the
** loop calls them knowing nothing else of it:
**   settle, before the task waits, yields or ends, for a resource that
**     asked with nb_res_due (a socket gives its held answers to the
**     kernel): 0 done, or EAGAIN: the task waits first for *fd to be
**     ready for *events (when it only stops running, what is left stays
**     with the resource);
**   close, when the task is cancelled or Ctrl-C stops the loop, for the
**     resources it holds (nb_task_hold; arguments to net.spawn move to
**     the new task); the resource's userdata is at the top of L's stack.
** nb_res_drop: the resource is released (closed or collected): the loop
** forgets it. The fields after ops are the loop's.
*/
typedef struct nb_res nb_res;
typedef struct nb_res_ops {
  int (*settle)(nb_res *r, int *fd, short *events);
  void (*close)(lua_State *L, nb_res *r);
} nb_res_ops;

struct nb_res {
  const char *tag;          /* &nb_res_tag: marks a resource's userdata */
  const nb_res_ops *ops;
  nb_task *due;             /* settle it before this task waits, or NULL */
  nb_res *nextdue;          /* the task's next one */
};

extern const char nb_res_tag;
void nb_res_init(nb_res *r, const nb_res_ops *ops);
void nb_res_due_slow(nb_task *t, nb_res *r);
void nb_res_drop(nb_res *r);

/* settle r (ops->settle) before the running task t next waits, yields or
** ends; once a call asked, the next ones cost a compare */
static inline void nb_res_due(nb_task *t, nb_res *r) {
  if (r->due != t) nb_res_due_slow(t, r);
}

/* the running task holds the resource at stack index `i`, so cancelling
** the task or Ctrl-C closes it (nothing outside tasks) */
void nb_task_hold(lua_State *L, int i);

/*
** Reads in tasks skip a recv() that would only say EAGAIN: after a read
** that emptied the kernel's buffer (a short read) the socket layer calls
** nb_loop_drained(fd); nb_loop_readable(fd) is false from then until the
** loop sees an event on fd (epoll is edge-triggered: every later arrival
** of bytes is one; once the end of the stream or an error was seen, it
** stays true). Always true off Linux or for a descriptor the loop has not
** seen yet.
*/
int nb_loop_readable(int fd);
void nb_loop_drained(int fd);

/* a descriptor is being closed: forget it, wake whoever waits on it */
void nb_loop_forget(int fd);

void nb_open_loop(lua_State *L);

#endif
