/* An optimised C program that stops at clang's __builtin_verbose_trap in an inlined function:
 * the trap's own line is 0; the inline chain names the message and where it was written. */
#include <stdio.h>

static int element(const int *values, int index) {
    if (index > 3)
        __builtin_verbose_trap("bounds", "index out of range"); /* TRAP-LINE */
    return values[index];
}

int main(int argc, char **argv) {
    (void)argv;
    int values[4] = {1, 2, 3, 4};
    printf("%d\n", element(values, argc + 5));
    return 0;
}
