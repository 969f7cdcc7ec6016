# mtlsd - mutual-TLS static file server. Plain make, no configure step.
#
#   make            build ./mtlsd (BearSSL linked statically)
#   make certs      demo PKI in certs/ (CA, server, client, client.p12)
#   make run        build, make the demo certificates, serve ./www on :8443
#   make check      the quick tests: unit, integration, deploy, docs
#                   (under a minute; no root, no installs, loopback only)
#   make test       unit, integration, robustness and no-allocation tests,
#                   the fuzz corpus, the sanitizer build and valgrind
#   make fuzz       each libFuzzer target for FUZZ_SECONDS (clang)
#   make deps       install the Debian packages needed to build and test
#   make install    PREFIX=/usr/local DESTDIR= (binary, man pages, example
#                   config, systemd unit)
#   make CROSS=aarch64-linux-gnu-    build/arm64/mtlsd (arm-linux-gnueabihf-: armhf)
#   make STATIC=1   link fully statically (any target; cross: build/NAME-static/)
#   make test-cross static arm64 and armhf builds, tested under qemu-user
#   make MUSL=1     build/musl/mtlsd: fully static against musl (musl-tools)
#   make test-musl  that build, checked static, the tests run against it
#   make size       footprint per target: sizes, bytes per slot, RSS, 10,000 idle conns
#   make bench      mtlsd against nginx and lighttpd (minutes; not part of test)

CC ?= cc
PREFIX ?= /usr/local
CROSS ?=
# A cross prefix names the compiler (there is no aarch64-linux-gnu-cc).
ifneq ($(CROSS),)
ifeq ($(origin CC),default)
CC = $(CROSS)gcc
endif
endif
# MUSL=1: a fully static native build against musl libc, with Debian's
# musl-gcc, in build/musl/. musl-gcc searches musl's headers only, so
# build/musl/include links in BearSSL's and the kernel's (linux/openat2.h)
# and nothing of glibc's, searched after musl's; musl_compat.c has the
# three _FORTIFY_SOURCE checks that Debian's libbearssl.a calls.
ifeq ($(MUSL),1)
ifneq ($(CROSS),)
$(error MUSL=1 builds for this machine only; it does not take CROSS=)
endif
ifeq ($(origin CC),default)
CC = musl-gcc
endif
BUILDDIR ?= build/musl
MUSL_INC = $(BUILDDIR)/include
CPPFLAGS += -idirafter $(MUSL_INC)
LDFLAGS += -static
COMPAT = $(BUILDDIR)/musl_compat.o
endif
MULTIARCH ?= $(shell $(CC) -print-multiarch 2>/dev/null)
BEARSSL_LIB ?= $(firstword $(wildcard /usr/lib/$(MULTIARCH)/libbearssl.a /usr/lib/libbearssl.a /usr/local/lib/libbearssl.a) -lbearssl)

WARNINGS = -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	-Wpointer-arith -Wformat=2
# No unwind tables: C needs none (no exceptions), and they were 12 KiB of
# the stripped binary; -g still gives debuggers what they need.
CFLAGS ?= -O2 -g -fno-asynchronous-unwind-tables
# 64-bit off_t and time_t on 32-bit targets too (armhf): large files, and
# dates after January 2038.
CPPFLAGS += -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64
LDFLAGS ?=
LIBS = $(BEARSSL_LIB)

ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(STATIC),1)
LDFLAGS += -static
endif

# The native build stays in place (./mtlsd); a cross build goes to its own
# directory, build/arm64, build/armhf (or the triplet), with -static added
# under STATIC=1, so objects of different targets never mix. BUILDDIR=DIR
# chooses another directory.
CROSS_NAME = $(patsubst aarch64-linux-gnu,arm64,$(patsubst arm-linux-gnueabihf,armhf,$(CROSS:-=)))
ifneq ($(CROSS),)
BUILDDIR ?= build/$(CROSS_NAME)$(if $(filter 1,$(STATIC)),-static)
endif
O = $(if $(BUILDDIR),$(BUILDDIR)/)

