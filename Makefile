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
# zlib: netbasics.curl decodes gzip and deflate bodies itself
ZLIB_INC  ?= $(shell $(PKG_CONFIG) --cflags zlib)
ZLIB_LIBS ?= $(shell $(PKG_CONFIG) --libs zlib)
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
            csrc/dnsrun.c csrc/dnsmsg.c csrc/loop.c csrc/sockunix.c csrc/gai.c
FETCH_SRC = csrc/common.c csrc/fetch.c csrc/fetchcheck.c csrc/transfer.c \
            csrc/validate.c
HOST_SRC  = csrc/host.c
LUA_SRC   = lua/netbasics/init.lua lua/netbasics/socket.lua \
            lua/netbasics/resolve.lua lua/netbasics/fetch.lua \
            lua/netbasics/sched.lua lua/netbasics/lesson.lua
HEADERS   = csrc/netbasics.h csrc/dnsmsg.h csrc/dnsrun.h csrc/socket.h \
            csrc/loop.h csrc/transfer.h csrc/gai.h

B         = build
CORE_OBJ  = $(CORE_SRC:csrc/%.c=$(B)/obj/%.o)
FETCH_OBJ = $(FETCH_SRC:csrc/%.c=$(B)/obj/%.o)
HOST_OBJ  = $(HOST_SRC:csrc/%.c=$(B)/obj/%.o) $(B)/obj/lua_embed.o

.PHONY: all deps demo test check clean bench install uninstall FORCE
all: $(B)/lib/netbasics/core.so $(B)/lib/netbasics/curl.so $(B)/bin/netbasics

$(B)/obj/%.o: csrc/%.c $(HEADERS) | $(B)/obj
	$(CC) $(ALL_CFLAGS) $(CURL_INC) $(ZLIB_INC) -c $< -o $@

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
	$(CC) -shared $(LDFLAGS) -o $@ $(FETCH_OBJ) $(CURL_LIBS) $(ZLIB_LIBS)

$(B)/bin/netbasics: $(HOST_OBJ) $(CORE_OBJ) | $(B)/bin
	$(CC) $(LDFLAGS) -Wl,-E -o $@ $(HOST_OBJ) $(CORE_OBJ) \
	  $(LUA_HOST_LIBS) $(CARES_LIBS) $(READLINE_LIBS)

$(B)/obj $(B)/gen $(B)/bin $(B)/lib/netbasics:
	mkdir -p $@

# scripts/deps installs one set of packages: tour (make, make demo), test
# (make test adds the tests' peers), bench (make bench adds what it measures)
deps:
	@scripts/deps test && scripts/deps bench

demo:
	@scripts/deps tour
	@$(MAKE) --no-print-directory all
	@scripts/demo

test:
	@scripts/deps test
	@$(MAKE) --no-print-directory all fuzzers
	@scripts/run-specs

check: all fuzzers
	@scripts/run-specs

# make bench: every benchmark, then scripts/bench/results/latest.md and
# latest.svg; make bench QUICK=1: a first look in under a minute
# (results/quick.*); PLACEMENT=one puts server and client on one CPU
bench:
	@scripts/deps bench
	@$(MAKE) --no-print-directory all
	@scripts/bench/run $(if $(QUICK),--quick) $(if $(PLACEMENT),--placement $(PLACEMENT))

clean:
	rm -rf $(B) build-asan $(FUZZ_B)

