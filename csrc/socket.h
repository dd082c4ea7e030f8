/*
** socket.h: what the files of the socket family share (socket.c: the
** userdata, the module functions and the plain methods; sockaddr.c:
** addresses, hosts, ports and error texts; sockio.c: waiting and the
** buffered I/O core: send, recv, recvline, sendto, recvfrom). Internal
** to netbasics.core: nothing here is exported from the shared object.
*/
#ifndef NB_SOCKET_H
#define NB_SOCKET_H

#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>

#include "netbasics.h"
#include "loop.h"

#define NB_LINE_MAX   65536      /* recvline's default bound */
#define NB_RBUF_MIN   8192       /* first size of a read buffer */
#define NB_RECV_CHUNK (1 << 20)  /* most bytes one recv returns */
#define NB_DGRAM_MAX  65535      /* recvfrom's default */

typedef struct nb_sock nb_sock;

/*
** A layer over a socket's descriptor (TLS, in netbasics.tls): the buffer
** code of sockio.c reads and writes through it when s->lops != NULL, and
** straight to the descriptor when it is NULL (the common case stays one
** recv() or send(), no indirect call).
** read: > 0 bytes, 0 clean end of stream; -1 with *e set: EAGAIN with
** *want = POLLIN or POLLOUT (what the layer waits for: OpenSSL's
** WANT_READ/WANT_WRITE), an errno, or NB_ELAYER (then msg() has words
** and code() the error code, e.g. "tls" or "closed"). write: the same,
** > 0 bytes taken. pending: bytes readable with no syscall (a socket with
** some counts as readable to net.select and to the loop's shortcut).
** shutdown: 0 done, -1 as read. release: frees the layer, the descriptor
** untouched (close() tries a shutdown first, never waiting past the
** socket's timeout).
*/
typedef struct nb_layer_ops {
  const char *name;   /* "tls" */
  ssize_t (*read)(nb_sock *s, char *p, size_t n, int *e, short *want);
  ssize_t (*write)(nb_sock *s, const char *p, size_t n, int *e, short *want);
  size_t (*pending)(const nb_sock *s);
  int (*shutdown)(nb_sock *s, int *e, short *want);
  void (*release)(nb_sock *s);
  const char *(*msg)(const nb_sock *s);   /* the last NB_ELAYER failure */
  const char *(*code)(const nb_sock *s);  /* its code: "tls", "closed",
                                             "timeout" */
} nb_layer_ops;

#define NB_ELAYER (-1000)  /* not an errno: ask s->lops->msg and code */

struct nb_sock {
  nb_res res;          /* first: what the loop knows of it (loop.h) */
  const char *tag;     /* marks our userdata (socket.c, nb_testsock) */
  int fd;              /* -1: closed */
  int family;          /* AF_INET or AF_INET6 */
  int type;            /* SOCK_STREAM or SOCK_DGRAM */
  double timeout;      /* seconds; < 0: block */
  int tasked;          /* used in a task: the descriptor is non-blocking
                          for good (outside tasks poll() waits) */
  char *rbuf;          /* read buffer: bytes [rpos, rend) not yet read */
  size_t rcap, rpos, rend;
  size_t rscan;        /* [rpos, rscan) has no '\n' */
  char *wbuf;          /* output held back in a task (sockio.c): bytes
                          [wpos, wlen) not yet given to the kernel; the
                          task settles it (res.due) before it waits */
  size_t wcap, wpos, wlen;
  int werr;            /* an error sending held output, for the next send */
  struct sockaddr_in6 peer;  /* set by connect and accept, for messages
                                after the peer is gone */
  const nb_layer_ops *lops;  /* a layer over fd (TLS), or NULL: plain */
  void *layer;               /* ... its state */
};

/* the module's scratch area for recv and recvfrom (upvalue 1) */
typedef struct nb_scratch {
  char *p;
  size_t cap;
} nb_scratch;

