/*
 * expect.h: the assertions of the C tests (test_scuttle.c, test_node.c). A failed one prints
 * where and why (with scuttle_last_error()) and marks the running test failed through the
 * including file's `tests_failed_here`.
 */
#ifndef SCUTTLE_TESTS_EXPECT_H
#define SCUTTLE_TESTS_EXPECT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "scuttle.h"

static int tests_failed_here;

#define EXPECT(cond)                                                              \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "  %s:%d: expected %s (last error: \"%s\")\n", __FILE__,    \
              __LINE__, #cond, scuttle_last_error());                             \
      tests_failed_here = 1;                                                      \
    }                                                                             \
  } while (0)

#define EXPECT_STATUS(call, want)                                                 \
  do {                                                                            \
    ScuttleStatus got_ = (call);                                                  \
    if (got_ != (want)) {                                                         \
      fprintf(stderr, "  %s:%d: %s returned %d, expected %s (%d); last error: "   \
                      "\"%s\"\n",                                                 \
              __FILE__, __LINE__, #call, (int)got_, #want, (int)(want),           \
              scuttle_last_error());                                              \
      tests_failed_here = 1;                                                      \
    }                                                                             \
  } while (0)

#define EXPECT_ERROR_MENTIONS(text)                                               \
  EXPECT(strstr(scuttle_last_error(), (text)) != NULL)

#define S(str) (const uint8_t *)(str), strlen(str)

#endif
