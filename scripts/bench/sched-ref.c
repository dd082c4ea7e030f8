/*
** sched-ref.c: the plain C ends of scripts/bench/sched.lua, compiled into
** build/bench/sched-ref. Non-blocking sockets on one epoll set, no library:
**   server PORT               the talk protocol for any number of clients:
**                             each line gets "You said <line>\n" (all the
**                             answers to one read go out in one write)
**   client PORT N DEPTH SECS [WARM]
**                             N connections, each keeping DEPTH lines of
**                             "hello there\n" in flight; after WARM seconds
**                             of warm-up (1) counts answers for SECS
**                             seconds and prints round trips per second
*/
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ref.h"

#define BUF 65536

typedef struct conn {
  int fd;
  char in[BUF];
  size_t have;
  char out[4 * BUF];
  size_t olen;
} conn;

static const char LINE[] = "hello there\n";

static void nonblock(int fd) {
  int one = 1;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void add(int ep, int fd, void *p) {
  struct epoll_event ev;
  ev.events = EPOLLIN;
  ev.data.ptr = p;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
}

/* write all of buf (blocking briefly with poll if the kernel is full) */
static int writeall(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EAGAIN) continue;
      return -1;
    }
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static void server(int port) {
  struct sockaddr_in a = loopback(port);
  int one = 1, l = socket(AF_INET, SOCK_STREAM, 0), ep = epoll_create1(0);
  struct epoll_event ev[256];
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(l, (struct sockaddr *)&a, sizeof a) != 0) die("bind");
  if (listen(l, 1024) != 0) die("listen");
  add(ep, l, NULL);
  for (;;) {
    int n = epoll_wait(ep, ev, 256, -1), i;
    for (i = 0; i < n; i++) {
      conn *c = (conn *)ev[i].data.ptr;
      ssize_t r;
      size_t start = 0, k;
      if (c == NULL) {
        int fd = accept(l, NULL, NULL);
        if (fd < 0) continue;
        nonblock(fd);
        c = (conn *)calloc(1, sizeof *c);
        c->fd = fd;
        add(ep, fd, c);
        continue;
      }
      r = recv(c->fd, c->in + c->have, BUF - c->have, 0);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        close(c->fd);
        free(c);
        continue;
      }
      c->have += (size_t)r;
      c->olen = 0;
      for (k = 0; k < c->have; k++) {
        if (c->in[k] == '\n') {
          memcpy(c->out + c->olen, "You said ", 9);
          memcpy(c->out + c->olen + 9, c->in + start, k + 1 - start);
          c->olen += 9 + k + 1 - start;
          start = k + 1;
        }
      }
      memmove(c->in, c->in + start, c->have - start);
      c->have -= start;
      if (c->olen && writeall(c->fd, c->out, c->olen) != 0) {
        close(c->fd);
        free(c);
      }
    }
  }
}

static void client(int port, int n, int depth, double secs, double warm) {
  struct sockaddr_in a;
  int ep = epoll_create1(0), i;
  conn *cs = (conn *)calloc((size_t)n, sizeof *cs);
  struct epoll_event ev[256];
  char burst[64 * sizeof LINE];
  long count = 0;
  double t0, end;
  int counting = 0;
  if (depth > 64) depth = 64;
  for (i = 0; i < depth; i++)
    memcpy(burst + i * (sizeof LINE - 1), LINE, sizeof LINE - 1);
  a = loopback(port);
  for (i = 0; i < n; i++) {
    cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(cs[i].fd, (struct sockaddr *)&a, sizeof a) != 0)
      die("connect");
    nonblock(cs[i].fd);
    add(ep, cs[i].fd, &cs[i]);
  }
  for (i = 0; i < n; i++)
    if (writeall(cs[i].fd, burst, (size_t)depth * (sizeof LINE - 1)) != 0)
      die("send");
  t0 = now();
  end = t0 + warm;
  for (;;) {
    int m = epoll_wait(ep, ev, 256, 1000), j;
    double t = now();
    if (t >= end) {
      if (counting) break;
      counting = 1;
      count = 0;
      t0 = t;
      end = t + secs;
    }
    for (j = 0; j < m; j++) {
      conn *c = (conn *)ev[j].data.ptr;
      ssize_t r = recv(c->fd, c->in + c->have, BUF - c->have, 0);
      size_t k, start = 0;
      int lines = 0;
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        die("the server closed");
      }
      c->have += (size_t)r;
      for (k = 0; k < c->have; k++)
        if (c->in[k] == '\n') {
          lines++;
          start = k + 1;
        }
      memmove(c->in, c->in + start, c->have - start);
      c->have -= start;
      count += lines;
      if (lines && writeall(c->fd, burst, (size_t)lines * (sizeof LINE - 1))
          != 0)
        die("send");
    }
  }
  printf("%.0f\n", (double)count / (now() - t0));
  for (i = 0; i < n; i++) close(cs[i].fd);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "server") == 0)
    server(atoi(argv[2]));
  else if ((argc == 6 || argc == 7) && strcmp(argv[1], "client") == 0)
    client(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atof(argv[5]),
           argc == 7 ? atof(argv[6]) : 1.0);
  else {
    fprintf(stderr, "usage: sched-ref server PORT | client PORT N DEPTH "
            "SECS [WARM]\n");
    return 2;
  }
  return 0;
}
