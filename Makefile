# easy-lb: etcd-driven, hitlessly reloaded haproxy.
# POSIX-ish make with GNU make conveniences (wildcard, -MMD dependencies).

VERSION  = 0.1.0
PREFIX   = /usr/local
BINDIR   = $(PREFIX)/bin
MANDIR   = $(PREFIX)/share/man
SHAREDIR = $(PREFIX)/share/easy-lb

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Werror -Wshadow -Wdeclaration-after-statement \
           -Wno-unused-parameter -Wno-format-truncation
CPPFLAGS += -Ilib -Itools/common -D_GNU_SOURCE -DVERSION='"$(VERSION)"'
LDLIBS   = -lcurl -ljq -lm

ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD    = build-san
else
BUILD    = build
endif

TOOLS   = etcd-get etcd-put etcd-watch tmpl hap-reload hap-certs easy-lb-status
# lib/: the library, which never exits nor prints, a folder and an
# archive per part: util (buffers, files, JSON), etcd (the client and its
# record stream), tmpl (the template engine, which knows nothing of
# easy-lb), haproxy (its sockets, configurations diffed, maps, bindings,
# certificates) and easylb (easy-lb's schema and rules, as the engine's
# helpers).  A part uses util and the parts before it in LINK, never one
# after.  tools/common/: what the tools share (messages, dying, the etcd
# tools' options).
PARTS   = util etcd tmpl haproxy easylb
LINK    = easylb haproxy tmpl etcd util
LIBS    = $(LINK:%=$(BUILD)/lib%.a)
COMSRC  = $(wildcard tools/common/*.c)
COMOBJ  = $(COMSRC:tools/%.c=$(BUILD)/tools/%.o)
BINS    = $(TOOLS:%=$(BUILD)/%)
MANS    = $(wildcard share/man/*.1)

all: $(BINS) bin

# bin/ always points at the flavour built last, so tests and scripts
# have one place to find the tools.
bin: $(BINS)
	@mkdir -p bin
	@for t in $(TOOLS); do ln -sf ../$(BUILD)/$$t bin/$$t; done

$(BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

$(BUILD)/tools/%.o: tools/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

define part
$$(BUILD)/lib$(1).a: $$(patsubst lib/%.c,$$(BUILD)/lib/%.o,$$(wildcard lib/$(1)/*.c))
	rm -f $$@
	$$(AR) rcs $$@ $$^
endef
$(foreach p,$(PARTS),$(eval $(call part,$(p))))

$(BUILD)/libtools.a: $(COMOBJ)
	rm -f $@
	$(AR) rcs $@ $(COMOBJ)

# (only hap-certs reads certificates itself; easy-lb status, which must
# cost a few ms, loads neither libcurl nor libjq)
$(BUILD)/hap-certs: LDLIBS += -lcrypto
$(BUILD)/easy-lb-status: LDLIBS = -lm

# A tool is tools/NAME.c, and the files of tools/NAME/ when it has some.
$(BUILD)/%: $(BUILD)/tools/%.o $(BUILD)/libtools.a $(LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(BUILD)/libtools.a $(LIBS) $(LDLIBS)

HAPRELOADOBJ = $(patsubst tools/%.c,$(BUILD)/tools/%.o,$(wildcard tools/hap-reload/*.c))
$(BUILD)/hap-reload: $(HAPRELOADOBJ)
HAPCERTSOBJ = $(patsubst tools/%.c,$(BUILD)/tools/%.o,$(wildcard tools/hap-certs/*.c))
$(BUILD)/hap-certs: $(HAPCERTSOBJ)
STATUSOBJ = $(patsubst tools/%.c,$(BUILD)/tools/%.o,$(wildcard tools/easy-lb-status/*.c))
$(BUILD)/easy-lb-status: $(STATUSOBJ)

-include $(wildcard $(BUILD)/lib/*/*.d $(BUILD)/tools/*.d $(BUILD)/tools/*/*.d)

