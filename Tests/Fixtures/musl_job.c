// A program as Alpine builds them: linked with musl (musl-gcc), whose C library has no unwind
// information and whose FILE is not glibc's. argv[1] picks how it ends:
//   finish   printf without a newline in finish_job, then _exit(0) there: the line is lost
//   direct   the same from main itself
//   return   printf without a newline, then main returns 3 (exit flushes the line)
//   segv     strlen(NULL) in measure(): a crash inside the C library
#include <stdio.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) void finish_job(int n) {
    printf("job finished: %d items", n);
    _exit(0);
}

__attribute__((noinline)) size_t measure(const char *s) { return strlen(s); }

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "finish";
    if (strcmp(mode, "direct") == 0) {
        printf("direct exit");
        _exit(0);
    }
    if (strcmp(mode, "return") == 0) {
        printf("partial");
        return 3;
    }
    if (strcmp(mode, "segv") == 0) {
        return (int)measure(argc > 5 ? argv[5] : NULL);
    }
    finish_job(42);
    return 1;
}
