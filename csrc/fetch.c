/*
** fetch.c: netbasics.curl, the C part of the fetch family on libcurl
** (see API.md and docs/api/fetch.md). A module of its own: loading
** libcurl costs ~8 ms, so the Lua half requires it on the first fetch or
** download only.
**
** A transfer has three steps, kept apart so that a scheduler can later
** drive many transfers from one loop through libcurl's multi interface:
**   xfer_setup   checks the input, builds the easy handle and its options,
**                opens the temporary file of a download;
**   xfer_wait    drives the transfer to its end (here: a multi handle of
**                its own and curl_multi_poll; Ctrl-C and the progress
**                function are handled between polls, never in a callback);
**   xfer_finish  turns the outcome into Lua values: fsync and rename for a
**                download, the body and headers for a fetch, or nil, msg,
**                code; then nb_xfer_release frees everything.
** The engine under them (buffers, libcurl's callbacks, the temporary file,
** the bar) is plain C in transfer.c. The state lives in a userdata whose
** __gc also calls nb_xfer_release, so a Lua error (out of memory while
** pushing results) leaks nothing and leaves no temporary file. libcurl's
** callbacks only fill C buffers and flags.
*/
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "netbasics.h"
#include "loop.h"
#include "transfer.h"

#define NB_TRANSFER_T "netbasics.transfer"
#define NB_USER_AGENT "netbasics/" NB_VERSION
#define NB_TICK_MS 200                   /* Ctrl-C and progress cadence */
#define NB_DEFAULT_PROTOCOLS "http,https"
#define NB_FETCH_BUFFERSIZE (4 * 1024 * 1024)  /* see net_fetch */

/*
** ** The URL as messages show it: one line whatever it holds (controls,
** spaces and bytes past ASCII as %XX, as they would travel), cut after
** 200 bytes.
*/
static const char *push_shown(lua_State *L, const char *s, size_t n) {
  luaL_Buffer b;
  size_t i, max = n > 200 ? 200 : n;
  luaL_buffinit(L, &b);
  for (i = 0; i < max; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c >= 0x7f) {
      char hex[4];
      snprintf(hex, sizeof hex, "%%%02X", c);
      luaL_addstring(&b, hex);
    } else {
      luaL_addchar(&b, (char)c);
    }
  }
  if (max < n)
    luaL_addstring(&b, "...");
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

/* ---------------------------------------------------------------------
** The transfer object
** ------------------------------------------------------------------ */

static xfer *xfer_new(lua_State *L) {
  xfer *x = lua_newuserdatauv(L, sizeof *x, 0);
  memset(x, 0, sizeof *x);
  x->fd = -1;
  x->max_bytes = -1;
  x->last_now = -1;
  luaL_setmetatable(L, NB_TRANSFER_T);
  return x;
}

static int xfer_gc(lua_State *L) {
  nb_xfer_release(luaL_checkudata(L, 1, NB_TRANSFER_T));
  return 0;
}

static int xfer_close(lua_State *L) {
  nb_xfer_release(luaL_checkudata(L, 1, NB_TRANSFER_T));
  lua_pushboolean(L, 1);
  return 1;
}

static int xfer_tostring(lua_State *L) {
  xfer *x = luaL_checkudata(L, 1, NB_TRANSFER_T);
  lua_pushfstring(L, NB_TRANSFER_T " (%s)", x->easy ? "open" : "closed");
  return 1;
}

/* ---------------------------------------------------------------------
** xfer_setup: options (misuse raises), checks, the easy handle
** ------------------------------------------------------------------ */

static const char *const optnames[] = {
  "timeout", "connect_timeout", "max_bytes", "max_redirects", "headers",
  "method", "body", "user_agent", "cafile", "insecure", "protocols",
  "progress", "compressed", "low_speed_limit", "low_speed_time", NULL
};

/* opts[name] on top of the stack if it has type `t` (or is nil: returns
** 0, nothing pushed); any other type raises */
static int getopt_(lua_State *L, int opts, const char *name, int t) {
  int got;
  if (opts == 0)
    return 0;
  got = lua_getfield(L, opts, name);
  if (got == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (got != t && !(t == LUA_TNUMBER && got == LUA_TSTRING
                    && lua_isnumber(L, -1)))
    luaL_error(L, "option '%s': %s expected, got %s", name,
               lua_typename(L, t), luaL_typename(L, -1));
  return 1;
}

static double opt_seconds(lua_State *L, int opts, const char *name,
                          double dflt) {
  double v = dflt;
  if (getopt_(L, opts, name, LUA_TNUMBER)) {
    v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(v > 0))
      luaL_error(L, "option '%s': a number of seconds above 0 expected",
                 name);
  }
  return v;
}

static lua_Integer opt_count(lua_State *L, int opts, const char *name,
                             lua_Integer dflt) {
  lua_Integer v = dflt;
  if (getopt_(L, opts, name, LUA_TNUMBER)) {
    int isint;
    v = lua_tointegerx(L, -1, &isint);
    lua_pop(L, 1);
    if (!isint || v < 0)
      luaL_error(L, "option '%s': a whole number of 0 or more expected",
                 name);
  }
  return v;
}

