/*
** resolve.c: the resolve family of netbasics.core (see API.md).
** net.lookup and net.reverse ask one DNS server with c-ares and read its
** answer with dnsmsg.c (the nslookup view: server, AA flag, CNAME chain);
** net.resolve asks the system (getaddrinfo: /etc/hosts, nsswitch);
** net.hostname names this computer.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ares.h>

#include "netbasics.h"
#include "dnsmsg.h"
#include "dnsrun.h"
#include "loop.h"
#include "gai.h"

#define NB_DNSRUN_T "netbasics.dnsrun"
#define NB_ADDRINFO_T "netbasics.addrinfo"

#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_TRIES 2
#define MAX_CHAIN 64
#define NB_STR_(x) #x
#define NB_STR(x) NB_STR_(x)


/*
** ======================================================================
** From Lua
** ======================================================================
*/

static void run_free(dns_run *r) {
  int i;
  for (i = 0; i < r->nq; i++)
    nb_dns_msg_free(&r->q[i].msg);
  r->nq = 0;
}

static int run_gc(lua_State *L) {
  dns_run *r = (dns_run *)luaL_checkudata(L, 1, NB_DNSRUN_T);
  nb_dns_end(r);  /* a task cancelled while it waited */
  run_free(r);
  return 0;
}

/* a name or string shown in a message: control bytes as \ddd, cut long */
static void push_shown(lua_State *L, const char *s, size_t n) {
  luaL_Buffer b;
  size_t i, show = n > 80 ? 72 : n;
  luaL_buffinit(L, &b);
  luaL_addchar(&b, '"');
  for (i = 0; i < show; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      char esc[8];
      snprintf(esc, sizeof esc, "\\%d", c);
      luaL_addstring(&b, esc);
    } else {
      luaL_addchar(&b, (char)c);
    }
  }
  luaL_addchar(&b, '"');
  if (show < n)
    luaL_addstring(&b, "...");
  luaL_pushresult(&b);
}

/* the name is fine (0), or nil, msg, "malformed" are pushed (3) */
static int check_name(lua_State *L, const char *s, size_t n, int ipok) {
  uint8_t a[16];
  const char *why;
  if (!ipok && (nb_parse_ipv4(s, n, a) == 0 || nb_parse_ipv6(s, n, a) == 0)) {
    push_shown(L, s, n);
    return nb_fail(L, "malformed", "%s is an address, not a name "
                   "(net.reverse finds its names)", lua_tostring(L, -1));
  }
  why = nb_dns_check_name(s, n);
  if (why == NULL)
    return 0;
  push_shown(L, s, n);
  return nb_fail(L, "malformed", "name %s %s", lua_tostring(L, -1), why);
}

/* options of lookup and reverse */
typedef struct query_opts {
  const char *server;
  size_t serverlen;
  int want_a, want_aaaa;
  int timeout_ms, tries;
} query_opts;

static void read_opts(lua_State *L, int idx, query_opts *qo, int typeok) {
  memset(qo, 0, sizeof *qo);
  qo->want_a = qo->want_aaaa = 1;
  qo->timeout_ms = DEFAULT_TIMEOUT_MS;
  qo->tries = DEFAULT_TRIES;
  if (lua_isnoneornil(L, idx))
    return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                   : "";
    if (strcmp(k, "server") == 0) {
      if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "option 'server' must be a string");
      qo->server = lua_tolstring(L, -1, &qo->serverlen);
    } else if (strcmp(k, "type") == 0 && typeok) {
      const char *t = lua_tostring(L, -1);
      if (lua_type(L, -1) != LUA_TSTRING
          || (strcasecmp(t, "A") != 0 && strcasecmp(t, "AAAA") != 0))
        luaL_error(L, "option 'type' must be \"A\" or \"AAAA\"");
      qo->want_a = strcasecmp(t, "A") == 0;
      qo->want_aaaa = !qo->want_a;
    } else if (strcmp(k, "timeout") == 0) {
      lua_Number t = lua_tonumber(L, -1);
      if (lua_type(L, -1) != LUA_TNUMBER || !(t > 0 && t <= 3600))
        luaL_error(L, "option 'timeout' must be seconds, above 0 and "
                   "at most 3600");
      qo->timeout_ms = (int)(t * 1000 + 0.999);
      if (qo->timeout_ms < 1)
        qo->timeout_ms = 1;
    } else if (strcmp(k, "tries") == 0) {
      lua_Integer t = lua_tointeger(L, -1);
      if (!lua_isinteger(L, -1) || t < 1 || t > 10)
        luaL_error(L, "option 'tries' must be an integer from 1 to 10");
      qo->tries = (int)t;
    } else {
      luaL_error(L, "unknown option '%s'", lua_tostring(L, -2) != NULL
                 ? lua_tostring(L, -2) : luaL_typename(L, -2));
    }
    lua_pop(L, 1);
  }
  /* the server string stays alive: it is in the options table */
}

