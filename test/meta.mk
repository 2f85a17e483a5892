# Checks on the tree itself rather than on the library's behaviour:
#  - check-exports.sh: the shared library exports exactly the functions
#    declared in include/bio_onion.h (nm -D against the header);
#  - check-format.sh: every C file under bio_onion/ include/ test/ apps/
#    bench/ examples/ fuzz/ is formatted per the committed .clang-format
#    (clang-format --dry-run -Werror).
# Both find the source tree through $srcdir, which the test harness exports
# (this Makefile is non-recursive, so it is the top of the source tree), and
# the build tree as the directory they run in, so VPATH builds and
# `make distcheck` work.  No AM_TESTS_ENVIRONMENT is needed.
TESTS += test/check-exports.sh test/check-format.sh
EXTRA_DIST += test/check-exports.sh test/check-format.sh .ci/run
