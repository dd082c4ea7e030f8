# netbasics: `make` builds the host and the Lua module; `make demo` and
# `make test` are all the set-up a newcomer needs (see README.md).

# ---- overridable ----------------------------------------------------------
PREFIX    ?= /usr/local
DESTDIR   ?=
CC        ?= cc
PKG_CONFIG ?= pkg-config
LUA       ?= lua5.4
LUA_PC    ?= lua5.4
LUA_INC   ?= $(shell $(PKG_CONFIG) --cflags $(LUA_PC))
CURL_INC  ?= $(shell $(PKG_CONFIG) --cflags libcurl)
CURL_LIBS ?= $(shell $(PKG_CONFIG) --libs libcurl)
CARES_INC ?= $(shell $(PKG_CONFIG) --cflags libcares)
CARES_LIBS ?= $(shell $(PKG_CONFIG) --libs libcares)
READLINE_INC ?=
READLINE_LIBS ?= -lreadline
# the host links Lua statically, as lua5.4 does (fast start-up)
LUA_HOST_LIBS ?= -Wl,-Bstatic -llua5.4 -Wl,-Bdynamic -lm -ldl
OPT       ?= -O2
WARN      = -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
            -Wwrite-strings -Werror
CFLAGS    ?= $(OPT) -g
ALL_CFLAGS = -std=c99 -D_GNU_SOURCE -fPIC -fvisibility=hidden $(WARN) \
            $(LUA_INC) $(CARES_INC) $(CFLAGS)
LDFLAGS   ?=

# ---- where `make install` puts things (LuaRocks passes its own) -----------
# $(DESTDIR) is prepended when copying only; the host looks for its lessons
# in DATADIR (compiled in) and beside itself in ../share/netbasics.
BINDIR    ?= $(PREFIX)/bin
LIBDIR    ?= $(PREFIX)/lib/lua/5.4
LUADIR    ?= $(PREFIX)/share/lua/5.4
DATADIR   ?= $(PREFIX)/share/netbasics
MANDIR    ?= $(PREFIX)/share/man/man1
DOCDIR    ?= $(PREFIX)/share/doc/netbasics
INSTALL   ?= install

# ---- sources (the rockspec lists the same; spec/build_spec.lua checks) -----
# `make -s print-CORE_SRC` shows one list as make sees it
CORE_SRC  = csrc/core.c csrc/common.c csrc/octet.c csrc/validate.c csrc/socket.c \
            csrc/sockaddr.c csrc/sockio.c csrc/ports.c csrc/resolve.c \
            csrc/dnsrun.c csrc/dnsmsg.c csrc/loop.c
FETCH_SRC = csrc/common.c csrc/fetch.c csrc/fetchcheck.c csrc/transfer.c
HOST_SRC  = csrc/host.c
LUA_SRC   = lua/netbasics/init.lua lua/netbasics/socket.lua \
            lua/netbasics/resolve.lua lua/netbasics/fetch.lua \
            lua/netbasics/sched.lua
HEADERS   = csrc/netbasics.h csrc/dnsmsg.h csrc/dnsrun.h csrc/socket.h \
            csrc/loop.h csrc/transfer.h

B         = build
CORE_OBJ  = $(CORE_SRC:csrc/%.c=$(B)/obj/%.o)
FETCH_OBJ = $(FETCH_SRC:csrc/%.c=$(B)/obj/%.o)
HOST_OBJ  = $(HOST_SRC:csrc/%.c=$(B)/obj/%.o) $(B)/obj/lua_embed.o

.PHONY: all deps demo test check clean bench install uninstall FORCE
all: $(B)/lib/netbasics/core.so $(B)/lib/netbasics/curl.so $(B)/bin/netbasics

$(B)/obj/%.o: csrc/%.c $(HEADERS) | $(B)/obj
	$(CC) $(ALL_CFLAGS) $(CURL_INC) -c $< -o $@

# DATADIR is compiled into the host; this header changes (and the host is
# rebuilt) only when DATADIR does, so `make install PREFIX=/opt` is right
$(B)/gen/nb_paths.h: FORCE | $(B)/gen
	@printf '#define NB_DATADIR "%s"\n' '$(DATADIR)' >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi
$(B)/obj/host.o: csrc/host.c $(HEADERS) $(B)/gen/nb_paths.h | $(B)/obj
	$(CC) $(ALL_CFLAGS) $(READLINE_INC) -I$(B)/gen -c $< -o $@

# the Lua half, embedded in the host so it works from any directory
$(B)/gen/lua_embed.c: scripts/embed.lua $(LUA_SRC) | $(B)/gen
	$(LUA) scripts/embed.lua $@ $(LUA_SRC)
$(B)/obj/lua_embed.o: $(B)/gen/lua_embed.c | $(B)/obj
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -c $< -o $@