/* the server string: 0, or nil, msg, "malformed" pushed (3) */
static int parse_server(lua_State *L, const query_opts *qo, dns_run *r) {
  const char *s = qo->server;
  size_t n = qo->serverlen;
  nb_endpoint ep;
  int st;
  r->family = 0;
  r->port = 53;
  if (s == NULL)
    return 0;
  if (nb_parse_ipv4(s, n, r->addr) == 0) {
    r->family = AF_INET;
    return 0;
  }
  if (nb_parse_ipv6(s, n, r->addr) == 0) {
    r->family = AF_INET6;
    return 0;
  }
  if (n > 2 && s[0] == '[' && s[n - 1] == ']'
      && nb_parse_ipv6(s + 1, n - 2, r->addr) == 0) {
    r->family = AF_INET6;
    return 0;
  }
  st = nb_parse_endpoint(s, n, &ep);
  if (st == 0 && ep.family != NB_FAM_NAME && ep.port != 0) {
    r->family = ep.family == NB_FAM_INET ? AF_INET : AF_INET6;
    memcpy(r->addr, ep.addr, 16);
    r->port = ep.port;
    return 0;
  }
  push_shown(L, s, n);
  if (st == 0 && ep.family == NB_FAM_NAME)
    return nb_fail(L, "malformed", "server %s: give the server's IP "
                   "address, not a name", lua_tostring(L, -1));
  if (st == -2 || (st == 0 && ep.port == 0))
    return nb_fail(L, "malformed", "server %s: port out of range "
                   "(1..65535)", lua_tostring(L, -1));
  return nb_fail(L, "malformed", "server %s is not an address with an "
                 "optional port (\"127.0.0.1\", \"127.0.0.1:5353\", "
                 "\"[::1]:53\")", lua_tostring(L, -1));
}

static const char *rcode_text(unsigned rcode) {
  static const char *const t[] = {"NOERROR", "FORMERR", "SERVFAIL",
    "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET",
    "NOTAUTH", "NOTZONE"};
  return rcode < sizeof t / sizeof t[0] ? t[rcode] : "RCODE?";
}

static const char *type_text(unsigned type) {
  switch (type) {
    case NB_DNS_A: return "A";
    case NB_DNS_AAAA: return "AAAA";
    case NB_DNS_CNAME: return "CNAME";
    default: return "PTR";
  }
}

static void push_addr(lua_State *L, const nb_dns_rr *rr) {
  char buf[NB_IPV6_STRLEN];
  size_t n = rr->type == NB_DNS_A ? nb_format_ipv4(rr->addr, buf)
                                  : nb_format_ipv6(rr->addr, buf);
  lua_pushlstring(L, buf, n);
}

