/*
** tls.c: netbasics.tls, TLS over a socket of netbasics.core with OpenSSL
** 3. Its own module (OpenSSL is slow to load), required by the Lua half
** on the first TLS call. A TLS socket is the core's socket userdata with
** a layer (socket.h's nb_layer_ops) over its descriptor: the buffer code
** of sockio.c reads and writes through it, the loop and net.select ask
** it for decrypted bytes it holds. Nothing here parses TLS or X.509:
** every check is OpenSSL's, every failure OpenSSL's verify result or
** error queue turned into words.
**
** Functions for the Lua half (lua/netbasics/secure.lua has the policy):
**   context(opts, server) -> ctx        an SSL_CTX for these options
**   attach(s, ctx, server, servername)  put the layer on socket s
**   handshake(s [, deadline])           the handshake, waiting as reads do
**   info(s) -> table                    what s:tlsinfo() returns
*/
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "socket.h"

#define NB_TLSCTX_T "netbasics.tlsctx"
#define NB_MSG_MAX 320
#define NB_TLS_READBUF (64 * 1024)  /* OpenSSL's read buffer, read ahead */

/* what a context carries for its connections (SSL_CTX ex data) */
typedef struct tls_conf {
  int verify;               /* check the peer's certificate */
  int client_cert;          /* servers: 0 no, 1 request, 2 require */
  int haspin;
  unsigned char pin[32];    /* SHA-256 of the peer's SubjectPublicKeyInfo */
  unsigned char *alpn;      /* wire form: length-prefixed names */
  unsigned alpnlen;
} tls_conf;

/* one connection's layer (s->layer) */
typedef struct tls_layer {
  SSL *ssl;
  const tls_conf *conf;
  int server;
  int done;                 /* handshake complete */
  int dead;                 /* a fatal error: no more I/O, no shutdown */
  int shut;                 /* close_notify sent */
  int pinned;               /* trusted because the key matched the pin */
  long firsterr;            /* the first verify error, X509_V_OK if none */
  const char *code;         /* of msg: "tls", "closed", "timeout" */
  char why[NB_MSG_MAX];     /* the first verify error in words */
  char msg[NB_MSG_MAX];     /* the last failure in words */
  char host[256];           /* the name or address checked, "" none */
} tls_layer;

static int conf_idx = -1;   /* SSL_CTX ex data: tls_conf */
static int layer_idx = -1;  /* SSL ex data: tls_layer */
static BIO_METHOD *sockbio; /* send/recv on the descriptor, MSG_NOSIGNAL */
static const nb_loop_api *api;

/* ---------------------------------------------------------------------
** Words: dates, names, escaped text
** ------------------------------------------------------------------ */

/* bytes a peer chose, safe to print: printable ASCII kept (and not the
** backslash), anything else as \ddd; cut to fit `size` */
static void shown(char *out, size_t size, const unsigned char *p, size_t n) {
  size_t o = 0, i;
  for (i = 0; i < n && o + 5 < size; i++) {
    unsigned c = p[i];
    if (c >= 0x20 && c < 0x7f && c != '\\')
      out[o++] = (char)c;
    else
      o += (size_t)snprintf(out + o, size - o, "\\%03u", c);
  }
  if (i < n && o + 4 < size) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = '\0';
}

/* an ASN1_TIME as "2025-01-31T12:00:00Z" (full) or "2025-01-31" */
static void timetext(const ASN1_TIME *t, int full, char *out, size_t size) {
  struct tm tm;
  if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
    snprintf(out, size, "?");
    return;
  }
  strftime(out, size, full ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d", &tm);
}

/* RFC 2253 text (its escapes: a backslash always begins one) safe to
** print: as shown(), but the backslashes kept, so a byte is escaped once */
static void shownname(char *out, size_t size, const unsigned char *p,
                      size_t n) {
  size_t o = 0, i;
  for (i = 0; i < n && o + 5 < size; i++) {
    unsigned c = p[i];
    if (c >= 0x20 && c < 0x7f)
      out[o++] = (char)c;
    else
      o += (size_t)snprintf(out + o, size - o, "\\%03u", c);
  }
  if (i < n && o + 4 < size) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = '\0';
}

/* a name as RFC 2253 text (its order, ", " between parts), the value
** bytes as the peer wrote them (UTF-8: other string types converted to
** it) with RFC 2253's escapes of , + " \ < > ; only; then every control
** and non-ASCII byte as \ddd, once, by shownname. A value that is not
** valid in its type (bad UTF-8) is shown byte for byte. */
static void nametext(const X509_NAME *nm, char *out, size_t size) {
  unsigned long flags = ASN1_STRFLGS_ESC_2253 | ASN1_STRFLGS_DUMP_UNKNOWN
                        | ASN1_STRFLGS_DUMP_DER | XN_FLAG_SEP_CPLUS_SPC
                        | XN_FLAG_DN_REV | XN_FLAG_FN_SN;
  int pass;
  out[0] = '\0';
  for (pass = 0; pass < 2; pass++) {
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    long n;
    int r;
    if (b == NULL) return;
    r = X509_NAME_print_ex(b, nm, 0, pass == 0
                           ? flags | ASN1_STRFLGS_UTF8_CONVERT
                           : flags | ASN1_STRFLGS_IGNORE_TYPE);
    n = BIO_get_mem_data(b, &p);
    if (r >= 0 && n >= 0) {
      shownname(out, size, (const unsigned char *)p, (size_t)n);
      BIO_free(b);
      ERR_clear_error();
      return;
    }
    BIO_free(b);
  }
  ERR_clear_error();
}

