/*
** tls-ref.c: the C side of scripts/bench/tls.lua, compiled into
** build/bench/tls-ref with OpenSSL 3 (-lssl -lcrypto). TLS 1.3 only,
** the cipher TLS_AES_256_GCM_SHA384 (AES-256-GCM); the server's
** certificate is ECDSA P-256; clients check it against CAFILE and the
** address 127.0.0.1, as every other client of the bench does.
**   bulk-recv PORT CERT KEY N  accepts one client, reads N bytes, says
**                             "k"; prints "SECONDS BYTES CIPHER"
**   bulk-send PORT N CAFILE   sends N bytes in 64 KiB writes, waits for
**                             the "k", then close_notify
** (the "k": a client that closes with bytes unread, such as TLS 1.3's
** session tickets, makes its kernel reset the connection, and the
** server would lose the end of what it was sent)
**   hs-server PORT CERT KEY   full handshakes for any number of clients,
**                             one after the other, until killed
**   hs-client PORT N CAFILE   N full handshakes in a row (no session
**                             resumption); prints the seconds they took
**   server PORT CERT KEY      the talk protocol over TLS for any number
**                             of clients: epoll, one thread,
**                             non-blocking; prints "pid N", serves until
**                             killed
**   load PORT CONNS SECS CAFILE  CONNS TLS clients in ping-pong (one line
**                             in flight each); after 0.3 s of warm-up,
**                             counts answers for SECS; prints round
**                             trips per second
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ref.h"

#define CHUNK 65536
#define BUF 65536
static const char msg[] = "hello there\n";
#define MSGLEN (sizeof msg - 1)

static void ssldie(const char *what) {
  fprintf(stderr, "%s: ", what);
  ERR_print_errors_fp(stderr);
  fprintf(stderr, "\n");
  exit(1);
}

static SSL_CTX *server_ctx(const char *cert, const char *key) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == NULL) ssldie("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  if (!SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384"))
    ssldie("ciphersuites");
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) ssldie(cert);
  if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
    ssldie(key);
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

static SSL_CTX *client_ctx(const char *cafile) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == NULL) ssldie("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  if (!SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384"))
    ssldie("ciphersuites");
  if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) ssldie(cafile);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

static int listen_on(int port) {
  struct sockaddr_in a = loopback(port);
  int one = 1, l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l < 0) die("socket");
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(l, (struct sockaddr *)&a, sizeof a) != 0) die("bind");
  if (listen(l, 1024) != 0) die("listen");
  return l;
}

static int connect_to(int port) {
  struct sockaddr_in a = loopback(port);
  int one = 1, s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket");
  if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return s;
}

/* a client SSL on a new connection, checked for 127.0.0.1, handshake
** done (blocking) */
static SSL *tls_connect(SSL_CTX *ctx, int port) {
  int s = connect_to(port);
  SSL *ssl = SSL_new(ctx);
  if (ssl == NULL) ssldie("SSL_new");
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
  SSL_set_fd(ssl, s);
  if (SSL_connect(ssl) != 1) ssldie("SSL_connect");
  return ssl;
}

static void tls_close(SSL *ssl) {
  int fd = SSL_get_fd(ssl);
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
}

/* ---- bulk --------------------------------------------------------- */
static void bulk_recv(int port, const char *cert, const char *key,
                      long long n) {
  SSL_CTX *ctx = server_ctx(cert, key);
  static char buf[CHUNK];
  int l = listen_on(port), c;
  long long total = 0;
  double t0;
  SSL *ssl;
  c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) die("accept");
  close(l);
  t0 = now();
  ssl = SSL_new(ctx);
  SSL_set_fd(ssl, c);
  if (SSL_accept(ssl) != 1) ssldie("SSL_accept");
  while (total < n) {
    int r = SSL_read(ssl, buf, sizeof buf);
    if (r <= 0) ssldie("SSL_read");
    total += r;
  }
  printf("%.6f %lld %s\n", now() - t0, total, SSL_get_cipher_name(ssl));
  if (SSL_write(ssl, "k", 1) != 1) ssldie("SSL_write");
  while (SSL_read(ssl, buf, sizeof buf) > 0) {}
  tls_close(ssl);
  SSL_CTX_free(ctx);
}

