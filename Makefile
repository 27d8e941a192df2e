# isola build.  `make` builds build/isola and loads the default busybox image into the root in use
# ($ISOLA_ROOT or /var/lib/isola); `make test` and `make demo` also install missing Debian dependencies.
#
# `make CC=… CFLAGS=… CPPFLAGS=… LDFLAGS=…` adds to the release build's flags: what the code needs (ISOLA_*) and the
# hardening (HARDEN_*) are kept apart and always passed.  The ASan, unit test and fuzz builds have their own
# optimisation and sanitizer flags and take only the ISOLA_* ones.

# CC has a built-in default (cc), so `CC ?= gcc` would never apply: gcc unless the command line or the environment
# names another compiler.
ifeq ($(origin CC),default)
CC        := gcc
endif
CLANG     ?= clang
PREFIX    ?= /usr/local
ISOLA_ROOT ?= /var/lib/isola
export ISOLA_ROOT

VERSION   := 0.1.0
GIT_REV   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

# Names the seccomp code in the key of the compiled-program cache (sandbox/seccomp_program.c), which the CLI and the monitor
# share: a change to the profile tables must not find programs compiled from the old ones.  Sorted: a wildcard lists
# in the directory's order, which on a tmpfs differed between two clones (tests/build/reproducible.bats).
SECCOMP_SRCS := $(sort $(wildcard src/lib/sandbox/seccomp_*.[ch]))
SECCOMP_CODE := $(shell cat $(SECCOMP_SRCS) | sha256sum | cut -c1-32)

WARN      := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wformat=2 -Wno-format-nonliteral
ISOLA_CPPFLAGS := -Isrc/lib -Ibuild/gen -isystem /usr/include/libnl3 -DISOLA_VERSION='"$(VERSION)"' \
                  -DISOLA_SECCOMP_CODE='"$(SECCOMP_CODE)"' -DISOLA_LIBDIR='"$(PREFIX)/lib/isola"'
# -ffunction-sections: unused functions of the static libraries stay out of the binaries (the monitor's resident
# size is mostly text).  -ffile-prefix-map: no path of the clone in the binaries (debug info, __FILE__), so that two
# clones of a commit build the same bytes (tests/build/reproducible.bats).
ISOLA_CFLAGS := -std=gnu11 $(WARN) -fno-strict-aliasing -ffunction-sections -fdata-sections \
                -ffile-prefix-map=$(CURDIR)=.
ISOLA_LDFLAGS := -Wl,--as-needed
# Each object depends on the headers it includes (build/**/*.d), not on every header.
DEPFLAGS  := -MMD -MP
CFLAGS    ?= -O2 -g

# Hardening of the release binaries.  _FORTIFY_SOURCE=3 (gcc 12 with glibc 2.36) needs optimisation, so it follows
# CFLAGS: with -O0 glibc would warn, and -Werror fail.  Full RELRO: the GOT is read-only once relocated.
HARDEN_CPPFLAGS := $(if $(filter -O -O1 -O2 -O3 -Os -Og -Ofast -Oz,$(CFLAGS)),-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3)
HARDEN_CFLAGS := -fstack-protector-strong -fPIE
HARDEN_LDFLAGS := -Wl,-z,relro,-z,now

# libnl (network/netlink.c) is linked statically everywhere: the ASan monitor may need no other shared library
# (tests/build/binaries.bats), and the binaries that do not use it (--as-needed, --gc-sections) carry none of it.
NL_LIBS   := -Wl,-Bstatic -lnl-route-3 -lnl-3 -Wl,-Bdynamic
LDLIBS    := -larchive -ljansson -lcrypto -lseccomp $(NL_LIBS) -lm -lcurl
# Release binaries are static (STATIC=0 for dynamic ones): on this kind of host a system call or page fault costs
# ~20 us, and loading the CLI's 20 shared libraries took 5 ms of every command, a fifth of a container start.
# The static link names libarchive's own dependencies; the ASan, unit test and fuzz builds stay dynamic.
STATIC    ?= 1
STATIC_CLI_LIBS := -larchive -lacl -llzma -lzstd -llz4 -lbz2 -lz -lnettle -lb2 -ljansson -lcrypto -lseccomp \
                   -lnl-route-3 -lnl-3 -lm -lpthread