/* one subject alternative name (DNS or IP) as text, 0 if neither */
static int gentext(const GENERAL_NAME *g, char *out, size_t size) {
  if (g->type == GEN_DNS) {
    const ASN1_IA5STRING *s = g->d.dNSName;
    shown(out, size, ASN1_STRING_get0_data(s),
          (size_t)ASN1_STRING_length(s));
    return 1;
  }
  if (g->type == GEN_IPADD) {
    const ASN1_OCTET_STRING *s = g->d.iPAddress;
    int n = ASN1_STRING_length(s);
    if ((n == 4 || n == 16) && size >= INET6_ADDRSTRLEN
        && inet_ntop(n == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s),
                     out, (socklen_t)size) != NULL)
      return 1;
  }
  return 0;
}

/* the common name, when a certificate has no alternative names */
static int cntext(X509 *c, char *out, size_t size) {
  X509_NAME *nm = X509_get_subject_name(c);
  int i = X509_NAME_get_index_by_NID(nm, NID_commonName, -1);
  const ASN1_STRING *s;
  if (i < 0) return 0;
  s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i));
  shown(out, size, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
  return 1;
}

/* the names a certificate covers, "a, b, c" (at most a few) */
static void coverstext(X509 *c, char *out, size_t size) {
  GENERAL_NAMES *gs = X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL);
  size_t o = 0;
  int i, n = 0;
  out[0] = '\0';
  if (gs != NULL) {
    for (i = 0; i < sk_GENERAL_NAME_num(gs) && o + 8 < size; i++) {
      char one[256];
      if (!gentext(sk_GENERAL_NAME_value(gs, i), one, sizeof one)) continue;
      if (n == 4) {
        o += (size_t)snprintf(out + o, size - o, ", ...");
        break;
      }
      o += (size_t)snprintf(out + o, size - o, "%s%s", n ? ", " : "", one);
      n++;
    }
    GENERAL_NAMES_free(gs);
  }
  if (o >= size) out[size - 1] = '\0';
  if (n == 0 && !cntext(c, out, size)) snprintf(out, size, "no name");
}

/* "sha256//BASE64" of a certificate's public key */
static int pinof(X509 *c, unsigned char md[32]) {
  unsigned char *der = NULL;
  int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c), &der);
  unsigned len = 0;
  int ok;
  if (n <= 0) return 0;
  ok = EVP_Digest(der, (size_t)n, md, &len, EVP_sha256(), NULL) && len == 32;
  OPENSSL_free(der);
  return ok;
}

static void pintext(const unsigned char md[32], char *out, size_t size) {
  unsigned char b64[48];
  EVP_EncodeBlock(b64, md, 32);
  snprintf(out, size, "sha256//%s", (const char *)b64);
}

/* ---------------------------------------------------------------------
** Verification: every error in words, the pin
** ------------------------------------------------------------------ */

/* the words of verify error `err` met at certificate `c` */
static void verifywords(tls_layer *ly, long err, X509 *c, int depth,
                        char *out, size_t size) {
  char a[160], b[256];
  const char *who = depth > 0 ? "an authority's certificate in the chain"
                              : "certificate";
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      timetext(c ? X509_get0_notAfter(c) : NULL, 0, a, sizeof a);
      snprintf(out, size, "%s has expired (valid until %s)", who, a);
      break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      timetext(c ? X509_get0_notBefore(c) : NULL, 0, a, sizeof a);
      snprintf(out, size, "%s is not valid yet (valid from %s)", who, a);
      break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      if (c != NULL) coverstext(c, b, sizeof b);
      else snprintf(b, sizeof b, "another name");
      snprintf(out, size, "certificate is for %s, not %s", b, ly->host);
      break;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      snprintf(out, size, "self-signed certificate: pass cafile or pin");
      break;
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      if (c != NULL)
        nametext(err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
                 ? X509_get_subject_name(c) : X509_get_issuer_name(c),
                 a, sizeof a);
      else
        snprintf(a, sizeof a, "?");
      snprintf(out, size, "certificate signed by an unknown authority "
               "(%s): pass cafile or pin", a);
      break;
    case X509_V_ERR_APPLICATION_VERIFICATION:
      if (out != ly->why) snprintf(out, size, "%s", ly->why);
      return;  /* the pin's words, set before */
    default:
      snprintf(out, size, "certificate %s",
               X509_verify_cert_error_string(err));
  }
}

/*
** ** OpenSSL calls this for each certificate of the chain (and again for
** each error). The first error is kept in words (for the failure, and
** for tlsinfo's `why` when verify is off). With a pin, the key at depth
** 0 decides alone: a match is trusted whatever else failed, any other
** key is refused.
*/
static int verify_cb(int ok, X509_STORE_CTX *x) {
  SSL *ssl = X509_STORE_CTX_get_ex_data(x,
               SSL_get_ex_data_X509_STORE_CTX_idx());
  tls_layer *ly = ssl ? SSL_get_ex_data(ssl, layer_idx) : NULL;
  int depth = X509_STORE_CTX_get_error_depth(x);
  X509 *c = X509_STORE_CTX_get_current_cert(x);
  if (ly == NULL) return ok;
  if (!ok && ly->firsterr == X509_V_OK) {
    ly->firsterr = X509_STORE_CTX_get_error(x);
    verifywords(ly, ly->firsterr, c, depth, ly->why, sizeof ly->why);
  }
  if (ly->conf->haspin) {
    unsigned char md[32];
    if (depth != 0 || c == NULL) return 1;
    if (!pinof(c, md) || memcmp(md, ly->conf->pin, 32) != 0) {
      char p[64];
      pintext(md, p, sizeof p);
      snprintf(ly->why, sizeof ly->why, "the %s's public key does not "
               "match the pin (it is %s)", ly->server ? "client" : "server",
               p);
      ly->firsterr = X509_V_ERR_APPLICATION_VERIFICATION;
      ly->pinned = 0;
      X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
      return 0;
    }
    if (ly->firsterr != X509_V_ERR_APPLICATION_VERIFICATION) ly->pinned = 1;
    return 1;
  }
  return ly->conf->verify ? ok : 1;
}

/* ---------------------------------------------------------------------
** Failures: the error queue in words
** ------------------------------------------------------------------ */

/* set ly->msg and ly->code from the error queue after SSL_ERROR_SSL */
static void queuewords(tls_layer *ly) {
  unsigned long e = ERR_peek_last_error();
  int reason = ERR_GET_REASON(e), lib = ERR_GET_LIB(e);
  const char *r = ERR_reason_error_string(e);
  ly->code = "tls";
  if (r == NULL) r = "failed";
  if (lib == ERR_LIB_SSL && reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    ly->code = "closed";
    if (ly->done)
      snprintf(ly->msg, sizeof ly->msg, "the peer cut the connection "
               "without a TLS close_notify (what came may be incomplete)");
    else
      snprintf(ly->msg, sizeof ly->msg, "the peer closed the connection "
               "during the TLS handshake");
  } else if (lib == ERR_LIB_SSL
             && reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    if (ly->why[0] != '\0')
      snprintf(ly->msg, sizeof ly->msg, "%s", ly->why);
    else
      snprintf(ly->msg, sizeof ly->msg, "certificate %s",
               X509_verify_cert_error_string(
                 SSL_get_verify_result(ly->ssl)));
  } else if (lib == ERR_LIB_SSL
             && (reason == SSL_R_UNSUPPORTED_PROTOCOL
                 || reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION
                 || reason == SSL_R_NO_PROTOCOLS_AVAILABLE
                 || reason == SSL_R_UNSUPPORTED_SSL_VERSION)) {
    int v = SSL_CTX_get_min_proto_version(SSL_get_SSL_CTX(ly->ssl));
    snprintf(ly->msg, sizeof ly->msg, "no TLS version in common (the "
             "oldest we speak is %s): %s",
             v == TLS1_3_VERSION ? "1.3" : "1.2", r);
  } else if (lib == ERR_LIB_SSL
             && (reason == SSL_R_WRONG_VERSION_NUMBER
                 || reason == SSL_R_PACKET_LENGTH_TOO_LONG
                 || reason == SSL_R_UNKNOWN_PROTOCOL
                 || reason == SSL_R_HTTP_REQUEST
                 || reason == SSL_R_HTTPS_PROXY_REQUEST
                 || reason == SSL_R_RECORD_LENGTH_MISMATCH
                 || reason == SSL_R_UNEXPECTED_MESSAGE)
             && !ly->done) {
    snprintf(ly->msg, sizeof ly->msg, "the peer does not speak TLS (%s)",
             r);
  } else if (lib == ERR_LIB_SSL
             && (reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED
                 || reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)) {
    snprintf(ly->msg, sizeof ly->msg, ly->server
             ? "the client sent no certificate, and one is required"
             : "the server requires a client certificate: pass cert and "
               "key");
  } else if (lib == ERR_LIB_SSL
             && (reason == SSL_R_TLSV1_ALERT_UNKNOWN_CA
                 || reason == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE
                 || reason == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED
                 || reason == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN
                 || reason == SSL_R_TLSV1_ALERT_DECRYPT_ERROR)) {
    snprintf(ly->msg, sizeof ly->msg, "the peer refused our certificate "
             "(%s)", r);
  } else if (lib == ERR_LIB_SSL
             && reason == SSL_R_NO_RENEGOTIATION) {
    snprintf(ly->msg, sizeof ly->msg, "the peer asked to renegotiate, "
             "which is refused (%s)", r);
  } else {
    snprintf(ly->msg, sizeof ly->msg, "%s", r);
  }
  ERR_clear_error();
}

/*
** ** After an SSL_* call returned r <= 0: -1 with *e EAGAIN and *want
** for WANT_READ/WANT_WRITE, an errno, or NB_ELAYER (ly->msg set); 0 for
** a clean end (close_notify).
*/
static int sslfail(tls_layer *ly, int r, int *e, short *want) {
  int err = SSL_get_error(ly->ssl, r);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      *e = EAGAIN;
      *want = POLLIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      *e = EAGAIN;
      *want = POLLOUT;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    case SSL_ERROR_SYSCALL:
      ly->dead = 1;
      ERR_clear_error();
      *e = errno != 0 ? errno : ECONNRESET;
      if (*e == EAGAIN || *e == EINTR) *e = ECONNRESET;
      ly->code = *e == ECONNRESET || *e == EPIPE ? "closed" : "failed";
      snprintf(ly->msg, sizeof ly->msg, "%s", strerror(*e));
      return -1;
    default:
      ly->dead = 1;
      queuewords(ly);
      *e = NB_ELAYER;
      return -1;
  }
}

/* ---------------------------------------------------------------------
** The descriptor as a BIO: recv and send with MSG_NOSIGNAL (OpenSSL's
** socket BIO writes with write(), which raises SIGPIPE)
** ------------------------------------------------------------------ */

static int bio_write(BIO *b, const char *p, int n) {
  int fd = (int)(intptr_t)BIO_get_data(b);
  ssize_t r;
  do r = send(fd, p, (size_t)n, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  BIO_clear_retry_flags(b);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    BIO_set_retry_write(b);
  return (int)r;
}

static int bio_read(BIO *b, char *p, int n) {
  int fd = (int)(intptr_t)BIO_get_data(b);
  ssize_t r;
  do r = recv(fd, p, (size_t)n, 0);
  while (r < 0 && errno == EINTR);
  BIO_clear_retry_flags(b);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    BIO_set_retry_read(b);
  if (r == 0) {  /* the end: OpenSSL asks BIO_eof whether it was cut */
    BIO_set_flags(b, BIO_FLAGS_IN_EOF);
    errno = 0;
  }
  return (int)r;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)num;
  (void)ptr;
  if (cmd == BIO_CTRL_EOF) return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

/* ---------------------------------------------------------------------
** The layer (socket.h's nb_layer_ops)
** ------------------------------------------------------------------ */

#define LAYER(s) ((tls_layer *)(s)->layer)

static ssize_t tls_read(nb_sock *s, char *p, size_t n, int *e,
                        short *want) {
  tls_layer *ly = LAYER(s);
  size_t got = 0;
  int r;
  if (ly->dead) {
    *e = NB_ELAYER;
    return -1;
  }
  ERR_clear_error();
  errno = 0;
  r = SSL_read_ex(ly->ssl, p, n, &got);
  if (r == 1) {
    ly->done = 1;
    return (ssize_t)got;
  }
  if (SSL_is_init_finished(ly->ssl)) ly->done = 1;
  return sslfail(ly, 0, e, want) == 0 ? 0 : -1;
}

static ssize_t tls_write(nb_sock *s, const char *p, size_t n, int *e,
                         short *want) {
  tls_layer *ly = LAYER(s);
  size_t put = 0;
  int r;
  if (ly->dead) {
    *e = NB_ELAYER;
    return -1;
  }
  if (ly->shut) {
    *e = EPIPE;
    return -1;
  }
  ERR_clear_error();
  errno = 0;
  r = SSL_write_ex(ly->ssl, p, n, &put);
  if (r == 1) {
    ly->done = 1;
    return (ssize_t)put;
  }
  if (sslfail(ly, 0, e, want) == 0) *e = EPIPE;  /* the peer ended */
  return -1;
}

/*
** ** Bytes a read takes with no wait. OpenSSL reads ahead (tls_context):
** past the decrypted bytes of the current record (SSL_pending) it may
** hold whole records not yet decrypted, or part of one (SSL_has_pending
** says which of neither). Those are looked at here: a peek decrypts the
** next record if it is whole, reads the kernel's bytes without waiting
** if not (so a part of a record alone is not taken for readiness: the
** caller then waits on the descriptor). A peek that meets the end
** (close_notify) counts as ready, the read gives it; one that meets a
** failure keeps it in the layer (dead), for the read to give at once.
*/
static size_t tls_pending(const nb_sock *s) {
  tls_layer *ly = LAYER(s);
  char c;
  size_t got = 0;
  int n, r;
  if (ly->dead) return 1;  /* a read fails at once */
  n = SSL_pending(ly->ssl);
  if (n > 0) return (size_t)n;
  if (!ly->done || !SSL_has_pending(ly->ssl)) return 0;
  ERR_clear_error();
  errno = 0;
  r = SSL_peek_ex(ly->ssl, &c, 1, &got);
  if (r == 1) {
    n = SSL_pending(ly->ssl);
    return n > 0 ? (size_t)n : 1;
  }
  {
    int e = 0;
    short want = 0;
    if (sslfail(ly, 0, &e, &want) == 0) return 1;  /* the end */
    ERR_clear_error();
    return e == EAGAIN ? 0 : 1;  /* wait on the descriptor, or fail */
  }
}

/* send our close_notify once; never wait for the peer's */
static int tls_shutdown(nb_sock *s, int *e, short *want) {
  tls_layer *ly = LAYER(s);
  int r;
  if (ly->dead || ly->shut || !SSL_is_init_finished(ly->ssl)) return 0;
  ERR_clear_error();
  errno = 0;
  r = SSL_shutdown(ly->ssl);
  if (r >= 0) {
    ly->shut = 1;
    return 0;
  }
  if (sslfail(ly, r, e, want) == 0) return 0;
  if (*e != EAGAIN) ly->shut = 1;
  return *e == EAGAIN ? -1 : 0;
}

static void tls_release(nb_sock *s) {
  tls_layer *ly = LAYER(s);
  if (ly == NULL) return;
  SSL_free(ly->ssl);
  free(ly);
  s->layer = NULL;
}

static const char *tls_msg(const nb_sock *s) {
  return LAYER(s)->msg;
}

static const char *tls_code(const nb_sock *s) {
  return LAYER(s)->code;
}

static const nb_layer_ops tls_ops = {
  "tls", tls_read, tls_write, tls_pending, tls_shutdown, tls_release,
  tls_msg, tls_code
};

/* ---------------------------------------------------------------------
** Contexts
** ------------------------------------------------------------------ */

static void conf_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
                      long argl, void *argp) {
  tls_conf *c = (tls_conf *)ptr;
  (void)parent;
  (void)ad;
  (void)idx;
  (void)argl;
  (void)argp;
  if (c == NULL) return;
  free(c->alpn);
  free(c);
}

