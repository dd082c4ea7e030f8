/*
** socket.c: the socket family of netbasics.core (see API.md).
*/
#include "netbasics.h"

void nb_open_socket(lua_State *L) {
  (void)L;
}
