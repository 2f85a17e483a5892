/*
 * Copyright 2026 The bio_onion Authors. All Rights Reserved.
 *
 * Licensed under the Apache License 2.0 (the "License").  You may not use
 * this file except in compliance with the License.  You can obtain a copy
 * in the file COPYING in the source distribution.
 */

/*
 * The bio_onion unit suite.  Runs every suite in CUnit's verbose mode and
 * exits with the number of failed tests plus failed suite fixtures (capped
 * at 100, never 77, which the test harness would count as a skip).
 *
 *   onion-tests                 run everything
 *   onion-tests SUITE [TEST]    run one suite, or one test of it
 *
 * Environment: ONION_TEST_SEED replays a randomised test with that seed;
 * ONION_TEST_TIMEOUT sets the watchdog of blocking transports (seconds).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "unit.h"

static int (*const registrations[])(void) = {
    register_helpers_suite, register_passthrough_suite,
    register_layers_suite,  register_push_suite,
    register_pop_suite,     register_nonblocking_suite,
    register_chain_suite,   register_errors_suite,
    register_misuse_suite,  register_pending_suite,
    register_events_suite,
};

int main(int argc, char **argv)
{
    unsigned int failures = 1;
    CU_pSuite suite = NULL;
    CU_pTest test = NULL;
    size_t i;

    test_ignore_sigpipe();
    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "onion-tests: CU_initialize_registry: %s\n",
                CU_get_error_msg());
        return 1;
    }
    for (i = 0; i < sizeof(registrations) / sizeof(registrations[0]); i++) {
        if (!registrations[i]()) {
            fprintf(stderr, "onion-tests: registering suite %zu failed: %s\n",
                    i, CU_get_error_msg());
            goto end;
        }
    }
    if (argc > 1) {
        suite = CU_get_suite(argv[1]);
        if (suite == NULL) {
            fprintf(stderr, "onion-tests: no suite named %s\n", argv[1]);
            goto end;
        }
        if (argc > 2) {
            test = CU_get_test(suite, argv[2]);
            if (test == NULL) {
                fprintf(stderr, "onion-tests: no test %s in suite %s\n",
                        argv[2], argv[1]);
                goto end;
            }
        }
    }
    if (getenv("ONION_TEST_SEED") != NULL)
        printf("ONION_TEST_SEED=%s: randomised tests replay this seed\n",
               getenv("ONION_TEST_SEED"));
    CU_basic_set_mode(CU_BRM_VERBOSE);
    if (test != NULL)
        CU_basic_run_test(suite, test);
    else if (suite != NULL)
        CU_basic_run_suite(suite);
    else
        CU_basic_run_tests();
    printf("\n");
    failures =
        CU_get_number_of_tests_failed() + CU_get_number_of_suites_failed();
    /* An assertion outside a test (in a fixture) still fails the run. */
    if (failures == 0 && CU_get_number_of_failures() > 0)
        failures = 1;
    if (failures == 0 && CU_get_error() != CUE_SUCCESS)
        failures = 1;
    if (failures == 0 && CU_get_number_of_tests_run() == 0) {
        fprintf(stderr, "onion-tests: no test ran\n");
        failures = 1;
    }
    if (failures > 100)
        failures = 100;
    if (failures == 77)
        failures = 78;
end:
    CU_cleanup_registry();
    certs_cleanup();
    return (int)failures;
}
