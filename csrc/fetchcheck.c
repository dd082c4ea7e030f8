/*
** fetchcheck.c: the fetch family's checks of outside input, done before
** libcurl sees it. Plain C (no Lua, no libcurl) so a fuzzer can call
** them: each reads exactly the bytes it is given and returns NULL when
** the input is acceptable, else a short reason for the error message.
*/
#include <stdint.h>
#include <string.h>

#include "netbasics.h"

static int isalpha_(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int isdigit_(int c) {
  return c >= '0' && c <= '9';
}

static int tolower_(int c) {
  return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* RFC 9110 tchar: what a header name or a method may be made of */
static int istchar(int c) {
  return isalpha_(c) || isdigit_(c)
         || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
** ** The authority of a URL, s[start..end): [userinfo@]host[:port]. The
** host goes through the strict parsers of the rest of netbasics, so
** that libcurl (and getaddrinfo under it) never reads a loose form:
** "[v6]" with no zone id (neither %eth0 nor %25eth0), a dotted quad
** with no leading zeros, or a host name whose last label is not a
** number (127.1, 0x7f.1, 2130706433, 127.000.0.1 and 127.0.0.1. are
** refused). The host's place goes to *hs and *hl.
*/
static const char *check_authority(const char *s, size_t start, size_t end,
                                   size_t *hs, size_t *hl) {
  size_t i, hend;
  uint8_t a[16];
  unsigned port;
  for (i = end; i > start; i--)
    if (s[i - 1] == '@') {
      start = i;
      break;
    }
  if (start == end || s[start] == ':')
    return "has no host";
  if (s[start] == '[') {
    const char *close = memchr(s + start, ']', end - start);
    if (close == NULL)
      return "has a '[' with no ']'";
    hend = (size_t)(close - s) + 1;
    *hs = start;
    *hl = hend - start;
    if (memchr(s + start, '%', hend - start) != NULL)
      return "has an IPv6 zone id (like %eth0): refused everywhere";
    if (nb_parse_ipv6(s + start + 1, hend - start - 2, a) != 0)
      return "has a malformed IPv6 address in its host";
  } else {
    for (hend = start; hend < end && s[hend] != ':'; hend++)
      ;
    *hs = start;
    *hl = hend - start;
    if (nb_parse_ipv4(s + start, hend - start, a) != 0
        && nb_check_hostname(s + start, hend - start) != 0)
      return "has a malformed host: neither a strict IPv4 address (loose "
             "forms like 127.1 or 0x7f.1 are refused) nor a host name";
  }
  if (hend < end) {
    if (s[hend] != ':')
      return "has bytes after the host's ']'";
    if (hend + 1 < end && nb_parse_port(s + hend + 1, end - hend - 1,
                                        &port) != 0)
      return "has a malformed port";
  }
  return NULL;
}

/* the end of the authority that starts at `start`: at / ? # */
static size_t authority_end(const char *s, size_t n, size_t start) {
  size_t end;
  for (end = start; end < n && s[end] != '/' && s[end] != '?'
       && s[end] != '#'; end++)
    ;
  return end;
}

/*
** ** A URL as a user or a program hands it over: no spaces, controls or
** backslashes (which browsers and libcurl read differently), an explicit
** scheme (libcurl would guess "http://" for "example.org"; urllib
** refuses it, and so do we), "//" and a host for every scheme but file:.
** The lower-cased scheme goes to `scheme` (NB_SCHEME_MAX bytes with the
** NUL) as soon as it is read; it stays "" when there is none.
*/
const char *nb_check_url(const char *s, size_t n, char *scheme) {
  size_t i, k, start, end;
  scheme[0] = '\0';
  if (n == 0)
    return "is empty";
  if (n > NB_URL_MAX)
    return "is too long";
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c == 0x7f)
      return "contains a space or a control character";
    if (c == '\\')
      return "contains a backslash";
  }
  /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
  for (k = 0; k < n && s[k] != ':'; k++) {
    int c = (unsigned char)s[k];
    if (!(isalpha_(c) || (k > 0 && (isdigit_(c) || c == '+' || c == '-'
                                     || c == '.'))))
      return "has no scheme (like http://)";
  }
  if (k == 0 || k == n || k >= NB_SCHEME_MAX)
    return "has no scheme (like http://)";
  for (i = 0; i < k; i++)
    scheme[i] = (char)tolower_((unsigned char)s[i]);
  scheme[k] = '\0';
  if (n - k < 3 || s[k + 1] != '/' || s[k + 2] != '/')
    return "has no // after the scheme";
  if (strcmp(scheme, "file") == 0)
    return NULL;
  /* the authority: [userinfo@]host[:port], up to / ? # */
  start = k + 3;
  end = authority_end(s, n, start);
  return check_authority(s, start, end, &i, &k);
}

/*
** ** A redirect's target (a Location header's value) before libcurl
** follows it: no controls or backslashes; an absolute URL ("scheme://")
** or a network-path one ("//host/...") has its host checked as
** nb_check_url does, where *hs and *hl say it is (*hl is 0 for a
** relative reference: the host stays the same).
*/
const char *nb_check_location(const char *s, size_t n, size_t *hs,
                              size_t *hl) {
  size_t i, k, start;
  *hs = *hl = 0;
  if (n > NB_URL_MAX)
    return "is too long";
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f)
      return "contains a control character";
    if (c == '\\')
      return "contains a backslash";
  }
  for (k = 0; k < n && s[k] != ':' && s[k] != '/' && s[k] != '?'
       && s[k] != '#'; k++)
    ;
  if (k < n && s[k] == ':' && k > 0) {  /* a scheme, maybe */
    for (i = 0; i < k; i++) {
      int c = (unsigned char)s[i];
      if (!(isalpha_(c) || (i > 0 && (isdigit_(c) || c == '+' || c == '-'
                                       || c == '.'))))
        break;
    }
    if (i == k) {
      if (n - k < 3 || s[k + 1] != '/' || s[k + 2] != '/')
        return "has no // after the scheme";
      start = k + 3;
      return check_authority(s, start, authority_end(s, n, start), hs, hl);
    }
  }
  if (n >= 2 && s[0] == '/' && s[1] == '/')
    return check_authority(s, 2, authority_end(s, n, 2), hs, hl);
  return NULL;
}