static int opt_bool(lua_State *L, int opts, const char *name, int dflt) {
  int v = dflt;
  if (getopt_(L, opts, name, LUA_TBOOLEAN)) {
    v = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  return v;
}

/* a string option: a pointer into a string held by `opts`, or NULL */
static const char *opt_string(lua_State *L, int opts, const char *name,
                              size_t *len) {
  const char *s;
  if (!getopt_(L, opts, name, LUA_TSTRING))
    return NULL;
  s = lua_tolstring(L, -1, len);
  lua_pop(L, 1);  /* still referenced by opts, which the caller keeps */
  return s;
}

static void check_optnames(lua_State *L, int opts) {
  lua_pushnil(L);
  while (lua_next(L, opts)) {
    int i;
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                   : NULL;
    for (i = 0; k && optnames[i]; i++)
      if (strcmp(optnames[i], k) == 0)
        break;
    if (k == NULL || optnames[i] == NULL)
      luaL_error(L, "unknown option '%s'",
                 k ? k : luaL_typename(L, -2));
    lua_pop(L, 1);
  }
}

#define SET(opt, val) \
  do { if ((setrc = curl_easy_setopt(x->easy, opt, val)) != CURLE_OK) \
         goto setfail; } while (0)

/*
** ** The request's headers: a table name = value. "Name: value" lines
** for libcurl, after nb_check_header; an empty value is sent as such
** ("Name;" in libcurl's terms). Returns NULL or pushes nothing and
** returns the reason with the offending name on top of the stack.
*/
static const char *add_headers(lua_State *L, xfer *x, int t) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    size_t nl, vl;
    const char *name, *value, *why;
    struct curl_slist *l;
    char *line;
    if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1))
      luaL_error(L, "option 'headers': a table of name = string expected");
    name = lua_tolstring(L, -2, &nl);
    value = lua_tolstring(L, -1, &vl);  /* a number becomes a string */
    why = nb_check_header(name, nl, value, vl);
    if (why) {
      lua_pop(L, 1);
      return why;  /* the name stays on top */
    }
    line = nb_malloc(nl + vl + 3);
    if (line == NULL)
      luaL_error(L, "not enough memory");  /* x is freed by __gc */
    memcpy(line, name, nl);
    if (vl == 0) {
      line[nl] = ';';
      line[nl + 1] = '\0';
    } else {
      line[nl] = ':';
      line[nl + 1] = ' ';
      memcpy(line + nl + 2, value, vl);
      line[nl + 2 + vl] = '\0';
    }
    l = curl_slist_append(x->reqhdrs, line);
    free(line);
    if (l == NULL)
      luaL_error(L, "not enough memory");
    x->reqhdrs = l;
    lua_pop(L, 1);
  }
  return NULL;
}

