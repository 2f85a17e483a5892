# The Quick start demo: three nested TLS layers over a socketpair.  It is
# also a test, so the README's first command never shows a broken demo.
noinst_PROGRAMS += apps/onion-demo
apps_onion_demo_SOURCES = apps/onion-demo.c
apps_onion_demo_LDADD = libbio_onion.la $(OPENSSL_LIBS)
TESTS += apps/onion-demo