/* servers: the first of our ALPN names that the client offers */
static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned inlen, void *arg) {
  const tls_conf *c = (const tls_conf *)arg;
  unsigned char *o;
  (void)ssl;
  if (c->alpn == NULL
      || SSL_select_next_proto(&o, outlen, c->alpn, c->alpnlen, in, inlen)
         != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = o;
  return SSL_TLSEXT_ERR_OK;
}

static int password_cb(char *buf, int size, int rw, void *u) {
  const char *pw = (const char *)u;
  size_t n;
  (void)rw;
  if (pw == NULL) return 0;
  n = strlen(pw);
  if (n > (size_t)size) n = (size_t)size;
  memcpy(buf, pw, n);
  return (int)n;
}

/* the words of the error queue after loading `what` from `file` */
static int loadfail(lua_State *L, const char *what, const char *file) {
  unsigned long e = ERR_peek_last_error();
  const char *r = ERR_reason_error_string(e);
  char f[128];
  shown(f, sizeof f, (const unsigned char *)file, strlen(file));
  ERR_clear_error();
  return nb_fail(L, "tls", "tls: cannot use %s %s: %s", what, f,
                 r != NULL ? r : "failed");
}

static const char *optstring(lua_State *L, int t, const char *k) {
  const char *v;
  lua_getfield(L, t, k);
  v = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
  lua_pop(L, 1);  /* the table keeps the string */
  return v;
}

/* the wire form of an ALPN list {"h2", "http/1.1"} */
static int alpnwire(lua_State *L, int t, tls_conf *c) {
  lua_Integer i, n;
  size_t len = 0, o = 0;
  lua_getfield(L, t, "alpn");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  luaL_checktype(L, -1, LUA_TTABLE);
  n = luaL_len(L, -1);
  for (i = 1; i <= n; i++) {
    size_t k;
    lua_geti(L, -1, i);
    luaL_checklstring(L, -1, &k);
    if (k == 0 || k > 255) luaL_error(L, "alpn: a name of 1 to 255 bytes");
    len += k + 1;
    lua_pop(L, 1);
  }
  if (len == 0 || len > 65535) luaL_error(L, "alpn: a list of 1 or more");
  c->alpn = (unsigned char *)nb_malloc(len);
  if (c->alpn == NULL) return luaL_error(L, "not enough memory");
  for (i = 1; i <= n; i++) {
    size_t k;
    const char *s;
    lua_geti(L, -1, i);
    s = lua_tolstring(L, -1, &k);
    c->alpn[o++] = (unsigned char)k;
    memcpy(c->alpn + o, s, k);
    o += k;
    lua_pop(L, 1);
  }
  c->alpnlen = (unsigned)len;
  lua_pop(L, 1);
  return 0;
}

/* "sha256//BASE64" (or "sha256/BASE64") into c->pin; 0 or -1 */
static int pinparse(const char *p, tls_conf *c) {
  unsigned char out[48];
  size_t n;
  int k;
  if (strncmp(p, "sha256//", 8) == 0) p += 8;
  else if (strncmp(p, "sha256/", 7) == 0) p += 7;
  else return -1;
  n = strlen(p);
  if (n != 44 || p[43] != '=') return -1;
  k = EVP_DecodeBlock(out, (const unsigned char *)p, (int)n);
  if (k != 33) return -1;  /* 32 bytes and the padding's zero */
  memcpy(c->pin, out, 32);
  c->haspin = 1;
  return 0;
}

static int ctx_gc(lua_State *L) {
  SSL_CTX **p = (SSL_CTX **)luaL_checkudata(L, 1, NB_TLSCTX_T);
  SSL_CTX_free(*p);
  *p = NULL;
  return 0;
}

/*
** ** context(opts, server) -> ctx, or nil, msg, "tls". The Lua half has
** checked the option names and types; here OpenSSL reads the files.
** opts: verify, cafile, capath, alpn, cert, key, password, min_version,
** pin, verify_client ("request" or "require").
*/
static int tls_context(lua_State *L) {
  int server = lua_toboolean(L, 2);
  const char *cafile, *capath, *cert, *key, *pw, *minv, *pin, *vc;
  SSL_CTX **ud, *ctx;
  tls_conf *c;
  luaL_checktype(L, 1, LUA_TTABLE);
  cafile = optstring(L, 1, "cafile");
  capath = optstring(L, 1, "capath");
  cert = optstring(L, 1, "cert");
  key = optstring(L, 1, "key");
  pw = optstring(L, 1, "password");
  minv = optstring(L, 1, "min_version");
  pin = optstring(L, 1, "pin");
  vc = optstring(L, 1, "verify_client");
  ud = (SSL_CTX **)lua_newuserdatauv(L, sizeof *ud, 0);
  *ud = NULL;
  luaL_setmetatable(L, NB_TLSCTX_T);
  ERR_clear_error();
  ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == NULL) return luaL_error(L, "not enough memory");
  *ud = ctx;
  c = (tls_conf *)nb_calloc(1, sizeof *c);
  if (c == NULL) return luaL_error(L, "not enough memory");
  if (!SSL_CTX_set_ex_data(ctx, conf_idx, c)) {
    free(c);
    return luaL_error(L, "not enough memory");
  }
  lua_getfield(L, 1, "verify");
  c->verify = lua_isnil(L, -1) || lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (vc != NULL) c->client_cert = strcmp(vc, "request") == 0 ? 1 : 2;
  if (pin != NULL && pinparse(pin, c) != 0)
    return nb_fail(L, "tls", "tls: a pin is \"sha256//\" and the base64 "
                   "of 32 bytes");
  alpnwire(L, 1, c);
  SSL_CTX_set_min_proto_version(ctx, minv != NULL && strcmp(minv, "1.3")
                                == 0 ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION
                      | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                   | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  /* read ahead: one recv() takes what the kernel has, several records,
  ** instead of two per record (header, then body); tls_pending looks at
  ** what is held */
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, NB_TLS_READBUF);
  /* the authorities to trust: peers (client) or client certificates */
  if (!server || c->client_cert) {
    if (cafile != NULL || capath != NULL) {
      if (SSL_CTX_load_verify_locations(ctx, cafile, capath) != 1)
        return loadfail(L, cafile != NULL ? "cafile" : "capath",
                        cafile != NULL ? cafile : capath);
      if (server && cafile != NULL) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cafile);
        if (names != NULL) SSL_CTX_set_client_CA_list(ctx, names);
      }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return loadfail(L, "the system's", "certificates");
    }
  }
  if (server) {
    int mode = SSL_VERIFY_NONE;
    if (c->client_cert || c->haspin) mode = SSL_VERIFY_PEER;
    if (c->client_cert == 2 || c->haspin)
      mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;  /* a pin wants its key */
    c->verify = c->client_cert != 0;
    SSL_CTX_set_verify(ctx, mode, verify_cb);
    if (c->alpn != NULL)
      SSL_CTX_set_alpn_select_cb(ctx, alpn_select, c);
  } else {
    SSL_CTX_set_verify(ctx, c->verify || c->haspin ? SSL_VERIFY_PEER
                       : SSL_VERIFY_NONE, verify_cb);
    if (c->alpn != NULL
        && SSL_CTX_set_alpn_protos(ctx, c->alpn, c->alpnlen) != 0)
      return luaL_error(L, "not enough memory");
  }
  if (cert != NULL || key != NULL) {
    SSL_CTX_set_default_passwd_cb(ctx, password_cb);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)pw);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert ? cert : key) != 1) {
      SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
      return loadfail(L, "cert", cert ? cert : key);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key ? key : cert,
                                    SSL_FILETYPE_PEM) != 1) {
      SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
      return loadfail(L, "key", key ? key : cert);
    }
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    if (SSL_CTX_check_private_key(ctx) != 1)
      return loadfail(L, "key", key ? key : cert);
  } else if (server) {
    return nb_fail(L, "tls", "tls: a server needs cert and key");
  }
  return 1;
}

