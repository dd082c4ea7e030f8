/*
** talk-ref.c: the C side of scripts/bench/talk.lua, compiled into
** build/bench/talk-ref. Linux epoll, one thread, non-blocking sockets.
**   server PORT                 the talk protocol for any number of
**                               clients: each line gets "You said <line>";
**                               prints "pid N" then serves until killed
**   load PORT CONNS DEPTH SECS  the load: CONNS connections, each keeping
**                               DEPTH lines "hello there\n" in flight
**                               (1: ping-pong); after 0.3 s of warm-up,
**                               counts answers for SECS; prints round
**                               trips per second
**   idle PORT CONNS SECS        opens CONNS connections, one round trip
**                               on each, prints "ready", holds them idle
**                               up to SECS (or until killed)
** A PORT that starts with '/' is the path of a Unix domain socket.
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ref.h"

#define BUF 65536
static const char msg[] = "hello there\n";
static const char want[] = "You said hello there\n";
#define MSGLEN (sizeof msg - 1)
#define WANTLEN (sizeof want - 1)

static const char *upath;  /* a Unix socket's path instead of a port */

static struct sockaddr_un unix_addr(void) {
  struct sockaddr_un u;
  memset(&u, 0, sizeof u);
  u.sun_family = AF_UNIX;
  if (strlen(upath) >= sizeof u.sun_path) die("path too long");
  strcpy(u.sun_path, upath);
  return u;
}

static int connect_to(int port) {
  struct sockaddr_in a = loopback(port);
  int one = 1, s;
  if (upath != NULL) {
    struct sockaddr_un u = unix_addr();
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) die("socket");
    if (connect(s, (struct sockaddr *)&u, sizeof u) != 0) die("connect");
    return s;
  }
  s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket");
  if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return s;
}

static void writeall(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd pf;
      pf.fd = fd;
      pf.events = POLLOUT;
      poll(&pf, 1, 1000);
      continue;
    }
    if (w <= 0) die("write");
    p += w;
    n -= (size_t)w;
  }
}

/* ---- the server --------------------------------------------------- */
typedef struct conn {
  int fd;
  size_t have;        /* bytes of an unfinished line in `in` */
  char *in;           /* allocated on first read */
  char *out;          /* pending answers when the socket was full */
  size_t outlen, outcap;
} conn;

