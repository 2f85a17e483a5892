# Load (test/load/): `make check-load`, not part of `make check` (it takes
# a few minutes).  test/load/run-load.sh starts onion-server -echo -inband
# with three layers on a free loopback port, then load-client runs 1,000
# concurrent clients at depth 3 (10% hostile: garbage, stalls, resets) for
# two rounds, checking every echoed byte and, after each round, the
# server's descriptors and resident memory against their idle levels; then
# it stops the server, whose exit (with --enable-sanitizers: LeakSanitizer)
# must be clean.  LOAD_CLIENTS, LOAD_ROUNDS, LOAD_HOSTILE, LOAD_HOLD and
# LOAD_SEED override the defaults.
check_PROGRAMS += test/load/load-client
test_load_load_client_SOURCES = test/load/load-client.c \
	test/load/load-conn.c test/load/load-client.h
test_load_load_client_LDADD = libbio_onion.la $(OPENSSL_LIBS)
EXTRA_DIST += test/load/run-load.sh

check-load: test/load/load-client apps/onion-server
	ONION_SERVER=apps/onion-server LOAD_CLIENT=test/load/load-client \
	$(SHELL) $(srcdir)/test/load/run-load.sh
.PHONY: check-load