/* ---------------------------------------------------------------------
** Connections
** ------------------------------------------------------------------ */

static nb_sock *checksock(lua_State *L, int i) {
  nb_sock *s = (nb_sock *)luaL_checkudata(L, i, NB_SOCKET_T);
  if (s->fd < 0) luaL_error(L, "attempt to use a closed socket");
  return s;
}

/* the text of s's peer, "127.0.0.1:9443" or "[::1]:9443" */
static void peertext(const nb_sock *s, char *out, size_t size) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char h[INET6_ADDRSTRLEN];
  const struct sockaddr *sa = (const struct sockaddr *)&ss;
  if (getpeername(s->fd, (struct sockaddr *)&ss, &len) != 0)
    sa = (const struct sockaddr *)&s->peer;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &a->sin_addr, h, sizeof h);
    snprintf(out, size, "%s:%u", h, (unsigned)ntohs(a->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof h);
    snprintf(out, size, "[%s]:%u", h, (unsigned)ntohs(a->sin6_port));
  } else {
    snprintf(out, size, "the peer");
  }
}

/*
** ** attach(s, ctx, server, servername) -> true, or nil, msg, "tls": the
** layer on socket s (its descriptor made non-blocking for good: every
** wait is a poll or the loop). servername: a name (SNI and the name
** checked) or an IP address (checked against the certificate's IP
** addresses, no SNI); nil for none (servers).
*/
static int tls_attach(lua_State *L) {
  nb_sock *s = checksock(L, 1);
  SSL_CTX **ctx = (SSL_CTX **)luaL_checkudata(L, 2, NB_TLSCTX_T);
  int server = lua_toboolean(L, 3);
  const char *name = luaL_optstring(L, 4, NULL);
  unsigned char addr[16];
  tls_layer *ly;
  BIO *bio;
  if (s->lops != NULL) return luaL_error(L, "starttls: already TLS");
  if (s->type != SOCK_STREAM)
    return luaL_error(L, "starttls: a stream socket is needed");
  if (s->rend > s->rpos)
    return nb_fail(L, "tls", "starttls: %I bytes arrived before TLS "
                   "began", (lua_Integer)(s->rend - s->rpos));
  ly = (tls_layer *)nb_calloc(1, sizeof *ly);
  if (ly == NULL) return luaL_error(L, "not enough memory");
  ly->conf = (const tls_conf *)SSL_CTX_get_ex_data(*ctx, conf_idx);
  ly->server = server;
  ly->code = "tls";
  ly->firsterr = X509_V_OK;
  ERR_clear_error();
  ly->ssl = SSL_new(*ctx);
  bio = BIO_new(sockbio);
  if (ly->ssl == NULL || bio == NULL) {
    BIO_free(bio);
    SSL_free(ly->ssl);
    free(ly);
    return luaL_error(L, "not enough memory");
  }
  BIO_set_data(bio, (void *)(intptr_t)s->fd);
  SSL_set_bio(ly->ssl, bio, bio);
  SSL_set_ex_data(ly->ssl, layer_idx, ly);
  if (name != NULL && !server) {
    X509_VERIFY_PARAM *vp = SSL_get0_param(ly->ssl);
    int ip = inet_pton(AF_INET, name, addr) == 1
             || inet_pton(AF_INET6, name, addr) == 1;
    int ok;
    shown(ly->host, sizeof ly->host, (const unsigned char *)name,
          strlen(name));
    X509_VERIFY_PARAM_set_hostflags(vp,
                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, name)
            : X509_VERIFY_PARAM_set1_host(vp, name, 0)
              && SSL_set_tlsext_host_name(ly->ssl, name);
    if (!ok) {
      SSL_free(ly->ssl);
      free(ly);
      ERR_clear_error();
      return nb_fail(L, "tls", "starttls: cannot use servername %s",
                     nb_pushshown(L, name, strlen(name)));
    }
  }
  if (server) SSL_set_accept_state(ly->ssl);
  else SSL_set_connect_state(ly->ssl);
  {
    /* non-blocking for good; no Nagle: a handshake's flight and the
    ** first bytes after it go in several sends, and each would wait for
    ** the peer's delayed acknowledgement (curl sets it too) */
    int fl = fcntl(s->fd, F_GETFL), one = 1;
    if (fl >= 0 && !(fl & O_NONBLOCK)) fcntl(s->fd, F_SETFL, fl | O_NONBLOCK);
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  s->tasked = 1;
  s->layer = ly;
  s->lops = &tls_ops;
  lua_pushboolean(L, 1);
  return 1;
}

static int tls_handshake(lua_State *L);

static int handshake_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  if (api->timedout(api->task_of(L))) {
    lua_settop(L, 1);
    lua_pushnumber(L, api->now());  /* net.deadline passed: time is up */
  }
  return tls_handshake(L);
}

/* nil, "tls handshake with <peer>: <words>", code */
static int handfail(lua_State *L, nb_sock *s, const char *code,
                    const char *words) {
  char ep[80];
  peertext(s, ep, sizeof ep);
  return nb_fail(L, code, "tls handshake with %s: %s", ep, words);
}

