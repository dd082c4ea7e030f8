/*
** scripts/bench/ref.h: what the C references of the socket benches
** (socket-ref.c, talk-ref.c, sched-ref.c) share.
*/
#ifndef NB_BENCH_REF_H
#define NB_BENCH_REF_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* seconds on the monotonic clock */
static inline double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void die(const char *what) {
  perror(what);
  exit(1);
}

/* 127.0.0.1:port */
static inline struct sockaddr_in loopback(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

#endif
