/*
** validate.c: the validate family of netbasics.core (see API.md).
*/
#include "netbasics.h"

void nb_open_validate(lua_State *L) {
  (void)L;
}
