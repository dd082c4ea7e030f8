/*
** socket-ref.c: the plain C references of scripts/bench/socket.lua,
** compiled into build/bench/socket-ref. Blocking sockets, no library:
**   bulk-recv PORT          accept one connection, read 64 KiB at a time
**                           until EOF; print seconds and bytes
**   bulk-send PORT BYTES    connect, write BYTES in 64 KiB chunks
**   pp-server PORT          the talk protocol: each line gets
**                           "You said <line>\n", until EOF
**   pp-client PORT N        N round trips of "hello there\n"; print
**                           seconds
*/
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ref.h"

#define CHUNK 65536

static int serve_one(int port) {
  struct sockaddr_in a = loopback(port);
  int one = 1, l = socket(AF_INET, SOCK_STREAM, 0), c;
  if (l < 0) die("socket");
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(l, (struct sockaddr *)&a, sizeof a) != 0) die("bind");
  if (listen(l, 5) != 0) die("listen");
  c = accept(l, NULL, NULL);
  if (c < 0) die("accept");
  close(l);
  return c;
}

static int connect_to(int port) {
  struct sockaddr_in a = loopback(port);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) die("socket");
  if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
  return s;
}

static void writeall(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) die("write");
    p += w;
    n -= (size_t)w;
  }
}

int main(int argc, char **argv) {
  static char buf[CHUNK];
  int port;
  if (argc < 3) {
    fprintf(stderr, "usage: socket-ref MODE PORT [N]\n");
    return 2;
  }
  port = atoi(argv[2]);
  if (strcmp(argv[1], "bulk-recv") == 0) {
    int c = serve_one(port);
    long long total = 0;
    double t0 = now();
    ssize_t r;
    while ((r = read(c, buf, sizeof buf)) > 0) total += r;
    printf("%.6f %lld\n", now() - t0, total);
    close(c);
  } else if (strcmp(argv[1], "bulk-send") == 0 && argc > 3) {
    long long left = atoll(argv[3]);
    int s = connect_to(port);
    memset(buf, 'z', sizeof buf);
    while (left > 0) {
      size_t n = left < CHUNK ? (size_t)left : CHUNK;
      writeall(s, buf, n);
      left -= (long long)n;
    }
    close(s);
  } else if (strcmp(argv[1], "pp-server") == 0) {
    int c = serve_one(port);
    size_t have = 0;
    ssize_t r;
    static char out[CHUNK + 16];
    while ((r = read(c, buf + have, sizeof buf - have)) > 0) {
      size_t start = 0, i;
      have += (size_t)r;
      for (i = 0; i < have; i++) {
        if (buf[i] == '\n') {
          size_t len = i - start;
          memcpy(out, "You said ", 9);
          memcpy(out + 9, buf + start, len + 1);
          writeall(c, out, len + 10);
          start = i + 1;
        }
      }
      memmove(buf, buf + start, have - start);
      have -= start;
      if (have == sizeof buf) have = 0;  /* an overlong line: drop it */
    }
    close(c);
  } else if (strcmp(argv[1], "pp-client") == 0 && argc > 3) {
    static const char msg[] = "hello there\n";
    static const char want[] = "You said hello there\n";
    long n = atol(argv[3]), i;
    int s = connect_to(port);
    double t0 = now();
    for (i = 0; i < n; i++) {
      size_t got = 0;
      writeall(s, msg, sizeof msg - 1);
      while (got < sizeof want - 1) {
        ssize_t r = read(s, buf + got, sizeof buf - got);
        if (r <= 0) die("read");
        got += (size_t)r;
      }
      if (memcmp(buf, want, sizeof want - 1) != 0) {
        fprintf(stderr, "pp-client: wrong answer\n");
        return 1;
      }
    }
    printf("%.6f\n", now() - t0);
    close(s);
  } else {
    fprintf(stderr, "socket-ref: unknown mode %s\n", argv[1]);
    return 2;
  }
  return 0;
}