STATIC_MON_LIBS := -ljansson -lseccomp -lnl-route-3 -lnl-3 -lm -lpthread
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# How the ASan CLI and monitor link, which the process-mode bats files start thousands of times: `isola ps -a`
# cost 47 ms of CPU (perf stat -r 40) dynamically linked as a PIE, 26 ms with the sanitizers' runtimes linked in
# (libasan pulls in libstdc++), not a PIE, and the CLI's other libraries static as in the release build: the
# dynamic loader's relocations and symbol lookups were a third of a start, and page faults cost ~20 us here.  The
# instrumentation is the same.  The agent (never run, its NEEDED list is checked) and the unit tests stay dynamic.
ASAN_LINK_FLAGS := -static-libasan -static-libubsan -no-pie
# The library is instrumented for coverage once, into build/fuzz/libisola.a; only the targets link libFuzzer's main.
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined
FUZZ_LINK_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined

# The library's subsystems, lowest first (docs/ARCHITECTURE.md).
LIB_DIRS  := base store proto sandbox image container network driver runtime build
LIB_SRCS  := $(sort $(foreach d,$(LIB_DIRS),$(wildcard src/lib/$(d)/*.c)))
CLI_SRCS  := $(sort $(wildcard src/cli/*.c))
RT_SRCS   := $(sort $(wildcard src/runtime/*.c))
MON_SRCS  := $(sort $(wildcard src/monitor/*.c))
SERVE_SRCS := $(sort $(wildcard src/serve/*.c))
AGENT_SRCS := $(sort $(wildcard src/agent/*.c))
# isola-registry: pull, login, logout with libcurl, which cannot be linked statically (src/registry/main.c).
REG_SRCS  := $(sort $(wildcard src/registry/*.c)) src/cli/cli.c
UNIT_SRCS := $(sort $(wildcard tests/unit/*/test_*.c))
FUZZ_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))
HDRS      := $(wildcard src/lib/*/*.h src/cli/*.h src/runtime/*.h src/monitor/*.h src/serve/*.h src/agent/*.h src/registry/*.h tests/unit/*.h)

LIB_OBJS      := $(LIB_SRCS:%.c=build/obj/%.o)
CLI_OBJS      := $(CLI_SRCS:%.c=build/obj/%.o)
RT_OBJS       := $(RT_SRCS:%.c=build/obj/%.o)
ASAN_RT_OBJS  := $(RT_SRCS:%.c=build/asan/obj/%.o)
MON_OBJS      := $(MON_SRCS:%.c=build/obj/%.o)
AGENT_OBJS    := $(AGENT_SRCS:%.c=build/obj/%.o)
ASAN_MON_OBJS := $(MON_SRCS:%.c=build/asan/obj/%.o)
SERVE_OBJS    := $(SERVE_SRCS:%.c=build/obj/%.o)
ASAN_SERVE_OBJS := $(SERVE_SRCS:%.c=build/asan/obj/%.o)
ASAN_LIB_OBJS := $(LIB_SRCS:%.c=build/asan/obj/%.o)
ASAN_CLI_OBJS := $(CLI_SRCS:%.c=build/asan/obj/%.o)
ASAN_AGENT_OBJS := $(AGENT_SRCS:%.c=build/asan/obj/%.o)
REG_OBJS      := $(REG_SRCS:%.c=build/obj/%.o)
ASAN_REG_OBJS := $(REG_SRCS:%.c=build/asan/obj/%.o)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=build/fuzz/obj/%.o)
UNIT_BINS     := $(addprefix build/asan/tests/,$(notdir $(UNIT_SRCS:.c=)))
FUZZ_BINS     := $(FUZZ_SRCS:fuzz/%.c=build/fuzz/%)

DEFAULT_IMAGE := build/images/busybox.tar

# make test and make check build on every CPU unless the command line chose (-jN; MAKEFLAGS has it only when a
# recipe runs, hence `=`): CI calls a plain `make test`, and its three builds (release, ASan, fuzz) took 2 minutes
# one file at a time.
BUILD_JOBS = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc))

.PHONY: all isola vm vm-cloud asan unit fuzz fuzz-build image load-image deps test demo install clean format lint bench

all: isola vm load-image

isola: build/isola build/isola-monitor build/isola-init build/isola-serve build/isola-runtime build/isola-runtime-vm build/isola-registry

# libcurl dynamic, whatever STATIC says: Debian's libcurl.a needs Kerberos and LDAP, which have no static libraries;
# with it OpenSSL, which it loads anyway.  The rest static as in isola (STATIC=1): a pull of an image that is here is
# mostly this program's start, which loaded 45 shared libraries (8.5 ms of CPU), 33 this way (5.8 ms).
REG_STATIC_LIBS := -Wl,-Bstatic -larchive -lacl -llzma -lzstd -llz4 -lbz2 -lz -lnettle -lb2 -ljansson -lseccomp \
                   -lnl-route-3 -lnl-3 -Wl,-Bdynamic -lcrypto -lm -lcurl
REG_LIBS := $(if $(filter 1,$(STATIC)),$(REG_STATIC_LIBS),$(LDLIBS))
build/isola-registry: $(REG_OBJS) build/libisola.a
	@echo "  LD      $@"
	@$(CC) $(ISOLA_CFLAGS) $(HARDEN_CFLAGS) $(CFLAGS) $(ISOLA_LDFLAGS) $(HARDEN_LDFLAGS) $(LDFLAGS) -pie -o $@ $^ $(REG_LIBS)

build/asan/isola-registry: $(ASAN_REG_OBJS) build/asan/libisola.a
	@echo "  LD asan $@"
	@$(CC) $(ASAN_FLAGS) $(ISOLA_LDFLAGS) -o $@ $^ $(LDLIBS)

# VM isolation: isola's guest kernel (built once per machine from Debian's linux-source and cached outside the
# tree, see scripts/build-kernel.sh) and the initramfs holding the guest agent.
vm: build/vm/vmlinuz build/vm/initramfs.img

build/vm/vmlinuz: vm/kernel/isola.config $(wildcard vm/kernel/patches/*.patch) scripts/build-kernel.sh
	scripts/build-kernel.sh $@

build/vm/initramfs.img: build/isola-agent build/isola-init scripts/mkinitramfs.sh
	scripts/mkinitramfs.sh $@ build/isola-agent build/isola-init:/isola-init

# Another guest kernel: Debian's linux-image-cloud-amd64, whose virtio, erofs and overlay drivers are modules that go
# into its initramfs (the agent loads them) and which finds its devices through ACPI: boot it with
# ISOLA_VM_KERNEL=/boot/vmlinuz-KVER ISOLA_VM_INITRD=build/vm/cloud/initramfs.img ISOLA_VM_ACPI=on.
CLOUD_MODULES := virtio_mmio virtio_blk virtio_console erofs overlay
vm-cloud: build/vm/cloud/initramfs.img

build/vm/cloud/initramfs.img: build/isola-agent build/isola-init scripts/mkinitramfs.sh
	@kver=$$(ls /lib/modules | grep -m1 cloud-amd64) || { echo "linux-image-cloud-amd64 is not installed" >&2; exit 1; }; \
	  echo "  INITRD  $@ ($$kver)"; \
	  ISOLA_INITRAMFS_MODULES="$$kver $(CLOUD_MODULES)" scripts/mkinitramfs.sh $@ build/isola-agent \
	    build/isola-init:/isola-init

# The ASan binaries find the VM files beside them, like the release ones.
build/asan/vm:
	@mkdir -p build/asan
	@ln -sfn ../vm $@

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ISOLA_CPPFLAGS) $(HARDEN_CPPFLAGS) $(CPPFLAGS) $(ISOLA_CFLAGS) $(HARDEN_CFLAGS) $(CFLAGS) $(DEPFLAGS) \
	  -c -o $@ $<

build/asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC asan $<"
	@$(CC) $(ISOLA_CPPFLAGS) $(ISOLA_CFLAGS) $(ASAN_FLAGS) $(DEPFLAGS) -c -o $@ $<

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC fuzz $<"
	@$(CLANG) $(ISOLA_CPPFLAGS) $(ISOLA_CFLAGS) $(FUZZ_FLAGS) $(DEPFLAGS) -c -o $@ $<

# The commit the binaries are built from, for `isola version`: a header rewritten only when HEAD has moved, so that
# what includes it (the -MMD dependencies) is rebuilt then and only then.  A -D flag would not rebuild anything.
GIT_REV_H := build/gen/git_rev.h
.PHONY: FORCE
$(GIT_REV_H): FORCE
	@mkdir -p $(dir $@)
	@echo '#define ISOLA_GIT_REV "$(GIT_REV)"' >$@.tmp; if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
# Before their first build, when no dependency file says so yet.
$(foreach o,src/cli/main.o src/cli/version.o src/serve/system.o,build/obj/$(o) build/asan/obj/$(o)): $(GIT_REV_H)

# The seccomp code's hash is in seccomp_program.o (SECCOMP_CODE): it changes with any of those files.
build/obj/src/lib/sandbox/seccomp_program.o build/asan/obj/src/lib/sandbox/seccomp_program.o \
build/fuzz/obj/src/lib/sandbox/seccomp_program.o: $(SECCOMP_SRCS)

# The library is an archive so that each binary links only the objects it uses, and --as-needed drops the shared
# libraries it then does not need: the monitor, started for every container, loads no libarchive or libcrypto.
# D: no timestamps or owners in the archive.
build/libisola.a build/asan/libisola.a build/fuzz/libisola.a:
	@rm -f $@
	@ar rcsD $@ $^
build/libisola.a: $(LIB_OBJS)
build/asan/libisola.a: $(ASAN_LIB_OBJS)
build/fuzz/libisola.a: $(FUZZ_LIB_OBJS)

# Static PIE (ASLR for a static binary: glibc's -static-pie; Debian's static libarchive, libseccomp, jansson,
# libcrypto… have no absolute 32-bit relocations, so they link) where it costs nothing measurable.  It costs the
# binary's start-up relocation of its pointers (R_X86_64_RELATIVE), a page fault for each page holding some:
# - CLI: 19k relocations on 99 pages.  `isola --version` went from 50 to 145 page faults and from 1.5-2.1 to
#   3.8-4.2 ms of CPU (perf stat -r 50), ~2 ms more for each of the CLI's starts in a ~30 ms `run`: off.
# - monitor: its resident size (its budget is 1 MiB) went from 992-996 kB to 1000-1064 kB (median 1040 kB,
#   `run -d busybox sleep 100`, 10 runs): off.
# - init and VM agent: ~1.3k relocations on 7-8 pages; init's start-up did not change measurably (4-6 ms of CPU for
#   `isola-init -- /bin/true` either way), nor did a VM's boot (its noise is hundreds of ms): on.
# The other hardening (HARDEN_*) changed neither the monitor's resident size nor the CLI's start-up.
PIE_CLI   ?= 0
PIE_MON   ?= 0
PIE_AGENT ?= 1
PIE_INIT  ?= 1
static_flag = $(if $(filter 1,$(1)),-static-pie,-static)

# glibc warns that the NSS functions libcrypto's BIO code references need shared libraries at run time: isola never
# calls them, so those warnings are dropped and anything else the linker says is shown.
# $(1): objects and libraries, $(2): 1 for static PIE.
STATIC_LINK = $(CC) $(ISOLA_CFLAGS) $(HARDEN_CFLAGS) $(CFLAGS) $(ISOLA_LDFLAGS) $(HARDEN_LDFLAGS) $(LDFLAGS) \
              $(call static_flag,$(2)) -Wl,--gc-sections -o $@ $(1) 2>$@.log; rc=$$?; \
              grep -v "statically linked applications requires at runtime\|: in function \`" $@.log >&2; rm -f $@.log; \
              exit $$rc

# The agent is PID 1 of a guest that has nothing else: static, whatever STATIC says.
build/isola-agent: $(AGENT_OBJS) build/libisola.a
	@echo "  LD      $@"
	@$(call STATIC_LINK,$^ $(STATIC_MON_LIBS),$(PIE_AGENT))

ifeq ($(STATIC),1)
# libarchive's table of writers pulls in its xar writer, and that libxml2 and ICU (30 MB): archive_noxar.o stands
# in for the one writer isola never uses.
build/isola: $(CLI_OBJS) build/obj/src/static/archive_noxar.o build/libisola.a
	@echo "  LD      $@"
	@$(call STATIC_LINK,$^ $(STATIC_CLI_LIBS),$(PIE_CLI))

build/isola-monitor: $(MON_OBJS) build/libisola.a
	@echo "  LD      $@"
	@$(call STATIC_LINK,$^ $(STATIC_MON_LIBS),$(PIE_MON))
else
DYNAMIC_LINK = $(CC) $(ISOLA_CFLAGS) $(HARDEN_CFLAGS) $(CFLAGS) $(ISOLA_LDFLAGS) $(HARDEN_LDFLAGS) $(LDFLAGS) -pie \
               -o $@ $(1) $(LDLIBS)

build/isola: $(CLI_OBJS) build/libisola.a
	@echo "  LD      $@"
	@$(call DYNAMIC_LINK,$^)

build/isola-monitor: $(MON_OBJS) build/libisola.a
	@echo "  LD      $@"
	@$(call DYNAMIC_LINK,$^)
endif

# The OCI runtime (runc's command line, docs/RUNTIME.md): linked as the CLI is, static and not a PIE in a release
# build, for the same reason (every container start is one or two of its starts: dynamically it loaded 19 shared
# libraries, libarchive's libxml2, ICU and libstdc++ among them, ~1 ms of CPU a start, which was its whole gap to
# crun's; bench/runtime.sh); isola-runtime-vm is the same binary, defaulting to VM isolation.
ifeq ($(STATIC),1)
build/isola-runtime: $(RT_OBJS) build/obj/src/static/archive_noxar.o build/libisola.a
	@echo "  LD      $@"
	@$(call STATIC_LINK,$^ $(STATIC_CLI_LIBS),$(PIE_CLI))
else
build/isola-runtime: $(RT_OBJS) build/libisola.a
	@echo "  LD      $@"
	@$(CC) $(ISOLA_CFLAGS) $(HARDEN_CFLAGS) $(CFLAGS) $(ISOLA_LDFLAGS) $(HARDEN_LDFLAGS) $(LDFLAGS) -pie -o $@ $^ $(LDLIBS)
endif

build/isola-runtime-vm build/asan/isola-runtime-vm: %-vm: %
	@ln -sf isola-runtime $@

# Static: it runs inside containers, whose images have any libc or none.  Small rather than fast (-Os), whatever
# CFLAGS says.
build/isola-init: src/init/init.c
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ISOLA_CFLAGS) -Os -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3 $(HARDEN_CFLAGS) $(HARDEN_LDFLAGS) \
	  $(call static_flag,$(PIE_INIT)) -o $@ $<

build/asan/isola-init: build/isola-init
	@mkdir -p $(dir $@)
	@cp $< $@

# isola serve's server (`isola serve` executes it): dynamic, whatever STATIC says, because libmicrohttpd needs GnuTLS,
# whose static form needs libraries Debian ships only shared (p11-kit).
SERVE_LIBS := -lmicrohttpd -lgnutls -lpthread $(LDLIBS)
build/isola-serve: $(SERVE_OBJS) build/libisola.a
	@echo "  LD      $@"
	@$(CC) $(ISOLA_CFLAGS) $(HARDEN_CFLAGS) $(CFLAGS) $(ISOLA_LDFLAGS) $(HARDEN_LDFLAGS) $(LDFLAGS) -pie \
	  -o $@ $^ $(SERVE_LIBS)

build/asan/isola-serve: $(ASAN_SERVE_OBJS) build/asan/libisola.a
	@echo "  LD asan $@"
	@$(CC) $(ASAN_FLAGS) $(ASAN_LINK_FLAGS) $(ISOLA_LDFLAGS) -o $@ $^ $(SERVE_LIBS)

# Its shared libraries stay dynamic: their list is what tests/build/binaries.bats checks.
build/asan/isola-monitor: $(ASAN_MON_OBJS) build/asan/libisola.a
	@echo "  LD asan $@"
	@$(CC) $(ASAN_FLAGS) $(ASAN_LINK_FLAGS) $(ISOLA_LDFLAGS) -o $@ $^ $(LDLIBS)

# Never booted: the agent linked dynamically lists the libraries it needs, which tests/build/binaries.bats checks.
build/asan/isola-agent: $(ASAN_AGENT_OBJS) build/asan/libisola.a
	@echo "  LD asan $@"
	@$(CC) $(ASAN_FLAGS) $(ISOLA_LDFLAGS) -o $@ $^ $(LDLIBS)

build/asan/isola: $(ASAN_CLI_OBJS) build/obj/src/static/archive_noxar.o build/asan/libisola.a
	@echo "  LD asan $@"
	@$(CC) $(ASAN_FLAGS) $(ASAN_LINK_FLAGS) $(ISOLA_LDFLAGS) -o $@ $^ -Wl,-Bstatic $(filter-out -lm -lpthread,$(STATIC_CLI_LIBS)) \
	  -Wl,-Bdynamic -lm -lpthread 2>$@.log; rc=$$?; \
	  grep -v "statically linked applications requires at runtime\|: in function \`" $@.log >&2; rm -f $@.log; exit $$rc

build/asan/isola-runtime: $(ASAN_RT_OBJS) build/asan/libisola.a
	@echo "  LD asan $@"
	@$(CC) $(ASAN_FLAGS) $(ASAN_LINK_FLAGS) $(ISOLA_LDFLAGS) -o $@ $^ $(LDLIBS)

vpath test_%.c $(sort $(dir $(UNIT_SRCS)))
# Their dependency files go with the objects: build/asan/tests/ holds only the tests, which run-tests.sh runs.
build/asan/tests/%: %.c $(ASAN_LIB_OBJS)
	@mkdir -p $(dir $@) build/asan/obj/tests
	@echo "  LD asan $@"
	@$(CC) $(ISOLA_CPPFLAGS) -Itests/unit $(ISOLA_CFLAGS) $(ASAN_FLAGS) $(DEPFLAGS) -MF build/asan/obj/tests/$*.d \
	  -o $@ $< $(ASAN_LIB_OBJS) $(LDLIBS)

build/fuzz/fuzz_%: fuzz/fuzz_%.c build/fuzz/libisola.a
	@mkdir -p $(dir $@) build/fuzz/obj/fuzz
	@echo "  FUZZ    $@"
	@$(CLANG) $(ISOLA_CPPFLAGS) $(ISOLA_CFLAGS) $(FUZZ_LINK_FLAGS) $(DEPFLAGS) -MF build/fuzz/obj/fuzz/fuzz_$*.d \
	  -o $@ $< build/fuzz/libisola.a $(LDLIBS)

-include $(wildcard $(patsubst %,%.d,$(basename $(LIB_OBJS) $(CLI_OBJS) $(RT_OBJS) $(ASAN_RT_OBJS) $(MON_OBJS) $(AGENT_OBJS) $(ASAN_LIB_OBJS) \
           $(SERVE_OBJS) $(ASAN_SERVE_OBJS) $(REG_OBJS) $(ASAN_REG_OBJS) $(ASAN_CLI_OBJS) $(ASAN_MON_OBJS) $(ASAN_AGENT_OBJS) $(FUZZ_LIB_OBJS) build/obj/src/static/archive_noxar.o) \
           $(UNIT_BINS:build/asan/tests/%=build/asan/obj/tests/%) $(FUZZ_BINS:build/fuzz/%=build/fuzz/obj/fuzz/%)))

asan: build/asan/isola build/asan/isola-registry build/asan/isola-monitor build/asan/isola-serve build/asan/isola-agent build/asan/isola-init build/asan/isola-runtime build/asan/isola-runtime-vm build/asan/vm $(UNIT_BINS)
unit: $(UNIT_BINS)
fuzz-build: $(FUZZ_BINS)

# Fuzzing as a standing tool: every target for FUZZ_S seconds (default 10 minutes) each, one after the other, from
# its corpus in the tree, which keeps what adds coverage (minimized); prints the executions reached
# (scripts/fuzz.sh).  `make fuzz FUZZ_S=60 T=vmproto` runs one target for a minute.  make test runs each for a few
# seconds only.
FUZZ_S ?= 600
fuzz: $(FUZZ_BINS)
	FUZZ_S=$(FUZZ_S) scripts/fuzz.sh $(T)

# The default image: busybox from Debian's busybox-static, made by our own import + save.
$(DEFAULT_IMAGE): build/isola scripts/mkbusybox.sh
	scripts/mkbusybox.sh build/isola $@

image: $(DEFAULT_IMAGE)

load-image: $(DEFAULT_IMAGE)
	build/isola load -q -i $(DEFAULT_IMAGE)

deps:
	@scripts/deps.sh

# T= runs part of the tests: bats files, unit tests or fuzz targets by name (scripts/run-tests.sh --help).
test: deps
	$(MAKE) $(BUILD_JOBS) isola vm vm-cloud asan fuzz-build $(DEFAULT_IMAGE)
	scripts/run-tests.sh $(T)

# The inner loop: the unit tests (ASan) and the integration tests with process isolation, driving the release build
# (an ASan CLI costs ~0.1 s at every start and exit); no VM, no fuzzing.  make test drives the ASan build.
.PHONY: check
check: deps
	$(MAKE) $(BUILD_JOBS) isola build/isola-agent asan $(DEFAULT_IMAGE)
	scripts/run-tests.sh --only unit,bats --binaries release $(T)

demo: deps
	$(MAKE) all
	scripts/demo.sh

bench: deps
	$(MAKE) isola vm $(DEFAULT_IMAGE)
	bench/load.sh
	bench/run.sh
	bench/vm.sh
	bench/output.sh

install: build/isola build/isola-monitor build/isola-init build/isola-serve build/isola-registry build/isola-runtime vm
	install -D -m 0755 build/isola $(DESTDIR)$(PREFIX)/bin/isola
	install -D -m 0755 build/isola-monitor $(DESTDIR)$(PREFIX)/bin/isola-monitor
	install -D -m 0755 build/isola-registry $(DESTDIR)$(PREFIX)/bin/isola-registry
	install -D -m 0755 build/isola-init $(DESTDIR)$(PREFIX)/bin/isola-init
	install -D -m 0755 build/isola-serve $(DESTDIR)$(PREFIX)/bin/isola-serve
	install -D -m 0644 contrib/isola.socket $(DESTDIR)$(PREFIX)/lib/systemd/system/isola.socket
	sed 's|/usr/local/bin/|$(PREFIX)/bin/|' contrib/isola.service >$(DESTDIR)$(PREFIX)/lib/systemd/system/isola.service
	install -D -m 0755 build/isola-runtime $(DESTDIR)$(PREFIX)/bin/isola-runtime
	ln -sf isola-runtime $(DESTDIR)$(PREFIX)/bin/isola-runtime-vm
	install -D -m 0644 build/vm/vmlinuz $(DESTDIR)$(PREFIX)/lib/isola/vmlinuz
	install -D -m 0644 build/vm/initramfs.img $(DESTDIR)$(PREFIX)/lib/isola/initramfs.img

format:
	clang-format -i $(LIB_SRCS) $(CLI_SRCS) $(RT_SRCS) $(MON_SRCS) $(SERVE_SRCS) $(AGENT_SRCS) $(REG_SRCS) src/init/init.c src/static/*.c $(UNIT_SRCS) $(FUZZ_SRCS) $(HDRS)

lint:
	cppcheck --quiet --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
	  -D_GNU_SOURCE -Isrc/lib -I/usr/include --suppress=missingIncludeSystem --suppress='*:/usr/include/*' \
	  src/lib src/cli src/monitor src/agent

clean:
	rm -rf build
