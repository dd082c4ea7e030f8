/*
** loop.h: the event loop and the tasks of netbasics.core (loop.c, the
** scheduler's mechanism; lua/netbasics/sched.lua has its policy). The
** other families ask it two things: "is this call running in a task?"
** and "park this task until fd is ready or the deadline passes".
*/
#ifndef NB_LOOP_H
#define NB_LOOP_H

#include "netbasics.h"

typedef struct nb_task nb_task;

/* the task running `L`, or NULL: plain blocking code, outside any task */
nb_task *nb_task_of(lua_State *L);

/*
** Park the running task until `fd` is ready for `events` (POLLIN,
** POLLOUT) or `deadline` (nb_now() seconds; < 0 none; also bounded by
** net.deadline) passes, letting other tasks run. It does not return: the
** C function that called it is called again from the start, with the
** same arguments, once the wait is over. Then, if the time was up, this
** returns ETIMEDOUT at once so the call gives its usual timeout failure.
** Returns 0 only when `L` cannot yield (then the caller polls as usual).
*/
int nb_task_waitfd(lua_State *L, nb_task *t, int fd, short events,
                   double deadline);

/* what a call that is called again already did (sendall's bytes sent) */
size_t nb_task_progress(nb_task *t);
void nb_task_setprogress(nb_task *t, size_t n);

/* record a socket (at stack index `i`) as held by the running task, so
** cancelling the task or Ctrl-C closes it */
void nb_task_hold(lua_State *L, int i);

/* a descriptor is being closed: forget it, wake whoever waits on it */
void nb_loop_forget(int fd);

void nb_open_loop(lua_State *L);

#endif
