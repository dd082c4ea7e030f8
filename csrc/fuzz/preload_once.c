/*
** preload_once.c: for `make check-asan`. Stock lua5.4 needs the ASan
** runtime preloaded (LD_PRELOAD) to load the sanitized netbasics.core;
** the programs a spec starts (sh, python3, nginx, man) must not get it,
** or the sanitizer would report their bugs, not ours. Preloaded after
** the runtime, this library takes LD_PRELOAD out of the environment as
** the process starts, so it applies to that one process only.
*/
#include <stdlib.h>

void nb_preload_once(void) __attribute__((constructor));

void nb_preload_once(void) {
  unsetenv("LD_PRELOAD");
}
