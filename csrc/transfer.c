/*
** transfer.c: the fetch family's transfer engine: buffers, libcurl's
** callbacks, the temporary file of a download, the progress bar, and the
** mapping of libcurl's outcomes to codes. No Lua here (see transfer.h).
*/
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "netbasics.h"
#include "transfer.h"

/* ---------------------------------------------------------------------
** Helpers (no Lua)
** ------------------------------------------------------------------ */

static double monotonic(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* a large buffer in huge pages where the kernel hands them out on
** request (transparent huge pages in "madvise" mode): a 100 MiB body then
** costs about 50 page faults instead of 25,600 (a hint: no error) */
#define HUGE_PAGE ((uintptr_t)2 << 20)
static void buf_hugepages(char *p, size_t cap) {
#ifdef MADV_HUGEPAGE
  uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
  uintptr_t e = ((uintptr_t)p + cap) & ~(HUGE_PAGE - 1);
  if (cap >= 2 * HUGE_PAGE && e > a)
    (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
  (void)p;
  (void)cap;
#endif
}

/* grow `b` to hold `need` more bytes: 0 ok, -1 out of memory */
static int buf_reserve(nb_buf *b, size_t need) {
  size_t cap;
  char *p;
  if (b->cap - b->len >= need)
    return 0;
  if (need > SIZE_MAX / 2 - b->len)
    return -1;
  cap = b->cap ? b->cap : 4096;
  while (cap - b->len < need)
    cap *= 2;
  p = nb_realloc(b->p, cap);
  if (p == NULL)
    return -1;
  b->p = p;
  b->cap = cap;
  buf_hugepages(p, cap);
  return 0;
}

static int buf_add(nb_buf *b, const char *s, size_t n) {
  if (buf_reserve(b, n) != 0)
    return -1;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  return 0;
}

void nb_buf_free(nb_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* write all of `n` bytes: 0 or an errno */
static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* the permissions a new file gets: 0666 less the umask */
static mode_t newfile_mode(void) {
  mode_t u = umask(022);
  umask(u);
  return 0666 & ~u;
}

static const char *basename_of(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* curl's outcome as one of API.md's codes */
const char *nb_xfer_code(CURLcode rc, long oserr) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout";
    case CURLE_COULDNT_CONNECT:
      if (oserr == ENETUNREACH || oserr == EHOSTUNREACH)
        return "unreachable";
      return "refused";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return "resolve";
    case CURLE_UNSUPPORTED_PROTOCOL:
      return "protocol";
    case CURLE_URL_MALFORMAT:
      return "malformed";
    case CURLE_TOO_MANY_REDIRECTS:
      return "redirects";
    case CURLE_FILESIZE_EXCEEDED:
      return "toobig";
    case CURLE_HTTP_RETURNED_ERROR:
      return "http";
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
      return "closed";
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
      return "tls";
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_RANGE_ERROR:
      return "protocol";
    case CURLE_OUT_OF_MEMORY:
      return "memory";
    case CURLE_WRITE_ERROR:
      return "io";
    default:
      return "curl";
  }
}

/* ---------------------------------------------------------------------
** libcurl callbacks: C buffers and flags only, never a lua_* call
** ------------------------------------------------------------------ */

static int fail(xfer *x, const char *code, const char *why);

/* body bytes as the caller gets them (decoded): 0, 1 to pause the
** transfer (x->paused), or -1 with x->failcode set */
static int deliver(xfer *x, const char *data, size_t n) {
  if (x->max_bytes >= 0 && (curl_off_t)n > x->max_bytes - x->bytes) {
    x->failcode = "toobig";
    return -1;
  }
  if (n == 0)
    return 0;
  if (x->download) {
    int e = write_all(x->fd, data, n);
    if (e != 0) {
      x->failcode = "io";
      x->failerrno = e;
      return -1;
    }
  } else {
    if (x->direct == 1) {
      /* straight into the Lua string when the length is announced and
      ** fits max_bytes, and no decoding changes it */
      curl_off_t cl = -1;
      curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
      x->direct = 0;
      if (x->coding == NB_CODING_NONE && cl > 0
          && (x->max_bytes < 0 || cl <= x->max_bytes)) {
        x->direct = 2;
        x->length = cl;
      }
    }
    if (x->direct == 2) {
      if ((curl_off_t)n > x->length - x->bytes)
        return fail(x, "protocol", "the body is longer than its "
                    "Content-Length");
      if (x->dst) {
        /* the only copy: libcurl's buffer to the string's bytes */
        memcpy(x->dst + x->bytes, data, n);
        x->bytes += (curl_off_t)n;
        return 0;
      }
      if (x->stage.len >= NB_BUFFERSIZE) {
        x->paused = 1;  /* lua_load takes these first (fetch.c) */
        return 1;
      }
      if (buf_add(&x->stage, data, n) != 0) {
        x->failcode = "memory";
        return -1;
      }
      x->bytes += (curl_off_t)n;
      return 0;
    }
    if (x->body.cap == 0) {
      /* the whole body at once when its length is known (bounded: a
      ** server may announce more than it sends) */
      curl_off_t cl = -1;
      curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
      if (cl > 0 && (x->max_bytes < 0 || cl <= x->max_bytes)
          && (size_t)cl <= NB_PREALLOC_MAX)
        buf_reserve(&x->body, (size_t)cl + 1);
    }
    if (buf_add(&x->body, data, n) != 0) {
      x->failcode = "memory";
      return -1;
    }
  }
  x->bytes += (curl_off_t)n;
  return 0;
}

static int fail(xfer *x, const char *code, const char *why) {
  x->failcode = code;
  x->why = why;
  return -1;
}

/* the value of header `name` in the last response's headers, or NULL;
** *more is set when the name comes more than once */
static const char *header_value(const xfer *x, const char *name, int *more) {
  size_t i = 0;
  const char *found = NULL;
  *more = 0;
  while (i < x->hdrs.len) {
    const char *k = x->hdrs.p + i;
    const char *v = k + strlen(k) + 1;
    i = (size_t)(v - x->hdrs.p) + strlen(v) + 1;
    if (strcmp(k, name) == 0) {
      if (found)
        *more = 1;
      else
        found = v;
    }
  }
  return found;
}

/* the body's coding, from the final response's Content-Encoding: 0, or
** -1 when it is one we do not decode (we asked for gzip and deflate) */
static int choose_coding(xfer *x) {
  int more;
  const char *v = x->decode ? header_value(x, "content-encoding", &more)
                            : NULL;
  x->coding = NB_CODING_NONE;
  if (v == NULL || *v == '\0' || strcasecmp(v, "identity") == 0)
    return 0;
  if (more || strchr(v, ',') != NULL)
    return fail(x, "protocol", "the body has more than one content coding "
                "(netbasics decodes one: gzip or deflate)");
  if (strcasecmp(v, "gzip") == 0 || strcasecmp(v, "x-gzip") == 0)
    x->coding = NB_CODING_GZIP;
  else if (strcasecmp(v, "deflate") == 0)
    x->coding = NB_CODING_DEFLATE;
  else
    return fail(x, "protocol", "the body has a content coding netbasics "
                "did not ask for (it asks for gzip and deflate)");
  return 0;
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  (void)opaque;
  return nb_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p) {
  (void)opaque;
  free(p);
}

/*
** ** Compressed body bytes through zlib's inflate: gzip (members one
** after another, as gzip -d reads them), deflate with zlib's wrapper or
** without (raw, as some servers send it: told by the first byte). The
** end is Z_STREAM_END; nb_xfer_cut says when it never came.
*/
static int inflate_some(xfer *x, const char *data, size_t n) {
  unsigned char out[16384];
  if (!x->zinit) {
    int bits = 15 + 16;
    if (x->coding == NB_CODING_DEFLATE) {
      unsigned char c = (unsigned char)data[0];
      int zlib = (c & 0x0f) == 8 && (c >> 4) <= 7
                 && (n < 2 || (c * 256 + (unsigned char)data[1]) % 31 == 0);
      bits = zlib ? 15 : -15;
    }
    memset(&x->z, 0, sizeof x->z);
    x->z.zalloc = z_alloc;
    x->z.zfree = z_free;
    if (inflateInit2(&x->z, bits) != Z_OK)
      return fail(x, "memory", NULL);
    x->zinit = 1;
  }
  x->z.next_in = (Bytef *)data;
  x->z.avail_in = (uInt)n;
  for (;;) {
    int r;
    size_t got;
    uInt before = x->z.avail_in;
    if (x->zend) {
      if (x->z.avail_in == 0)
        return 0;
      if (x->coding != NB_CODING_GZIP)
        return fail(x, "protocol", "the body has bytes after the end of "
                    "its compressed data");
      inflateReset(&x->z);  /* the next gzip member */
      x->zend = 0;
    }
    x->z.next_out = out;
    x->z.avail_out = sizeof out;
    r = inflate(&x->z, Z_NO_FLUSH);
    got = sizeof out - x->z.avail_out;
    if (r == Z_STREAM_END)
      x->zend = 1;
    else if (r == Z_MEM_ERROR)
      return fail(x, "memory", NULL);
    else if (r != Z_OK && r != Z_BUF_ERROR)
      return fail(x, "protocol", x->coding == NB_CODING_GZIP
                  ? "the body is not valid gzip data"
                  : "the body is not valid deflate data");
    if (deliver(x, (const char *)out, got) != 0)
      return -1;
    if (x->z.avail_in == 0 && got < sizeof out && !x->zend)
      return 0;  /* all taken, nothing more pending */
    if (got == 0 && x->z.avail_in == before && !x->zend)
      return fail(x, "protocol", "the body's compressed data is stuck");
  }
}

size_t nb_xfer_write(char *data, size_t size, size_t nmemb, void *ud) {
  xfer *x = ud;
  size_t n = size * nmemb;
  if (x->coding == NB_CODING_UNSET && choose_coding(x) != 0)
    return 0;
  if (n == 0)
    return 0;
  if (x->coding == NB_CODING_NONE) {
    int r = deliver(x, data, n);
    return r == 0 ? n : r == 1 ? CURL_WRITEFUNC_PAUSE : 0;
  }
  return inflate_some(x, data, n) == 0 ? n : 0;
}

void nb_xfer_inplace(xfer *x, char *dst) {
  buf_hugepages(dst, (size_t)x->length);
  x->dst = dst;
}

int nb_xfer_cut(const xfer *x) {
  return x->coding > NB_CODING_NONE && x->zinit && !x->zend;
}

const char NB_NOMEM[] = "not enough memory";

/* a host as a key to compare: an IPv6 address in RFC 5952 form,
** anything else lower-cased; 0, or -1 if it is none of ours */
static int host_key(const char *h, size_t n, char *out, size_t size) {
  uint8_t a[16];
  size_t i;
  if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
    if (nb_parse_ipv6(h + 1, n - 2, a) != 0)
      return -1;
    nb_format_ipv6(a, out);
    return 0;
  }
  if (n >= size)
    return -1;
  for (i = 0; i < n; i++)
    out[i] = (char)((h[i] >= 'A' && h[i] <= 'Z') ? h[i] + 32 : h[i]);
  out[n] = '\0';
  return 0;
}

const char *nb_curl_agrees(const char *base, const char *url, size_t hs,
                           size_t hl) {
  CURLU *u;
  CURLUcode rc;
  char *host = NULL, *zone = NULL;
  char ours[256], theirs[256];
  const char *why = NULL;
  if (hl == 0)
    return NULL;  /* a relative target: base's host, checked already */
  if ((u = curl_url()) == NULL)
    return NB_NOMEM;
  rc = CURLUE_OK;
  if (base)
    rc = curl_url_set(u, CURLUPART_URL, base, CURLU_NON_SUPPORT_SCHEME);
  if (rc == CURLUE_OK)
    rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME
                      | (base ? CURLU_URLENCODE | CURLU_ALLOW_SPACE : 0));
  if (rc == CURLUE_OK)
    rc = curl_url_get(u, CURLUPART_HOST, &host, 0);
  if (rc == CURLUE_OUT_OF_MEMORY) {
    why = NB_NOMEM;
  } else if (rc == CURLUE_OK) {
    if (curl_url_get(u, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK && zone)
      why = "has an IPv6 zone id (like %eth0): refused everywhere";
    else if (host_key(url + hs, hl, ours, sizeof ours) != 0
             || host_key(host, strlen(host), theirs, sizeof theirs) != 0
             || strcmp(ours, theirs) != 0)
      why = "has a host that libcurl reads differently";
  }
  curl_free(host);
  curl_free(zone);
  curl_url_cleanup(u);
  return why;
}

/*
** ** RFC 9112, section 6.3: Content-Length values that differ (in two
** headers, or a list "5, 6" in one) make a response invalid; libcurl
** would keep the last. Equal ones ("5, 5") are one. 0, or -1.
*/
static int check_length(xfer *x, const char *v, size_t n) {
  size_t i = 0, s, e, k;
  while (i <= n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t'))
      i++;
    for (s = i; i < n && v[i] != ','; i++)
      ;
    for (e = i; e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'); e--)
      ;
    while (e - s > 1 && v[s] == '0')
      s++;
    if (e == s || e - s >= sizeof x->clen)
      return -1;
    for (k = s; k < e; k++)
      if (v[k] < '0' || v[k] > '9')
        return -1;
    if (x->clen[0] == '\0') {
      memcpy(x->clen, v + s, e - s);
      x->clen[e - s] = '\0';
    } else if (strlen(x->clen) != e - s || memcmp(x->clen, v + s, e - s)) {
      return -1;
    }
    i++;  /* the comma */
  }
  return 0;
}

/*
** ** A redirect's target, before libcurl follows it: its host through
** our strict parsers, then libcurl's reading of it (relative to where
** this response came from) must agree. 0, or -1 with the failure set
** and the target kept for the message.
*/
static int check_redirect(xfer *x, const char *v, size_t n) {
  size_t hs, hl, k;
  const char *why;
  char *loc, *base = NULL, scheme[NB_SCHEME_MAX];
  /* a well-formed scheme not allowed: libcurl refuses it ("protocol") */
  for (k = 0; k < n && k + 1 < sizeof scheme; k++) {
    int c = (unsigned char)v[k];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
          || (k > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-'
                        || c == '.'))))
      break;
    scheme[k] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
  }
  scheme[k] = '\0';
  if (k > 0 && k < n && v[k] == ':' && !nb_protocol_listed(x->redir, scheme))
    return 0;
  why = nb_check_location(v, n, &hs, &hl);
  if (why == NULL && hl > 0) {
    if ((loc = nb_malloc(n + 1)) == NULL)
      return fail(x, "memory", NULL);
    memcpy(loc, v, n);
    loc[n] = '\0';
    curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &base);
    why = nb_curl_agrees(base, loc, hs, hl);
    free(loc);
    if (why == NB_NOMEM)
      return fail(x, "memory", NULL);
  }
  if (why == NULL)
    return 0;
  x->loclen = n;
  memcpy(x->loc, v, n < sizeof x->loc ? n : sizeof x->loc);
  return fail(x, "malformed", why);
}

