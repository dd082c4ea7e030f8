/*
** octet.c: the octet family of netbasics.core (see API.md).
*/
#include "netbasics.h"

void nb_open_octet(lua_State *L) {
  (void)L;
}
