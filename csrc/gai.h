/*
** gai.h: names in tasks (gai.c), between the socket and resolve families:
** in a task that can yield, net.getaddrinfo (socket.c) and net.resolve
** (resolve.c) ask c-ares on the loop through dnsrun.c's dns_gai instead
** of the system's getaddrinfo, which would stop every task. Outside
** tasks, nb_sys_getaddrinfo is the system's, bounded by a timeout.
*/
#ifndef NB_GAI_H
#define NB_GAI_H

#include "netbasics.h"

struct addrinfo;

/* in a task that can yield: a name goes to c-ares on the loop */
int nb_gai_wanted(lua_State *L);

/* what net.getaddrinfo returns for the name at stack index 1 and the
** port at 2 (type and passive change nothing for a name); what
** net.resolve returns for `name`; within `timeout` seconds (< 0: none)
** and net.deadline */
int nb_gai_addrs(lua_State *L, int type, int passive, double timeout);
int nb_gai_hosts(lua_State *L, const char *name, double timeout);

/* net.resolve's failure for an EAI_* code (resolve.c) */
int nb_resolve_fail(lua_State *L, int st, const char *name);

/* outside tasks: the system's getaddrinfo, given up after `timeout`
** seconds (< 0: never) with NB_EAI_TIMEDOUT */
#define NB_EAI_TIMEDOUT (-10000)
int nb_sys_getaddrinfo(lua_State *L, const char *host,
                       const struct addrinfo *hints, struct addrinfo **res,
                       double timeout);

#endif
