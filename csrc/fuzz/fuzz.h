/*
** fuzz.h: what the libFuzzer harnesses share. Each harness calls one
** plain-C parser of netbasics with the fuzzer's bytes and checks what
** must hold for every input (a round trip, agreement with libc); a
** broken property aborts, and libFuzzer saves the input.
*/
#ifndef NB_FUZZ_H
#define NB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NB_CHECK(cond)                                                    \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, \
              #cond);                                                     \
      abort();                                                            \
    }                                                                     \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