# ---- install ---------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=/tmp/stage]; make uninstall with
# the same variables removes exactly what install put there, and the
# folders install made that are empty then. Those are recorded in
# DATADIR/installed-dirs (a folder that was there before is never listed,
# so never removed).
LESSONS   = $(wildcard scripts/lessons/*.lua)
EXERCISES = $(wildcard scripts/exercises/*.lua)
MANPAGES  = docs/netbasics.1
APIDOCS   = $(wildcard docs/api/*.md)
I_LUA     = $(LUA_SRC:lua/%=$(DESTDIR)$(LUADIR)/%)
I_LESSONS = $(LESSONS:scripts/%=$(DESTDIR)$(DATADIR)/%) \
            $(EXERCISES:scripts/%=$(DESTDIR)$(DATADIR)/%)
I_DOCS    = $(APIDOCS:docs/%=$(DESTDIR)$(DOCDIR)/%) $(DESTDIR)$(DOCDIR)/README.md
I_FOLDERS = $(BINDIR) $(LIBDIR)/netbasics $(LUADIR)/netbasics \
            $(DATADIR)/lessons $(DATADIR)/exercises $(MANDIR) $(DOCDIR)/api
I_DIRS    = $(addprefix $(DESTDIR),$(I_FOLDERS))
I_RECORD  = $(DESTDIR)$(DATADIR)/installed-dirs

install: all
	@set -e; new=; for d in $(I_FOLDERS); do \
	  while [ "$$d" != / ] && [ ! -d "$(DESTDIR)$$d" ]; do \
	    new="$$new $$d"; d=$$(dirname "$$d"); done; done; \
	echo "$(INSTALL) -d $(I_DIRS)"; $(INSTALL) -d $(I_DIRS); \
	{ cat "$(I_RECORD)" 2>/dev/null || true; printf '%s\n' $$new; } \
	  | sed '/^$$/d' | sort -u >"$(I_RECORD).tmp"; \
	mv -f "$(I_RECORD).tmp" "$(I_RECORD)"
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
	@made=$$(sort -r "$(I_RECORD)" 2>/dev/null); rm -f "$(I_RECORD)"; \
	for d in $(DESTDIR)$(LIBDIR)/netbasics $(DESTDIR)$(LUADIR)/netbasics \
	  $(DESTDIR)$(DATADIR)/lessons $(DESTDIR)$(DATADIR)/exercises \
	  $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)/api $(DESTDIR)$(DOCDIR) \
	  $$(for m in $$made; do echo "$(DESTDIR)$$m"; done); do \
	  if [ -d "$$d" ]; then rmdir --ignore-fail-on-non-empty "$$d"; fi; done

# ---- sanitizers and leaks -------------------------------------------------
# make check-asan: the specs against an ASan+UBSan build in build-asan/
# (clang-14, -fno-sanitize-recover=all). The host links the sanitizer
# runtime; stock lua5.4 gets it preloaded (-shared-libasan), with
# csrc/fuzz/preload_once.c so that the programs a spec starts do not.
# Leaks are valgrind's part (detect_leaks=0). A report lands in
# build-asan/reports/ and fails the target, whatever exit code a spec
# expected.
ASAN_CC   ?= clang-14
ASAN_B     = build-asan
ASAN_RT    = $(shell $(ASAN_CC) -print-file-name=libclang_rt.asan-x86_64.so)
SANITIZE   = -fsanitize=address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer
# the specs of the build, the docs and the install check packaging, not C
ASAN_SPECS ?= $(filter-out spec/build_spec.lua spec/docs_spec.lua \
  spec/install_spec.lua,$(wildcard spec/*_spec.lua))
ASAN_ENV   = NB_BUILD=$(ASAN_B) \
  NB_LUA="env LD_PRELOAD=$(ASAN_RT):$(CURDIR)/$(ASAN_B)/lib/preload_once.so lua5.4" \
  ASAN_OPTIONS=detect_leaks=0:log_path=$(CURDIR)/$(ASAN_B)/reports/asan \
  UBSAN_OPTIONS=print_stacktrace=1:log_path=$(CURDIR)/$(ASAN_B)/reports/ubsan

.PHONY: asan check-asan valgrind-build check-valgrind
asan:
	@$(MAKE) --no-print-directory B=$(ASAN_B) CC=$(ASAN_CC) \
	  CFLAGS="-O1 -g $(SANITIZE)" \
	  LDFLAGS="$(SANITIZE) -shared-libasan -Wl,-rpath,$(dir $(ASAN_RT))" all

$(ASAN_B)/lib/preload_once.so: csrc/fuzz/preload_once.c | $(ASAN_B)/lib
	$(CC) $(WARN) -std=c99 -D_GNU_SOURCE -fPIC -shared -o $@ $<
$(ASAN_B)/lib:
	mkdir -p $@

check-asan: asan fuzzers $(ASAN_B)/lib/preload_once.so
	@rm -rf $(ASAN_B)/reports; mkdir -p $(ASAN_B)/reports
	@$(ASAN_ENV) scripts/run-specs $(ASAN_SPECS); rc=$$?; \
	if [ -n "$$(ls $(ASAN_B)/reports)" ]; then \
	  cat $(ASAN_B)/reports/* | head -100 >&2; \
	  echo "check-asan: sanitizer reports in $(ASAN_B)/reports"; \
	  echo "0 passed, 1 failed"; exit 1; fi; exit $$rc

# make check-valgrind: the specs that call the C module (VALGRIND_SPECS)
# in a lua5.4 under valgrind; the specs that run lessons with the host
# (VALGRIND_HOST_SPECS: each lesson of the out-of-memory walk, a sample
# of its failure points, and the host faults) with every run of the host
# under valgrind; and the fuzz seed corpus through each parser
# (replay-*). The rest of the suite (install, docs, the lessons' terminal
# sessions, the differential spec's 18,000 strings) does not run under
# valgrind: it would take many minutes and tell nothing more about C.
VALGRIND   = valgrind --leak-check=full --errors-for-leak-kinds=definite \
             --show-leak-kinds=definite --error-exitcode=99
VALGRIND_SPECS ?= spec/octet_spec.lua spec/validate_spec.lua \
  spec/faults_address_spec.lua spec/faults_names_spec.lua \
  spec/faults_download_spec.lua
VALGRIND_HOST_SPECS ?= spec/faults_oom_spec.lua spec/faults_host_spec.lua
VG_LOGS    = $(B)/valgrind

check-valgrind: all fuzzers
	@rm -rf $(VG_LOGS); mkdir -p $(VG_LOGS)
	@set -e; for h in $(FUZZERS); do \
	  $(VALGRIND) --log-file=$(VG_LOGS)/replay-$$h.log \
	    $(FUZZ_B)/replay-$$h csrc/fuzz/corpus/$$h >/dev/null \
	  || { cat $(VG_LOGS)/replay-$$h.log; \
	       echo "replay-$$h: valgrind errors"; echo "0 passed, 1 failed"; \
	       exit 1; }; done
	@NB_LUA="$(VALGRIND) -q lua5.4" \
	  NB_HOST_WRAP="$(VALGRIND) --log-file=$(CURDIR)/$(VG_LOGS)/host-%p.log" \
	  scripts/run-specs $(VALGRIND_SPECS) $(wildcard $(VALGRIND_HOST_SPECS)); \
	rc=$$?; \
	bad=$$(grep -l 'ERROR SUMMARY: [1-9]' $(VG_LOGS)/*.log | head -5); \
	if [ -n "$$bad" ]; then cat $$bad >&2; \
	  echo "check-valgrind: valgrind errors from the host: $$bad"; \
	  echo "0 passed, 1 failed"; exit 1; fi; exit $$rc

# ---- fuzzing (libFuzzer, clang-14): csrc/fuzz/ ------------------------------
# One harness per parser of outside input, each called as plain C; seeds
# in csrc/fuzz/corpus/<harness>/. `make fuzz FUZZ_SECONDS=N` fuzzes each
# harness in turn for N seconds (niced; new inputs go to
# build-fuzz/corpus/, crashes to build-fuzz/crash-*); `make fuzzers`
# builds them and spec/fuzz_corpus_spec.lua replays the seeds (-runs=0).
# replay-<harness> is the same harness with a plain main() and no
# sanitizer, for valgrind.
FUZZ_CC      ?= clang-14
FUZZ_B        = build-fuzz
FUZZ_SECONDS ?= 60
FUZZERS       = ipv4 ipv6 cidr endpoint port binary hostname dns url
# what a harness needs beyond FUZZ_BASE
FUZZ_SRC_dns  = csrc/dnsmsg.c
FUZZ_LIBS_dns = $(CARES_LIBS)
FUZZ_SRC_url  = csrc/fetchcheck.c
FUZZ_EXTRA    = $(FUZZ_SRC_dns) $(FUZZ_SRC_url)
FUZZ_CFLAGS   = -std=c99 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
                $(WARN) -Icsrc $(LUA_INC) $(CARES_INC)
FUZZ_SAN      = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_BASE     = csrc/common.c csrc/validate.c csrc/octet.c
FUZZ_LIBS     = $(shell $(PKG_CONFIG) --libs $(LUA_PC)) -lm
FUZZ_BINS     = $(FUZZERS:%=$(FUZZ_B)/fuzz-%) $(FUZZERS:%=$(FUZZ_B)/replay-%)

.PHONY: fuzzers fuzz
fuzzers: $(FUZZ_BINS)

$(FUZZ_B)/fuzz-%: csrc/fuzz/fuzz_%.c csrc/fuzz/fuzz.h $(FUZZ_BASE) \
                  $(FUZZ_EXTRA) $(HEADERS) | $(FUZZ_B)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -o $@ $< $(FUZZ_BASE) \
	  $(FUZZ_SRC_$*) $(FUZZ_LIBS) $(FUZZ_LIBS_$*)
$(FUZZ_B)/replay-%: csrc/fuzz/fuzz_%.c csrc/fuzz/replay.c csrc/fuzz/fuzz.h \
                    $(FUZZ_BASE) $(FUZZ_EXTRA) $(HEADERS) | $(FUZZ_B)
	$(CC) $(FUZZ_CFLAGS) -o $@ $< csrc/fuzz/replay.c $(FUZZ_BASE) \
	  $(FUZZ_SRC_$*) $(FUZZ_LIBS) $(FUZZ_LIBS_$*)
$(FUZZ_B):
	mkdir -p $@

fuzz: fuzzers
	@set -e; for h in $(FUZZERS); do \
	  mkdir -p $(FUZZ_B)/corpus/$$h; \
	  echo "fuzz-$$h: $(FUZZ_SECONDS) s"; \
	  nice -n 19 $(FUZZ_B)/fuzz-$$h -max_total_time=$(FUZZ_SECONDS) \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_B)/crash-$$h- \
	    $(FUZZ_B)/corpus/$$h csrc/fuzz/corpus/$$h 2>&1 \
	    | grep -E '^(stat::number_of_executed_units|==|SUMMARY|.*property)' \
	    || true; \
	  if ls $(FUZZ_B)/crash-$$h-* >/dev/null 2>&1; then \
	    echo "fuzz-$$h: found a crash: $$(ls $(FUZZ_B)/crash-$$h-*)"; \
	    exit 1; fi; \
	done

# `make -s print-VAR` prints a variable (spec/build_spec.lua reads the
# source lists this way, so the Makefile stays their one home)
print-%:
	@echo '$($*)'
FORCE:
