# mtlsd - mutual-TLS static file server. Plain make, no configure step.
#
#   make            build ./mtlsd (BearSSL linked statically)
#   make certs      demo PKI in certs/ (CA, server, client, client.p12)
#   make run        build, make the demo certificates, serve ./www on :8443
#   make test       unit and integration tests
#   make deps       install the Debian packages needed to build and test
#   make install    PREFIX=/usr/local DESTDIR=
#   make bench      mtlsd against nginx and lighttpd (minutes; not part of test)

CC ?= cc
PREFIX ?= /usr/local
CROSS ?=
MULTIARCH ?= $(shell $(CROSS)$(CC) -print-multiarch 2>/dev/null)
BEARSSL_LIB ?= $(firstword $(wildcard /usr/lib/$(MULTIARCH)/libbearssl.a /usr/lib/libbearssl.a /usr/local/lib/libbearssl.a) -lbearssl)

WARNINGS = -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	-Wpointer-arith -Wformat=2
CFLAGS ?= -O2 -g
CPPFLAGS += -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64
LDFLAGS ?=
LIBS = $(BEARSSL_LIB)

ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(STATIC),1)
LDFLAGS += -static
endif

OBJS = server.o tls.o http.o
HEADERS = tls.h http.h server.h

all: mtlsd

mtlsd: $(OBJS)
	$(CROSS)$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LIBS)

%.o: %.c $(HEADERS)
	$(CROSS)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -c -o $@ $<

tests/unit: tests/unit.c tls.c http.c $(HEADERS)
	$(CROSS)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -Wno-missing-prototypes -I. \
		$(LDFLAGS) -o $@ tests/unit.c $(LIBS)

# BearSSL's floor for one handshake, built like mtlsd.
bench/floor: bench/floor.c
	$(CROSS)$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) $(LDFLAGS) -o $@ bench/floor.c $(LIBS)

# Installs nginx, lighttpd, ab and gnuplot if missing; writes bench/results.*.
bench: mtlsd bench/floor
	bash bench/run.sh

certs: certs/ca.crt
certs/ca.crt:
	sh certs/mkcerts.sh certs

# Installs what is missing first, so a fresh machine needs only this.
run:
	sh tests/install-deps.sh build
	$(MAKE) mtlsd certs
	@echo
	@echo "Try, from another terminal:"
	@echo "  curl --cacert certs/ca.crt --cert certs/client.crt --key certs/client.key https://localhost:8443/"
	@echo
	./mtlsd -l 0.0.0.0:8443 -r www -c certs/server.crt -k certs/server.key -C certs/ca.crt

test:
	sh tests/install-deps.sh test
	$(MAKE) mtlsd tests/unit
	sh tests/run.sh

deps:
	sh tests/install-deps.sh test

install: mtlsd
	mkdir -p $(DESTDIR)$(PREFIX)/bin
	cp mtlsd $(DESTDIR)$(PREFIX)/bin/mtlsd
	chmod 755 $(DESTDIR)$(PREFIX)/bin/mtlsd

clean:
	rm -f mtlsd $(OBJS) tests/unit bench/floor

.PHONY: all certs run test deps install clean bench
