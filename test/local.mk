# Unit tests (CUnit) and the reusable test helpers.

# Test helpers: test PKI, in-process peers and pump, fault, recording and
# write-gathering BIOs, SHA-256 payloads.  Later test programs (fuzzers,
# fault injection) add $(test_helpers_src) to their sources and
# -I$(top_srcdir)/test/helpers to their CPPFLAGS.
test_helpers_src = \
	test/helpers/certs.c test/helpers/certs.h \
	test/helpers/faultbio.c test/helpers/faultbio.h \
	test/helpers/filterbio.c test/helpers/filterbio.h \
	test/helpers/gatherbio.c test/helpers/gatherbio.h \
	test/helpers/peers.c test/helpers/peers.h \
	test/helpers/pump.c test/helpers/pump.h \
	test/helpers/recbio.c test/helpers/recbio.h \
	test/helpers/sha256.c test/helpers/sha256.h \
	test/helpers/testutil.c test/helpers/testutil.h

check_PROGRAMS += test/unit/onion-tests
TESTS += test/unit/onion-tests
test_unit_onion_tests_SOURCES = \
	test/unit/main.c \
	test/unit/unit.c test/unit/unit.h \
	test/unit/test_chain.c \
	test/unit/test_errors.c \
	test/unit/test_events.c \
	test/unit/test_helpers.c \
	test/unit/test_layers.c \
	test/unit/test_misuse.c \
	test/unit/test_nonblocking.c \
	test/unit/test_passthrough.c \
	test/unit/test_pending.c \
	test/unit/test_pop.c \
	test/unit/test_push.c \
	$(test_helpers_src)
test_unit_onion_tests_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/test/helpers
test_unit_onion_tests_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
test_unit_onion_tests_LDADD = libbio_onion.la $(CUNIT_LIBS) $(OPENSSL_LIBS)

# make check-valgrind: the unit suite under valgrind memcheck.  Definite
# leaks and memory errors fail it.  Not with --enable-sanitizers (ASan and
# valgrind do not mix).
VALGRIND_FLAGS = --error-exitcode=1 --leak-check=full \
	--errors-for-leak-kinds=definite --show-leak-kinds=definite \
	--num-callers=40
VALGRIND_TEST_TIMEOUT = 60

check-valgrind: test/unit/onion-tests$(EXEEXT)
if SANITIZERS
	@echo "check-valgrind: configure without --enable-sanitizers" >&2; exit 1
else
	@command -v valgrind >/dev/null 2>&1 || { \
	  echo "check-valgrind: valgrind not found (apt-get install valgrind)" >&2; \
	  exit 1; }
	ONION_TEST_TIMEOUT=$(VALGRIND_TEST_TIMEOUT) $(LIBTOOL) --mode=execute \
	  valgrind $(VALGRIND_FLAGS) test/unit/onion-tests$(EXEEXT)
endif

.PHONY: check-valgrind
