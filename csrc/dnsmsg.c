/*
** dnsmsg.c: reading DNS answers and checking names (see dnsmsg.h).
** Plain C: no Lua here.
*/
#include <stdlib.h>
#include <string.h>

#include <ares.h>

#include "dnsmsg.h"
#include "netbasics.h"

#define HEADER_LEN 12
#define RR_FIXED 10      /* type, class, ttl, rdlength */
#define CLASS_IN 1

static unsigned get16(const unsigned char *p) {
  return ((unsigned)p[0] << 8) | p[1];
}

/*
** ** ares_expand_name reads the (possibly compressed) name at `p`,
** following pointers only inside buf[0..len), and says how many bytes
** the name takes at `p`; we check that those bytes are inside `limit`.
*/
/*
** ** A name we hand on is a host name's text: at most 253 characters (255
** octets on the wire, RFC 1035 2.3.4) and nothing ares_expand_name had
** to escape (\DDD for a control or other unprintable byte, \. for a dot
** inside a label), and no space. A server that sends more gets
** "malformed", not a name that a lesson would print or connect to.
*/
static int name_ok(const char *s) {
  /* ares_expand_name passes a space through as it is: refuse it too */
  return strlen(s) <= 253 && strpbrk(s, "\\ ") == NULL;
}

static int read_name(const unsigned char *buf, size_t len, size_t pos,
                     size_t limit, char **out, size_t *used) {
  long enclen = 0;
  char *s = NULL;
  if (pos >= limit || limit > len)
    return NB_DNS_EMALFORMED;
  if (ares_expand_name(buf + pos, buf, (int)len, &s, &enclen) != ARES_SUCCESS)
    return NB_DNS_EMALFORMED;
  if (enclen <= 0 || (size_t)enclen > limit - pos || !name_ok(s)) {
    ares_free_string(s);
    return NB_DNS_EMALFORMED;
  }
  *out = s;
  *used = (size_t)enclen;
  return NB_DNS_OK;
}

void nb_dns_msg_free(nb_dns_msg *m) {
  size_t i;
  for (i = 0; i < m->nrr; i++) {
    ares_free_string(m->rr[i].name);
    if (m->rr[i].target != NULL)
      ares_free_string(m->rr[i].target);
  }
  free(m->rr);
  if (m->qname != NULL)
    ares_free_string(m->qname);
  memset(m, 0, sizeof *m);
}

/* one answer record at *pos: kept in m->rr if we read its type */
static int walk_record(const unsigned char *buf, size_t len, size_t *pos,
                       nb_dns_msg *m) {
  char *owner = NULL, *target = NULL;
  size_t used, rdpos, rdlen;
  unsigned type, klass;
  nb_dns_rr *rr;
  int r = read_name(buf, len, *pos, len, &owner, &used);
  if (r != NB_DNS_OK)
    return r;
  if (len - *pos - used < RR_FIXED)
    goto bad;
  rdpos = *pos + used + RR_FIXED;
  type = get16(buf + *pos + used);
  klass = get16(buf + *pos + used + 2);
  rdlen = get16(buf + *pos + used + 8);
  if (rdlen > len - rdpos)
    goto bad;
  *pos = rdpos + rdlen;
  if (klass != CLASS_IN
      || (type != NB_DNS_A && type != NB_DNS_AAAA && type != NB_DNS_CNAME
          && type != NB_DNS_PTR)) {
    ares_free_string(owner);
    return NB_DNS_OK;
  }
  if ((type == NB_DNS_A && rdlen != 4) || (type == NB_DNS_AAAA && rdlen != 16))
    goto bad;
  if (type == NB_DNS_CNAME || type == NB_DNS_PTR) {
    if (read_name(buf, len, rdpos, rdpos + rdlen, &target, &used)
        != NB_DNS_OK || used != rdlen)
      goto bad;
  }
  rr = &m->rr[m->nrr++];
  memset(rr, 0, sizeof *rr);
  rr->type = type;
  rr->name = owner;
  rr->target = target;
  if (type == NB_DNS_A || type == NB_DNS_AAAA)
    memcpy(rr->addr, buf + rdpos, rdlen);
  return NB_DNS_OK;
bad:
  ares_free_string(owner);
  if (target != NULL)
    ares_free_string(target);
  return NB_DNS_EMALFORMED;
}