OBJS = $(O)server.o $(O)tls.o $(O)x509.o $(O)http.o $(O)filecache.o $(O)nginx_conf.o \
	$(O)proxy.o $(O)priv.o $(O)side.o
HEADERS = tls.h x509.h http.h filecache.h server.h proxy.h priv.h side.h
UNIT = $(if $(O),$(O)unit,tests/unit)
UNIT_PROXY = $(if $(O),$(O)unit-proxy,tests/unit-proxy)

all: $(O)mtlsd

$(O)mtlsd: $(OBJS) $(COMPAT)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(COMPAT) $(LIBS)

# BearSSL 0.6 cannot report its version at run time: mtlsd --version shows
# the one it was built with, as the package manager knows it.
BEARSSL_VERSION ?= $(or $(shell dpkg-query -W -f='$${Version}\n' libbearssl-dev 2>/dev/null | head -n 1),unknown)
$(O)server.o: CPPFLAGS += -DBEARSSL_VERSION='"$(BEARSSL_VERSION)"'

$(O)%.o: %.c $(HEADERS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -c -o $@ $<

$(UNIT): tests/unit.c tests/check.h tls.c x509.c http.c filecache.c side.c $(HEADERS) $(COMPAT)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -Wno-missing-prototypes -I. \
		$(LDFLAGS) -o $@ tests/unit.c $(COMPAT) $(LIBS)

ifneq ($(O),)
$(OBJS) $(UNIT) $(UNIT_PROXY): | $(BUILDDIR)
$(BUILDDIR):
	mkdir -p $@
endif

ifeq ($(MUSL),1)
# Checked on every build, not only when the directory is missing: links
# made before musl-tools (or linux-libc-dev) was installed point at
# nothing, and are made again once they can point somewhere.
MUSL_LINKS = bearssl.h bearssl linux asm-generic asm
$(OBJS) $(UNIT) $(UNIT_PROXY) $(COMPAT): | musl-include
musl-include: | $(BUILDDIR)
	@command -v $(CC) >/dev/null 2>&1 || { echo "make MUSL=1: $(CC) not found;" \
		"install musl-tools (sh tests/install-deps.sh musl)" >&2; exit 1; }
	@[ -n "$(MULTIARCH)" ] && [ -d /usr/include/$(MULTIARCH)/asm ] || { echo "make MUSL=1:" \
		"no /usr/include/$(MULTIARCH)/asm; install linux-libc-dev" >&2; exit 1; }
	@(for l in $(MUSL_LINKS); do [ -e $(MUSL_INC)/$$l ] || exit 1; done) || { \
		echo "making $(MUSL_INC)"; rm -rf $(MUSL_INC) $(MUSL_INC).new && \
		mkdir $(MUSL_INC).new && \
		ln -s /usr/include/bearssl.h /usr/include/bearssl /usr/include/linux \
			/usr/include/asm-generic $(MUSL_INC).new/ && \
		ln -s /usr/include/$(MULTIARCH)/asm $(MUSL_INC).new/asm && \
		mv $(MUSL_INC).new $(MUSL_INC); }
.PHONY: musl-include
endif

# BearSSL's floor for one handshake, built like mtlsd.
bench/floor: bench/floor.c
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) $(LDFLAGS) -o $@ bench/floor.c $(LIBS)

# Installs nginx, lighttpd, ab and gnuplot if missing (valgrind and
# musl-tools too, optional); builds build/musl/mtlsd with MUSL=1 for its
# footprint rows; writes bench/results.*. Like make run, it installs the
# build's packages first (a C compiler, libbearssl-dev): a fresh machine
# needs only make.
bench:
	sh tests/install-deps.sh build
	$(MAKE) mtlsd bench/floor
	bash bench/run.sh

