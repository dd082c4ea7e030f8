/*
** fetch.c: netbasics.curl, the C part of the fetch family on libcurl (see API.md).
** A module of its own: loading libcurl costs ~8 ms, so the Lua half
** requires it on the first fetch or download only.
*/
#include "netbasics.h"

NB_EXPORT int luaopen_netbasics_curl(lua_State *L) {
  nb_open_common(L);
  lua_newtable(L);
  return 1;
}
