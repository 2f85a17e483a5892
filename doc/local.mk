# Manual pages, written in POD like OpenSSL's and built to troff by pod2man
# at build time; installed by make install.  BIO_f_onion(3) is also
# installed under the name of every function it documents, as one-line
# ".so" pages, so that "man BIO_onion_pop" finds it.
POD2MAN = pod2man
POD2MAN_FLAGS = --utf8 --errors=die --center=bio_onion \
	--release="bio_onion $(PACKAGE_VERSION)"

DOC_PODS = \
	doc/man1/onion-client.pod \
	doc/man1/onion-server.pod \
	doc/man3/BIO_f_onion.pod

DOC_MAN3_LINKS = \
	doc/man3/BIO_new_onion.3 \
	doc/man3/BIO_onion_push_ssl.3 \
	doc/man3/BIO_onion_push_ssl_with_data.3 \
	doc/man3/BIO_onion_push_tls.3 \
	doc/man3/BIO_onion_pop.3 \
	doc/man3/BIO_onion_get_depth.3 \
	doc/man3/BIO_onion_get_ssl.3 \
	doc/man3/BIO_onion_peer_closed.3 \
	doc/man3/BIO_onion_get_error_layer.3 \
	doc/man3/BIO_onion_set_flags.3 \
	doc/man3/BIO_onion_get_flags.3 \
	doc/man3/BIO_onion_set_callback.3 \
	doc/man3/BIO_onion_error_library.3

nodist_man1_MANS = doc/man1/onion-client.1 doc/man1/onion-server.1
nodist_man3_MANS = doc/man3/BIO_f_onion.3 $(DOC_MAN3_LINKS)

doc/man1/onion-client.1: doc/man1/onion-client.pod
	$(AM_V_GEN)$(MKDIR_P) doc/man1 && \
	$(POD2MAN) $(POD2MAN_FLAGS) --section=1 --name=ONION-CLIENT \
		$(srcdir)/doc/man1/onion-client.pod >$@-t && mv $@-t $@

doc/man1/onion-server.1: doc/man1/onion-server.pod
	$(AM_V_GEN)$(MKDIR_P) doc/man1 && \
	$(POD2MAN) $(POD2MAN_FLAGS) --section=1 --name=ONION-SERVER \
		$(srcdir)/doc/man1/onion-server.pod >$@-t && mv $@-t $@

doc/man3/BIO_f_onion.3: doc/man3/BIO_f_onion.pod
	$(AM_V_GEN)$(MKDIR_P) doc/man3 && \
	$(POD2MAN) $(POD2MAN_FLAGS) --section=3 --name=BIO_F_ONION \
		$(srcdir)/doc/man3/BIO_f_onion.pod >$@-t && mv $@-t $@

$(DOC_MAN3_LINKS):
	$(AM_V_GEN)$(MKDIR_P) doc/man3 && \
	echo '.so man3/BIO_f_onion.3' >$@

# Checks that every page renders without a warning, that BIO_f_onion(3)
# documents every public name of the header, and that the tools' pages
# document every option their -help lists.
TESTS += doc/check-man.sh

CLEANFILES += $(nodist_man1_MANS) $(nodist_man3_MANS)
EXTRA_DIST += $(DOC_PODS) doc/check-man.sh doc/onion-layers.svg

# The install test: make install to a DESTDIR, then a program built with
# pkg-config against the installed copy only.
TESTS += test/install/check-install.sh
EXTRA_DIST += test/install/check-install.sh test/install/hello_onion.c
