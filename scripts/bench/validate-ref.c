/*
** validate-ref.c: the C reference of scripts/bench/octet.lua, compiled
** with csrc/validate.c into build/bench/validate-ref. It runs the same
** plain-C parsers net.isipandport and net.ip_to_int use, with no Lua in
** between: the limit of what a call from Lua can reach.
**   validate-ref endpoint FILE ROUNDS   memchr ':' + nb_parse_ipv4 +
**                                       nb_parse_port on each line
**   validate-ref ip_to_int FILE ROUNDS  nb_parse_ipv4 and the shifts
** Prints nanoseconds of CPU time per call (as os.clock in the Lua runs).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "netbasics.h"

#define MAXLINES 4096

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *line[MAXLINES];
static size_t len[MAXLINES];

int main(int argc, char **argv) {
  static char buf[256];
  FILE *f;
  int n = 0, ip = 0;
  long rounds, r;
  volatile unsigned long sink = 0;
  double t0;
  if (argc < 4) {
    fprintf(stderr, "usage: validate-ref endpoint|ip_to_int FILE ROUNDS\n");
    return 2;
  }
  ip = strcmp(argv[1], "ip_to_int") == 0;
  f = fopen(argv[2], "r");
  if (f == NULL) {
    perror(argv[2]);
    return 1;
  }
  while (n < MAXLINES && fgets(buf, sizeof buf, f) != NULL) {
    len[n] = strcspn(buf, "\n");
    line[n] = malloc(len[n] + 1);
    if (line[n] == NULL) return 1;
    memcpy(line[n], buf, len[n] + 1);
    n++;
  }
  fclose(f);
  rounds = atol(argv[3]);
  t0 = now();
  for (r = 0; r < rounds; r++) {
    int i;
    for (i = 0; i < n; i++) {
      uint8_t a[4];
      if (ip) {
        if (nb_parse_ipv4(line[i], len[i], a) == 0)
          sink += (unsigned long)a[0] << 24 | (unsigned long)a[1] << 16
                  | (unsigned long)a[2] << 8 | a[3];
      } else {
        const char *colon = memchr(line[i], ':', len[i]);
        unsigned port = 0;
        if (colon != NULL
            && nb_parse_ipv4(line[i], (size_t)(colon - line[i]), a) == 0
            && nb_parse_port(colon + 1,
                             len[i] - (size_t)(colon - line[i]) - 1,
                             &port) == 0)
          sink += port;
      }
    }
  }
  printf("%.3f\n", (now() - t0) / ((double)rounds * n) * 1e9);
  return 0;
}