static void bulk_send(int port, long long n, const char *cafile) {
  SSL_CTX *ctx = client_ctx(cafile);
  static char chunk[CHUNK];
  SSL *ssl = tls_connect(ctx, port);
  long long i;
  memset(chunk, 'z', sizeof chunk);
  for (i = 0; i < n / CHUNK; i++)
    if (SSL_write(ssl, chunk, sizeof chunk) != (int)sizeof chunk)
      ssldie("SSL_write");
  if (SSL_read(ssl, chunk, 1) != 1) ssldie("SSL_read");
  tls_close(ssl);
  SSL_CTX_free(ctx);
}

/* ---- handshakes --------------------------------------------------- */
static void hs_server(int port, const char *cert, const char *key) {
  SSL_CTX *ctx = server_ctx(cert, key);
  int l = listen_on(port);
  char buf[256];
  for (;;) {
    int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    SSL *ssl;
    if (c < 0) continue;
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      /* until the client's close_notify (or its end) */
      while (SSL_read(ssl, buf, sizeof buf) > 0) {}
      SSL_shutdown(ssl);
    }
    ERR_clear_error();
    SSL_free(ssl);
    close(c);
  }
}

static void hs_client(int port, int n, const char *cafile) {
  SSL_CTX *ctx = client_ctx(cafile);
  double t0 = now();
  int i;
  for (i = 0; i < n; i++) tls_close(tls_connect(ctx, port));
  printf("%.6f\n", now() - t0);
  SSL_CTX_free(ctx);
}

/* ---- the talk server ---------------------------------------------- */
typedef struct conn {
  int fd;
  SSL *ssl;
  size_t have;        /* bytes of an unfinished line in `in` */
  char in[BUF];
  char *out;          /* answers OpenSSL could not take yet */
  size_t outlen, outcap;
} conn;

static void watch(int ep, conn *c, int out) {
  struct epoll_event ev;
  ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
  ev.data.ptr = c;
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void drop(conn *c) {
  SSL_free(c->ssl);
  close(c->fd);
  free(c->out);
  free(c);
}

/* write c->out; 0 done, 1 waits for the socket, -1 failed */
static int flush(conn *c) {
  while (c->outlen > 0) {
    int w = SSL_write(c->ssl, c->out, (int)c->outlen);
    if (w <= 0) {
      int e = SSL_get_error(c->ssl, w);
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) return 1;
      return -1;
    }
    memmove(c->out, c->out + w, c->outlen - (size_t)w);
    c->outlen -= (size_t)w;
  }
  return 0;
}

static void queue(conn *c, const char *p, size_t n) {
  if (c->outlen + n > c->outcap) {
    c->outcap = (c->outlen + n) * 2;
    c->out = realloc(c->out, c->outcap);
    if (c->out == NULL) die("realloc");
  }
  memcpy(c->out + c->outlen, p, n);
  c->outlen += n;
}

/* read what OpenSSL has (until it wants the socket), answer each line;
** -1 when the connection ends */
static int serve_one(conn *c) {
  for (;;) {
    int r = SSL_read(c->ssl, c->in + c->have, (int)(BUF - c->have));
    size_t k, start = 0, total;
    if (r <= 0) {
      int e = SSL_get_error(c->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
      return -1;
    }
    total = c->have + (size_t)r;
    for (k = c->have; k < total; k++) {
      if (c->in[k] == '\n') {
        queue(c, "You said ", 9);
        queue(c, c->in + start, k - start + 1);
        start = k + 1;
      }
    }
    memmove(c->in, c->in + start, total - start);
    c->have = total - start;
    if (c->have == BUF) c->have = 0;  /* an overlong line: drop it */
  }
}

static void serve(int port, const char *cert, const char *key) {
  SSL_CTX *ctx = server_ctx(cert, key);
  struct epoll_event ev, evs[256];
  int one = 1, l = listen_on(port), ep = epoll_create1(EPOLL_CLOEXEC);
  fcntl(l, F_SETFL, O_NONBLOCK);
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
      int f;
      if (c == NULL) {
        int fd;
        while ((fd = accept4(l, NULL, NULL,
                             SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          c = calloc(1, sizeof *c);
          if (c == NULL) die("calloc");
          c->fd = fd;
          c->ssl = SSL_new(ctx);
          if (c->ssl == NULL) ssldie("SSL_new");
          SSL_set_fd(c->ssl, fd);
          SSL_set_accept_state(c->ssl);
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          ev.events = EPOLLIN;
          ev.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      /* the handshake runs inside SSL_read; answers wait behind
      ** earlier ones */
      if (c->outlen == 0 && serve_one(c) < 0) {
        drop(c);
        continue;
      }
      f = flush(c);
      if (f < 0) {
        drop(c);
        continue;
      }
      watch(ep, c, f == 1);
      ERR_clear_error();
    }
  }
}

/* ---- the load ----------------------------------------------------- */
static void writeall(SSL *ssl, const char *p, int n) {
  while (n > 0) {
    int w = SSL_write(ssl, p, n);
    if (w <= 0) {
      int e = SSL_get_error(ssl, w);
      struct pollfd pf;
      if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
        ssldie("SSL_write");
      pf.fd = SSL_get_fd(ssl);
      pf.events = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
      poll(&pf, 1, 1000);
      continue;
    }
    p += w;
    n -= w;
  }
}

static void load(int port, int conns, double secs, const char *cafile) {
  SSL_CTX *ctx = client_ctx(cafile);
  struct epoll_event ev, evs[256];
  static char buf[BUF], lines[BUF];
  int i, ep = epoll_create1(EPOLL_CLOEXEC);
  SSL **ssls = calloc((size_t)conns, sizeof *ssls);
  long long counted = 0;
  double start, end;
  int counting = 0;
  if (ssls == NULL) die("calloc");
  for (i = 0; i < (int)(BUF / MSGLEN); i++)
    memcpy(lines + i * MSGLEN, msg, MSGLEN);
  for (i = 0; i < conns; i++) {
    ssls[i] = tls_connect(ctx, port);
    fcntl(SSL_get_fd(ssls[i]), F_SETFL, O_NONBLOCK);
    ev.events = EPOLLIN;
    ev.data.u32 = (unsigned)i;
    epoll_ctl(ep, EPOLL_CTL_ADD, SSL_get_fd(ssls[i]), &ev);
  }
  for (i = 0; i < conns; i++) writeall(ssls[i], msg, (int)MSGLEN);
  start = now() + 0.3;
  end = start + secs;
  for (;;) {
    double t = now();
    int n;
    if (!counting && t >= start) counting = 1, start = t;
    if (t >= end) break;
    n = epoll_wait(ep, evs, 256, 100);
    for (i = 0; i < n; i++) {
      SSL *ssl = ssls[evs[i].data.u32];
      long long got = 0;
      for (;;) {
        int r = SSL_read(ssl, buf, sizeof buf), k;
        if (r <= 0) {
          int e = SSL_get_error(ssl, r);
          if (e == SSL_ERROR_WANT_READ) break;
          fprintf(stderr, "load: the server closed a connection\n");
          exit(1);
        }
        for (k = 0; k < r; k++) got += buf[k] == '\n';
      }
      if (got > 0) {
        if (got > (long long)(BUF / MSGLEN)) got = BUF / MSGLEN;
        writeall(ssl, lines, (int)(MSGLEN * (size_t)got));
        if (counting) counted += got;
      }
    }
  }
  printf("%.1f\n", (double)counted / (now() - start));
  for (i = 0; i < conns; i++) {
    int fd = SSL_get_fd(ssls[i]);
    SSL_free(ssls[i]);
    close(fd);
  }
  free(ssls);
  SSL_CTX_free(ctx);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 6 && strcmp(argv[1], "bulk-recv") == 0) {
    bulk_recv(atoi(argv[2]), argv[3], argv[4], atoll(argv[5]));
  } else if (argc >= 5 && strcmp(argv[1], "bulk-send") == 0) {
    bulk_send(atoi(argv[2]), atoll(argv[3]), argv[4]);
  } else if (argc >= 5 && strcmp(argv[1], "hs-server") == 0) {
    hs_server(atoi(argv[2]), argv[3], argv[4]);
  } else if (argc >= 5 && strcmp(argv[1], "hs-client") == 0) {
    hs_client(atoi(argv[2]), atoi(argv[3]), argv[4]);
  } else if (argc >= 5 && strcmp(argv[1], "server") == 0) {
    serve(atoi(argv[2]), argv[3], argv[4]);
  } else if (argc >= 6 && strcmp(argv[1], "load") == 0) {
    load(atoi(argv[2]), atoi(argv[3]), atof(argv[4]), argv[5]);
  } else {
    fprintf(stderr, "usage: tls-ref bulk-recv PORT CERT KEY N | bulk-send "
            "PORT N CAFILE | hs-server PORT CERT KEY | hs-client PORT N "
            "CAFILE | server PORT CERT KEY | load PORT CONNS SECS "
            "CAFILE\n");
    return 2;
  }
  return 0;
}
