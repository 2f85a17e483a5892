# Fault injection (test/fault/): seeded schedules of retries, short reads
# and writes, transports that close and records corrupted in flight, under
# one or both sides of an in-process onion pair (fault_schedules.c says
# what is checked).  Replay a failure with the command it prints
# (fault-schedules -seed SEED -n 1 -kind KIND -v); FAULT_SCHEDULES and
# FAULT_SEED in the environment set the count and the first seed.
# detrand.c and tap.c are shared with the fuzzers (fuzz/local.mk).
check_PROGRAMS += test/fault/fault-schedules
TESTS += test/fault/fault-schedules

test_fault_fault_schedules_SOURCES = \
	test/fault/fault_schedules.c \
	test/fault/fault_world.c \
	test/fault/fault_scenario.c \
	test/fault/fault_side.c \
	test/fault/fault_side.h \
	test/fault/fault_world.h \
	test/fault/fault_certs.c \
	test/fault/fault_certs.h \
	test/fault/tap.c \
	test/fault/tap.h \
	test/fault/detrand.c \
	test/fault/detrand.h \
	$(test_helpers_src)
test_fault_fault_schedules_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/test/helpers -I$(top_srcdir)/test/fault
test_fault_fault_schedules_LDADD = libbio_onion.la $(OPENSSL_LIBS)
