# isola build.  `make` builds build/isola and loads the default busybox image into the root in use
# ($ISOLA_ROOT or /var/lib/isola); `make test` and `make demo` also install missing Debian dependencies.

CC        ?= gcc
CLANG     ?= clang
PREFIX    ?= /usr/local
ISOLA_ROOT ?= /var/lib/isola
export ISOLA_ROOT

VERSION   := 0.1.0
GIT_REV   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

WARN      := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wformat=2 -Wno-format-nonliteral
CPPFLAGS  += -Isrc/lib -DISOLA_VERSION='"$(VERSION)"' -DISOLA_GIT_REV='"$(GIT_REV)"'
# Names the seccomp code in the key of the compiled-program cache (seccomp_bpf.c), which the CLI and the monitor
# share: a change to the profile tables must not find programs compiled from the old ones.
SECCOMP_CODE := $(shell cat src/lib/seccomp.h src/lib/seccomp.c src/lib/seccomp_bpf.c | sha256sum | cut -c1-32)
CPPFLAGS  += -DISOLA_SECCOMP_CODE='"$(SECCOMP_CODE)"' -DISOLA_LIBDIR='"$(PREFIX)/lib/isola"'
CFLAGS    ?= -O2 -g
# Unused functions of the static libraries stay out of the binaries (the monitor's resident size is mostly text).
CFLAGS    += -ffunction-sections -fdata-sections
CFLAGS    += -std=gnu11 $(WARN) -fno-strict-aliasing
LDLIBS    := -larchive -ljansson -lcrypto -lseccomp -lm
# Release binaries are static (STATIC=0 for dynamic ones): on this kind of host a system call or page fault costs
# ~20 us, and loading the CLI's 20 shared libraries took 5 ms of every command, a fifth of a container start.
# The static link names libarchive's own dependencies; the ASan, unit test and fuzz builds stay dynamic.
STATIC    ?= 1
STATIC_CLI_LIBS := -larchive -lacl -llzma -lzstd -llz4 -lbz2 -lz -lnettle -lb2 -ljansson -lcrypto -lseccomp -lm \
                   -lpthread