static void setfield_str(lua_State *L, const char *k, const char *v) {
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

static void append(lua_State *L, int list) {
  lua_rawseti(L, list, (lua_Integer)luaL_len(L, list) + 1);
}

static int answered(const dns_query *q) {
  return q->done && q->status == ARES_SUCCESS && q->walked == NB_DNS_OK;
}

/* the records of one answer into the list on top of the stack */
static void push_records(lua_State *L, const nb_dns_msg *m) {
  size_t i;
  for (i = 0; i < m->nrr; i++) {
    const nb_dns_rr *rr = &m->rr[i];
    lua_createtable(L, 0, 3);
    setfield_str(L, "name", rr->name);
    setfield_str(L, "type", type_text(rr->type));
    if (rr->type == NB_DNS_A || rr->type == NB_DNS_AAAA)
      push_addr(L, rr);
    else
      lua_pushstring(L, rr->target);
    lua_setfield(L, -2, "data");
    append(L, lua_gettop(L) - 1);
  }
}

/*
** ** c-ares says "connection refused" for any failure to send, also when
** no route leads to the server (no network at all): ask the kernel,
** with a UDP connect (which sends nothing), whether the server can be
** reached. ENETUNREACH or EHOSTUNREACH, or 0.
*/
static int unreachable(const char *server, unsigned port) {
  struct sockaddr_storage ss;
  socklen_t len;
  uint8_t a[16];
  int fd, e = 0;
  memset(&ss, 0, sizeof ss);
  if (nb_parse_ipv4(server, strlen(server), a) == 0) {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    memcpy(&in->sin_addr, a, 4);
    len = sizeof *in;
  } else if (nb_parse_ipv6(server, strlen(server), a) == 0) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    memcpy(&in6->sin6_addr, a, 16);
    len = sizeof *in6;
  } else {
    return 0;
  }
  fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  if (connect(fd, (struct sockaddr *)&ss, len) != 0
      && (errno == ENETUNREACH || errno == EHOSTUNREACH))
    e = errno;
  close(fd);
  return e;
}

/*
** ** The result table (also the 4th value of a failure once a server was
** chosen): server, server_port, name, and when an answer came,
** authoritative, rcode, canonical, cnames, records, addresses (or, for
** PTR, names), and answers: each question asked and its answer, as
** nslookup prints them. Returns the number of values found (addresses or
** names), or -1 for a CNAME loop, -2 for a chain longer than MAX_CHAIN.
*/
static int push_result(lua_State *L, const dns_run *r, const dns_query *head,
                       unsigned want) {
  size_t chain[MAX_CHAIN];
  const char *canonical = r->name;
  int n, i, k, found = 0, res;
  lua_createtable(L, 0, 12);
  res = lua_gettop(L);
  setfield_str(L, "server", r->server);
  lua_pushinteger(L, (lua_Integer)r->server_port);
  lua_setfield(L, res, "server_port");
  setfield_str(L, "name", r->name);
  if (head == NULL)
    return 0;
  lua_pushboolean(L, head->msg.aa);
  lua_setfield(L, res, "authoritative");
  setfield_str(L, "rcode", rcode_text(head->msg.rcode));
  lua_newtable(L);                                  /* res+1: cnames */
  lua_newtable(L);                                  /* res+2: records */
  lua_newtable(L);                                  /* res+3: found */
  lua_newtable(L);                                  /* res+4: answers */
  for (i = 0; i < r->nq; i++) {
    const dns_query *q = &r->q[i];
    const char *canon = q->name;
    size_t j;
    if (!answered(q))
      continue;
    lua_createtable(L, 0, 5);                       /* answers[#+1] */
    setfield_str(L, "name", q->name);
    setfield_str(L, "type", type_text(q->qtype));
    setfield_str(L, "rcode", rcode_text(q->msg.rcode));
    lua_pushboolean(L, q->msg.aa);
    lua_setfield(L, -2, "authoritative");
    lua_newtable(L);
    push_records(L, &q->msg);
    lua_setfield(L, -2, "records");
    append(L, res + 4);
    if (q->msg.rcode != NB_DNS_NOERROR)
      continue;
    lua_pushvalue(L, res + 2);
    push_records(L, &q->msg);
    lua_pop(L, 1);
    n = nb_dns_chain(&q->msg, q->name, chain, MAX_CHAIN, &canon);
    if (n < 0) {
      lua_settop(L, res);
      return n;
    }
    for (k = 0; k < n; k++) {
      const nb_dns_rr *rr = &q->msg.rr[chain[k]];
      lua_createtable(L, 0, 2);
      setfield_str(L, "name", rr->name);
      setfield_str(L, "target", rr->target);
      append(L, res + 1);
    }
    if (q == head || n > 0)
      canonical = canon;
    for (j = 0; j < q->msg.nrr; j++) {
      const nb_dns_rr *rr = &q->msg.rr[j];
      if (rr->type != q->qtype || !nb_dns_same_name(rr->name, canon))
        continue;
      if (rr->type == NB_DNS_PTR)
        lua_pushstring(L, rr->target);
      else
        push_addr(L, rr);
      append(L, res + 3);
      found++;
    }
  }
  lua_setfield(L, res, "answers");
  lua_setfield(L, res, want == NB_DNS_PTR ? "names" : "addresses");
  lua_setfield(L, res, "records");
  lua_setfield(L, res, "cnames");
  setfield_str(L, "canonical", canonical);
  return found;
}