int nb_dns_walk(const unsigned char *buf, size_t len, nb_dns_msg *m) {
  unsigned qdcount, ancount, i;
  size_t pos = HEADER_LEN, used;
  int r;
  memset(m, 0, sizeof *m);
  if (buf == NULL || len < HEADER_LEN || len > 65535)
    return NB_DNS_EMALFORMED;
  if ((buf[2] & 0x80) == 0)                   /* QR: not a response */
    return NB_DNS_EMALFORMED;
  m->id = get16(buf);
  m->aa = (buf[2] & 0x04) != 0;
  m->tc = (buf[2] & 0x02) != 0;
  m->rcode = buf[3] & 0x0f;
  qdcount = get16(buf + 4);
  ancount = get16(buf + 6);
  /* every record takes at least 11 bytes: this bounds the array */
  if (ancount > (len - HEADER_LEN) / (1 + RR_FIXED))
    return NB_DNS_EMALFORMED;
  if (ancount > 0) {
    m->rr = nb_malloc(ancount * sizeof *m->rr);
    if (m->rr == NULL)
      return NB_DNS_ENOMEM;
  }
  for (i = 0; i < qdcount; i++) {
    char *qname;
    if ((r = read_name(buf, len, pos, len, &qname, &used)) != NB_DNS_OK)
      goto fail;
    if (len - pos - used < 4) {
      ares_free_string(qname);
      r = NB_DNS_EMALFORMED;
      goto fail;
    }
    if (m->qname == NULL) {
      m->qname = qname;
      m->qtype = get16(buf + pos + used);
    } else {
      ares_free_string(qname);
    }
    pos += used + 4;
  }
  for (i = 0; i < ancount; i++)
    if ((r = walk_record(buf, len, &pos, m)) != NB_DNS_OK)
      goto fail;
  return NB_DNS_OK;
fail:
  nb_dns_msg_free(m);
  return r;
}

static int lower(int c) {
  return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

int nb_dns_same_name(const char *a, const char *b) {
  for (; *a != '\0' && *b != '\0'; a++, b++)
    if (lower((unsigned char)*a) != lower((unsigned char)*b))
      return 0;
  return *a == *b;
}

int nb_dns_chain(const nb_dns_msg *m, const char *qname, size_t *chain,
                 size_t max, const char **canonical) {
  const char *cur = qname;
  size_t n = 0, i, k;
  int moved = 1;
  while (moved) {
    moved = 0;
    for (i = 0; i < m->nrr; i++) {
      if (m->rr[i].type != NB_DNS_CNAME || !nb_dns_same_name(m->rr[i].name,
                                                            cur))
        continue;
      for (k = 0; k < n; k++)      /* a CNAME met twice is a loop */
        if (chain[k] == i)
          return -1;
      if (n == max)
        return -2;
      chain[n++] = i;
      cur = m->rr[i].target;
      moved = 1;
      break;
    }
  }
  *canonical = cur;
  return (int)n;
}

static int hostchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

const char *nb_dns_check_name(const char *s, size_t n) {
  size_t i, label = 0;
  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] >= 0x80)
      return "has non-ASCII letters: write it in its punycode form "
             "(xn--...)";
  if (n > 0 && s[n - 1] == '.')
    n--;
  if (n == 0)
    return "is empty";
  if (n > 253)
    return "is longer than 253 bytes";
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '.') {
      if (label == 0)
        return "has an empty label";
      label = 0;
    } else if (c < 0x20 || c == 0x7f) {
      return "contains a control character";
    } else if (c == ' ') {
      return "contains a space";
    } else if (!hostchar(c)) {
      return "contains a character other than letters, digits, '-', "
             "'_' and '.'";
    } else if (++label > 63) {
      return "has a label longer than 63 bytes";
    }
  }
  return label == 0 ? "has an empty label" : NULL;
}

size_t nb_dns_ptr_name(const unsigned char *addr, size_t alen,
                       char out[NB_DNS_PTRLEN]) {
  static const char hex[] = "0123456789abcdef";
  size_t n = 0, i;
  if (alen == 4) {
    for (i = 4; i-- > 0;) {
      unsigned v = addr[i];
      if (v >= 100) out[n++] = (char)('0' + v / 100);
      if (v >= 10) out[n++] = (char)('0' + v / 10 % 10);
      out[n++] = (char)('0' + v % 10);
      out[n++] = '.';
    }
    memcpy(out + n, "in-addr.arpa", 13);
    return n + 12;
  }
  for (i = 16; i-- > 0;) {
    out[n++] = hex[addr[i] & 0x0f];
    out[n++] = '.';
    out[n++] = hex[addr[i] >> 4];
    out[n++] = '.';
  }
  memcpy(out + n, "ip6.arpa", 9);
  return n + 8;
}