static void serve(int port) {
  struct sockaddr_in a = loopback(port);
  struct epoll_event ev, evs[256];
  static char out[10 * BUF + 64];  /* BUF bytes of empty lines */
  int one = 1, l, ep;
  if (upath != NULL) {
    struct sockaddr_un u = unix_addr();
    unlink(upath);
    l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l < 0) die("socket");
    if (bind(l, (struct sockaddr *)&u, sizeof u) != 0) die("bind");
  } else {
    l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l < 0) die("socket");
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (struct sockaddr *)&a, sizeof a) != 0) die("bind");
  }
  if (listen(l, 1024) != 0) die("listen");
  ep = epoll_create1(EPOLL_CLOEXEC);
  ev.events = EPOLLIN;
  ev.data.ptr = NULL;
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  printf("pid %d\n", (int)getpid());
  fflush(stdout);
  for (;;) {
    int i, n = epoll_wait(ep, evs, 256, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    for (i = 0; i < n; i++) {
      conn *c = evs[i].data.ptr;
      ssize_t r;
      if (c == NULL) {
        int fd;
        while ((fd = accept4(l, NULL, NULL,
                             SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          c = calloc(1, sizeof *c);
          if (c == NULL) die("calloc");
          c->fd = fd;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          ev.events = EPOLLIN;
          ev.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      if (c->outlen > 0 && (evs[i].events & EPOLLOUT)) {
        r = write(c->fd, c->out, c->outlen);
        if (r > 0) {
          memmove(c->out, c->out + r, c->outlen - (size_t)r);
          c->outlen -= (size_t)r;
        }
        if (c->outlen == 0) {
          ev.events = EPOLLIN;
          ev.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
        continue;  /* read again once the answers are out */
      }
      if (c->in == NULL && (c->in = malloc(BUF)) == NULL) die("malloc");
      r = read(c->fd, c->in + c->have, BUF - c->have);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        close(c->fd);
        free(c->in);
        free(c->out);
        free(c);
        continue;
      } else {
        size_t start = 0, k, olen = 0, total = c->have + (size_t)r;
        for (k = c->have; k < total; k++) {
          if (c->in[k] == '\n') {
            size_t len = k - start + 1;
            memcpy(out + olen, "You said ", 9);
            memcpy(out + olen + 9, c->in + start, len);
            olen += len + 9;
            start = k + 1;
          }
        }
        memmove(c->in, c->in + start, total - start);
        c->have = total - start;
        if (c->have == BUF) c->have = 0;  /* an overlong line: drop it */
        if (olen > 0) {
          ssize_t w = c->outlen ? 0 : write(c->fd, out, olen);
          if (w < 0) w = 0;
          if ((size_t)w < olen) {
            size_t rest = olen - (size_t)w;
            if (c->outlen + rest > c->outcap) {
              c->outcap = (c->outlen + rest) * 2;
              c->out = realloc(c->out, c->outcap);
              if (c->out == NULL) die("realloc");
            }
            memcpy(c->out + c->outlen, out + w, rest);
            c->outlen += rest;
            ev.events = EPOLLIN | EPOLLOUT;
            ev.data.ptr = c;
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
          }
        }
      }
    }
  }
}

/* ---- the load ----------------------------------------------------- */
static void load(int port, int conns, int depth, double secs) {
  struct epoll_event ev, evs[256];
  static char buf[BUF], lines[BUF];
  int i, ep = epoll_create1(EPOLL_CLOEXEC);
  int *fds = calloc((size_t)conns, sizeof *fds);
  long long counted = 0;
  double t0, start, end;
  int counting = 0;
  if (fds == NULL) die("calloc");
  for (i = 0; i < depth; i++) memcpy(lines + i * MSGLEN, msg, MSGLEN);
  for (i = 0; i < conns; i++) {
    fds[i] = connect_to(port);
    fcntl(fds[i], F_SETFL, O_NONBLOCK);
    ev.events = EPOLLIN;
    ev.data.u32 = (unsigned)i;
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
  }
  for (i = 0; i < conns; i++) writeall(fds[i], lines, MSGLEN * (size_t)depth);
  t0 = now();
  start = t0 + 0.3;
  end = start + secs;
  for (;;) {
    double t = now();
    int n;
    if (!counting && t >= start) counting = 1, start = t;
    if (t >= end) break;
    n = epoll_wait(ep, evs, 256, 100);
    for (i = 0; i < n; i++) {
      int fd = fds[evs[i].data.u32];
      ssize_t r = read(fd, buf, sizeof buf), k, got = 0;
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        fprintf(stderr, "load: the server closed a connection\n");
        exit(1);
      }
      for (k = 0; k < r; k++) got += buf[k] == '\n';
      if (got > 0) {
        if ((size_t)got > BUF / MSGLEN) got = BUF / MSGLEN;
        writeall(fd, lines, MSGLEN * (size_t)got);
        if (counting) counted += got;
      }
    }
  }
  printf("%.1f\n", (double)counted / (now() - start));
  for (i = 0; i < conns; i++) close(fds[i]);
}

static void idle(int port, int conns, int secs) {
  static char buf[256];
  struct pollfd pf;
  int i;
  for (i = 0; i < conns; i++) {
    int s = connect_to(port);
    size_t got = 0;
    writeall(s, msg, MSGLEN);
    while (got < WANTLEN) {
      ssize_t r = read(s, buf + got, sizeof buf - got);
      if (r <= 0) die("read");
      got += (size_t)r;
    }
    if (memcmp(buf, want, WANTLEN) != 0) {
      fprintf(stderr, "idle: wrong answer\n");
      exit(1);
    }
  }
  printf("ready\n");
  fflush(stdout);
  (void)pf;
  poll(NULL, 0, secs * 1000);  /* until SECS pass or it is killed */
}

int main(int argc, char **argv) {
  if (argc >= 3 && argv[2][0] == '/') upath = argv[2];
  if (argc >= 3 && strcmp(argv[1], "server") == 0) {
    serve(atoi(argv[2]));
  } else if (argc >= 6 && strcmp(argv[1], "load") == 0) {
    load(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atof(argv[5]));
  } else if (argc >= 5 && strcmp(argv[1], "idle") == 0) {
    idle(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
  } else {
    fprintf(stderr, "usage: talk-ref server PORT | load PORT CONNS DEPTH "
            "SECS | idle PORT CONNS SECS\n");
    return 2;
  }
  return 0;
}
