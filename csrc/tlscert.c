/*
** tlscert.c: throwaway certificates for lessons and specs, in the
** netbasics.tls module. selfsigned() makes an EC P-256 key and a
** self-signed X.509 certificate for it with OpenSSL's API (no X.509 is
** written by hand), and returns both as PEM text with the certificate's
** SHA-256 fingerprint (as `openssl x509 -fingerprint -sha256` prints it)
** and the pin of its public key ("sha256//BASE64", the `pin` option's
** form, as tlsinfo gives it). certificate() reads the same facts from a
** PEM certificate.
**
** Every OpenSSL object lives in a box (a userdata with __gc) made before
** the first one is taken, so an error raised half way (a string that
** cannot be pushed) still frees them; the normal path frees them before
** it returns.
*/
#include <arpa/inet.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "netbasics.h"

#define CERTBOX_T "netbasics.certbox"

/* a certificate lives at most this long (the CA/Browser Forum's cap) */
#define MAX_SECONDS (398 * 86400)
#define MAX_NAMES 32
#define MAX_NAMELEN 253

typedef struct certbox {
  EVP_PKEY *key;
  X509 *cert;
  GENERAL_NAMES *names;
  BIO *bio;
} certbox;

static void certbox_free(certbox *b) {
  EVP_PKEY_free(b->key);
  b->key = NULL;
  X509_free(b->cert);
  b->cert = NULL;
  GENERAL_NAMES_free(b->names);
  b->names = NULL;
  BIO_free(b->bio);
  b->bio = NULL;
}

static int certbox_gc(lua_State *L) {
  certbox_free((certbox *)luaL_checkudata(L, 1, CERTBOX_T));
  return 0;
}

static certbox *newbox(lua_State *L) {
  certbox *b = (certbox *)lua_newuserdatauv(L, sizeof *b, 0);
  memset(b, 0, sizeof *b);
  luaL_setmetatable(L, CERTBOX_T);
  return b;
}

/* what OpenSSL said last, as nil, msg, "tls"; clears its error queue */
static int sslfail(lua_State *L, certbox *b, const char *what) {
  char buf[256];
  unsigned long e = ERR_get_error();
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  else snprintf(buf, sizeof buf, "out of memory");
  ERR_clear_error();
  certbox_free(b);
  return nb_fail(L, "tls", "%s: %s", what, buf);
}

/*
** A name for a certificate: 1..253 bytes of letters, digits, '-', '.'
** and '_' (a host name as people write it; "*." in front for a
** wildcard). Anything else would be refused by every client anyway.
*/
static int goodname(const char *s, size_t n) {
  size_t i = 0;
  if (n == 0 || n > MAX_NAMELEN) return 0;
  if (n > 2 && s[0] == '*' && s[1] == '.') i = 2;
  for (; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
      return 0;
  }
  return 1;
}

/* every field of the options table at 1 is one of `known` */
static void checkfields(lua_State *L, const char *const known[]) {
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    int i;
    lua_pop(L, 1);
    for (i = 0; known[i]; i++)
      if (lua_type(L, -1) == LUA_TSTRING
          && strcmp(lua_tostring(L, -1), known[i]) == 0)
        break;
    if (known[i] == NULL)
      luaL_error(L, "unknown option '%s'", lua_type(L, -1) == LUA_TSTRING
                 ? lua_tostring(L, -1) : luaL_typename(L, -1));
  }
}

/* the strings of list field `field` of the table at 1, checked */
static int listfield(lua_State *L, const char *field) {
  int t = lua_getfield(L, 1, field), n;
  if (t == LUA_TNIL) return 0;
  if (t != LUA_TTABLE)
    return luaL_error(L, "bad option '%s' (a list of strings expected, "
                      "got %s)", field, luaL_typename(L, -1));
  n = (int)luaL_len(L, -1);
  if (n > MAX_NAMES)
    return luaL_error(L, "bad option '%s' (at most %d names)", field,
                      MAX_NAMES);
  return n;
}

/* add DNS name or IP address `s` to the box's names; 0 on success */
static int addname(certbox *b, int isip, const char *s, size_t n) {
  GENERAL_NAME *g = GENERAL_NAME_new();
  if (g == NULL) return -1;
  if (isip) {
    unsigned char a[16];
    int len = strchr(s, ':') ? 16 : 4;
    ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();
    if (inet_pton(len == 16 ? AF_INET6 : AF_INET, s, a) != 1
        || o == NULL || !ASN1_OCTET_STRING_set(o, a, len)) {
      ASN1_OCTET_STRING_free(o);
      GENERAL_NAME_free(g);
      return -1;
    }
    GENERAL_NAME_set0_value(g, GEN_IPADD, o);
  } else {
    ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
    if (ia5 == NULL || !ASN1_STRING_set(ia5, s, (int)n)) {
      ASN1_IA5STRING_free(ia5);
      GENERAL_NAME_free(g);
      return -1;
    }
    GENERAL_NAME_set0_value(g, GEN_DNS, ia5);
  }
  if (!sk_GENERAL_NAME_push(b->names, g)) {
    GENERAL_NAME_free(g);
    return -1;
  }
  return 0;
}