tests/unit-nginx: tests/unit-nginx.c tests/check.h nginx_conf.c http.c filecache.c x509.c $(HEADERS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -Wno-missing-prototypes -I. \
		$(LDFLAGS) -o $@ tests/unit-nginx.c http.c filecache.c x509.c $(LIBS)

$(UNIT_PROXY): tests/unit-proxy.c tests/check.h proxy.c proxy.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -Wno-missing-prototypes -I. \
		$(LDFLAGS) -o $@ tests/unit-proxy.c

# ---- sanitizers, fuzzing and allocation counting (see tests/README.md) ----

SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
FUZZ_TARGETS = http path pem nginx proxy
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
# what a target links beside the .c files it includes
FUZZ_EXTRA_nginx = http.c filecache.c x509.c

# The server built with ASan and UBSan, beside ./mtlsd (no shared objects).
SAN_SRCS = $(patsubst $(O)%.o,%.c,$(OBJS))
mtlsd-san: $(SAN_SRCS) $(HEADERS)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN_FLAGS) $(WARNINGS) $(LDFLAGS) \
		-o $@ $(SAN_SRCS) $(LIBS)

# LD_PRELOAD heap-call counter for the no-allocation test (glibc only).
tests/malloc-count.so: tests/malloc-count.c
	$(CC) -O2 -g -Wall -Wextra -Werror -fPIC -shared -o $@ tests/malloc-count.c

# Fuzz targets with a plain main() that replays a corpus; any compiler.
REPLAYERS = $(FUZZ_TARGETS:%=tests/replay-%)
$(REPLAYERS): tests/replay-%: tests/fuzz-%.c tests/fuzz-main.c tls.c x509.c http.c filecache.c \
		nginx_conf.c proxy.c $(HEADERS)
	$(CC) $(CPPFLAGS) -O1 -g $(SAN_FLAGS) $(WARNINGS) -Wno-missing-prototypes \
		-I. $(LDFLAGS) -o $@ tests/fuzz-$*.c tests/fuzz-main.c $(FUZZ_EXTRA_$*) $(LIBS)

# The same targets linked with libFuzzer (clang).
FUZZERS = $(FUZZ_TARGETS:%=tests/fuzz-%)
$(FUZZERS): tests/fuzz-%: tests/fuzz-%.c tls.c x509.c http.c filecache.c nginx_conf.c proxy.c \
		$(HEADERS)
	$(FUZZ_CC) $(CPPFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined $(WARNINGS) -Wno-missing-prototypes \
		-I. -o $@ tests/fuzz-$*.c $(FUZZ_EXTRA_$*) $(LIBS)

# Each target for FUZZ_SECONDS, starting from the checked-in corpus (and,
# for pem, from inputs with real keys made from a throwaway PKI); new inputs
# go to tests/corpus-new/TARGET: copy the useful ones to tests/corpus by hand.
fuzz: $(FUZZERS)
	@pki=$$(mktemp -d) && sh tests/mkpki.sh $$pki/pki >/dev/null 2>&1 && \
		sh tests/fuzz-seeds.sh $$pki/pki tests/corpus-new/pem; rm -rf $$pki
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p tests/corpus-new/$$t; \
		echo "fuzz-$$t: $(FUZZ_SECONDS) s"; \
		./tests/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=tests/ \
			tests/corpus-new/$$t tests/corpus/$$t >tests/fuzz-$$t.log 2>&1; \
		status=$$?; \
		grep -E '^stat::(number_of_executed_units|new_units_added)' tests/fuzz-$$t.log; \
		if [ $$status -ne 0 ]; then \
			grep -E -A 12 '^==[0-9]+==ERROR|runtime error' tests/fuzz-$$t.log | head -n 30; \
			echo "fuzz-$$t failed (exit $$status), see tests/fuzz-$$t.log"; exit 1; \
		fi; \
	done

certs: certs/ca.crt
certs/ca.crt:
	sh certs/mkcerts.sh certs

# Installs what is missing first, so a fresh machine needs only this. The
# demo CA's key sits in certs/: the demo listens on this machine only.
RUN_LISTEN = 127.0.0.1:8443
run:
	sh tests/install-deps.sh build
	$(MAKE) mtlsd certs
	@echo
	@echo "Listening on $(RUN_LISTEN) only (this machine). Try, from another terminal:"
	@echo "  curl --cacert certs/ca.crt --cert certs/client.crt --key certs/client.key https://localhost:8443/"
	@echo "To serve other machines, use your own CA and certificates, not the demo"
	@echo "ones, and listen on all addresses (the daemon's default, 0.0.0.0:8443):"
	@echo "  ./mtlsd -l 0.0.0.0:8443 -r www -c SERVER.crt -k SERVER.key -C YOUR-CA.crt"
	@echo "  (or: make run RUN_LISTEN=0.0.0.0:8443 for this demo)"
	@echo
	./mtlsd -l $(RUN_LISTEN) -r www -c certs/server.crt -k certs/server.key -C certs/ca.crt

test:
	sh tests/install-deps.sh test
	$(MAKE) mtlsd tests/unit tests/unit-nginx tests/unit-proxy mtlsd-san \
		tests/malloc-count.so $(REPLAYERS)
	sh tests/run.sh

# What a developer runs before committing: no package installs, no root.
check:
	$(MAKE) mtlsd tests/unit tests/unit-nginx tests/unit-proxy
	sh tests/run.sh check

deps:
	sh tests/install-deps.sh test

# Builds for arm64 and armhf, then the unit and integration tests against
# the static binaries under qemu-user (tests/cross.sh).
test-cross:
	sh tests/install-deps.sh cross
	sh tests/cross.sh

# build/musl/ from scratch, checked fully static and linked with musl, then
# the unit and integration tests against it (tests/musl.sh).
test-musl:
	sh tests/install-deps.sh musl
	sh tests/musl.sh

# Footprint of the native, musl, arm64 and armhf builds (tests/footprint.py).
size:
	sh tests/install-deps.sh cross
	sh tests/install-deps.sh musl
	python3 tests/footprint.py

SYSCONFDIR ?= /etc
MANDIR ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d

# The example configuration goes to $(SYSCONFDIR)/mtlsd/nginx.conf only
# when there is none, so that reinstalling never overwrites a real one.
# The man pages name the default paths (man ./mtlsd.8 reads well in the
# checkout); the installed copies get the real ones.
install: $(O)mtlsd
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(PREFIX)/share/doc/mtlsd/examples $(DESTDIR)$(SYSCONFDIR)/mtlsd \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	cp $(O)mtlsd $(DESTDIR)$(PREFIX)/bin/mtlsd
	chmod 755 $(DESTDIR)$(PREFIX)/bin/mtlsd
	sed 's,/usr/local/,$(PREFIX)/,g; s,/etc/mtlsd/,$(SYSCONFDIR)/mtlsd/,g' mtlsd.8 \
		>$(DESTDIR)$(MANDIR)/man8/mtlsd.8
	sed 's,/usr/local/,$(PREFIX)/,g; s,/etc/mtlsd/,$(SYSCONFDIR)/mtlsd/,g' mtlsd-nginx.5 \
		>$(DESTDIR)$(MANDIR)/man5/mtlsd-nginx.5
	chmod 644 $(DESTDIR)$(MANDIR)/man8/mtlsd.8 $(DESTDIR)$(MANDIR)/man5/mtlsd-nginx.5
	cp deploy/nginx.conf $(DESTDIR)$(PREFIX)/share/doc/mtlsd/examples/nginx.conf
	chmod 644 $(DESTDIR)$(PREFIX)/share/doc/mtlsd/examples/nginx.conf
	[ -e $(DESTDIR)$(SYSCONFDIR)/mtlsd/nginx.conf ] || \
		cp deploy/nginx.conf $(DESTDIR)$(SYSCONFDIR)/mtlsd/nginx.conf
	sed 's,@BINDIR@,$(PREFIX)/bin,g; s,@SYSCONFDIR@,$(SYSCONFDIR),g' \
		deploy/mtlsd.service >$(DESTDIR)$(SYSTEMDUNITDIR)/mtlsd.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/mtlsd.service
	cp deploy/mtlsd.sysusers $(DESTDIR)$(SYSUSERSDIR)/mtlsd.conf
	chmod 644 $(DESTDIR)$(SYSUSERSDIR)/mtlsd.conf

clean:
	rm -f mtlsd $(OBJS) tests/unit bench/floor tests/unit-nginx tests/unit-proxy \
		mtlsd-san $(REPLAYERS) $(FUZZERS) tests/malloc-count.so
	rm -rf build

.PHONY: all certs run check test deps install clean test-cross test-musl size bench fuzz
