# onion-bench: bio_onion against a plain BIO_f_ssl chain, a raw socket BIO
# and the machine's limit.  Built by `make` so that it never rots; run by
# `make bench` (never by `make check`: it prints figures, it tests nothing
# by timing).  `make bench` writes doc/bench/results.md and the PNG plots.
noinst_PROGRAMS += bench/onion-bench
bench_onion_bench_SOURCES = \
	bench/onion-bench.c \
	bench/bench-opts.c \
	bench/bench-figs.c \
	bench/bench-targets.c \
	bench/bench-report.c \
	bench/bench-plot.c \
	bench/bench-report.h \
	bench/bench-run.c \
	bench/bench-pair.c \
	bench/bench-speed.c \
	bench/bench-idle.c \
	bench/bench-stack.c \
	bench/bench-util.c \
	bench/bench.h
bench_onion_bench_LDADD = libbio_onion.la $(OPENSSL_LIBS)
EXTRA_DIST += bench/run-bench.sh
CLEANFILES += bench/data/*.dat bench/data/plots.gp

# Where the report and plots go, and extra onion-bench options, e.g.
#   make bench BENCH_ARGS='--only bulk --suites t13-aes128gcm'
BENCH_OUT = $(top_srcdir)/doc/bench
BENCH_ARGS =

bench: bench/onion-bench$(EXEEXT)
	BENCH_COMMAND='make bench' \
	$(SHELL) $(top_srcdir)/bench/run-bench.sh \
		bench/onion-bench$(EXEEXT) $(BENCH_OUT) $(BENCH_ARGS)

bench-quick: bench/onion-bench$(EXEEXT)
	BENCH_COMMAND='make bench-quick' \
	$(SHELL) $(top_srcdir)/bench/run-bench.sh \
		bench/onion-bench$(EXEEXT) $(BENCH_OUT) --quick $(BENCH_ARGS)

.PHONY: bench bench-quick
