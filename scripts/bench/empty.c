/* empty.c: the C reference of scripts/bench/startup.lua: a process that
** starts and exits, the floor under any interpreter's start-up. */
int main(void) { return 0; }