/*
** ** Turns a finished run into Lua values: the result table, or nil, msg,
** code, partial result. `what` begins the message ("lookup NAME").
*/
static int push_outcome(lua_State *L, dns_run *r, unsigned want,
                        const char *what) {
  const dns_query *head = NULL;
  int i, found;
  const char *code = NULL, *why = NULL;
  if (r->outcome == RUN_INTERRUPTED) {
    run_free(r);
    nb_checkinterrupt(L);   /* raises */
  }
  if (r->outcome == RUN_ESETUP) {
    if (r->setup_status == ARES_ENOMEM)
      return luaL_error(L, "not enough memory");
    return nb_fail(L, "servfail", "%s: cannot ask a DNS server (%s)", what,
                   ares_strerror(r->setup_status));
  }
  for (i = 0; i < r->nq && head == NULL; i++)
    if (answered(&r->q[i]))
      head = &r->q[i];
  found = push_result(L, r, head, want);
  if (head == NULL) {
    const dns_query *q = &r->q[0];
    for (i = 0; i < r->nq; i++)
      if (r->q[i].status == ARES_SUCCESS && r->q[i].walked == NB_DNS_ENOMEM)
        return luaL_error(L, "not enough memory");
    for (i = 0; i < r->nq; i++)
      if (r->q[i].status == ARES_SUCCESS && r->q[i].done)
        q = &r->q[i];      /* an answer we could not read */
    if (q->done && q->status == ARES_SUCCESS)
      code = "malformed", why = "malformed answer";
    else if (q->done && q->status == ARES_ECONNREFUSED
             && unreachable(r->server, r->server_port) != 0)
      code = "unreachable", why = "network unreachable";
    else if (q->done && q->status == ARES_ECONNREFUSED)
      code = "refused", why = "connection refused";
    else if (q->done && q->status == ARES_ENOMEM)
      return luaL_error(L, "not enough memory");
    else if (!q->done || q->status == ARES_ETIMEOUT
             || q->status == ARES_EDESTRUCTION)
      code = "timeout", why = NULL;
    else
      code = "servfail", why = ares_strerror(q->status);
  } else if (found == -2) {
    code = "malformed", why = "malformed answer (a chain of more than "
                              NB_STR(MAX_CHAIN) " CNAMEs: too long)";
  } else if (found < 0) {
    code = "malformed", why = "malformed answer (a CNAME loop)";
  } else {
    switch (head->msg.rcode) {
      case NB_DNS_NOERROR:
        if (found > 0)
          return 1;
        code = "nodata";
        why = want == NB_DNS_PTR ? "no PTR record"
            : r->nq == 2 ? "no A or AAAA record"
            : want == NB_DNS_A ? "no A record" : "no AAAA record";
        break;
      case NB_DNS_NXDOMAIN:
        code = "nxdomain", why = "no such name (NXDOMAIN)";
        break;
      case NB_DNS_REFUSED:
        code = "refused", why = "query refused (REFUSED)";
        break;
      case NB_DNS_SERVFAIL:
        code = "servfail", why = "server failure (SERVFAIL)";
        break;
      default:
        code = "servfail", why = rcode_text(head->msg.rcode);
        break;
    }
  }
  luaL_pushfail(L);
  if (why != NULL)
    lua_pushfstring(L, "%s at %s#%d: %s", what, r->server,
                    (int)r->server_port, why);
  else if (r->timeout_ms % 1000 == 0)
    lua_pushfstring(L, "%s at %s#%d: no answer in %d s (%d tries)", what,
                    r->server, (int)r->server_port,
                    r->timeout_ms / 1000 * r->tries, r->tries);
  else
    lua_pushfstring(L, "%s at %s#%d: no answer in %f s (%d tries)", what,
                    r->server, (int)r->server_port,
                    (lua_Number)r->timeout_ms * r->tries / 1000.0,
                    r->tries);
  lua_pushstring(L, code);
  lua_rotate(L, -4, -1);    /* result table last */
  return 4;
}