/* an address to bind, connect or send to */
typedef struct nb_addr {
  struct sockaddr_storage ss;
  socklen_t len;
} nb_addr;

/* waiting (sockio.c; the clock is the loop's nb_now) */
double nb_deadline_of(const nb_sock *s);
int nb_waitfd(lua_State *L, int fd, short events, double deadline);
int nb_setblocking(int fd, int block);

/* addresses, texts, messages, arguments (sockaddr.c) */
void nb_addr_text(const struct sockaddr *sa, char *host, size_t size,
                  unsigned *port);
void nb_endpoint_text(const struct sockaddr *sa, char *out, size_t size);
const char *nb_errcode(int e);
void nb_errtext(int e, char *out, size_t size);

/* the userdata (socket.c): nb_testsock, ours or NULL; nb_tosock, ours or
** an error; nb_checkopen, ours and open or an error (nb_useopen: and a
** first use in a task makes it non-blocking) */
extern const char nb_sock_tag;  /* its address marks our userdata */
nb_sock *nb_testsock(lua_State *L, int i);
nb_sock *nb_tosock(lua_State *L, int i);
nb_sock *nb_checkopen_slow(lua_State *L, int i);
nb_sock *nb_useopen(lua_State *L, nb_sock *s);

/* every method starts here, twice per line in a talk loop: the common
** case (a socket already used in a task) inline, the rest out of line */
static inline nb_sock *nb_checkopen(lua_State *L, int i) {
  nb_sock *s = (nb_sock *)lua_touserdata(L, i);
  if (s != NULL && lua_rawlen(L, i) == sizeof *s && s->tag == &nb_sock_tag
      && s->fd >= 0 && s->tasked)
    return s;
  return nb_checkopen_slow(L, i);
}

nb_sock *nb_newsock(lua_State *L, int family, int type);
void nb_sock_release(nb_sock *s);

/* the read buffer (sockio.c) */
void nb_rbuf_free(nb_sock *s);

/* output held back (sockio.c): nb_flush_now gives what s holds to the
** kernel without waiting (0: all gone, or failed and kept in s->werr for
** its next send; EAGAIN: the kernel is full, wait for *want: POLLOUT, or
** what a layer waits for); nb_sock_settle is the socket's settle for the
** loop (loop.h: before the task that held output waits, yields or ends);
** nb_sock_holds: the running task holds output on s; nb_wbuf_free drops
** it */
int nb_flush_now(nb_sock *s, short *want);
int nb_sock_settle(nb_res *r, int *fd, short *events);
int nb_sock_holds(lua_State *L, nb_sock *s);
void nb_wbuf_free(nb_sock *s);

/* messages and arguments (sockaddr.c) */
int nb_peertext(const nb_sock *s, char *ep, size_t size);
int nb_sockfail(lua_State *L, nb_sock *s, const char *op, int e);
int nb_closedfail(lua_State *L, nb_sock *s, const char *op);
int nb_addrfail(lua_State *L, const char *op, const nb_addr *a, int e);
int nb_checkfamily(lua_State *L, int i, int def);
int nb_checktype(lua_State *L, int i, int def);
int nb_getaddrs(lua_State *L, int hi, int pi, int family, int type,
                int passive, const char *op, nb_addr **out, int *n);
int nb_getaddr(lua_State *L, nb_sock *s, int hi, int pi, int passive,
               const char *op, nb_addr *a);
void nb_pushaddr(lua_State *L, const struct sockaddr *sa);

/* the scratch area and the I/O methods (sockio.c) */
char *nb_scratch_get(lua_State *L, size_t want);
int nb_scratch_gc(lua_State *L);
int sock_send(lua_State *L);
int sock_sendall(lua_State *L);
int sock_recv(lua_State *L);
int sock_recvline(lua_State *L);
int sock_lines(lua_State *L);
int sock_write(lua_State *L);
int sock_sendto(lua_State *L);
int sock_recvfrom(lua_State *L);

#endif