/*
** ** handshake(s [, deadline]) -> true, or nil, msg, code. deadline:
** nb_now() seconds (< 0 none, 0 never wait), default the socket's
** timeout from now. In a task it parks on the loop for what OpenSSL
** wants, then goes on (the same deadline: it is on the stack); outside
** tasks it polls.
*/
static int tls_handshake(lua_State *L) {
  nb_sock *s = checksock(L, 1);
  tls_layer *ly = LAYER(s);
  double deadline;
  if (s->lops != &tls_ops) return luaL_error(L, "handshake: not TLS");
  if (lua_isnoneornil(L, 2)) {
    deadline = s->timeout < 0 ? -1 : s->timeout == 0 ? 0
             : api->now() + s->timeout;
    lua_settop(L, 1);
    lua_pushnumber(L, deadline);
  }
  deadline = luaL_checknumber(L, 2);
  lua_settop(L, 2);
  for (;;) {
    int r, e = 0;
    short want = POLLIN;
    nb_task *t;
    if (ly->dead) return handfail(L, s, ly->code, ly->msg);
    ERR_clear_error();
    errno = 0;
    r = SSL_do_handshake(ly->ssl);
    if (r == 1) {
      ly->done = 1;
      lua_pushboolean(L, 1);
      return 1;
    }
    if (sslfail(ly, r, &e, &want) == 0) {
      ly->dead = 1;
      ly->code = "closed";
      snprintf(ly->msg, sizeof ly->msg, "the peer closed the connection "
               "during the TLS handshake");
      return handfail(L, s, "closed", ly->msg);
    }
    if (e == NB_ELAYER) return handfail(L, s, ly->code, ly->msg);
    if (e != EAGAIN) {
      ly->code = e == ECONNRESET || e == EPIPE ? "closed" : "failed";
      snprintf(ly->msg, sizeof ly->msg, "%s", strerror(e));
      return handfail(L, s, ly->code, ly->msg);
    }
    if (deadline == 0)  /* timeout 0: the caller goes on with it later */
      return handfail(L, s, "timeout", want == POLLOUT
                      ? "not done yet (timeout 0: call again when the "
                        "socket is writable)"
                      : "not done yet (timeout 0: call again when the "
                        "socket is readable)");
    if (deadline > 0 && api->now() >= deadline)
      return handfail(L, s, "timeout", "timed out (the handshake stalled)");
    t = api->task_of(L);
    if (t != NULL && lua_isyieldable(L)) {
      struct pollfd p;
      p.fd = s->fd;
      p.events = want;
      p.revents = 0;
      e = api->park(L, t, &p, 1, deadline, 0, handshake_k);
      if (e != 0)  /* the loop cannot take the wait */
        return handfail(L, s, e == EBUSY ? "busy" : "resources",
                        strerror(e));
    }
    {
      struct pollfd p;
      int ms = -1;
      if (deadline > 0) {
        double left = deadline - api->now();
        ms = left <= 0 ? 0 : (int)(left * 1000 + 0.999);
      }
      p.fd = s->fd;
      p.events = want;
      p.revents = 0;
      if (poll(&p, 1, ms) < 0) {
        if (errno != EINTR)
          return handfail(L, s, "failed", strerror(errno));
        nb_checkinterrupt(L);
      }
    }
  }
}

/* one certificate as a table */
static void pushcert(lua_State *L, X509 *c) {
  char buf[1024], names[8192];
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0, i;
  GENERAL_NAMES *gs;
  int n = 0, crit = -1;
  lua_createtable(L, 0, 8);
  nametext(X509_get_subject_name(c), buf, sizeof buf);
  lua_pushstring(L, buf);
  lua_setfield(L, -2, "subject");
  nametext(X509_get_issuer_name(c), buf, sizeof buf);
  lua_pushstring(L, buf);
  lua_setfield(L, -2, "issuer");
  timetext(X509_get0_notBefore(c), 1, buf, sizeof buf);
  lua_pushstring(L, buf);
  lua_setfield(L, -2, "not_before");
  timetext(X509_get0_notAfter(c), 1, buf, sizeof buf);
  lua_pushstring(L, buf);
  lua_setfield(L, -2, "not_after");
  /* the names, gathered before any push (a push may raise: gs would
  ** leak), each ending in '\0'; as many as fit */
  gs = X509_get_ext_d2i(c, NID_subject_alt_name, &crit, NULL);
  if (gs == NULL && crit >= 0) {  /* there, but not read: no memory */
    ERR_clear_error();
    luaL_error(L, "not enough memory");
  }
  if (gs != NULL) {
    int k;
    size_t o = 0;
    for (k = 0; k < sk_GENERAL_NAME_num(gs); k++) {
      char one[300];
      size_t size;
      if (!gentext(sk_GENERAL_NAME_value(gs, k), one, sizeof one)) continue;
      size = strlen(one) + 1;
      if (o + size > sizeof names) break;
      memcpy(names + o, one, size);
      o += size;
      n++;
    }
    GENERAL_NAMES_free(gs);
  }
  if (n == 0 && cntext(c, names, sizeof names)) n = 1;
  lua_createtable(L, n, 0);
  {
    const char *p = names;
    int k;
    for (k = 1; k <= n; k++) {
      lua_pushstring(L, p);
      lua_rawseti(L, -2, k);
      p += strlen(p) + 1;
    }
  }
  lua_setfield(L, -2, "names");
  if (X509_digest(c, EVP_sha256(), md, &len)) {
    for (i = 0; i < len && i * 3 + 3 < sizeof buf; i++)
      snprintf(buf + i * 3, 4, "%02X%s", md[i], i + 1 < len ? ":" : "");
    lua_pushstring(L, buf);
    lua_setfield(L, -2, "sha256");
  }
  if (pinof(c, md)) {
    pintext(md, buf, sizeof buf);
    lua_pushstring(L, buf);
    lua_setfield(L, -2, "pin");
  }
  lua_pushboolean(L, X509_self_signed(c, 0) == 1);
  lua_setfield(L, -2, "self_signed");
  ERR_clear_error();
}