/*
** ** Reads url (stack index `u`), options (`opts`, 0 if none) and, for a
** download, the target `path`; returns 0, or pushes nil, msg, code and
** returns 3. Misuse (unknown option, wrong type) raises: x is a userdata
** on the stack, so __gc frees whatever was already acquired.
*/
static int xfer_setup(lua_State *L, xfer *x, const char *verb, int u,
                      int opts, const char *path) {
  size_t ulen, len;
  const char *url = luaL_checklstring(L, u, &ulen);
  const char *s, *why, *protocols = NB_DEFAULT_PROTOCOLS, *shown;
  char scheme[NB_SCHEME_MAX], redir[256];
  double timeout, connect_timeout, low_time;
  lua_Integer max_redirects, low_limit, max_bytes;
  const char *method = NULL, *body = NULL, *ua = NB_USER_AGENT, *cafile;
  size_t bodylen = 0;
  int insecure, compressed, e;
  CURLcode setrc = CURLE_OK;  /* SET's */

  if (opts) {
    luaL_checktype(L, opts, LUA_TTABLE);
    check_optnames(L, opts);
  }
  shown = push_shown(L, url, ulen);  /* stays on the stack: x->shown */
  x->shown = lua_gettop(L);
  timeout = opt_seconds(L, opts, "timeout", 0);
  connect_timeout = opt_seconds(L, opts, "connect_timeout", 15);
  low_time = opt_seconds(L, opts, "low_speed_time", 30);
  low_limit = opt_count(L, opts, "low_speed_limit", 10);
  max_redirects = opt_count(L, opts, "max_redirects", 10);
  max_bytes = opt_count(L, opts, "max_bytes", -1);
  insecure = opt_bool(L, opts, "insecure", 0);
  compressed = opt_bool(L, opts, "compressed", 1);
  cafile = opt_string(L, opts, "cafile", &len);
  if ((s = opt_string(L, opts, "user_agent", &len)) != NULL) {
    if ((why = nb_check_header("User-Agent", 10, s, len)) != NULL)
      luaL_error(L, "option 'user_agent' %s", why + 4);
    ua = s;
  }
  if ((s = opt_string(L, opts, "protocols", &len)) != NULL) {
    if ((why = nb_check_protocols(s, len)) != NULL)
      luaL_error(L, "option 'protocols' %s", why);
    protocols = s;
  }
  if ((s = opt_string(L, opts, "method", &len)) != NULL) {
    if ((why = nb_check_method(s, len)) != NULL)
      luaL_error(L, "option 'method' %s", why);
    method = s;
  }
  body = opt_string(L, opts, "body", &bodylen);
  if (opts && lua_getfield(L, opts, "progress") == LUA_TFUNCTION) {
    x->progress_fn = lua_gettop(L);  /* stays there for the transfer */
  } else if (opts) {
    if (lua_type(L, -1) == LUA_TBOOLEAN)
      x->bar = lua_toboolean(L, -1) && isatty(2);
    else if (!lua_isnil(L, -1))
      luaL_error(L, "option 'progress': boolean or function expected, "
                 "got %s", luaL_typename(L, -1));
    lua_pop(L, 1);
  }
  x->max_bytes = max_bytes;

  /* outside input, checked before libcurl sees it */
  why = nb_check_url(url, ulen, scheme);
  if (why == NULL && strlen(url) != ulen)
    why = "contains a NUL byte";
  if (scheme[0] != '\0' && !nb_protocol_listed(protocols, scheme))
    return nb_fail(L, "protocol", "%s %s: protocol '%s' not allowed "
                   "(allowed: %s)", verb, shown, scheme, protocols);
  if (why)
    return nb_fail(L, "malformed", "%s %s: the URL %s", verb, shown, why);
  if (getopt_(L, opts, "headers", LUA_TTABLE)) {
    if ((why = add_headers(L, x, lua_gettop(L))) != NULL) {
      size_t nl;
      const char *name = lua_tolstring(L, -1, &nl);
      name = push_shown(L, name, nl);
      return nb_fail(L, "malformed", "%s %s: header '%s' %s", verb, shown,
                     name, why);
    }
    lua_pop(L, 1);
  }

  x->download = path != NULL;
  if (path) {
    struct stat st;
    if (*path == '\0')
      return nb_fail(L, "io", "%s %s: the path is empty", verb, shown);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
      return nb_fail(L, "io", "%s %s to %s: is a directory", verb, shown,
                     path);
    /* the rename at the end would put a file in place of a device (as
    ** root: /dev/full, /dev/null), a FIFO or a socket: refuse them */
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)
        && !S_ISLNK(st.st_mode))
      return nb_fail(L, "io", "%s %s to %s: not a regular file (a device, "
                     "a pipe or a socket): not replaced", verb, shown, path);
    if ((x->path = nb_strdup(path)) == NULL)
      return luaL_error(L, "not enough memory");
    if ((e = nb_xfer_tmpfile(x)) != 0)
      return nb_fail(L, "io", "%s %s to %s: cannot create a file beside "
                     "it: %s", verb, shown, path, strerror(e));
  }

  /* a redirect never goes to file: (nor to what was not allowed) */
  {
    const char *p = protocols;
    size_t rl = 0;
    redir[0] = '\0';
    while (*p) {
      size_t w = strcspn(p, ",");
      if (!(w == 4 && memcmp(p, "file", 4) == 0) && rl + w + 2 < sizeof redir) {
        if (rl)
          redir[rl++] = ',';
        memcpy(redir + rl, p, w);
        rl += w;
        redir[rl] = '\0';
      }
      p += w + (p[w] == ',');
    }
  }

  if (nb_curl_init() != 0 || (x->easy = curl_easy_init()) == NULL
      || (x->multi = curl_multi_init()) == NULL) {
    nb_xfer_release(x);  /* (what fails here is memory) */
    return luaL_error(L, "cannot start libcurl: not enough memory");
  }
  /* libcurl must read the host we checked (its URL API, as it will) */
  if (strcmp(scheme, "file") != 0) {
    size_t hs, hl;
    if (nb_check_location(url, ulen, &hs, &hl) == NULL
        && (why = nb_curl_agrees(NULL, url, hs, hl)) != NULL) {
      if (why == NB_NOMEM)
        return nb_fail(L, "memory", "%s %s: not enough memory", verb, shown);
      return nb_fail(L, "malformed", "%s %s: the URL %s", verb, shown, why);
    }
  }
  x->allocfails = nb_allocfails();
  x->max_redirects = (int)(max_redirects > 1000 ? 1000 : max_redirects);
  SET(CURLOPT_ERRORBUFFER, x->errbuf);
  SET(CURLOPT_NOSIGNAL, 1L);
  if (x->loop) {  /* in a task: libcurl's sockets and timer on the loop */
    curl_multi_setopt(x->multi, CURLMOPT_SOCKETFUNCTION, nb_xfer_socket);
    curl_multi_setopt(x->multi, CURLMOPT_SOCKETDATA, x);
    curl_multi_setopt(x->multi, CURLMOPT_TIMERFUNCTION, nb_xfer_timer);
    curl_multi_setopt(x->multi, CURLMOPT_TIMERDATA, x);
    SET(CURLOPT_CLOSESOCKETFUNCTION, nb_xfer_closesocket);
    SET(CURLOPT_CLOSESOCKETDATA, x);
  }
  SET(CURLOPT_URL, url);
  SET(CURLOPT_PROTOCOLS_STR, protocols);
  if (redir[0] != '\0' && max_redirects > 0) {
    SET(CURLOPT_REDIR_PROTOCOLS_STR, redir);
    SET(CURLOPT_FOLLOWLOCATION, 1L);
    x->follow = 1;  /* each target checked in nb_xfer_header first */
    memcpy(x->redir, redir, sizeof x->redir);
    SET(CURLOPT_MAXREDIRS, (long)(max_redirects > 1000 ? 1000
                                                       : max_redirects));
  }
  SET(CURLOPT_USERAGENT, ua);
  SET(CURLOPT_SSL_VERIFYPEER, insecure ? 0L : 1L);
  SET(CURLOPT_SSL_VERIFYHOST, insecure ? 0L : 2L);
  if (cafile)
    SET(CURLOPT_CAINFO, cafile);
  if (compressed) {
    /* decoded in transfer.c with zlib, so a body cut short is told */
    SET(CURLOPT_ACCEPT_ENCODING, "gzip, deflate");
    SET(CURLOPT_HTTP_CONTENT_DECODING, 0L);
    x->decode = 1;
  }
  if (timeout > 0)
    SET(CURLOPT_TIMEOUT_MS, (long)nb_ms(timeout));  /* clamped */
  SET(CURLOPT_CONNECTTIMEOUT_MS, (long)nb_ms(connect_timeout));
  if (low_limit > 0) {
    SET(CURLOPT_LOW_SPEED_LIMIT, (long)low_limit);
    SET(CURLOPT_LOW_SPEED_TIME, (long)(low_time < 1 ? 1
                                       : nb_ms(low_time) / 1000));
  }
  if (max_bytes >= 0)
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
  SET(CURLOPT_BUFFERSIZE, (long)NB_BUFFERSIZE);
  SET(CURLOPT_WRITEFUNCTION, nb_xfer_write);
  SET(CURLOPT_WRITEDATA, x);
  SET(CURLOPT_HEADERFUNCTION, nb_xfer_header);
  SET(CURLOPT_HEADERDATA, x);
  if (x->download)
    SET(CURLOPT_FAILONERROR, 1L);
  if (x->reqhdrs)
    SET(CURLOPT_HTTPHEADER, x->reqhdrs);
  if (body) {
    /* libcurl keeps a pointer: the string stays in opts for the transfer */
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodylen);
    SET(CURLOPT_POSTFIELDS, body);
  }
  if (method) {
    if (strcmp(method, "HEAD") == 0)
      SET(CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") == 0 && !body)
      SET(CURLOPT_HTTPGET, 1L);
    else if (!(strcmp(method, "POST") == 0 && body))
      SET(CURLOPT_CUSTOMREQUEST, method);
  }
  if (curl_multi_add_handle(x->multi, x->easy) != CURLM_OK) {
    nb_xfer_release(x);  /* (what fails here is memory) */
    return luaL_error(L, "cannot start libcurl: not enough memory");
  }
  return 0;
setfail:
  if (setrc == CURLE_OUT_OF_MEMORY)  /* a string option copied */
    return nb_fail(L, "memory", "%s %s: not enough memory", verb, shown);
  return nb_fail(L, "curl", "%s %s: %s", verb, shown,
                 x->errbuf[0] ? x->errbuf : "libcurl refused an option");
}

