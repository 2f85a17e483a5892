# Examples: built by make check so that they never rot, and each run by a
# test script.  They use the public header and libbio_onion only.
EXAMPLE_LIBS = libbio_onion.la $(OPENSSL_LIBS)
EXAMPLE_CERTS = examples/example_certs.c examples/example_certs.h

check_PROGRAMS += \
	examples/https_proxy_client \
	examples/starttls \
	examples/nonblocking_poll \
	examples/chain_with_buffer

examples_https_proxy_client_SOURCES = examples/https_proxy_client.c
examples_https_proxy_client_LDADD = $(EXAMPLE_LIBS)
examples_starttls_SOURCES = examples/starttls.c $(EXAMPLE_CERTS)
examples_starttls_LDADD = $(EXAMPLE_LIBS)
examples_nonblocking_poll_SOURCES = examples/nonblocking_poll.c \
	$(EXAMPLE_CERTS)
examples_nonblocking_poll_LDADD = $(EXAMPLE_LIBS)
examples_chain_with_buffer_SOURCES = examples/chain_with_buffer.c \
	$(EXAMPLE_CERTS)
examples_chain_with_buffer_LDADD = $(EXAMPLE_LIBS)

EXAMPLE_TESTS = \
	examples/run-https-proxy-client.sh \
	examples/run-starttls.sh \
	examples/run-nonblocking-poll.sh \
	examples/run-chain-with-buffer.sh

TESTS += $(EXAMPLE_TESTS)
EXTRA_DIST += $(EXAMPLE_TESTS)
