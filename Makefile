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
# the host links Lua statically, as lua5.4 does (fast start-up)
LUA_HOST_LIBS ?= -Wl,-Bstatic -llua5.4 -Wl,-Bdynamic -lm -ldl
OPT       ?= -O2
WARN      = -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
            -Wwrite-strings -Werror
CFLAGS    ?= $(OPT) -g
ALL_CFLAGS = -std=c99 -D_GNU_SOURCE -fPIC -fvisibility=hidden $(WARN) \
            $(LUA_INC) $(CARES_INC) $(CFLAGS)
LDFLAGS   ?=

# ---- sources (the rockspec lists the same; spec/build_spec.lua checks) -----
CORE_SRC  = csrc/core.c csrc/common.c csrc/octet.c csrc/validate.c csrc/socket.c \
            csrc/ports.c csrc/resolve.c
FETCH_SRC = csrc/common.c csrc/fetch.c csrc/fetchcheck.c
HOST_SRC  = csrc/host.c
LUA_SRC   = lua/netbasics/init.lua lua/netbasics/socket.lua \
            lua/netbasics/resolve.lua lua/netbasics/fetch.lua
HEADERS   = csrc/netbasics.h

B         = build
CORE_OBJ  = $(CORE_SRC:csrc/%.c=$(B)/obj/%.o)
FETCH_OBJ = $(FETCH_SRC:csrc/%.c=$(B)/obj/%.o)
HOST_OBJ  = $(B)/obj/host.o $(B)/obj/lua_embed.o

.PHONY: all deps demo test check clean bench install uninstall
all: $(B)/lib/netbasics/core.so $(B)/lib/netbasics/curl.so $(B)/bin/netbasics

$(B)/obj/%.o: csrc/%.c $(HEADERS) | $(B)/obj
	$(CC) $(ALL_CFLAGS) $(CURL_INC) -c $< -o $@

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
	  $(LUA_HOST_LIBS) $(CARES_LIBS) -lreadline

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

bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/bench/run

clean:
	rm -rf $(B)