/* a question for r->q[r->nq]; 0, or -1 if the name does not fit */
static int add_query(dns_run *r, const char *name, unsigned qtype) {
  size_t n = strlen(name);
  dns_query *q = &r->q[r->nq];
  if (n >= sizeof q->name)
    return -1;
  memset(q, 0, sizeof *q);
  memcpy(q->name, name, n + 1);
  q->qtype = qtype;
  r->nq++;
  return 0;
}

static dns_run *new_run(lua_State *L, const query_opts *qo) {
  dns_run *r = (dns_run *)lua_newuserdatauv(L, sizeof *r, 0);
  memset(r, 0, sizeof *r);
  luaL_setmetatable(L, NB_DNSRUN_T);
  r->timeout_ms = qo->timeout_ms;
  r->tries = qo->tries;
  return r;
}

/*
** ** Runs r's questions from r->from to the end (r->outcome). In a task
** the task waits on the loop for c-ares' sockets and timers (the others
** run meanwhile) and k(L, ..., ri) goes on once it is over (r is at stack
** index ri); outside a task, or when the task cannot yield, it waits
** here. A level check (poll, no wait) comes first: the loop's epoll is
** edge-triggered and c-ares may leave bytes unread.
*/
static void drive(lua_State *L, dns_run *r, int ri, lua_KFunction k) {
  nb_task *t = nb_task_of(L);
  for (;;) {
    struct pollfd pfd[NB_DNS_MAXFD];
    int nfds, ms, n;
    if (!nb_dns_pending(r, pfd, &nfds, &ms)) {
      nb_dns_end(r);
      return;
    }
    if (t != NULL) {
      n = nfds > 0 ? poll(pfd, (nfds_t)nfds, 0) : 0;
      if (n > 0 || ms <= 0) {
        nb_dns_process(r, pfd, n > 0 ? nfds : 0);
        continue;
      }
      if (nb_task_park(L, t, pfd, nfds, nb_now_ms() / 1000.0 + ms / 1000.0,
                       (lua_KContext)ri, k) != 0) {
        /* the loop cannot take the wait (out of memory): say so */
        r->outcome = RUN_ESETUP;
        r->setup_status = ARES_ENOMEM;
        nb_dns_end(r);
        return;
      }  /* else it cannot yield: wait here */
    }
    n = poll(pfd, (nfds_t)nfds, ms);
    if (n < 0) {
      if (errno == EINTR && *nb_interrupt_flag) {
        r->outcome = RUN_INTERRUPTED;
        nb_dns_end(r);
        return;
      }
      continue;
    }
    nb_dns_process(r, pfd, n > 0 ? nfds : 0);
  }
}

/* after a wait in a task: net.deadline passed, or go on */
static dns_run *woken(lua_State *L, int ri) {
  dns_run *r = (dns_run *)lua_touserdata(L, ri);
  if (nb_task_timedout(nb_task_of(L))) {
    nb_dns_end(r);
    r->outcome = RUN_TIMEOUT;
  }
  return r;
}

static void start(lua_State *L, dns_run *r, int from) {
  r->deadline = nb_now_ms() + (long long)r->timeout_ms * r->tries;
  nb_dns_start(r, from, nb_task_of(L) ? nb_loop_closed : NULL);
}

/*
** ** Both types: as nslookup, A first, then AAAA of the name the A
** answer's CNAME chain ends at, before the same deadline. r->phase: 0
** asking A (or only AAAA), 1 asking the AAAA.
*/
static int lookup_k(lua_State *L, int status, lua_KContext ctx);

