lib_LTLIBRARIES += libbio_onion.la
libbio_onion_la_SOURCES = \
	bio_onion/onion.c \
	bio_onion/layer.c \
	bio_onion/onion_err.c \
	bio_onion/onion_local.h
libbio_onion_la_LIBADD = $(OPENSSL_LIBS)
# Only the public names leave the library.
libbio_onion_la_LDFLAGS = -no-undefined \
	-export-symbols-regex '^BIO_(f_onion|new_onion|onion_)' \
	-version-info $(BIO_ONION_LT_VERSION)
