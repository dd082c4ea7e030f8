/*
** ports.c: the ports family of netbasics.core (see API.md).
*/
#include "netbasics.h"

void nb_open_ports(lua_State *L) {
  (void)L;
}