/* one extension given in OpenSSL's configuration words; 0 on success */
static int addext(X509 *x, int nid, const char *value) {
  X509V3_CTX ctx;
  X509_EXTENSION *e;
  int ok;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
  e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (e == NULL) return -1;
  ok = X509_add_ext(x, e, -1);
  X509_EXTENSION_free(e);
  return ok ? 0 : -1;
}

/* an ASN1_TIME as "2026-12-03T05:54:20Z" (UTC, as tlsinfo gives it) */
static void timetext(const ASN1_TIME *t, char *out, size_t size) {
  struct tm tm;
  if (t == NULL || !ASN1_TIME_to_tm(t, &tm)) {
    snprintf(out, size, "?");
    return;
  }
  strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
** The facts of certificate `x` into the table on top: sha256 (the
** fingerprint, "AB:CD:..." as openssl prints it), pin ("sha256//BASE64"
** of the DER SubjectPublicKeyInfo, as curl's --pinnedpubkey),
** not_before and not_after. 0 on success, -1 if OpenSSL failed.
*/
static int pushfacts(lua_State *L, X509 *x) {
  unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
  unsigned int mdlen = 0, i;
  char hex[EVP_MAX_MD_SIZE * 3 + 1], b64[EVP_MAX_MD_SIZE * 2 + 8];
  char when[64];
  int derlen;
  if (!X509_digest(x, EVP_sha256(), md, &mdlen)) return -1;
  for (i = 0; i < mdlen; i++)
    snprintf(hex + 3 * i, 4, "%02X%s", md[i], i + 1 < mdlen ? ":" : "");
  hex[mdlen ? 3 * mdlen - 1 : 0] = '\0';
  derlen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
  if (derlen <= 0) return -1;
  i = EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha256(), NULL);
  OPENSSL_free(der);
  if (!i) return -1;
  EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
  lua_pushstring(L, hex);
  lua_setfield(L, -2, "sha256");
  lua_pushfstring(L, "sha256//%s", b64);
  lua_setfield(L, -2, "pin");
  timetext(X509_get0_notBefore(x), when, sizeof when);
  lua_pushstring(L, when);
  lua_setfield(L, -2, "not_before");
  timetext(X509_get0_notAfter(x), when, sizeof when);
  lua_pushstring(L, when);
  lua_setfield(L, -2, "not_after");
  return 0;
}

/* push the PEM text the box's memory BIO holds, then empty it */
static void pushbio(lua_State *L, certbox *b) {
  char *data;
  long n = BIO_get_mem_data(b->bio, &data);
  lua_pushlstring(L, data, n > 0 ? (size_t)n : 0);
  (void)BIO_reset(b->bio);
}

/*
** tls.selfsigned{name =, dns = {...}, ip = {...}, seconds =}: a new
** P-256 key and a certificate for it, signed by itself with SHA-256:
** subject and issuer CN=name, subjectAltName the dns names and ip
** addresses, valid from a minute ago for `seconds`, not a CA, for
** servers. Returns {cert =, key =, sha256 =, pin =, not_before =,
** not_after =}; cert and key are PEM text (the key unencrypted PKCS#8:
** a throwaway, never for keeping).
*/
static int tls_selfsigned(lua_State *L) {
  size_t namelen;
  const char *name;
  lua_Integer seconds;
  int ndns, nip, i, base;
  certbox *b;
  X509_NAME *subject;
  BIGNUM *bn;
  static const char *const known[] = {"name", "dns", "ip", "seconds", NULL};
  luaL_checktype(L, 1, LUA_TTABLE);
  checkfields(L, known);
  lua_getfield(L, 1, "name");
  name = luaL_optlstring(L, -1, "localhost", &namelen);
  luaL_argcheck(L, goodname(name, namelen), 1,
                "option 'name': a host name expected");
  lua_getfield(L, 1, "seconds");
  seconds = luaL_optinteger(L, -1, 86400);
  luaL_argcheck(L, seconds > 0 && seconds <= MAX_SECONDS, 1,
                "option 'seconds': 1 to 34387200 (398 days) expected");
  base = lua_gettop(L);
  ndns = listfield(L, "dns");   /* at base + 1 */
  nip = listfield(L, "ip");     /* at base + 2 */
  for (i = 1; i <= ndns; i++) {
    size_t n;
    const char *s;
    lua_geti(L, base + 1, i);
    s = lua_tolstring(L, -1, &n);
    if (s == NULL || !goodname(s, n))
      return luaL_error(L, "bad option 'dns' (item %d: a host name "
                        "expected)", i);
    lua_pop(L, 1);
  }
  for (i = 1; i <= nip; i++) {
    unsigned char a[16];
    const char *s;
    lua_geti(L, base + 2, i);
    s = lua_tostring(L, -1);
    if (s == NULL || lua_type(L, -1) != LUA_TSTRING
        || (inet_pton(AF_INET, s, a) != 1 && inet_pton(AF_INET6, s, a) != 1))
      return luaL_error(L, "bad option 'ip' (item %d: an IP address "
                        "expected)", i);
    lua_pop(L, 1);
  }
  b = newbox(L);
  /* the key */
  if ((b->key = EVP_EC_gen("P-256")) == NULL)
    return sslfail(L, b, "making a key");
  /* the certificate: version 3, a random 64-bit serial, the times */
  if ((b->cert = X509_new()) == NULL || !X509_set_version(b->cert, 2))
    return sslfail(L, b, "making a certificate");
  if ((bn = BN_new()) == NULL) return sslfail(L, b, "making a serial");
  if (!BN_rand(bn, 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)
      || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(b->cert)) == NULL) {
    BN_free(bn);
    return sslfail(L, b, "making a serial");
  }
  BN_free(bn);
  /* a minute back, so a clock a little behind still accepts it */
  if (X509_gmtime_adj(X509_getm_notBefore(b->cert), -60) == NULL
      || X509_gmtime_adj(X509_getm_notAfter(b->cert), (long)seconds) == NULL)
    return sslfail(L, b, "setting the validity");
  subject = X509_get_subject_name(b->cert);
  if (!X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                  (const unsigned char *)name,
                                  (int)namelen, -1, 0)
      || !X509_set_issuer_name(b->cert, subject)
      || !X509_set_pubkey(b->cert, b->key))
    return sslfail(L, b, "naming the certificate");
  /* the names it covers */
  if ((b->names = sk_GENERAL_NAME_new_null()) == NULL)
    return sslfail(L, b, "listing the names");
  for (i = 1; i <= ndns + nip; i++) {
    size_t n;
    const char *s;
    int isip = i > ndns;
    lua_geti(L, isip ? base + 2 : base + 1, isip ? i - ndns : i);
    s = lua_tolstring(L, -1, &n);
    if (addname(b, isip, s, n) != 0) return sslfail(L, b, "adding a name");
    lua_pop(L, 1);
  }
  /* (1 on success; 0 or -1 on failure) */
  if (ndns + nip > 0
      && X509_add1_ext_i2d(b->cert, NID_subject_alt_name, b->names, 0, 0) != 1)
    return sslfail(L, b, "adding the names");
  if (addext(b->cert, NID_basic_constraints, "critical,CA:FALSE") != 0
      || addext(b->cert, NID_key_usage, "critical,digitalSignature") != 0
      || addext(b->cert, NID_ext_key_usage, "serverAuth") != 0
      || addext(b->cert, NID_subject_key_identifier, "hash") != 0)
    return sslfail(L, b, "adding the extensions");
  if (!X509_sign(b->cert, b->key, EVP_sha256()))
    return sslfail(L, b, "signing the certificate");
  /* the answer */
  if ((b->bio = BIO_new(BIO_s_mem())) == NULL)
    return sslfail(L, b, "writing the certificate");
  lua_createtable(L, 0, 6);
  if (!PEM_write_bio_X509(b->bio, b->cert))
    return sslfail(L, b, "writing the certificate");
  pushbio(L, b);
  lua_setfield(L, -2, "cert");
  if (!PEM_write_bio_PrivateKey(b->bio, b->key, NULL, NULL, 0, NULL, NULL))
    return sslfail(L, b, "writing the key");
  pushbio(L, b);
  lua_setfield(L, -2, "key");
  if (pushfacts(L, b->cert) != 0)
    return sslfail(L, b, "taking the fingerprint");
  certbox_free(b);
  return 1;
}