static int lookup_go(lua_State *L, dns_run *r, int ri) {
  int ret;
  if (r->phase == 0) {
    drive(L, r, ri, lookup_k);
    if (r->want_a && r->want_aaaa && r->outcome == RUN_DONE
        && answered(&r->q[0]) && r->q[0].msg.rcode == NB_DNS_NOERROR) {
      size_t chain[MAX_CHAIN];
      const char *canonical;
      if (nb_dns_chain(&r->q[0].msg, r->name, chain, MAX_CHAIN, &canonical)
          >= 0 && add_query(r, canonical, NB_DNS_AAAA) == 0) {
        long long deadline = r->deadline;  /* the same deadline */
        r->phase = 1;
        nb_dns_start(r, 1, nb_task_of(L) ? nb_loop_closed : NULL);
        r->deadline = deadline;
      }
    }
  }
  if (r->phase == 1) {
    drive(L, r, ri, lookup_k);
    if (r->outcome == RUN_ESETUP && r->setup_status != ARES_ENOMEM)
      r->outcome = RUN_DONE;  /* a name c-ares would not ask */
  }
  lua_pushfstring(L, "lookup %s", r->name);
  ret = push_outcome(L, r, r->want_a ? NB_DNS_A : NB_DNS_AAAA,
                     lua_tostring(L, -1));
  run_free(r);
  return ret;
}

static int lookup_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  return lookup_go(L, woken(L, (int)ctx), (int)ctx);
}

static int net_lookup(lua_State *L) {
  size_t n;
  const char *name = luaL_checklstring(L, 1, &n);
  query_opts qo;
  dns_run *r;
  int ret, ri;
  read_opts(L, 2, &qo, 1);
  if ((ret = check_name(L, name, n, 0)) != 0)
    return ret;
  r = new_run(L, &qo);
  ri = lua_gettop(L);
  if ((ret = parse_server(L, &qo, r)) != 0)
    return ret;
  if (name[n - 1] == '.')
    n--;
  memcpy(r->name, name, n);
  r->name[n] = '\0';
  r->want_a = qo.want_a;
  r->want_aaaa = qo.want_aaaa;
  add_query(r, r->name, qo.want_a ? NB_DNS_A : NB_DNS_AAAA);
  start(L, r, 0);
  return lookup_go(L, r, ri);
}

static int reverse_k(lua_State *L, int status, lua_KContext ctx);

static int reverse_go(lua_State *L, dns_run *r, int ri) {
  int ret;
  drive(L, r, ri, reverse_k);
  lua_pushfstring(L, "reverse lookup of %s (%s)", lua_tostring(L, 1),
                  r->name);
  ret = push_outcome(L, r, NB_DNS_PTR, lua_tostring(L, -1));
  run_free(r);
  if (ret == 1) {           /* names, then the whole result */
    lua_getfield(L, -1, "names");
    lua_insert(L, -2);
    return 2;
  }
  return ret;
}

static int reverse_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  return reverse_go(L, woken(L, (int)ctx), (int)ctx);
}

static int net_reverse(lua_State *L) {
  size_t n;
  const char *ip = luaL_checklstring(L, 1, &n);
  query_opts qo;
  uint8_t a[16];
  size_t alen = 4;
  dns_run *r;
  int ret, ri;
  read_opts(L, 2, &qo, 0);
  if (nb_parse_ipv4(ip, n, a) != 0) {
    alen = 16;
    if (nb_parse_ipv6(ip, n, a) != 0) {
      push_shown(L, ip, n);
      return nb_fail(L, "malformed", "reverse lookup: %s is not an IP "
                     "address", lua_tostring(L, -1));
    }
  }
  r = new_run(L, &qo);
  ri = lua_gettop(L);
  if ((ret = parse_server(L, &qo, r)) != 0)
    return ret;
  nb_dns_ptr_name(a, alen, r->name);
  add_query(r, r->name, NB_DNS_PTR);
  start(L, r, 0);
  return reverse_go(L, r, ri);
}

/*
** ======================================================================
** The system's view: getaddrinfo, gethostname
** ======================================================================
*/

typedef struct ai_box {
  struct addrinfo *res;
} ai_box;

static int ai_gc(lua_State *L) {
  ai_box *b = (ai_box *)luaL_checkudata(L, 1, NB_ADDRINFO_T);
  if (b->res != NULL) {
    freeaddrinfo(b->res);
    b->res = NULL;
  }
  return 0;
}

/* net.resolve's failure for getaddrinfo's (or gai.c's) EAI_* code */
int nb_resolve_fail(lua_State *L, int st, const char *name) {
  const char *code = "servfail";
  switch (st) {
    case EAI_NONAME: code = "nxdomain"; break;
#ifdef EAI_NODATA
    case EAI_NODATA: code = "nodata"; break;
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY: code = "nodata"; break;
#endif
    case EAI_AGAIN: code = "timeout"; break;
    case EAI_MEMORY: return luaL_error(L, "not enough memory");
    default: break;
  }
  return nb_fail(L, code, "resolve %s: %s", name,
                 st == EAI_SYSTEM ? strerror(errno) : gai_strerror(st));
}

