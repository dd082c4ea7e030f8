/*
** core.c: luaopen_netbasics_core builds one table from every family.
*/
#include "netbasics.h"
#include "loop.h"

NB_EXPORT int luaopen_netbasics_core(lua_State *L) {
  nb_open_common(L);
  lua_newtable(L);
  nb_open_octet(L);
  nb_open_validate(L);
  nb_open_socket(L);
  nb_open_ports(L);
  nb_open_resolve(L);
  nb_open_loop(L);
  lua_pushliteral(L, NB_VERSION);
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