/*
** ** One header line per call, CRLF included. A status line starts a new
** response (after a redirect or a 100 Continue): forget what came
** before, so the headers are those of the final response. Names are
** lower-cased; a folded line (obs-fold) continues the last value.
*/
size_t nb_xfer_header(char *data, size_t size, size_t nmemb, void *ud) {
  xfer *x = ud;
  size_t n = size * nmemb, len = n, i, name;
  while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
    len--;
  if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
    const char *p = memchr(data, ' ', len), *r;
    x->hdrs.len = 0;
    x->reason[0] = '\0';
    x->clen[0] = '\0';
    x->status = 0;
    /* libcurl's error buffer keeps a transfer's first failure, also one
    ** it recovered from (a reused connection that was gone): a message
    ** must be about the failure its code names */
    x->errbuf[0] = '\0';
    for (i = p ? (size_t)(p + 1 - data) : len; i < len && i < 12
         && data[i] >= '0' && data[i] <= '9'; i++)
      x->status = x->status * 10 + (data[i] - '0');
    if (p && (r = memchr(p + 1, ' ', len - (size_t)(p + 1 - data)))) {
      size_t rl = len - (size_t)(r + 1 - data);
      if (rl >= sizeof x->reason)
        rl = sizeof x->reason - 1;
      memcpy(x->reason, r + 1, rl);
      x->reason[rl] = '\0';
    }
    return n;
  }
  if (len == 0)
    return n;
  if (x->hdrs.len + len + 2 > NB_HEADERS_MAX) {
    fail(x, "toobig", "the response's header and trailer lines are "
         "larger than 1 MiB");
    return 0;
  }
  if (data[0] == ' ' || data[0] == '\t') {  /* obs-fold */
    if (x->hdrs.len == 0)
      return n;
    while (len > 0 && (data[0] == ' ' || data[0] == '\t'))
      data++, len--;
    x->hdrs.p[x->hdrs.len - 1] = ' ';  /* the value's NUL */
    if (buf_add(&x->hdrs, data, len) != 0 || buf_add(&x->hdrs, "", 1) != 0)
      goto nomem;
    return n;
  }
  for (name = 0; name < len && data[name] != ':'; name++)
    ;
  if (name == 0 || name == len)
    return n;  /* not a header line: ignore it */
  if (buf_reserve(&x->hdrs, len + 2) != 0)
    goto nomem;
  for (i = 0; i < name; i++) {
    int c = (unsigned char)data[i];
    x->hdrs.p[x->hdrs.len++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
  }
  x->hdrs.p[x->hdrs.len++] = '\0';
  i = name + 1;
  while (i < len && (data[i] == ' ' || data[i] == '\t'))
    i++;
  while (len > i && (data[len - 1] == ' ' || data[len - 1] == '\t'))
    len--;
  memcpy(x->hdrs.p + x->hdrs.len, data + i, len - i);
  x->hdrs.len += len - i;
  x->hdrs.p[x->hdrs.len++] = '\0';
  if (name == 14 && memcmp(x->hdrs.p + x->hdrs.len - (len - i) - 16,
                           "content-length", 14) == 0
      && check_length(x, data + i, len - i) != 0) {
    fail(x, "protocol", "the response has Content-Length values that "
         "differ or are not numbers (RFC 9112, section 6.3)");
    return 0;
  }
  if (name == 8 && x->follow && x->status >= 300 && x->status < 400
      && memcmp(x->hdrs.p + x->hdrs.len - (len - i) - 10, "location", 8)
         == 0
      && check_redirect(x, data + i, len - i) != 0)
    return 0;
  return n;
nomem:
  x->failcode = "memory";
  return 0;
}