/*
** ** info(s) -> table (tlsinfo), or nil for a plain socket. A handshake
** not done yet (an accepted socket not used) is done first: the Lua
** half calls handshake before this.
*/
static int tls_info(lua_State *L) {
  nb_sock *s = checksock(L, 1);
  tls_layer *ly;
  const unsigned char *alpn;
  unsigned alen = 0;
  const char *sni;
  STACK_OF(X509) *chain;
  X509 *leaf;
  int i, n = 0;
  long vr;
  if (s->lops != &tls_ops) {
    lua_pushnil(L);
    return 1;
  }
  ly = LAYER(s);
  lua_createtable(L, 0, 9);
  lua_pushstring(L, SSL_get_version(ly->ssl));
  lua_setfield(L, -2, "version");
  lua_pushstring(L, SSL_get_cipher_name(ly->ssl));
  lua_setfield(L, -2, "cipher");
  SSL_get0_alpn_selected(ly->ssl, &alpn, &alen);
  if (alen > 0) {
    char buf[1024];
    shown(buf, sizeof buf, alpn, alen);
    lua_pushstring(L, buf);
    lua_setfield(L, -2, "alpn");
  }
  sni = SSL_get_servername(ly->ssl, TLSEXT_NAMETYPE_host_name);
  if (sni != NULL) {
    char buf[300];
    shown(buf, sizeof buf, (const unsigned char *)sni, strlen(sni));
    lua_pushstring(L, buf);
    lua_setfield(L, -2, "servername");
  }
  leaf = SSL_get0_peer_certificate(ly->ssl);
  vr = SSL_get_verify_result(ly->ssl);
  if (ly->pinned) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "verified");
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "pinned");
  } else if (leaf == NULL) {
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "verified");
    lua_pushstring(L, ly->server ? "the client sent no certificate"
                                 : "the server sent no certificate");
    lua_setfield(L, -2, "why");
  } else if (vr == X509_V_OK && ly->firsterr == X509_V_OK) {
    /* with verify off the checks ran too (verify_cb kept the first
    ** error and let the handshake go on): it would have been verified */
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "verified");
  } else {
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "verified");
    if (ly->why[0] != '\0')
      lua_pushstring(L, ly->why);
    else
      lua_pushfstring(L, "certificate %s", X509_verify_cert_error_string(vr));
    lua_setfield(L, -2, "why");
  }
  lua_newtable(L);
  if (ly->server && leaf != NULL) {
    pushcert(L, leaf);
    lua_rawseti(L, -2, ++n);
  }
  chain = SSL_get_peer_cert_chain(ly->ssl);
  for (i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
    pushcert(L, sk_X509_value(chain, i));
    lua_rawseti(L, -2, ++n);
  }
  lua_setfield(L, -2, "chain");
  return 1;
}

/* has(s): is s a TLS socket, and has its handshake been done? */
static int tls_state(lua_State *L) {
  nb_sock *s = (nb_sock *)luaL_checkudata(L, 1, NB_SOCKET_T);
  if (s->fd < 0 || s->lops != &tls_ops) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushboolean(L, LAYER(s)->done);
  return 1;
}

/* ---------------------------------------------------------------------
** Registration
** ------------------------------------------------------------------ */

static const luaL_Reg tls_funcs[] = {
  {"context", tls_context},
  {"attach", tls_attach},
  {"handshake", tls_handshake},
  {"info", tls_info},
  {"state", tls_state},
  {NULL, NULL}
};

/* OpenSSL's allocations through ours (netbasics.h), so the
** allocation-failure walk reaches them too; only when the walk asks, and
** only if OpenSSL has not allocated yet (libcurl may have started it) */
static void *ossl_malloc(size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  return nb_malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  return nb_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line) {
  (void)file;
  (void)line;
  free(p);
}

NB_EXPORT int luaopen_netbasics_tls(lua_State *L) {
  nb_open_common(L);
  if (getenv("NETBASICS_FAILMALLOC") != NULL)
    CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free);
  if (sockbio == NULL) {
    /* libcrypto stays loaded to the end of the process (it pins itself)
    ** and keeps what this module gave it: the BIO method, the ex data
    ** indexes, the allocation functions. So this module stays too, past
    ** the dlclose of lua_close. */
    Dl_info self;
    if (dladdr((void *)ossl_free, &self) && self.dli_fname != NULL)
      dlopen(self.dli_fname, RTLD_NOW | RTLD_NODELETE);
  }
  lua_getfield(L, LUA_REGISTRYINDEX, NB_LOOP_API);
  if (lua_touserdata(L, -1) == NULL) {
    /* required before netbasics: the core first (its sockets, its
    ** loop), through require as a script would */
    lua_pop(L, 1);
    if (lua_getglobal(L, "require") != LUA_TFUNCTION)
      return luaL_error(L, "netbasics.tls: netbasics.core is not loaded "
                        "and there is no require to load it");
    lua_pushliteral(L, "netbasics.core");
    lua_call(L, 1, 0);
    lua_getfield(L, LUA_REGISTRYINDEX, NB_LOOP_API);
  }
  api = (const nb_loop_api *)lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (api == NULL) return luaL_error(L, "netbasics.tls: netbasics.core did "
                                     "not start its loop");
  if (OPENSSL_init_ssl(0, NULL) != 1)
    return luaL_error(L, "netbasics.tls: OpenSSL did not start");
  if (conf_idx < 0)
    conf_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, conf_free);
  if (layer_idx < 0)
    layer_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  if (sockbio == NULL) {
    sockbio = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK
                           | BIO_TYPE_DESCRIPTOR, "netbasics socket");
    if (sockbio == NULL) return luaL_error(L, "not enough memory");
    BIO_meth_set_write(sockbio, bio_write);
    BIO_meth_set_read(sockbio, bio_read);
    BIO_meth_set_ctrl(sockbio, bio_ctrl);
    BIO_meth_set_create(sockbio, bio_create);
  }
  if (conf_idx < 0 || layer_idx < 0)
    return luaL_error(L, "not enough memory");
  luaL_newmetatable(L, NB_TLSCTX_T);
  lua_pushcfunction(L, ctx_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newlib(L, tls_funcs);
  nb_open_tlscert(L);
  return 1;
}
