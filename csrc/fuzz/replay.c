/*
** replay.c: a main() for a harness built without libFuzzer, so the seed
** corpus can run under valgrind: each argument is a file, or a folder
** whose files are read in turn, passed once to LLVMFuzzerTestOneInput.
*/
#include <dirent.h>
#include <sys/stat.h>

#include "fuzz.h"

static int runfile(const char *path) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf;
  long n;
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0
      || fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "replay: cannot read %s\n", path);
    if (f != NULL) fclose(f);
    return 1;
  }
  /* a buffer of exactly n bytes, so a read past the end is seen */
  buf = malloc(n > 0 ? (size_t)n : 1);
  if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "replay: cannot read %s\n", path);
    free(buf);
    fclose(f);
    return 1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  return 0;
}

int main(int argc, char **argv) {
  int i, bad = 0, runs = 0;
  for (i = 1; i < argc; i++) {
    struct stat st;
    DIR *d;
    struct dirent *e;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: no such file %s\n", argv[i]);
      bad = 1;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      bad |= runfile(argv[i]);
      runs++;
      continue;
    }
    if ((d = opendir(argv[i])) == NULL) {
      bad = 1;
      continue;
    }
    while ((e = readdir(d)) != NULL) {
      char path[4096];
      if (e->d_name[0] == '.') continue;
      snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
      bad |= runfile(path);
      runs++;
    }
    closedir(d);
  }
  printf("replay: %d inputs\n", runs);
  return bad;
}