int nb_xfer_socket(CURL *e, curl_socket_t s, int what, void *ud, void *sp) {
  xfer *x = (xfer *)ud;
  int i;
  (void)e;
  (void)sp;
  for (i = 0; i < x->nsocks && x->socks[i] != (int)s; i++)
    ;
  if (what == CURL_POLL_REMOVE) {
    if (i < x->nsocks) {
      x->nsocks--;
      x->socks[i] = x->socks[x->nsocks];
      x->events[i] = x->events[x->nsocks];
    }
    /* maybe still open (kept for reuse): the loop adds it again if so */
    if (x->closed) x->closed((int)s);
    return 0;
  }
  if (i == x->nsocks) {
    if (x->nsocks == NB_XFER_SOCKS) return -1;
    x->nsocks++;
    x->socks[i] = (int)s;
  }
  x->events[i] = (short)(((what & CURL_POLL_IN) ? POLLIN : 0)
                         | ((what & CURL_POLL_OUT) ? POLLOUT : 0));
  return 0;
}

int nb_xfer_timer(CURLM *m, long ms, void *ud) {
  xfer *x = (xfer *)ud;
  (void)m;
  x->timer_at = ms < 0 ? -1 : x->now() + (double)ms / 1000.0;
  return 0;
}

int nb_xfer_closesocket(void *ud, curl_socket_t s) {
  xfer *x = (xfer *)ud;
  if (x->closed) x->closed((int)s);
  return close((int)s);
}

void nb_xfer_release(xfer *x) {
  if (x->multi && x->easy)
    curl_multi_remove_handle(x->multi, x->easy);
  if (x->easy)
    curl_easy_cleanup(x->easy);
  if (x->multi)
    curl_multi_cleanup(x->multi);
  x->easy = NULL;
  x->multi = NULL;
  curl_slist_free_all(x->reqhdrs);
  x->reqhdrs = NULL;
  if (x->fd >= 0)
    close(x->fd);
  x->fd = -1;
  if (x->tmppath) {
    unlink(x->tmppath);
    free(x->tmppath);
    x->tmppath = NULL;
  }
  free(x->path);
  x->path = NULL;
  if (x->zinit)
    inflateEnd(&x->z);
  x->zinit = 0;
  nb_buf_free(&x->body);
  nb_buf_free(&x->stage);
  nb_buf_free(&x->hdrs);
}

/* the temporary file beside x->path: mkstemp (O_EXCL: a planted symlink
** or file is never followed nor reused). 0 or an errno */
int nb_xfer_tmpfile(xfer *x) {
  const char *base = basename_of(x->path);
  size_t dirlen = (size_t)(base - x->path), blen = strlen(base);
  struct stat st;
  if (blen > 200)
    blen = 200;  /* stay under NAME_MAX with the suffix */
  x->tmppath = nb_malloc(dirlen + blen + 16);
  if (x->tmppath == NULL)
    return ENOMEM;
  sprintf(x->tmppath, "%.*s.%.*s.XXXXXX", (int)dirlen, x->path, (int)blen,
          base);
  x->fd = mkostemp(x->tmppath, O_CLOEXEC);
  if (x->fd < 0) {
    int e = errno;
    free(x->tmppath);
    x->tmppath = NULL;
    return e;
  }
  /* a file replaced keeps its permissions, as with open(path, "w") */
  if (stat(x->path, &st) == 0 && S_ISREG(st.st_mode))
    x->mode = st.st_mode & 0777;
  else
    x->mode = newfile_mode();
  return 0;
}

int nb_curl_init(void) {
  static int done = 0;
  if (!done) {
    /* libcurl's memory from ours (netbasics.h); a failure (out of
    ** memory) is said by the caller and tried again next time */
    if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, nb_malloc, free,
                             nb_realloc, nb_strdup, nb_calloc) != CURLE_OK)
      return -1;
    done = 1;
  }
  return 0;
}

/* "12.3 MiB" */
static void human(char *out, size_t size, double v) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(out, size, "%.0f B", v);
  else
    snprintf(out, size, "%.1f %s", v, units[u]);
}

/*
** ** A bar like curl's: percent, bytes, rate and time left (or the total
** time at the end), redrawn at most five times a second on stderr.
*/
void nb_xfer_bar(xfer *x, int final) {
  curl_off_t now = 0, total = -1, rate = 0, usec = 0;
  char a[32], b[32], r[32], line[128];
  double t = monotonic();
  int n, width = 16, fill;
  if (!final && t - x->last_draw < 0.2)
    return;
  curl_easy_getinfo(x->easy, CURLINFO_SIZE_DOWNLOAD_T, &now);
  curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &total);
  curl_easy_getinfo(x->easy, CURLINFO_SPEED_DOWNLOAD_T, &rate);
  curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &usec);
  if (!final && now == 0)
    return;  /* nothing to show before the body starts */
  x->last_draw = t;
  human(r, sizeof r, (double)rate);
  if (total > 0) {
    /* bytes as they travel (compressed, if so), as the length is */
    double f = (double)now / (double)total;
    double left = rate > 0 ? (double)(total - now) / (double)rate : -1;
    long secs = final ? (long)(usec / 1000000) : (long)left;
    if (f > 1)
      f = 1;
    fill = (int)(f * width);
    human(a, sizeof a, (double)now);
    human(b, sizeof b, (double)total);
    n = snprintf(line, sizeof line, "%5.1f%% [%.*s%*s] %s of %s  %s/s  ",
                 f * 100, fill, "################",
                 width - fill, "", a, b, r);
    if (n > 0 && (size_t)n < sizeof line && (final || left >= 0))
      snprintf(line + n, sizeof line - (size_t)n, "%ld:%02ld %s", secs / 60,
               secs % 60, final ? "total" : "left");
  } else {
    /* no length known: the body's bytes so far */
    long secs = (long)(usec / 1000000);
    human(a, sizeof a, (double)x->bytes);
    snprintf(line, sizeof line, "%s  %s/s  %ld:%02ld", a, r, secs / 60,
             secs % 60);
  }
  /* one width, so a shorter line covers a longer one */
  fprintf(stderr, "\r%-79s%s", line, final ? "\n" : "");
  fflush(stderr);
  x->barshown = 1;
}