STATIC_MON_LIBS := -ljansson -lseccomp -lm
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRCS  := $(sort $(wildcard src/lib/*.c))
CLI_SRCS  := $(sort $(wildcard src/cli/*.c))
MON_SRCS  := $(sort $(wildcard src/monitor/*.c))
AGENT_SRCS := $(sort $(wildcard src/agent/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))
HDRS      := $(wildcard src/lib/*.h src/cli/*.h src/monitor/*.h src/agent/*.h tests/unit/*.h)

LIB_OBJS      := $(LIB_SRCS:%.c=build/obj/%.o)
CLI_OBJS      := $(CLI_SRCS:%.c=build/obj/%.o)
MON_OBJS      := $(MON_SRCS:%.c=build/obj/%.o)
AGENT_OBJS    := $(AGENT_SRCS:%.c=build/obj/%.o)
ASAN_MON_OBJS := $(MON_SRCS:%.c=build/asan/obj/%.o)
ASAN_LIB_OBJS := $(LIB_SRCS:%.c=build/asan/obj/%.o)
ASAN_CLI_OBJS := $(CLI_SRCS:%.c=build/asan/obj/%.o)
UNIT_BINS     := $(UNIT_SRCS:tests/unit/%.c=build/asan/tests/%)
FUZZ_BINS     := $(FUZZ_SRCS:fuzz/%.c=build/fuzz/%)

DEFAULT_IMAGE := build/images/busybox.tar

.PHONY: all isola vm vm-cloud asan unit fuzz image load-image deps test demo install clean format lint bench

all: isola vm load-image

isola: build/isola build/isola-monitor build/isola-init

# VM isolation: isola's guest kernel (built once per machine from Debian's linux-source and cached outside the
# tree, see scripts/build-kernel.sh) and the initramfs holding the guest agent.
vm: build/vm/vmlinuz build/vm/initramfs.img

build/vm/vmlinuz: vm/kernel/isola.config scripts/build-kernel.sh
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

# The agent is PID 1 of a guest that has nothing else: static, whatever STATIC says.
build/isola-agent: $(AGENT_OBJS) build/libisola.a
	@echo "  LD      $@"
	@$(call STATIC_LINK,$^ $(STATIC_MON_LIBS))

# The ASan binaries find the VM files beside them, like the release ones.
build/asan/vm:
	@mkdir -p build/asan
	@ln -sfn ../vm $@

build/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

build/asan/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC asan $<"
	@$(CC) $(CPPFLAGS) -std=gnu11 $(WARN) $(ASAN_FLAGS) -c -o $@ $<

build/obj/src/lib/seccomp_bpf.o build/asan/obj/src/lib/seccomp_bpf.o: src/lib/seccomp.c

# The library is an archive so that each binary links only the objects it uses, and --as-needed drops the shared
# libraries it then does not need: the monitor, started for every container, loads no libarchive or libcrypto.
build/libisola.a: $(LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

build/asan/libisola.a: $(ASAN_LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

LDFLAGS += -Wl,--as-needed

# glibc warns that the NSS functions libcrypto's BIO code references need shared libraries at run time: isola never
# calls them, so those warnings are dropped and anything else the linker says is shown.
STATIC_LINK = $(CC) $(CFLAGS) $(LDFLAGS) -static -Wl,--gc-sections -o $@ $(1) 2>$@.log; rc=$$?; \
              grep -v "statically linked applications requires at runtime\|: in function \`" $@.log >&2; rm -f $@.log; \
              exit $$rc

ifeq ($(STATIC),1)
# libarchive's table of writers pulls in its xar writer, and that libxml2 and ICU (30 MB): archive_noxar.o stands
# in for the one writer isola never uses.
build/isola: $(CLI_OBJS) build/obj/src/static/archive_noxar.o build/libisola.a
	@echo "  LD      $@"
	@$(call STATIC_LINK,$^ $(STATIC_CLI_LIBS))

build/isola-monitor: $(MON_OBJS) build/libisola.a
	@echo "  LD      $@"
	@$(call STATIC_LINK,$^ $(STATIC_MON_LIBS))
else
build/isola: $(CLI_OBJS) build/libisola.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

build/isola-monitor: $(MON_OBJS) build/libisola.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
endif

# Static: it runs inside containers, whose images have any libc or none.
build/isola-init: src/init/init.c
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) -std=gnu11 $(WARN) -Os -static -o $@ $<

build/asan/isola-init: build/isola-init
	@mkdir -p $(dir $@)
	@cp $< $@

build/asan/isola-monitor: $(ASAN_MON_OBJS) build/asan/libisola.a
	@echo "  LD asan $@"
	@$(CC) $(ASAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

build/asan/isola: $(ASAN_CLI_OBJS) build/asan/libisola.a
	@echo "  LD asan $@"
	@$(CC) $(ASAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

build/asan/tests/%: tests/unit/%.c $(ASAN_LIB_OBJS) $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  LD asan $@"
	@$(CC) $(CPPFLAGS) -Itests/unit -std=gnu11 $(WARN) $(ASAN_FLAGS) -o $@ $< $(ASAN_LIB_OBJS) $(LDLIBS)

build/fuzz/%: fuzz/%.c $(LIB_SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	@$(CLANG) $(CPPFLAGS) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -o $@ $< $(LIB_SRCS) $(LDLIBS)

asan: build/asan/isola build/asan/isola-monitor build/asan/isola-init build/asan/vm $(UNIT_BINS)
unit: $(UNIT_BINS)
fuzz: $(FUZZ_BINS)

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
	$(MAKE) isola vm vm-cloud asan fuzz $(DEFAULT_IMAGE)
	scripts/run-tests.sh $(T)

# The inner loop: the unit tests and the integration tests with process isolation; no VM and no fuzzing.
.PHONY: check
check: deps
	$(MAKE) isola asan $(DEFAULT_IMAGE)
	scripts/run-tests.sh --only unit,bats $(T)

demo: deps
	$(MAKE) all
	scripts/demo.sh

bench: deps
	$(MAKE) isola vm $(DEFAULT_IMAGE)
	bench/load.sh
	bench/run.sh
	bench/vm.sh

install: build/isola build/isola-monitor build/isola-init vm
	install -D -m 0755 build/isola $(DESTDIR)$(PREFIX)/bin/isola
	install -D -m 0755 build/isola-monitor $(DESTDIR)$(PREFIX)/bin/isola-monitor
	install -D -m 0755 build/isola-init $(DESTDIR)$(PREFIX)/bin/isola-init
	install -D -m 0644 build/vm/vmlinuz $(DESTDIR)$(PREFIX)/lib/isola/vmlinuz
	install -D -m 0644 build/vm/initramfs.img $(DESTDIR)$(PREFIX)/lib/isola/initramfs.img

format:
	clang-format -i $(LIB_SRCS) $(CLI_SRCS) $(MON_SRCS) $(AGENT_SRCS) src/init/init.c src/static/*.c $(UNIT_SRCS) $(FUZZ_SRCS) $(HDRS)

lint:
	cppcheck --quiet --enable=warning,performance,portability --error-exitcode=1 --inline-suppr \
	  -D_GNU_SOURCE -Isrc/lib -I/usr/include --suppress=missingIncludeSystem --suppress='*:/usr/include/*' \
	  src/lib src/cli src/monitor src/agent

clean:
	rm -rf build
