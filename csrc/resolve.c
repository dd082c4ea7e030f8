/*
** resolve.c: the resolve family of netbasics.core (see API.md).
*/
#include "netbasics.h"

void nb_open_resolve(lua_State *L) {
  (void)L;
}