/* ---------------------------------------------------------------------
** xfer_wait: the loop (Ctrl-C, bar and progress function between polls)
** ------------------------------------------------------------------ */

/* the progress function with now, total (nil if unknown) when `now`
** changed; a Lua error is kept on the stack and ends the transfer */
static void call_progress(lua_State *L, xfer *x, int final) {
  curl_off_t now = 0, total = -1;
  curl_easy_getinfo(x->easy, CURLINFO_SIZE_DOWNLOAD_T, &now);
  curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &total);
  if (now == x->last_now && !(final && x->last_now < 0))
    return;
  x->last_now = now;
  lua_pushvalue(L, x->progress_fn);
  lua_pushinteger(L, (lua_Integer)now);
  if (total >= 0)
    lua_pushinteger(L, (lua_Integer)total);
  else
    lua_pushnil(L);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    x->lua_error = 1;  /* the error object stays on top */
    return;
  }
  if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))
    x->stopped = 1;
  lua_pop(L, 1);
}

static void xfer_wait(lua_State *L, xfer *x) {
  int running = 1, left;
  CURLMsg *m;
  for (;;) {
    CURLMcode mc = curl_multi_perform(x->multi, &running);
    if (mc != CURLM_OK) {
      x->result = CURLE_OUT_OF_MEMORY;
      snprintf(x->errbuf, sizeof x->errbuf, "%s", curl_multi_strerror(mc));
      x->done = 1;
      return;
    }
    if (!running)
      break;
    if (x->direct == 2)
      return;  /* the body has begun: direct_load reads the rest */
    mc = curl_multi_poll(x->multi, NULL, 0, NB_TICK_MS, NULL);
    if (*nb_interrupt_flag) {
      x->interrupted = 1;
      return;
    }
    if (x->bar)
      nb_xfer_bar(x, 0);
    if (x->progress_fn) {
      call_progress(L, x, 0);
      if (x->lua_error || x->stopped)
        return;
    }
  }
  while ((m = curl_multi_info_read(x->multi, &left)) != NULL)
    if (m->msg == CURLMSG_DONE) {
      x->result = m->data.result;
      x->done = 1;
    }
  if (!x->done) {
    x->result = CURLE_GOT_NOTHING;
    x->done = 1;
  }
}

/* the transfer's end, if libcurl says so */
static int xfer_ended(xfer *x) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(x->multi, &left)) != NULL)
    if (m->msg == CURLMSG_DONE) {
      x->result = m->data.result;
      x->done = 1;
    }
  return x->done;
}

/*
** ** xfer_wait in a task: libcurl's sockets and timer (its socket API)
** waited on by the loop, the other tasks running meanwhile; k(L, .., xi)
** goes on after each wait (x at stack index xi). A look without waiting
** (poll) before each wait: the loop's epoll is edge-triggered and
** libcurl may leave bytes unread. Returns 0 when the transfer is over,
** -1 if the task cannot yield (then xfer_wait does it all).
*/
static int xfer_wait_task(lua_State *L, xfer *x, int xi, lua_KFunction k) {
  const nb_loop_api *api = (const nb_loop_api *)x->loop;
  nb_task *t = api->task_of(L);
  int running;
  for (;;) {
    struct pollfd p[NB_XFER_SOCKS];
    int i, n;
    double now, dl;
    CURLMcode mc = CURLM_OK;
    if (xfer_ended(x)) return 0;
    for (i = 0; i < x->nsocks; i++) {
      p[i].fd = x->socks[i];
      p[i].events = x->events[i];
      p[i].revents = 0;
    }
    n = x->nsocks;
    now = api->now();
    if (n > 0 && poll(p, (nfds_t)n, 0) > 0) {
      for (i = 0; i < n && mc == CURLM_OK; i++) {
        int ev = ((p[i].revents & (POLLIN | POLLHUP)) ? CURL_CSELECT_IN : 0)
                 | ((p[i].revents & POLLOUT) ? CURL_CSELECT_OUT : 0)
                 | ((p[i].revents & POLLERR) ? CURL_CSELECT_ERR : 0);
        if (ev)
          mc = curl_multi_socket_action(x->multi, p[i].fd, ev, &running);
      }
    } else if (x->timer_at >= 0 && x->timer_at <= now) {
      x->timer_at = -1;
      mc = curl_multi_socket_action(x->multi, CURL_SOCKET_TIMEOUT, 0,
                                    &running);
    } else {
      if (*nb_interrupt_flag) {
        x->interrupted = 1;
        return 0;
      }
      if (x->bar)
        nb_xfer_bar(x, 0);
      if (x->progress_fn) {
        call_progress(L, x, 0);
        if (x->lua_error || x->stopped)
          return 0;
      }
      dl = x->timer_at;
      if ((x->bar || x->progress_fn)
          && (dl < 0 || dl > now + NB_TICK_MS / 1000.0))
        dl = now + NB_TICK_MS / 1000.0;
      i = api->park(L, t, p, n, dl, (lua_KContext)xi, k);
      if (i == 0) return -1;  /* it cannot yield */
      /* the loop cannot take the wait (out of memory) */
      x->result = CURLE_OUT_OF_MEMORY;
      snprintf(x->errbuf, sizeof x->errbuf, "%s", strerror(i));
      x->done = 1;
      return 0;
    }
    if (mc != CURLM_OK) {
      x->result = CURLE_OUT_OF_MEMORY;
      snprintf(x->errbuf, sizeof x->errbuf, "%s", curl_multi_strerror(mc));
      x->done = 1;
      return 0;
    }
  }
}

/* after a wait in a task: net.deadline passed, or go on */
static void xfer_resume(lua_State *L, xfer *x, int xi, lua_KFunction k) {
  const nb_loop_api *api = (const nb_loop_api *)x->loop;
  if (api->timedout(api->task_of(L))) {
    x->result = CURLE_OPERATION_TIMEDOUT;
    snprintf(x->errbuf, sizeof x->errbuf, "deadline reached");
    x->done = 1;
    return;
  }
  if (xfer_wait_task(L, x, xi, k) != 0)
    xfer_wait(L, x);
}

/* in a task, x gets the loop (before xfer_setup) */
static void xfer_on_loop(lua_State *L, xfer *x) {
  const nb_loop_api *api;
  lua_getfield(L, LUA_REGISTRYINDEX, NB_LOOP_API);
  api = (const nb_loop_api *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (api == NULL || api->task_of(L) == NULL || !lua_isyieldable(L))
    return;
  x->loop = api;
  x->closed = api->closed;
  x->now = api->now;
  x->timer_at = -1;
}

/* ---------------------------------------------------------------------
** A body straight into its Lua string
** ------------------------------------------------------------------ */

/*
** ** lua_pushlstring copies, so a body gathered in a C buffer is in
** memory twice at the end (100 MiB: 200 MiB at the peak, and one more
** pass over it). Lua makes strings only in memory it allocates, but
** lua_load of a binary chunk reads a long string constant straight into
** the new string. So a fetch whose body has an announced length that no
** decoding changes loads a chunk of our own: a function returning one
** string constant of that length, whose bytes the reader hands over as
** libcurl delivers them, pumping the transfer between. The chunk's
** header and tail are those lua_dump wrote at module start for such a
** function (the format is this Lua build's), only the constant's size
** patched; it is loaded as binary only ("b"). The peer's bytes are the
** constant's contents, never code. The bytes that came before lua_load
** began wait in x->stage; once the string exists (chunk_dest), libcurl's
** write callback copies its buffer straight into the string, in huge
** pages (nb_xfer_inplace), and the reader hands those bytes over where
** they are: one copy of the body, out of libcurl's buffer, and ~50 page
** faults for 100 MiB instead of 25,600. Outside tasks only: a reader
** cannot yield, so in a task the body goes through the C buffer.
*/

#define CHUNK_PART 256
#define CHUNK_MARK 64      /* the template's constant: a long string */

static struct {
  int ok;                  /* the template was read and checked */
  int inplace;             /* and its constant could be written in place */
  unsigned char head[CHUNK_PART], tail[CHUNK_PART];
  size_t headlen, taillen; /* head ends before the constant's size */
} chunk;

/* ldump.c's dumpSize: 7 bits a byte, most significant first, the last
** byte with its top bit set */
static size_t chunk_size(size_t v, unsigned char *out) {
  unsigned char b[sizeof(size_t) * 8 / 7 + 1];
  size_t n = 0;
  do {
    b[sizeof b - (++n)] = (unsigned char)(v & 0x7f);
    v >>= 7;
  } while (v != 0);
  b[sizeof b - 1] |= 0x80;
  memcpy(out, b + sizeof b - n, n);
  return n;
}

typedef struct {
  unsigned char buf[4 * CHUNK_PART];
  size_t len;
} dumped;

static int chunk_writer(lua_State *L, const void *p, size_t n, void *ud) {
  dumped *d = ud;
  (void)L;
  if (n > sizeof d->buf - d->len)
    return 1;
  memcpy(d->buf + d->len, p, n);
  d->len += n;
  return 0;
}

typedef struct {
  xfer *x;                 /* the transfer, or NULL (the self-check) */
  const char *body;        /* the self-check's body */
  size_t len;              /* the constant's length */
  unsigned char size[16];  /* its size as the chunk writes it */
  size_t sizelen;
  int part;                /* 0 head, 1 size, 2 body, 3 tail, 4 end */
  size_t given;            /* body bytes handed over */
  int handed;              /* x->stage was handed over */
  int inplace;             /* the self-check: written in place */
} chunk_reader;

/* bodies this long or longer are written in place (a short string is
** not read into its final place, and a small one gains nothing) */
#define CHUNK_INPLACE_MIN ((size_t)64 << 10)

/* libcurl's work and, when it brought no bytes, a wait for its sockets
** (at most a tick); Ctrl-C and the bar between, as in xfer_wait.
** `given`: the body bytes lua_load had */
static void xfer_pump(xfer *x, size_t given) {
  int running = 1;
  CURLMcode mc = curl_multi_perform(x->multi, &running);
  if (mc != CURLM_OK) {
    x->result = CURLE_OUT_OF_MEMORY;
    snprintf(x->errbuf, sizeof x->errbuf, "%s", curl_multi_strerror(mc));
    x->done = 1;
    return;
  }
  if (!running) {
    if (!xfer_ended(x)) {
      x->result = CURLE_GOT_NOTHING;
      x->done = 1;
    }
    return;
  }
  if (x->stage.len > 0 || (x->dst && (size_t)x->bytes > given))
    return;
  curl_multi_poll(x->multi, NULL, 0, NB_TICK_MS, NULL);
  if (*nb_interrupt_flag)
    x->interrupted = 1;
  else if (x->bar)
    nb_xfer_bar(x, 0);
}

/*
** ** The string a long constant is read into is the value on top of the
** stack while its bytes are read (lundump.c anchors it there, then
** reads straight into it), so the reader can write there itself and
** hand over the very bytes that are there already: Lua's copy of them
** is then from a place onto itself (glibc's memcpy skips it). Checked
** at module start (chunk_template: the bytes first handed over as usual
** are found in that string, at their place, then the rest is written
** there) and on every use (a string of the expected length), or the
** body goes through the stage as before.
*/
static char *chunk_dest(lua_State *L, size_t len) {
  if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) != len)
    return NULL;
  return (char *)lua_tostring(L, -1);
}

static const char *chunk_read(lua_State *L, void *ud, size_t *size) {
  chunk_reader *r = ud;
  xfer *x = r->x;
  char *dst;
  switch (r->part) {
    case 0:
      r->part = 1;
      *size = chunk.headlen;
      return (const char *)chunk.head;
    case 1:
      r->part = 2;
      *size = r->sizelen;
      return (const char *)r->size;
    case 2:
      if (x == NULL) {
        /* the self-check: the first half handed over as usual, which
        ** must then be in the string on top; the rest written there */
        dst = chunk_dest(L, r->len);
        if (r->given == 0 && dst != NULL) {
          r->given = *size = r->len / 2;
          return r->body;
        }
        r->part = 3;
        *size = r->len - r->given;
        if (dst != NULL && r->given > 0
            && memcmp(dst, r->body, r->given) == 0) {
          memcpy(dst + r->given, r->body + r->given, *size);
          r->inplace = 1;
          return dst + r->given;
        }
        return r->body + r->given;
      }
      if (r->handed) {
        x->stage.len = 0;  /* lua_load took what it was given */
        if (x->dst)
          nb_buf_free(&x->stage);  /* not needed any more */
      }
      r->handed = 0;
      if (r->given == 0 && x->dst == NULL && chunk.inplace && r->len >= CHUNK_INPLACE_MIN
          && (dst = chunk_dest(L, r->len)) != NULL)
        nb_xfer_inplace(x, dst);  /* the rest goes there (transfer.c) */
      if (x->paused) {
        /* the chunk held back comes again, into the stage, now */
        x->paused = 0;
        curl_easy_pause(x->easy, CURLPAUSE_CONT);
      }
      while (r->given < r->len) {
        if (x->stage.len > 0) {
          r->handed = 1;
          r->given += x->stage.len;
          *size = x->stage.len;
          return x->stage.p;
        }
        if (x->dst && (size_t)x->bytes > r->given) {
          /* already in place: Lua's copy is onto itself */
          *size = (size_t)x->bytes - r->given;
          r->given = (size_t)x->bytes;
          return x->dst + r->given - *size;
        }
        if (x->done || x->interrupted)
          break;  /* cut short: the chunk is truncated, nothing kept */
        xfer_pump(x, r->given);
      }
      if (r->given < r->len)
        break;
      r->part = 3;
      /* fall through */
    case 3:
      r->part = 4;
      *size = chunk.taillen;
      return (const char *)chunk.tail;
  }
  *size = 0;
  return NULL;
}

/* the template, from lua_dump of a function returning a long string
** constant, then a load of it with another length, compared */
static void chunk_template(lua_State *L) {
  static const char src[] = "return '"
    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@'";
  char mark[CHUNK_MARK], body[CHUNK_MARK + 3];
  unsigned char size[16];
  dumped d;
  chunk_reader r;
  const unsigned char *at = NULL;
  size_t i, n;
  int top = lua_gettop(L);
  memset(mark, '@', sizeof mark);
  memset(body, '#', sizeof body);
  d.len = 0;
  if (luaL_loadbuffer(L, src, sizeof src - 1, "=template") != LUA_OK
      || lua_dump(L, chunk_writer, &d, 1) != 0)
    goto done;
  for (i = 0; i + CHUNK_MARK <= d.len; i++)
    if (memcmp(d.buf + i, mark, CHUNK_MARK) == 0) {
      at = d.buf + i;
      break;
    }
  n = chunk_size(CHUNK_MARK + 1, size);
  if (at == NULL || (size_t)(at - d.buf) < n
      || memcmp(at - n, size, n) != 0
      || (size_t)(at - d.buf) - n > CHUNK_PART
      || d.len - (size_t)(at - d.buf) - CHUNK_MARK > CHUNK_PART)
    goto done;
  chunk.headlen = (size_t)(at - d.buf) - n;
  memcpy(chunk.head, d.buf, chunk.headlen);
  chunk.taillen = d.len - (size_t)(at - d.buf) - CHUNK_MARK;
  memcpy(chunk.tail, at + CHUNK_MARK, chunk.taillen);
  memset(&r, 0, sizeof r);
  r.body = body;
  r.len = sizeof body;
  r.sizelen = chunk_size(r.len + 1, r.size);
  if (lua_load(L, chunk_read, &r, "=template", "b") != LUA_OK
      || lua_pcall(L, 0, 1, 0) != LUA_OK)
    goto done;
  n = 0;
  if (lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) == sizeof body
      && memcmp(lua_tolstring(L, -1, &n), body, sizeof body) == 0) {
    chunk.ok = 1;
    chunk.inplace = r.inplace;
  }
done:
  lua_settop(L, top);
}

/*
** ** The rest of a body that began straight for its string (x->direct
** 2): lua_load reads it through chunk_read, then the transfer goes on
** to its end. The string is left on the stack (x->bodyidx); on any
** failure nothing is, and x says what happened.
*/
static void direct_load(lua_State *L, xfer *x) {
  chunk_reader r;
  int rc;
  memset(&r, 0, sizeof r);
  r.x = x;
  r.len = (size_t)x->length;
  r.sizelen = chunk_size(r.len + 1, r.size);
  rc = lua_load(L, chunk_read, &r, "=fetch", "b");
  x->direct = 3;
  x->dst = NULL;  /* the string is the stack's now (or garbage) */
  nb_buf_free(&x->stage);
  if (rc == LUA_OK) {
    lua_call(L, 0, 1);  /* our function: the constant */
    x->bodyidx = lua_gettop(L);
  } else {
    lua_pop(L, 1);  /* lua_load's message: the reason is in x */
    if (rc == LUA_ERRMEM && !x->done) {
      x->result = CURLE_OUT_OF_MEMORY;
      x->failcode = "memory";
      x->done = 1;
    } else if (x->done && x->result == CURLE_OK) {
      x->result = CURLE_PARTIAL_FILE;  /* (libcurl says so first) */
      x->failcode = "closed";
      x->why = "the body is shorter than its Content-Length";
    }
  }
  if (!x->done && !x->interrupted)
    xfer_wait(L, x);
}

/* ---------------------------------------------------------------------
** xfer_finish: the outcome as Lua values
** ------------------------------------------------------------------ */

/* headers: lower-case name = value; repeated names joined with ", " */
static void push_headers(lua_State *L, xfer *x) {
  size_t i = 0;
  lua_newtable(L);
  while (i < x->hdrs.len) {
    const char *name = x->hdrs.p + i;
    const char *value = name + strlen(name) + 1;
    i = (size_t)(value - x->hdrs.p) + strlen(value) + 1;
    if (lua_getfield(L, -1, name) == LUA_TSTRING) {
      lua_pushliteral(L, ", ");
      lua_pushstring(L, value);
      lua_concat(L, 3);
    } else {
      lua_pop(L, 1);
      lua_pushstring(L, value);
    }
    lua_setfield(L, -2, name);
  }
}

/* fsync, permissions, close, rename, then fsync the folder so the new
** name lasts too: 1 done, or 0 with the message pushed */
static int commit_file(lua_State *L, xfer *x, const char *url) {
  const char *step = NULL;
  int e = 0, fd = x->fd, dfd;
  char *dir, *slash;
  x->fd = -1;  /* closed below on every path */
  if (fsync(fd) != 0)
    step = "saving";
  else if (fchmod(fd, x->mode) != 0)
    step = "setting the permissions of";
  if (step)
    e = errno;
  if (close(fd) != 0 && step == NULL) {
    e = errno;
    step = "saving";
  }
  if (step == NULL && rename(x->tmppath, x->path) != 0) {
    e = errno;
    step = "renaming the download to";
  }
  if (step) {
    lua_pushfstring(L, "download %s: %s %s: %s", url, step, x->path,
                    strerror(e));
    return 0;
  }
  free(x->tmppath);  /* renamed: nothing to remove any more */
  x->tmppath = NULL;
  if ((dir = nb_strdup(x->path)) != NULL) {
    slash = strrchr(dir, '/');
    if (slash == dir)
      slash[1] = '\0';
    else if (slash)
      *slash = '\0';
    dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
    free(dir);
  }
  return 1;
}

static int xfer_finish(lua_State *L, xfer *x, const char *verb, int u) {
  const char *url = lua_tostring(L, x->shown);
  const char *code;
  char *eff = NULL;
  long status = 0, oserr = 0;
  curl_off_t usec = 0;
  if (x->barshown && !(x->done && x->result == CURLE_OK))
    fputc('\n', stderr);  /* the message starts on a line of its own */
  if (x->lua_error) {
    nb_xfer_release(x);
    return lua_error(L);  /* the progress function's error, on top */
  }
  if (x->interrupted) {
    nb_xfer_release(x);
    nb_checkinterrupt(L);
    return nb_fail(L, "interrupted", "%s %s: interrupted", verb, url);
  }
  if (x->stopped) {
    nb_xfer_release(x);
    return nb_fail(L, "stopped", "%s %s: stopped by the progress function",
                   verb, url);
  }
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
  if (x->result == CURLE_OK && nb_xfer_cut(x)) {
    x->result = CURLE_PARTIAL_FILE;  /* a whole body is not saved */
    x->failcode = "closed";
    x->why = "the compressed body ended before its end of stream (cut "
             "short)";
  }
  if (x->result == CURLE_OUT_OF_MEMORY && x->failcode == NULL
      && nb_allocfails() == x->allocfails) {
    /* no allocation failed: libcurl's own cap on one header line */
    x->failcode = "toobig";
    x->why = "the response has a header line longer than libcurl takes "
             "(100 KiB)";
  }
  if (x->result == CURLE_RECV_ERROR && x->failcode == NULL
      && strncmp(x->errbuf, "Too large response headers", 26) == 0) {
    x->failcode = "toobig";
    x->why = "the response's headers are larger than libcurl takes "
             "(300 KiB)";
  }
  if (x->result != CURLE_OK) {
    if (x->failcode && x->why) {
      if (x->loclen > 0) {
        const char *loc = push_shown(L, x->loc, x->loclen < sizeof x->loc
                                                ? x->loclen
                                                : sizeof x->loc);
        lua_pushfstring(L, "%s %s: redirect to %s: the URL %s", verb, url,
                        loc, x->why);
        lua_remove(L, -2);
      } else {
        lua_pushfstring(L, "%s %s: %s", verb, url, x->why);
      }
      code = x->failcode;
    } else if (x->result == CURLE_HTTP_RETURNED_ERROR) {
      nb_pushshown(L, x->reason, strlen(x->reason));
      lua_pushfstring(L, "%s %s: HTTP %d%s%s", verb, url, (int)status,
                      x->reason[0] ? " " : "", lua_tostring(L, -1));
      lua_remove(L, -2);
      code = "http";
    } else if (x->result == CURLE_TOO_MANY_REDIRECTS) {
      lua_pushfstring(L, "%s %s: Maximum (%d) redirects followed", verb, url,
                      x->max_redirects);
      code = "redirects";
    } else if (x->failcode && strcmp(x->failcode, "io") == 0) {
      lua_pushfstring(L, "%s %s: writing %s: %s", verb, url, x->path,
                      strerror(x->failerrno));
      code = "io";
    } else if (x->failcode && strcmp(x->failcode, "toobig") == 0) {
      lua_pushfstring(L, "%s %s: larger than max_bytes (%I bytes)", verb,
                      url, (lua_Integer)x->max_bytes);
      code = "toobig";
    } else if (x->result == CURLE_FILESIZE_EXCEEDED) {
      lua_pushfstring(L, "%s %s: larger than max_bytes (%I bytes)", verb,
                      url, (lua_Integer)x->max_bytes);
      code = "toobig";
    } else if (x->failcode) {
      lua_pushfstring(L, "%s %s: not enough memory", verb, url);
      code = x->failcode;
    } else {
      /* libcurl's text can hold what a server sent (a redirect's
      ** protocol): escaped as any peer's bytes */
      const char *t = x->errbuf[0] ? x->errbuf
                                   : curl_easy_strerror(x->result);
      nb_pushshownmax(L, t, strlen(t), 256);
      lua_pushfstring(L, "%s %s: %s", verb, url, lua_tostring(L, -1));
      lua_remove(L, -2);
      code = nb_xfer_code(x->result, oserr);
    }
    nb_xfer_release(x);
    luaL_pushfail(L);
    lua_insert(L, -2);
    lua_pushstring(L, code);
    if (strcmp(code, "http") == 0) {
      lua_pushinteger(L, status);
      return 4;
    }
    return 3;
  }
  if (x->bar)
    nb_xfer_bar(x, 1);
  if (x->progress_fn) {
    call_progress(L, x, 1);
    if (x->lua_error) {
      nb_xfer_release(x);
      return lua_error(L);
    }
  }
  if (x->download && !commit_file(L, x, url)) {
    nb_xfer_release(x);
    luaL_pushfail(L);
    lua_insert(L, -2);
    lua_pushliteral(L, "io");
    return 3;
  }
  curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &eff);
  curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &usec);
  lua_createtable(L, 0, 7);
  lua_pushinteger(L, status);
  lua_setfield(L, -2, "status");
  if (eff)
    lua_pushstring(L, eff);
  else
    lua_pushvalue(L, u);
  lua_setfield(L, -2, "url");
  lua_pushinteger(L, (lua_Integer)x->bytes);
  lua_setfield(L, -2, "bytes");
  lua_pushnumber(L, (lua_Number)usec / 1e6);
  lua_setfield(L, -2, "seconds");
  push_headers(L, x);
  lua_setfield(L, -2, "headers");
  if (x->download) {
    lua_pushstring(L, x->path);
    lua_setfield(L, -2, "path");
  } else {
    if (x->bodyidx)
      lua_pushvalue(L, x->bodyidx);  /* read straight into its string */
    else
      lua_pushlstring(L, x->body.p ? x->body.p : "", x->body.len);
    nb_buf_free(&x->body);  /* one copy of the body at a time, soon */
    lua_setfield(L, -2, "body");
  }
  nb_xfer_release(x);
  return 1;
}

