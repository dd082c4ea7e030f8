/*
** common.c: helpers every family shares; linked into netbasics.core,
** netbasics.fetch and the host.
*/
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netbasics.h"

static volatile sig_atomic_t nb_noflag = 0;
volatile sig_atomic_t *nb_interrupt_flag = &nb_noflag;

int nb_fail(lua_State *L, const char *code, const char *fmt, ...) {
  va_list ap;
  luaL_pushfail(L);
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_pushstring(L, code);
  return 3;
}

const char *nb_pushshown(lua_State *L, const char *s, size_t n) {
  return nb_pushshownmax(L, s, n, NB_SHOWMAX);
}

const char *nb_pushshownmax(lua_State *L, const char *s, size_t n,
                            size_t max) {
  luaL_Buffer b;
  size_t i, shown = n > max ? max : n;
  luaL_buffinit(L, &b);
  for (i = 0; i < shown; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      luaL_addchar(&b, (char)c);
    } else {
      char esc[5];
      esc[0] = '\\';
      esc[1] = (char)('0' + c / 100);
      esc[2] = (char)('0' + c / 10 % 10);
      esc[3] = (char)('0' + c % 10);
      esc[4] = '\0';
      luaL_addstring(&b, esc);
    }
  }
  if (shown < n) luaL_addstring(&b, "...");
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

static int tostring_(lua_State *L) {
  luaL_tolstring(L, 1, NULL);
  return 1;
}

const char *nb_errortext(lua_State *L, lua_State *co) {
  const char *msg = NULL;
  if (luaL_getmetafield(co, -1, "__tostring") != LUA_TNIL) {
    lua_pop(co, 1);
    lua_pushcfunction(L, tostring_);
    lua_pushvalue(co, -1);
    lua_xmove(co, L, 1);
    /* the string stays on co's stack for the caller */
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING) {
      lua_xmove(L, co, 1);
      return lua_tostring(co, -1);
    }
    lua_pop(L, 1);
  }
  msg = lua_pushfstring(co, "(error object is a %s value)",
                        luaL_typename(co, -1));
  return msg;
}

void nb_checkinterrupt(lua_State *L) {
  if (*nb_interrupt_flag)
    luaL_error(L, *nb_interrupt_flag == SIGINT ? "interrupted!"
                                               : "terminated!");
}

/*
** ** The host keeps its SIGINT flag in the registry (NB_INTERRUPT_KEY);
** each module finds it when opened, so a module loaded with dlopen sees
** the same flag as the code linked into the host.
*/
void nb_open_common(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, NB_INTERRUPT_KEY)
      == LUA_TLIGHTUSERDATA)
    nb_interrupt_flag = (volatile sig_atomic_t *)lua_touserdata(L, -1);
  lua_pop(L, 1);
}

int nb_ms(double seconds) {
  if (!(seconds > 0)) return 0;
  if (seconds >= INT_MAX / 1000.0) return INT_MAX;
  return (int)(seconds * 1000 + 0.999);
}

void nb_timespec(double seconds, struct timespec *ts) {
  if (!(seconds > 0)) seconds = 0;
  if (seconds > NB_SLEEP_MAX) seconds = NB_SLEEP_MAX;
  ts->tv_sec = (time_t)seconds;
  ts->tv_nsec = (long)((seconds - (double)ts->tv_sec) * 1e9);
  if (ts->tv_nsec > 999999999) ts->tv_nsec = 999999999;
}

/* ---------------------------------------------------------------------
** C allocations (netbasics.h). The count is atomic: libcurl's resolver
** thread allocates too.
** ------------------------------------------------------------------ */

static int c_mode = -1;            /* -1 unread, 0 plain, 1 counting */
static unsigned long c_failat;     /* 0: never fail */
static unsigned long c_count;      /* requests so far */
static unsigned long c_failed;     /* requests that got NULL */

static void c_report(void) {
  fprintf(stderr, "netbasics: %lu C allocations\n",
          __atomic_load_n(&c_count, __ATOMIC_RELAXED));
}

static int c_fails(void) {
  unsigned long n;
  if (c_mode < 0) {
    const char *e = getenv("NETBASICS_FAILMALLOC");
    if (e != NULL) {
      c_failat = strtoul(e, NULL, 10);
      if (c_failat == 0) atexit(c_report);
    }
    c_mode = e != NULL;
  }
  if (c_mode == 0) return 0;
  n = __atomic_add_fetch(&c_count, 1, __ATOMIC_RELAXED);
  if (n != c_failat) return 0;
  fprintf(stderr, "netbasics: C allocation %lu failed on purpose\n", n);
  errno = ENOMEM;  /* as malloc's failure sets it */
  return 1;
}

static void *counted(void *p) {
  if (p == NULL) __atomic_add_fetch(&c_failed, 1, __ATOMIC_RELAXED);
  return p;
}

unsigned long nb_allocfails(void) {
  return __atomic_load_n(&c_failed, __ATOMIC_RELAXED);
}

void *nb_malloc(size_t n) {
  return counted(c_fails() ? NULL : malloc(n));
}

void *nb_calloc(size_t n, size_t size) {
  return counted(c_fails() ? NULL : calloc(n, size));
}

void *nb_realloc(void *p, size_t n) {
  return counted(c_fails() ? NULL : realloc(p, n));
}

char *nb_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = (char *)nb_malloc(n);
  if (p != NULL) memcpy(p, s, n);
  return p;
}