/*
** tls.certificate(pem): the first certificate in PEM text, as
** {sha256 =, pin =, not_before =, not_after =}; nil, msg, "tls" when
** the text holds none.
*/
static int tls_certificate(lua_State *L) {
  size_t n;
  const char *pem = luaL_checklstring(L, 1, &n);
  certbox *b;
  luaL_argcheck(L, n <= INT32_MAX, 1, "too long");
  b = newbox(L);
  if ((b->bio = BIO_new_mem_buf(pem, (int)n)) == NULL)
    return sslfail(L, b, "reading the certificate");
  if ((b->cert = PEM_read_bio_X509(b->bio, NULL, NULL, NULL)) == NULL)
    return sslfail(L, b, "reading the certificate");
  lua_createtable(L, 0, 4);
  if (pushfacts(L, b->cert) != 0)
    return sslfail(L, b, "taking the fingerprint");
  certbox_free(b);
  return 1;
}

static const luaL_Reg certbox_meta[] = {
  {"__gc", certbox_gc},
  {NULL, NULL}
};

static const luaL_Reg tlscert_funcs[] = {
  {"selfsigned", tls_selfsigned},
  {"certificate", tls_certificate},
  {NULL, NULL}
};

/* adds selfsigned and certificate to the table on top of the stack */
void nb_open_tlscert(lua_State *L) {
  if (luaL_newmetatable(L, CERTBOX_T)) luaL_setfuncs(L, certbox_meta, 0);
  lua_pop(L, 1);
  luaL_setfuncs(L, tlscert_funcs, 0);
}
