/*
** netbasics.h: what the families of netbasics.core share.
** Each family file (octet.c, validate.c, socket.c, ports.c, resolve.c)
** has one nb_open_<family>() that adds its functions to the table on top
** of the stack; core.c calls them in turn. fetch.c is its own module
** (netbasics.curl) so that libcurl is loaded only when first used.
*/
#ifndef NETBASICS_H
#define NETBASICS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lua.h"
#include "lauxlib.h"

#define NB_VERSION "scm-1"

/* only luaopen_* are exported from the shared objects */
#define NB_EXPORT __attribute__((visibility("default")))

/* userdata type names (also read well in argument errors) */
#define NB_SOCKET_T "netbasics.socket"
#define NB_CIDR_T   "netbasics.cidr"

/*
** Push nil, message, code and return 3: the one way a runtime failure
** reaches Lua. `code` is one of API.md's short tokens ("malformed",
** "timeout", "refused", ...). The message is formatted as lua_pushfstring
** does (%s %d %f %p %c %%, plus %I for lua_Integer and %U).
*/
int nb_fail(lua_State *L, const char *code, const char *fmt, ...);

/*
** User input shown in a message: pushes (and returns) a copy of s[0..n)
** that is safe to print on one line: bytes outside printable ASCII as
** \ddd (as Lua's %q), and past NB_SHOWMAX bytes cut short with "...".
** A 1 MB string or an embedded NUL never reaches a message whole.
*/
#define NB_SHOWMAX 64
const char *nb_pushshown(lua_State *L, const char *s, size_t n);
/* the same, cut after `max` bytes */
const char *nb_pushshownmax(lua_State *L, const char *s, size_t n,
                            size_t max);

/*
** Ctrl-C. The host's SIGINT handler sets a flag whose address it stores
** in the registry under NB_INTERRUPT_KEY; nb_open_common() (called by
** every luaopen_*) finds it. A C loop that sees EINTR releases what it
** holds and calls nb_checkinterrupt(), which raises "interrupted!" if the
** flag is set ("terminated!" if it holds SIGTERM: the host stops on it
** too) and returns otherwise, so the loop retries.
*/
#define NB_INTERRUPT_KEY "netbasics.interrupted"
extern volatile sig_atomic_t *nb_interrupt_flag;
void nb_open_common(lua_State *L);
void nb_checkinterrupt(lua_State *L);

/*
** A task's error object that is not a string, as text: its __tostring
** (called in L, protected) if it has one, else "(error object is a
** table value)", as lua.c says. The text is pushed on co, whose top is
** the object.
*/
const char *nb_errortext(lua_State *L, lua_State *co);

/*
** Seconds to the kernel's units, for every wait. nb_ms: poll()'s and
** epoll_wait()'s milliseconds, rounded up; 0 when none is left (or NaN);
** INT_MAX (about 24.8 days) for more, math.huge included: the caller,
** whose deadline has not passed, waits again, so a huge timeout is no
** limit and never an out-of-range conversion. nb_timespec: the same for
** nanosleep, at most NB_SLEEP_MAX seconds at a time.
*/
#define NB_SLEEP_MAX 1e6
int nb_ms(double seconds);
void nb_timespec(double seconds, struct timespec *ts);

/*
** The C side's memory: every block our C code takes, and libcurl's and
** c-ares' own (given to curl_global_init_mem and ares_library_init_mem),
** comes from these. Plain malloc and friends, except for tests: with
** NETBASICS_FAILMALLOC=N in the environment the Nth request (counted in
** each C module: netbasics.core and netbasics.curl) returns NULL once,
** with a line on stderr saying so, so a spec can walk N over every
** request and see each failure handled. NETBASICS_FAILMALLOC=0 fails
** nothing and prints the count when the module is unloaded. Blocks are
** freed with free().
*/
void *nb_malloc(size_t n);
void *nb_calloc(size_t n, size_t size);
void *nb_realloc(void *p, size_t n);
char *nb_strdup(const char *s);
/* how many of these requests got NULL so far (any reason): a caller
** tells a real lack of memory from a library's own "out of memory" */
unsigned long nb_allocfails(void);

/*
** Plain-C parsers for outside input (no Lua types: fuzzers call them).
** Strict: decimal dotted quads only, no leading zeros, no inet_aton forms;
** IPv6 per RFC 4291's text forms, no zone id. They read exactly `n`
** bytes, so an embedded NUL is malformed. Return 0 on success, -1 if
** malformed.
*/
int nb_parse_ipv4(const char *s, size_t n, uint8_t out[4]);
int nb_parse_ipv6(const char *s, size_t n, uint8_t out[16]);
/* text forms; IPv6 per RFC 5952. Return the length written (NUL added) */
#define NB_IPV4_STRLEN 16
#define NB_IPV6_STRLEN 46
size_t nb_format_ipv4(const uint8_t a[4], char out[NB_IPV4_STRLEN]);
size_t nb_format_ipv6(const uint8_t a[16], char out[NB_IPV6_STRLEN]);

/* a decimal port 0..65535, digits only: 0 ok, -1 malformed, -2 > 65535 */
int nb_parse_port(const char *s, size_t n, unsigned *port);

/*
** "1.2.3.4:80", "[::1]:80", "example.org:80". On success fills `ep`
** (host points into `s`, not NUL-terminated) and returns 0; otherwise
** -1 (malformed) or -2 (port out of range).
*/
enum { NB_FAM_INET = 4, NB_FAM_INET6 = 6, NB_FAM_NAME = 1 };
typedef struct nb_endpoint {
  int family;          /* NB_FAM_* */
  uint8_t addr[16];    /* the address, for inet (4 bytes) and inet6 */
  const char *host;    /* the host part as written, without brackets */
  size_t hostlen;
  unsigned port;
} nb_endpoint;
int nb_parse_endpoint(const char *s, size_t n, nb_endpoint *ep);

/*
** A DNS host name as users type it: 1..253 bytes, labels 1..63 of
** letters, digits, '-' (not first or last) and '_', an optional final
** dot. The last label may not be all digits nor "0x" and hex digits
** (getaddrinfo would read "127.1" or "0x7f000001" as an address).
** 0 ok, -1 not.
*/
int nb_check_hostname(const char *s, size_t n);

/*
** A CIDR block (octet.c): the network address (host bits clear) and
** the prefix. nb_parse_cidr reads "192.168.1.0/24", "2001:db8::/32", a
** bare address (a /32 or /128), or (IPv4) "10.0.0.0/255.0.0.0" with a
** netmask or hostmask, as Python's ipaddress.ip_network does. 0 ok, -1
** malformed, -2 host bits set (only when `strict`; otherwise cleared).
*/
typedef struct nb_cidr {
  int family;          /* NB_FAM_INET or NB_FAM_INET6 */
  int prefix;
  uint8_t net[16];
} nb_cidr;
int nb_parse_cidr(const char *s, size_t n, int strict, nb_cidr *c);

/*
** A binary number as octet.c's frombinary reads it: 1 or more '0' and
** '1' and nothing else. 0 ok, -1 malformed, -2 above INT64_MAX.
*/
int nb_parse_binary(const char *s, size_t n, int64_t *out);

/*
** The fetch family's checks of outside input (fetchcheck.c), done before
** libcurl sees it. NULL when acceptable, else a reason ("has no host").
** nb_check_url writes the lower-cased scheme to `scheme` (NB_SCHEME_MAX
** bytes) as soon as it has read one, so a caller can tell a refused
** protocol from a malformed URL.
*/
#define NB_URL_MAX 8192
#define NB_SCHEME_MAX 16
const char *nb_check_url(const char *s, size_t n, char *scheme);
/* a redirect's target: NULL or a reason; *hs, *hl the host's place in s
** (*hl 0 for a relative one, which keeps the host) */
const char *nb_check_location(const char *s, size_t n, size_t *hs,
                              size_t *hl);
const char *nb_check_header(const char *name, size_t nlen,
                            const char *value, size_t vlen);
const char *nb_check_method(const char *s, size_t n);
const char *nb_check_protocols(const char *s, size_t n);
int nb_protocol_listed(const char *list, const char *scheme);

/* the families of netbasics.core */
void nb_open_octet(lua_State *L);
void nb_open_validate(lua_State *L);
void nb_open_socket(lua_State *L);
void nb_open_ports(lua_State *L);
void nb_open_resolve(lua_State *L);

NB_EXPORT int luaopen_netbasics_core(lua_State *L);
NB_EXPORT int luaopen_netbasics_curl(lua_State *L);

#endif
