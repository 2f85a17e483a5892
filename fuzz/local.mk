# libFuzzer targets (fuzz/), built with --enable-fuzzers and CC=clang:
#   fuzz/fuzz-peer-bytes  a server onion of depth 1 to 3 fed arbitrary bytes
#                         as its peer's stream;
#   fuzz/fuzz-api-seq     sequences of push, pop, read, write, flush,
#                         handshake, pending, free and transport faults
#                         against a well-behaved peer, invariants checked.
# The library sources are compiled into each target with the fuzzing and
# sanitizer flags.  Seed corpora live in fuzz/corpus/<target>/.
# `make check-fuzz` runs each target over its corpus for FUZZ_SECONDS
# (default 30) seconds: new inputs go to a scratch directory, never into
# the committed corpus.
FUZZ_SECONDS = 30
EXTRA_DIST += fuzz/corpus fuzz/fuzz_common.c fuzz/fuzz_common.h \
	fuzz/fuzz_peer_bytes.c fuzz/fuzz_api_seq.c

if FUZZERS
FUZZ_TARGETS = fuzz/fuzz-peer-bytes fuzz/fuzz-api-seq
noinst_PROGRAMS += $(FUZZ_TARGETS)

FUZZ_CC_FLAGS = $(AM_CFLAGS) -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_LD_FLAGS = -fsanitize=fuzzer,address,undefined
FUZZ_CPP_FLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/bio_onion \
	-I$(top_srcdir)/test/fault -I$(top_srcdir)/test/helpers \
	-I$(top_srcdir)/fuzz
FUZZ_COMMON_SRC = fuzz/fuzz_common.c fuzz/fuzz_common.h \
	test/fault/detrand.c test/fault/detrand.h \
	test/fault/tap.c test/fault/tap.h \
	bio_onion/onion.c bio_onion/layer.c bio_onion/onion_err.c \
	bio_onion/onion_local.h

fuzz_fuzz_peer_bytes_SOURCES = fuzz/fuzz_peer_bytes.c $(FUZZ_COMMON_SRC)
fuzz_fuzz_peer_bytes_CPPFLAGS = $(FUZZ_CPP_FLAGS)
fuzz_fuzz_peer_bytes_CFLAGS = $(FUZZ_CC_FLAGS)
fuzz_fuzz_peer_bytes_LDFLAGS = $(FUZZ_LD_FLAGS)
fuzz_fuzz_peer_bytes_LDADD = $(OPENSSL_LIBS)

fuzz_fuzz_api_seq_SOURCES = fuzz/fuzz_api_seq.c $(FUZZ_COMMON_SRC)
fuzz_fuzz_api_seq_CPPFLAGS = $(FUZZ_CPP_FLAGS)
fuzz_fuzz_api_seq_CFLAGS = $(FUZZ_CC_FLAGS)
fuzz_fuzz_api_seq_LDFLAGS = $(FUZZ_LD_FLAGS)
fuzz_fuzz_api_seq_LDADD = $(OPENSSL_LIBS)

# Each target over its committed corpus, bounded in time; exits non-zero
# on the first crash, leak or failed check (the input is left in the
# scratch directory as crash-*).
check-fuzz: $(FUZZ_TARGETS)
	@set -e; \
	for t in peer-bytes api-seq; do \
	  scratch=`mktemp -d fuzz-$$t.XXXXXX`; \
	  echo "check-fuzz: fuzz-$$t for $(FUZZ_SECONDS) s over $(srcdir)/fuzz/corpus/$$t"; \
	  ./fuzz/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 \
	    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$$scratch/ \
	    $$scratch $(srcdir)/fuzz/corpus/$$t 2>fuzz-$$t.log || \
	    { tail -60 fuzz-$$t.log; echo "check-fuzz: fuzz-$$t FAILED (inputs in $$scratch)"; exit 1; }; \
	  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' fuzz-$$t.log; \
	  grep -E 'cov: [0-9]+' fuzz-$$t.log | tail -1; \
	  rm -rf $$scratch; \
	done
else
check-fuzz:
	@echo "check-fuzz: the fuzz targets are not built: configure with --enable-fuzzers CC=clang"; exit 1
endif
.PHONY: check-fuzz
CLEANFILES += fuzz-peer-bytes.log fuzz-api-seq.log
