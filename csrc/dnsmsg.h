/*
** dnsmsg.h: reading DNS answers and checking names, in plain C (no Lua),
** so that a fuzzer can call every function here. Used by resolve.c.
**
** c-ares builds and sends the questions; the answer's records are walked
** here, bounds-checked on every byte, because c-ares 1.18's own parsers
** lose the end of a CNAME chain two deep. Every name is read with
** ares_expand_name.
*/
#ifndef NB_DNSMSG_H
#define NB_DNSMSG_H

#include <stddef.h>

/* record types we read; the others are skipped */
#define NB_DNS_A     1
#define NB_DNS_CNAME 5
#define NB_DNS_PTR   12
#define NB_DNS_AAAA  28

/* response codes (RFC 1035 4.1.1) */
#define NB_DNS_NOERROR  0
#define NB_DNS_FORMERR  1
#define NB_DNS_SERVFAIL 2
#define NB_DNS_NXDOMAIN 3
#define NB_DNS_NOTIMP   4
#define NB_DNS_REFUSED  5

/* nb_dns_walk results */
#define NB_DNS_OK         0
#define NB_DNS_EMALFORMED (-1)
#define NB_DNS_ENOMEM     (-2)

/* one answer record of class IN we understood */
typedef struct nb_dns_rr {
  unsigned type;            /* NB_DNS_A, _AAAA, _CNAME or _PTR */
  char *name;               /* owner name, without the final dot */
  char *target;             /* CNAME and PTR: the name pointed to */
  unsigned char addr[16];   /* A: 4 bytes, AAAA: 16 */
} nb_dns_rr;

/* what nb_dns_walk found in a response */
typedef struct nb_dns_msg {
  unsigned id;
  unsigned rcode;           /* NB_DNS_NOERROR ... */
  int aa;                   /* the AA flag: byte 2 (the third), bit 0x04 */
  int tc;                   /* truncated */
  unsigned qtype;           /* of the first question (0 if none) */
  char *qname;              /* the first question's name, or NULL */
  size_t nrr;               /* records kept in rr */
  nb_dns_rr *rr;
} nb_dns_msg;

/*
** Walks the header, the question section and the answer section of the
** `len`-byte response in `buf`. On NB_DNS_OK `m` holds what it found
** (release with nb_dns_msg_free); on error `m` holds nothing to release.
** Any record header, length or name that runs past the end, an A record
** whose data is not 4 bytes (16 for AAAA) or a name whose encoding does
** not fill its record is NB_DNS_EMALFORMED; so is any name over 253
** characters or with a byte that is not printable ASCII (or a dot
** inside a label).
*/
int nb_dns_walk(const unsigned char *buf, size_t len, nb_dns_msg *m);
void nb_dns_msg_free(nb_dns_msg *m);

/*
** Follows the CNAME records of `m` from `qname`, in order. Fills
** chain[0..n-1] with the indexes (into m->rr) of the CNAMEs used, at
** most `max`, and returns n; *canonical is the last name reached (qname
** itself when there is no CNAME). Returns -1 on a CNAME loop, -2 when
** the chain is longer than `max` (no loop seen in its first `max`).
*/
int nb_dns_chain(const nb_dns_msg *m, const char *qname, size_t *chain,
                 size_t max, const char **canonical);

/* ASCII case-insensitive name comparison: 1 if equal */
int nb_dns_same_name(const char *a, const char *b);

/*
** Checks a name before it is asked for; `n` bytes, an optional final
** dot. Returns NULL if it is fine, else a reason to show after the name
** ("is empty", "has an empty label", ...).
*/
const char *nb_dns_check_name(const char *s, size_t n);

/*
** The reverse-lookup name of an address: "4.3.2.1.in-addr.arpa" for
** 1.2.3.4 (alen 4) or the 32 nibbles under ip6.arpa (alen 16). `out`
** must hold NB_DNS_PTRLEN bytes. Returns the length written.
*/
#define NB_DNS_PTRLEN 74
size_t nb_dns_ptr_name(const unsigned char *addr, size_t alen,
                       char out[NB_DNS_PTRLEN]);

#endif