# What each purpose needs from Debian, and only that (contrib/deps.sh).
deps:
	@sh contrib/deps.sh check

# Each of these installs what is missing first, then builds, then runs:
# the install must finish before anything compiles, even under make -j.
check:
	@sh contrib/deps.sh check
	@$(MAKE) --no-print-directory all
	@sh tests/run.sh $(TESTS)

# The house rules a reader can check by grep (tests/lint.sh says which);
# make check runs them too, as tests/lint.bats.
lint: all
	@sh tests/lint.sh

demo:
	@sh contrib/deps.sh demo
	@$(MAKE) --no-print-directory all
	@sh share/easy-lb/demo.sh

# The fault suite: the real balancer while etcd, haproxy, the network and
# the disk misbehave (tests/chaos/).
chaos:
	@sh contrib/deps.sh check
	@$(MAKE) --no-print-directory all
	@sh tests/run.sh $(or $(TESTS),tests/chaos/*.bats)

# Every supported Debian release, each a fresh chroot running make check
# as a newcomer would (root; tests/matrix/run.sh says what it does).
matrix:
	@sh tests/matrix/run.sh $(RELEASES)

fuzz:
	@sh contrib/deps.sh fuzz
	@sh tests/fuzz/run.sh $(FUZZTIME)

bench:
	@sh contrib/deps.sh bench
	@$(MAKE) --no-print-directory all
	@sh bench/run.sh

install: $(BINS)
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(SHAREDIR)
	for t in $(TOOLS); do cp -f $(BUILD)/$$t $(DESTDIR)$(BINDIR)/$$t; chmod 755 $(DESTDIR)$(BINDIR)/$$t; done
	for m in $(MANS); do cp -f $$m $(DESTDIR)$(MANDIR)/man1/; chmod 644 $(DESTDIR)$(MANDIR)/man1/$${m##*/}; done
	cp -Rf share/easy-lb/. $(DESTDIR)$(SHAREDIR)/
	printf '#!/bin/sh\n# easy-lb: the balancer (see $(SHAREDIR)/boot.sh); easy-lb status: what it does.\nPATH="$(BINDIR):$$PATH"\nexport PATH\ncase $${1:-} in status) shift; exec easy-lb-status "$$@" ;; esac\nexec "$(SHAREDIR)/boot.sh" "$$@"\n' \
		>$(DESTDIR)$(BINDIR)/easy-lb
	chmod 755 $(DESTDIR)$(BINDIR)/easy-lb

uninstall:
	for t in $(TOOLS) easy-lb; do rm -f $(DESTDIR)$(BINDIR)/$$t; done
	for m in $(MANS); do rm -f $(DESTDIR)$(MANDIR)/man1/$${m##*/}; done
	rm -rf $(DESTDIR)$(SHAREDIR)

clean:
	rm -rf build build-san bin tests/fuzz/build

# Cross build: make cross ARCH=aarch64 builds every tool in $(TOOLS) into
# build-$(ARCH)/ with Debian's cross gcc and the target's libcurl and libjq
# from multiarch; contrib/deps-cross.sh installs them (or says how) first,
# and maps ARCH to the gcc triplet.  Never sanitized: make check
# SANITIZE=1 exports SANITIZE, and the target has no libasan to load.
ARCH = aarch64

cross:
	@sh contrib/deps-cross.sh $(ARCH)
	@t=$$(sh contrib/deps-cross.sh -t $(ARCH) | cut -d' ' -f2) && \
	$(MAKE) --no-print-directory BUILD=build-$(ARCH) CC=$$t-gcc AR=$$t-ar \
		SANITIZE= $(TOOLS:%=build-$(ARCH)/%)

clean: clean-cross
clean-cross:
	rm -rf build-$(ARCH)

.PHONY: all bin deps check lint chaos demo matrix fuzz bench install uninstall clean cross clean-cross
.SUFFIXES:
.SECONDARY:
