/*
** transfer.h: the fetch family's transfer engine (transfer.c), shared by
** the Lua binding (fetch.c) and, later, a scheduler that drives many
** transfers from one loop through libcurl's multi interface. Nothing here
** touches Lua: the callbacks fill C buffers and flags, and a failure is a
** code and an errno to be turned into nil, msg, code after the transfer.
*/
#ifndef NB_TRANSFER_H
#define NB_TRANSFER_H

#include <sys/types.h>

#include <curl/curl.h>
#include <zlib.h>

#define NB_BUFFERSIZE (512 * 1024)       /* libcurl's receive buffer */
#define NB_HEADERS_MAX (1024 * 1024)     /* response headers kept, bytes */
#define NB_PREALLOC_MAX ((size_t)256 << 20)

#define NB_XFER_SOCKS 8     /* sockets of one transfer libcurl waits on */

/* a growing byte buffer */
typedef struct nb_buf {
  char *p;
  size_t len, cap;
} nb_buf;

/* a body's content coding: libcurl's decoding is off (it takes a
** compressed body cut short for a whole one), zlib's inflate is ours */
enum { NB_CODING_UNSET = 0, NB_CODING_NONE, NB_CODING_GZIP,
       NB_CODING_DEFLATE };

typedef struct xfer {
  CURL *easy;
  CURLM *multi;
  struct curl_slist *reqhdrs;
  int download;              /* 1: body to a file, 0: to memory */
  int fd;                    /* download: the temporary file, or -1 */
  char *tmppath;             /* its name while it must be removed */
  char *path;                /* download: where it goes on success */
  mode_t mode;               /* download: the permissions it gets */
  nb_buf body;               /* fetch: the body */
  int direct;                /* fetch: 1 its body may go straight into
                             ** its Lua string, 2 it does (fetch.c's
                             ** lua_load), 3 it did; 0 no */
  curl_off_t length;         /* with direct: the announced length */
  nb_buf stage;              /* with direct: bytes lua_load has not had */
  int paused;                /* with direct: the stage was full */
  int bodyidx;               /* with direct: the body's stack index */
  char *dst;                 /* with direct, once lua_load made the
                             ** string: its bytes, written in place */
  nb_buf hdrs;               /* the last response's headers: name\0value\0 */
  char reason[64];           /* the last status line's reason phrase */
  curl_off_t bytes;          /* body bytes delivered */
  curl_off_t max_bytes;      /* -1: no limit */
  const char *failcode;      /* set in a callback: "toobig", "io", ... */
  const char *why;           /* with it, what happened (or NULL) */
  char loc[256];             /* a refused redirect's target, cut */
  size_t loclen;             /* its length as sent (0: none) */
  int follow;                /* libcurl follows redirects */
  char redir[256];           /* to these protocols (CURLOPT_REDIR_...) */
  int max_redirects;
  int status;                /* the last status line's code */
  char clen[24];             /* this response's Content-Length, or "" */
  unsigned long allocfails;  /* nb_allocfails() when the transfer began */
  int decode;                /* decode gzip and deflate (compressed) */
  int coding;                /* NB_CODING_*: the body's, once it starts */
  int zinit, zend;           /* inflate started; it reached the end */
  z_stream z;
  int failerrno;             /* with "io": the errno of write() */
  int done;                  /* the transfer ended (result is valid) */
  int stopped;               /* the progress function returned false */
  int interrupted;           /* Ctrl-C */
  int lua_error;             /* the progress function raised (on stack) */
  int bar;                   /* draw a bar on stderr */
  int barshown;
  int progress_fn;           /* stack index of the progress function or 0 */
  int shown;                 /* stack index of the URL as messages show it */
  curl_off_t last_now;
  double last_draw;
  CURLcode result;
  char errbuf[CURL_ERROR_SIZE];
  /* in a task, on the loop (fetch.c): libcurl's sockets and timer */
  const void *loop;          /* the loop's nb_loop_api, or NULL */
  void (*closed)(int fd);    /* tell the loop of a socket libcurl drops */
  int socks[NB_XFER_SOCKS];
  short events[NB_XFER_SOCKS];
  int nsocks;
  double timer_at;           /* when libcurl wants its timer, or < 0 */
  double (*now)(void);
} xfer;

/* the multi handle's socket and timer callbacks and the easy handle's
** close-socket callback, for a transfer driven by the loop: they fill
** x->socks, x->events, x->timer_at (no Lua) */
int nb_xfer_socket(CURL *e, curl_socket_t s, int what, void *ud, void *sp);
int nb_xfer_timer(CURLM *m, long ms, void *ud);
int nb_xfer_closesocket(void *ud, curl_socket_t s);

/* curl_global_init_mem, once, on the first transfer: 0, or -1 when it
** failed (out of memory) */
int nb_curl_init(void);

/* libcurl's write and header callbacks; their data is the xfer */
size_t nb_xfer_write(char *data, size_t size, size_t nmemb, void *ud);
size_t nb_xfer_header(char *data, size_t size, size_t nmemb, void *ud);

/* the temporary file beside x->path (mkstemp): 0 or an errno */
int nb_xfer_tmpfile(xfer *x);

/* frees everything x holds, removes a temporary file not renamed; x can
** be released again */
void nb_xfer_release(xfer *x);

/* the bar on stderr: redrawn at most 5 times a second, or the final line */
void nb_xfer_bar(xfer *x, int final);

/* with direct: the rest of the body goes straight to `dst`, the bytes of
** the string lua_load is reading (x->length of them), in huge pages */
void nb_xfer_inplace(xfer *x, char *dst);

/* is the body compressed and cut short (inflate never reached its end)? */
int nb_xfer_cut(const xfer *x);

/*
** ** libcurl's own reading of `url` (its URL API; relative to `base` if
** not NULL) names the host a strict parse found at url[hs..hs+hl) (hl 0:
** base's host): no zone id, the same address or name. NULL when it
** does (or libcurl cannot read it: the transfer then fails on its own),
** else a reason; NB_NOMEM when out of memory.
*/
extern const char NB_NOMEM[];
const char *nb_curl_agrees(const char *base, const char *url, size_t hs,
                           size_t hl);

/* libcurl's outcome as one of API.md's codes ("timeout", "tls", ...) */
const char *nb_xfer_code(CURLcode rc, long oserr);

void nb_buf_free(nb_buf *b);

#endif
