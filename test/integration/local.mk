# Integration tests: onion-client and onion-server against real,
# independent peers (openssl s_client/s_server, socat, stunnel, tinyproxy)
# on loopback ports chosen at run time.  Each script sources lib.sh, which
# finds the source tree through $srcdir (exported by the test harness) and
# the tools in the build tree it runs in.  A missing peer tool fails.
INTEGRATION_TESTS = \
	test/integration/client-nested.sh \
	test/integration/server-nested.sh \
	test/integration/verify.sh \
	test/integration/client-server.sh \
	test/integration/bulk.sh \
	test/integration/many.sh \
	test/integration/proxy.sh \
	test/integration/misbehave.sh \
	test/integration/tools.sh

TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) test/integration/lib.sh