/* ---------------------------------------------------------------------
** Lua-callable functions
** ------------------------------------------------------------------ */

static int fetch_k(lua_State *L, int status, lua_KContext ctx) {
  xfer *x = (xfer *)lua_touserdata(L, (int)ctx);
  (void)status;
  xfer_resume(L, x, (int)ctx, fetch_k);
  return xfer_finish(L, x, "fetch", 1);
}

/* curl.fetch(url [, opts]) */
static int net_fetch(lua_State *L) {
  int opts = lua_isnoneornil(L, 2) ? 0 : 2;
  xfer *x;
  int r;
  luaL_checkstring(L, 1);
  lua_settop(L, 2);
  x = xfer_new(L);  /* at 3 */
  xfer_on_loop(L, x);
  if ((r = xfer_setup(L, x, "fetch", 1, opts, NULL)) != 0) {
    nb_xfer_release(x);
    return r;
  }
  /* outside a task, and with no progress function to call between */
  x->direct = chunk.ok && x->loop == NULL && x->progress_fn == 0;
  /* a body that may go straight into its string is read from the socket
  ** in larger pieces: half the recv calls and about a third less CPU
  ** for 100 MiB than with 512 KiB (a hint: libcurl keeps its size if
  ** it refuses) */
  if (x->direct)
    (void)curl_easy_setopt(x->easy, CURLOPT_BUFFERSIZE,
                           (long)NB_FETCH_BUFFERSIZE);
  if (x->loop == NULL || xfer_wait_task(L, x, 3, fetch_k) != 0)
    xfer_wait(L, x);
  if (x->direct == 2)
    direct_load(L, x);
  return xfer_finish(L, x, "fetch", 1);
}

static int download_k(lua_State *L, int status, lua_KContext ctx) {
  xfer *x = (xfer *)lua_touserdata(L, (int)ctx);
  (void)status;
  xfer_resume(L, x, (int)ctx, download_k);
  return xfer_finish(L, x, "download", 1);
}

/* curl.download(url, path [, opts]) */
static int net_download(lua_State *L) {
  int opts = lua_isnoneornil(L, 3) ? 0 : 3;
  const char *path = luaL_checkstring(L, 2);
  xfer *x;
  int r;
  luaL_checkstring(L, 1);
  lua_settop(L, 3);
  x = xfer_new(L);  /* at 4 */
  xfer_on_loop(L, x);
  if ((r = xfer_setup(L, x, "download", 1, opts, path)) != 0) {
    nb_xfer_release(x);  /* no temporary file waits for the collector */
    return r;
  }
  if (x->loop == NULL || xfer_wait_task(L, x, 4, download_k) != 0)
    xfer_wait(L, x);
  return xfer_finish(L, x, "download", 1);
}

/* curl.version(): libcurl's version text */
static int net_curl_version(lua_State *L) {
  lua_pushstring(L, curl_version());
  return 1;
}

static const luaL_Reg transfer_meta[] = {
  {"__gc", xfer_gc},
  {"__close", xfer_gc},
  {"__tostring", xfer_tostring},
  {"__index", NULL},
  {NULL, NULL}
};

static const luaL_Reg transfer_methods[] = {
  {"close", xfer_close},
  {NULL, NULL}
};

static const luaL_Reg fetch_funcs[] = {
  {"fetch", net_fetch},
  {"download", net_download},
  {"curl_version", net_curl_version},
  {NULL, NULL}
};

NB_EXPORT int luaopen_netbasics_curl(lua_State *L) {
  nb_open_common(L);
  if (!chunk.ok)
    chunk_template(L);
  luaL_newmetatable(L, NB_TRANSFER_T);
  luaL_setfuncs(L, transfer_meta, 0);
  luaL_newlib(L, transfer_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  luaL_newlib(L, fetch_funcs);
  return 1;
}
