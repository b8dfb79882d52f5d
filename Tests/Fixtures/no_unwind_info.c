// Code without unwind information between the program's frames, as in musl's C library or in
// objects built with -fno-asynchronous-unwind-tables. Built in two parts (compiled at test time):
//   -DPART_CALLEE with -O0 -fno-asynchronous-unwind-tables -fno-unwind-tables: F keeps a frame
//     pointer but has no unwind entry, and its uninitialised locals hold what an earlier call left;
//   -DPART_MAIN with -O0: main calls X, whose call to F(0) leaves a return address into X on the
//     stack below, then Y, whose call to F(3) exits.
// The exit backtrace is _exit ← F ← Y ← main: never Y twice (F's frame pointer taken for Y's),
// never X (the stale word in F's locals).
#ifdef PART_CALLEE
#include <unistd.h>
void F(int q) {
    volatile char buf[200];
    buf[199] = (char)q;
    if (q) _exit(q);
}
#endif

#ifdef PART_MAIN
void F(int q);
void X(void) {
    volatile char pad[128];
    pad[0] = 1;
    F(0);
}
void Y(int q) { F(q); }
int main(int argc, char **argv) {
    (void)argv;
    X();
    Y(argc + 2);
    return 0;
}
#endif