# netbasics.core: every family but fetch; links c-ares, not libcurl
$(B)/lib/netbasics/core.so: $(CORE_OBJ) | $(B)/lib/netbasics
	$(CC) -shared $(LDFLAGS) -o $@ $(CORE_OBJ) $(CARES_LIBS)
# netbasics.curl (the fetch family): libcurl costs ~8 ms to load, so it is its own module,
# required on the first fetch or download
$(B)/lib/netbasics/curl.so: $(FETCH_OBJ) | $(B)/lib/netbasics
	$(CC) -shared $(LDFLAGS) -o $@ $(FETCH_OBJ) $(CURL_LIBS)

$(B)/bin/netbasics: $(HOST_OBJ) $(CORE_OBJ) | $(B)/bin
	$(CC) $(LDFLAGS) -Wl,-E -o $@ $(HOST_OBJ) $(CORE_OBJ) \
	  $(LUA_HOST_LIBS) $(CARES_LIBS) $(READLINE_LIBS)

$(B)/obj $(B)/gen $(B)/bin $(B)/lib/netbasics:
	mkdir -p $@

deps:
	@scripts/deps

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo

test: deps
	@$(MAKE) --no-print-directory all
	@scripts/run-specs

check: all
	@scripts/run-specs

# make bench: every benchmark, then scripts/bench/results/latest.md and
# latest.svg; make bench QUICK=1: a first look in under a minute
# (results/quick.*); PLACEMENT=one puts server and client on one CPU
bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/bench/run $(if $(QUICK),--quick) $(if $(PLACEMENT),--placement $(PLACEMENT))

clean:
	rm -rf $(B)

# ---- install ---------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=/tmp/stage]; make uninstall with
# the same variables removes exactly what install put there
LESSONS   = $(wildcard scripts/lessons/*.lua)
EXERCISES = $(wildcard scripts/exercises/*.lua)
MANPAGES  = docs/netbasics.1
APIDOCS   = $(wildcard docs/api/*.md)
I_LUA     = $(LUA_SRC:lua/%=$(DESTDIR)$(LUADIR)/%)
I_LESSONS = $(LESSONS:scripts/%=$(DESTDIR)$(DATADIR)/%) \
            $(EXERCISES:scripts/%=$(DESTDIR)$(DATADIR)/%)
I_DOCS    = $(APIDOCS:docs/%=$(DESTDIR)$(DOCDIR)/%) $(DESTDIR)$(DOCDIR)/README.md
I_DIRS    = $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/netbasics \
            $(DESTDIR)$(LUADIR)/netbasics $(DESTDIR)$(DATADIR)/lessons \
            $(DESTDIR)$(DATADIR)/exercises $(DESTDIR)$(MANDIR) \
            $(DESTDIR)$(DOCDIR)/api

install: all
	$(INSTALL) -d $(I_DIRS)
	$(INSTALL) -m 755 $(B)/bin/netbasics $(DESTDIR)$(BINDIR)/netbasics
	$(INSTALL) -m 755 $(B)/lib/netbasics/core.so $(B)/lib/netbasics/curl.so \
	  $(DESTDIR)$(LIBDIR)/netbasics/
	@set -e; for f in $(LUA_SRC:lua/%=%); do \
	  echo "$(INSTALL) -m 644 lua/$$f $(DESTDIR)$(LUADIR)/$$f"; \
	  $(INSTALL) -D -m 644 lua/$$f $(DESTDIR)$(LUADIR)/$$f; done
	$(if $(LESSONS),$(INSTALL) -m 644 $(LESSONS) $(DESTDIR)$(DATADIR)/lessons/)
	$(if $(EXERCISES),$(INSTALL) -m 644 $(EXERCISES) \
	  $(DESTDIR)$(DATADIR)/exercises/)
	$(INSTALL) -m 644 $(MANPAGES) $(DESTDIR)$(MANDIR)/
	$(if $(APIDOCS),$(INSTALL) -m 644 $(APIDOCS) $(DESTDIR)$(DOCDIR)/api/)
	$(INSTALL) -m 644 README.md $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/netbasics \
	  $(DESTDIR)$(LIBDIR)/netbasics/core.so $(DESTDIR)$(LIBDIR)/netbasics/curl.so \
	  $(I_LUA) $(I_LESSONS) $(I_DOCS) \
	  $(MANPAGES:docs/%=$(DESTDIR)$(MANDIR)/%)
	@for d in $(DESTDIR)$(LIBDIR)/netbasics $(DESTDIR)$(LUADIR)/netbasics \
	  $(DESTDIR)$(DATADIR)/lessons $(DESTDIR)$(DATADIR)/exercises \
	  $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)/api $(DESTDIR)$(DOCDIR); do \
	  if [ -d "$$d" ]; then rmdir --ignore-fail-on-non-empty "$$d"; fi; done

# `make -s print-VAR` prints a variable (spec/build_spec.lua reads the
# source lists this way, so the Makefile stays their one home)
print-%:
	@echo '$($*)'
FORCE:
