// Benchmark fixture: crashes 64 frames deep (scripts/bench.py measures crash-to-exit).
__attribute__((noinline)) int dive(int depth) {
    if (depth == 0) return *(volatile int *)16;
    return dive(depth - 1) + 1;
}
int main(void) { return dive(62); }  // main + 62 dives + the faulting one = 64 frames of the program
