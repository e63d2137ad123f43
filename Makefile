# slipway — one GNU Makefile: build, test, install, bench, fuzz, format.
#
#   make            build ./slipway (installs missing build deps first)
#   make test       unit tests, each fuzz harness over its seed corpus
#                   (fuzz/replay.c), end-to-end tests; ends with
#                   "N passed, N failed"
#   make check-asan the same suites under -fsanitize=address,undefined
#   make demo       build, then run examples/hello end to end
#   make deps       apt-get the Debian packages pkg-config cannot find
#
# BUILD= puts objects elsewhere (several trees can build side by side).

VERSION := 0.1.0
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
BIN ?= slipway

CC ?= cc
PKGS := libgit2 yaml-0.1 libarchive json-c libcrypto libxml-2.0 libacl sqlite3 libcurl
PKGS += libmicrohttpd
PKGS += libpq
DEP_PKGS := libgit2-dev libyaml-dev libarchive-dev libjson-c-dev libssl-dev \
	libxml2-dev libacl1-dev libsqlite3-dev sqlite3 libcurl4-openssl-dev python3 acl openssh-client openssh-server iproute2 \
	libcmocka-dev pkg-config bats git zip unzip jq zstd gcc make clang-format \
	hyperfine time haproxy
DEP_PKGS += libmicrohttpd-dev curl
DEP_PKGS += libpq-dev postgresql
# Pkg-config names checked by `make deps` (cmocka is for the tests).
DEP_PCS := $(PKGS) cmocka

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wwrite-strings -Wvla -Wformat=2 \
	-Wno-format-nonliteral -Wno-format-truncation
OPT ?= -O2 -g
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE -DSW_VERSION='"$(VERSION)"' $(OPT) \
	$(WARN) -iquote lib -iquote phases -iquote hooks -iquote pipeline -iquote runner -iquote store -iquote cli -iquote server $(PKG_CFLAGS) $(CFLAGS) $(SAN)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LIBS_ALL = -Wl,--as-needed $(PKG_LIBS) -lpthread $(LDFLAGS) $(SAN)

# The rooms, lowest first (DESIGN.md); cli/main.c alone is the program.
LIB_SRC := $(wildcard lib/*.c) $(wildcard store/*.c) $(wildcard phases/*.c) \
	$(wildcard hooks/*.c) $(wildcard runner/*.c) $(wildcard pipeline/*.c) \
	$(wildcard server/*.c) \
	$(filter-out cli/main.c,$(wildcard cli/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/cli/main.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Each libFuzzer harness, linked with fuzz/replay.c: replays its corpus.
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
REPLAY_BIN := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
REPLAY_OBJ := $(BUILD)/fuzz/replay.o
HDRS := $(wildcard lib/*.h store/*.h phases/*.h hooks/*.h pipeline/*.h runner/*.h cli/*.h server/*.h)

.PHONY: all deps test unit e2e check-asan format format-check install \
	demo clean bench fuzz fuzz-run

all: deps
	@$(MAKE) --no-print-directory $(BIN)

# Installs only what pkg-config (or PATH) cannot find; a no-op when
# everything is present, so CI without network passes through.
deps:
	@missing=; \
	for p in $(DEP_PCS); do pkg-config --exists $$p || missing=1; done; \
	for c in bats git zip unzip jq zstd gcc clang-format ssh ip setfacl sqlite3 python3 flock curl; do command -v $$c >/dev/null || missing=1; done; \
	[ -x /usr/sbin/sshd ] && [ -x /usr/sbin/haproxy ] || missing=1; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing=1; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing $(DEP_PKGS)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $(DEP_PKGS) >/dev/null; \
	fi

# Libraries loaded by stubs the first time they are called (lib/lazylib.h).
LAZY_LIBS := git2 archive pq microhttpd crypto
LAZY_OBJ := $(BUILD)/lazystubs.o
$(BUILD)/lazystubs.c: lib/lazystubs.sh $(MAIN_OBJ) $(LIB_OBJ)
	lib/lazystubs.sh $@ "$(CC)" "$(LAZY_LIBS)" $(MAIN_OBJ) $(LIB_OBJ)
$(LAZY_OBJ): $(BUILD)/lazystubs.c lib/lazylib.h
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(BIN): $(MAIN_OBJ) $(LIB_OBJ) $(LAZY_OBJ)
	$(CC) -o $@ $^ $(LIBS_ALL)

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB_OBJ) $(LAZY_OBJ) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(LIB_OBJ) $(LAZY_OBJ) \
		$$(pkg-config --libs cmocka) $(LIBS_ALL)

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c $(REPLAY_OBJ) $(LIB_OBJ) $(HDRS)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(REPLAY_OBJ) $(LIB_OBJ) $(LIBS_ALL)
.SECONDARY: $(REPLAY_OBJ)

test: deps
	@$(MAKE) --no-print-directory $(BIN) $(UNIT_BIN) $(REPLAY_BIN)
	@BUILD=$(BUILD) SLIPWAY=$(abspath $(BIN)) tests/run

unit: $(UNIT_BIN)
	@BUILD=$(BUILD) SLIPWAY=$(abspath $(BIN)) tests/run unit

e2e: $(BIN)
	@BUILD=$(BUILD) SLIPWAY=$(abspath $(BIN)) tests/run e2e

check-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/slipway \
		OPT='-O1 -g -fno-omit-frame-pointer' \
		SAN='-fsanitize=address,undefined -fno-sanitize-recover=undefined' \
		test

demo: all
	@examples/demo.sh "$(abspath $(BIN))"

FMT_SRC = $(wildcard lib/*.[ch] store/*.[ch] phases/*.[ch] hooks/*.[ch] pipeline/*.[ch] runner/*.[ch] cli/*.[ch] server/*.[ch] \
	tests/unit/*.[ch] fuzz/*.c)
format:
	clang-format -i $(FMT_SRC)

format-check:
	@clang-format --dry-run --Werror $(FMT_SRC) && echo "format-check: ok"

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/slipway
	install -m 0644 docs/slipway.1 $(DESTDIR)$(PREFIX)/share/man/man1/slipway.1
	install -m 0644 completions/slipway.bash \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/slipway
	install -D -m 0644 completions/_slipway \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_slipway
	install -D -m 0644 completions/slipway.fish \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/slipway.fish

bench: all
	bench/build-overhead "$(abspath $(BIN))"

# libFuzzer harnesses: make fuzz builds them, make fuzz-run FUZZ_SECS=600 runs.
# The library is compiled once (build-fuzz/obj), each harness linked to it.
FUZZ_SECS ?= 60
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
FUZZ_OBJ := $(LIB_SRC:%.c=build-fuzz/obj/%.o)
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -DSW_VERSION='"$(VERSION)"' -g -O1 \
	-iquote lib -iquote phases -iquote hooks -iquote pipeline -iquote runner -iquote store -iquote cli -iquote server $(PKG_CFLAGS)
fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
build-fuzz/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined \
		-c -o $@ $<
build-fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_OBJ) $(HDRS)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
		$(FUZZ_OBJ) $(PKG_LIBS) -lpthread
fuzz-run: fuzz
	@for f in $(FUZZ_BIN); do mkdir -p build-fuzz/corpus-$$(basename $$f); \
		$$f -max_total_time=$(FUZZ_SECS) build-fuzz/corpus-$$(basename $$f) \
		fuzz/corpus/$$(basename $$f | sed 's/fuzz_//') || exit 1; done

clean:
	rm -rf build build-asan build-fuzz $(BIN)