/* a header field: a token name, a value with no CR, LF or other controls
** but tab (RFC 9110 field-value), so no header can smuggle another */
const char *nb_check_header(const char *name, size_t nlen,
                            const char *value, size_t vlen) {
  size_t i;
  if (nlen == 0)
    return "has an empty name";
  if (nlen > 256)
    return "has a name too long";
  for (i = 0; i < nlen; i++) {
    int c = (unsigned char)name[i];
    if (c == '\r' || c == '\n')
      return "has CR or LF in its name";
    if (!istchar(c))
      return "has a name that is not a token";
  }
  if (vlen > NB_URL_MAX)
    return "has a value too long";
  for (i = 0; i < vlen; i++) {
    int c = (unsigned char)value[i];
    if (c == '\r' || c == '\n')
      return "has CR or LF in its value";
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return "has a control character in its value";
  }
  return NULL;
}

/* a method: a token of at most 32 bytes ("GET", "PROPFIND") */
const char *nb_check_method(const char *s, size_t n) {
  size_t i;
  if (n == 0 || n > 32)
    return "must be 1 to 32 characters";
  for (i = 0; i < n; i++)
    if (!istchar((unsigned char)s[i]))
      return "must be a token (like GET or POST)";
  return NULL;
}

/* a protocol list as curl's CURLOPT_PROTOCOLS_STR takes it: lower-case
** names of letters and digits, separated by commas */
const char *nb_check_protocols(const char *s, size_t n) {
  size_t i, len = 0;
  if (n == 0 || n > 256)
    return "must name 1 or more protocols (like \"http,https\")";
  for (i = 0; i <= n; i++) {
    int c = i < n ? (unsigned char)s[i] : ',';
    if (c == ',') {
      if (len == 0)
        return "has an empty name";
      len = 0;
    } else if ((c >= 'a' && c <= 'z') || isdigit_(c)) {
      len++;
    } else {
      return "must be lower-case names separated by commas";
    }
  }
  return NULL;
}

/* is `scheme` one of the comma-separated `list`? */
int nb_protocol_listed(const char *list, const char *scheme) {
  size_t len = strlen(scheme);
  const char *p = list;
  while (*p) {
    size_t w = strcspn(p, ",");
    if (w == len && memcmp(p, scheme, len) == 0)
      return 1;
    p += w;
    if (*p == ',')
      p++;
  }
  return 0;
}
