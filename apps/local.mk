# onion-client and onion-server: s_client and s_server for nested TLS,
# built on the public API only.
bin_PROGRAMS += apps/onion-client apps/onion-server

APPS_COMMON_SOURCES = apps/apps_layer.c apps/apps_io.c apps/apps_common.h
# config.h (PACKAGE_VERSION) lives in the build tree.
APPS_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)

apps_onion_client_SOURCES = apps/onion-client.c apps/apps_client.c \
	apps/apps_client.h $(APPS_COMMON_SOURCES)
apps_onion_client_CPPFLAGS = $(APPS_CPPFLAGS)
apps_onion_client_LDADD = libbio_onion.la $(OPENSSL_LIBS)

apps_onion_server_SOURCES = apps/onion-server.c apps/apps_server.c \
	apps/apps_server.h $(APPS_COMMON_SOURCES)
apps_onion_server_CPPFLAGS = $(APPS_CPPFLAGS)
apps_onion_server_LDADD = libbio_onion.la $(OPENSSL_LIBS)