static int net_resolve(lua_State *L) {
  size_t n;
  const char *name = luaL_checklstring(L, 1, &n);
  struct addrinfo hints, *ai;
  uint8_t a[16];
  char buf[NB_IPV6_STRLEN];
  ai_box *box;
  int st, ret, count = 0;
  if (nb_parse_ipv4(name, n, a) == 0) {
    lua_createtable(L, 1, 0);
    lua_pushlstring(L, buf, nb_format_ipv4(a, buf));
    lua_rawseti(L, -2, 1);
    return 1;
  }
  if (nb_parse_ipv6(name, n, a) == 0) {
    lua_createtable(L, 1, 0);
    lua_pushlstring(L, buf, nb_format_ipv6(a, buf));
    lua_rawseti(L, -2, 1);
    return 1;
  }
  if ((ret = check_name(L, name, n, 1)) != 0)
    return ret;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_flags = AI_NUMERICHOST;
  if (getaddrinfo(name, NULL, &hints, &ai) == 0) {
    /* "127.1", "0x7f.0.0.1": inet_aton's forms, which we refuse */
    freeaddrinfo(ai);
    push_shown(L, name, n);
    return nb_fail(L, "malformed", "name %s is an address in a loose form: "
                   "write four decimal octets", lua_tostring(L, -1));
  }
  if (nb_gai_wanted(L))  /* in a task: c-ares on the loop (gai.c) */
    return nb_gai_hosts(L, name, -1);
  box = (ai_box *)lua_newuserdatauv(L, sizeof *box, 0);
  box->res = NULL;
  luaL_setmetatable(L, NB_ADDRINFO_T);
  /* SOCK_STREAM: each address once (getent ahosts shows three kinds) */
  hints.ai_flags = 0;
  hints.ai_socktype = SOCK_STREAM;
  st = getaddrinfo(name, NULL, &hints, &box->res);
  if (*nb_interrupt_flag) {
    if (box->res != NULL)
      freeaddrinfo(box->res);
    box->res = NULL;
    nb_checkinterrupt(L);
  }
  if (st != 0) {
    box->res = NULL;
    return nb_resolve_fail(L, st, name);
  }
  lua_newtable(L);
  for (ai = box->res; ai != NULL; ai = ai->ai_next) {
    size_t len;
    struct addrinfo *prev;
    int dup = 0;
    if (ai->ai_family == AF_INET)
      len = nb_format_ipv4((const uint8_t *)
        &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, buf);
    else if (ai->ai_family == AF_INET6)
      len = nb_format_ipv6((const uint8_t *)
        &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr, buf);
    else
      continue;
    for (prev = box->res; prev != ai && !dup; prev = prev->ai_next)
      dup = prev->ai_family == ai->ai_family
            && prev->ai_addrlen == ai->ai_addrlen
            && memcmp(prev->ai_addr, ai->ai_addr, ai->ai_addrlen) == 0;
    if (dup)
      continue;
    lua_pushlstring(L, buf, len);
    lua_rawseti(L, -2, ++count);
  }
  freeaddrinfo(box->res);
  box->res = NULL;
  return 1;
}

static int net_hostname(lua_State *L) {
  char buf[256];
  if (gethostname(buf, sizeof buf) != 0)
    return nb_fail(L, "error", "hostname: %s", strerror(errno));
  buf[sizeof buf - 1] = '\0';
  lua_pushstring(L, buf);
  return 1;
}

static const luaL_Reg resolve_funcs[] = {
  {"lookup", net_lookup},
  {"reverse", net_reverse},
  {"resolve", net_resolve},
  {"hostname", net_hostname},
  {NULL, NULL}
};

void nb_open_resolve(lua_State *L) {
  if (luaL_newmetatable(L, NB_DNSRUN_T)) {
    lua_pushcfunction(L, run_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, NB_ADDRINFO_T)) {
    lua_pushcfunction(L, ai_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, resolve_funcs, 0);
}
