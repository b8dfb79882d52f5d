// Bytes from binaries built on Debian 12 (gcc 12.2 and gcc-aarch64-linux-gnu 12.2, glibc 2.36,
// binutils 2.40; each case says how): the first 64 bytes at each ELF entry point, main's address
// from `nm`, and for the forms that load main from memory, the 8 bytes the file holds at that
// address. `aarch64Literal` and `aarch64Movl` have hand-written `_start`s reproducing older glibc's
// start.S (`ldr x0, =main`; the MOVL macro's movz/movk), linked with `-nostartfiles`.
import CStartupProbe
import ProbeTracing
import Testing

/// The `_start` decoders on real code: bytes in, main's address (or the word holding it) out.
@Suite struct StartDecoderTests {
    // a64-pie: aarch64-linux-gnu-gcc -O0 (PIE, dynamic: Scrt1.o). Entry 0x600, main 0x714 (nm).
    // 0000000000000600 <_start>:
    //  600:  d503201f   nop
    //  604:  d280001d   mov  x29, #0x0                     // #0
    //  608:  d280001e   mov  x30, #0x0                     // #0
    //  60c:  aa0003e5   mov  x5, x0
    //  610:  f94003e1   ldr  x1, [sp]
    //  614:  910023e2   add  x2, sp, #0x8
    //  618:  910003e6   mov  x6, sp
    //  61c:  f00000e0   adrp  x0, 1f000 <__FRAME_END__+0x1e7f4>
    //  620:  f947ec00   ldr  x0, [x0, #4056]
    //  624:  d2800003   mov  x3, #0x0                     // #0
    //  628:  d2800004   mov  x4, #0x0                     // #0
    //  62c:  97ffffe5   bl  5c0 <__libc_start_main@plt>
    //  630:  97fffff0   bl  5f0 <abort@plt>
    // 0000000000000634 <call_weak_fn>:
    //  634:  f00000e0   adrp  x0, 1f000 <__FRAME_END__+0x1e7f4>
    //  638:  f947e800   ldr  x0, [x0, #4048]
    //  63c:  b4000040   cbz  x0, 644 <call_weak_fn+0x10>
    static let aarch64PIE: [UInt8] = [
        0x1f, 0x20, 0x03, 0xd5, 0x1d, 0x00, 0x80, 0xd2, 0x1e, 0x00, 0x80, 0xd2, 0xe5, 0x03, 0x00, 0xaa,
        0xe1, 0x03, 0x40, 0xf9, 0xe2, 0x23, 0x00, 0x91, 0xe6, 0x03, 0x00, 0x91, 0xe0, 0x00, 0x00, 0xf0,
        0x00, 0xec, 0x47, 0xf9, 0x03, 0x00, 0x80, 0xd2, 0x04, 0x00, 0x80, 0xd2, 0xe5, 0xff, 0xff, 0x97,
        0xf0, 0xff, 0xff, 0x97, 0xe0, 0x00, 0x00, 0xf0, 0x00, 0xe8, 0x47, 0xf9, 0x40, 0x00, 0x00, 0xb4,
    ]
    static let aarch64PIEEntry: UInt64 = 0x600
    static let aarch64PIEMain: UInt64 = 0x714
    /// The 8 bytes the file holds at 0x1ffd8.
    static let aarch64PIEWord: [UInt8] = [
        0x14, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]

    // a64-nopie: aarch64-linux-gnu-gcc -O0 -no-pie. Entry 0x400500, main 0x400604 (nm).
    // 0000000000400500 <_start>:
    //   400500:  d503201f   nop
    //   400504:  d280001d   mov  x29, #0x0                     // #0
    //   400508:  d280001e   mov  x30, #0x0                     // #0
    //   40050c:  aa0003e5   mov  x5, x0
    //   400510:  f94003e1   ldr  x1, [sp]
    //   400514:  910023e2   add  x2, sp, #0x8
    //   400518:  910003e6   mov  x6, sp
    //   40051c:  90000000   adrp  x0, 400000 <__abi_tag-0x278>
    //   400520:  9114d000   add  x0, x0, #0x534
    //   400524:  d2800003   mov  x3, #0x0                     // #0
    //   400528:  d2800004   mov  x4, #0x0                     // #0
    //   40052c:  97ffffe9   bl  4004d0 <__libc_start_main@plt>
    //   400530:  97fffff0   bl  4004f0 <abort@plt>
    // 0000000000400534 <__wrap_main>:
    //   400534:  d503201f   nop
    //   400538:  14000033   b  400604 <main>
    //   40053c:  d503201f   nop
    static let aarch64NoPIE: [UInt8] = [
        0x1f, 0x20, 0x03, 0xd5, 0x1d, 0x00, 0x80, 0xd2, 0x1e, 0x00, 0x80, 0xd2, 0xe5, 0x03, 0x00, 0xaa,
        0xe1, 0x03, 0x40, 0xf9, 0xe2, 0x23, 0x00, 0x91, 0xe6, 0x03, 0x00, 0x91, 0x00, 0x00, 0x00, 0x90,
        0x00, 0xd0, 0x14, 0x91, 0x03, 0x00, 0x80, 0xd2, 0x04, 0x00, 0x80, 0xd2, 0xe9, 0xff, 0xff, 0x97,
        0xf0, 0xff, 0xff, 0x97, 0x1f, 0x20, 0x03, 0xd5, 0x33, 0x00, 0x00, 0x14, 0x1f, 0x20, 0x03, 0xd5,
    ]
    static let aarch64NoPIEEntry: UInt64 = 0x400500
    static let aarch64NoPIEMain: UInt64 = 0x400604

    // a64-static: aarch64-linux-gnu-gcc -O0 -static. Entry 0x400580, main 0x4006d4 (nm).
    // 0000000000400580 <_start>:
    //   400580:  d503201f   nop
    //   400584:  d280001d   mov  x29, #0x0                     // #0
    //   400588:  d280001e   mov  x30, #0x0                     // #0
    //   40058c:  aa0003e5   mov  x5, x0
    //   400590:  f94003e1   ldr  x1, [sp]
    //   400594:  910023e2   add  x2, sp, #0x8
    //   400598:  910003e6   mov  x6, sp
    //   40059c:  90000000   adrp  x0, 400000 <__ehdr_start>
    //   4005a0:  9116d000   add  x0, x0, #0x5b4
    //   4005a4:  d2800003   mov  x3, #0x0                     // #0
    //   4005a8:  d2800004   mov  x4, #0x0                     // #0
    //   4005ac:  94000086   bl  4007c4 <__libc_start_main>
    //   4005b0:  97ffff64   bl  400340 <abort>
    // 00000000004005b4 <__wrap_main>:
    //   4005b4:  d503201f   nop
    //   4005b8:  14000047   b  4006d4 <main>
    //   4005bc:  d503201f   nop
    static let aarch64Static: [UInt8] = [
        0x1f, 0x20, 0x03, 0xd5, 0x1d, 0x00, 0x80, 0xd2, 0x1e, 0x00, 0x80, 0xd2, 0xe5, 0x03, 0x00, 0xaa,
        0xe1, 0x03, 0x40, 0xf9, 0xe2, 0x23, 0x00, 0x91, 0xe6, 0x03, 0x00, 0x91, 0x00, 0x00, 0x00, 0x90,
        0x00, 0xd0, 0x16, 0x91, 0x03, 0x00, 0x80, 0xd2, 0x04, 0x00, 0x80, 0xd2, 0x86, 0x00, 0x00, 0x94,
        0x64, 0xff, 0xff, 0x97, 0x1f, 0x20, 0x03, 0xd5, 0x47, 0x00, 0x00, 0x14, 0x1f, 0x20, 0x03, 0xd5,
    ]
    static let aarch64StaticEntry: UInt64 = 0x400580
    static let aarch64StaticMain: UInt64 = 0x4006d4

    // a64-static-pie: aarch64-linux-gnu-gcc -O0 -static-pie. Entry 0x8a80, main 0x8b94 (nm).
    // 0000000000008a80 <_start>:
    //     8a80:  d503201f   nop
    //     8a84:  d280001d   mov  x29, #0x0                     // #0
    //     8a88:  d280001e   mov  x30, #0x0                     // #0
    //     8a8c:  aa0003e5   mov  x5, x0
    //     8a90:  f94003e1   ldr  x1, [sp]
    //     8a94:  910023e2   add  x2, sp, #0x8
    //     8a98:  910003e6   mov  x6, sp
    //     8a9c:  90000000   adrp  x0, 8000 <__abi_tag+0x7ddc>
    //     8aa0:  912ad000   add  x0, x0, #0xab4
    //     8aa4:  d2800003   mov  x3, #0x0                     // #0
    //     8aa8:  d2800004   mov  x4, #0x0                     // #0
    //     8aac:  94000076   bl  8c84 <__libc_start_main_impl>
    //     8ab0:  97ffff64   bl  8840 <abort>
    // 0000000000008ab4 <__wrap_main>:
    //     8ab4:  d503201f   nop
    //     8ab8:  14000037   b  8b94 <main>
    // 0000000000008abc <call_weak_fn>:
    //     8abc:  f00004a0   adrp  x0, 9f000 <tunable_list+0x6b0>
    static let aarch64StaticPIE: [UInt8] = [
        0x1f, 0x20, 0x03, 0xd5, 0x1d, 0x00, 0x80, 0xd2, 0x1e, 0x00, 0x80, 0xd2, 0xe5, 0x03, 0x00, 0xaa,
        0xe1, 0x03, 0x40, 0xf9, 0xe2, 0x23, 0x00, 0x91, 0xe6, 0x03, 0x00, 0x91, 0x00, 0x00, 0x00, 0x90,
        0x00, 0xd0, 0x2a, 0x91, 0x03, 0x00, 0x80, 0xd2, 0x04, 0x00, 0x80, 0xd2, 0x76, 0x00, 0x00, 0x94,
        0x64, 0xff, 0xff, 0x97, 0x1f, 0x20, 0x03, 0xd5, 0x37, 0x00, 0x00, 0x14, 0xa0, 0x04, 0x00, 0xf0,
    ]
    static let aarch64StaticPIEEntry: UInt64 = 0x8a80
    static let aarch64StaticPIEMain: UInt64 = 0x8b94

    // a64-literal: aarch64-linux-gnu-gcc -O0 -no-pie -nostartfiles start_literal.S main.c (older glibc's `ldr x0, =main`). Entry 0x4003c0, main 0x4003f8 (nm).
    // 00000000004003c0 <_start>:
    //   4003c0:  d280001d   mov  x29, #0x0                     // #0
    //   4003c4:  d280001e   mov  x30, #0x0                     // #0
    //   4003c8:  aa0003e5   mov  x5, x0
    //   4003cc:  f94003e1   ldr  x1, [sp]
    //   4003d0:  910023e2   add  x2, sp, #0x8
    //   4003d4:  910003e6   mov  x6, sp
    //   4003d8:  580000c0   ldr  x0, 4003f0 <_start+0x30>
    //   4003dc:  d2800003   mov  x3, #0x0                     // #0
    //   4003e0:  d2800004   mov  x4, #0x0                     // #0
    //   4003e4:  97ffffef   bl  4003a0 <__libc_start_main@plt>
    //   4003e8:  97fffff2   bl  4003b0 <abort@plt>
    //   4003ec:  00000000   udf  #0
    //   4003f0:  004003f8   .word  0x004003f8
    //   4003f4:  00000000   .word  0x00000000
    // 00000000004003f8 <main>:
    //   4003f8:  52800000   mov  w0, #0x0                     // #0
    //   4003fc:  d65f03c0   ret
    static let aarch64Literal: [UInt8] = [
        0x1d, 0x00, 0x80, 0xd2, 0x1e, 0x00, 0x80, 0xd2, 0xe5, 0x03, 0x00, 0xaa, 0xe1, 0x03, 0x40, 0xf9,
        0xe2, 0x23, 0x00, 0x91, 0xe6, 0x03, 0x00, 0x91, 0xc0, 0x00, 0x00, 0x58, 0x03, 0x00, 0x80, 0xd2,
        0x04, 0x00, 0x80, 0xd2, 0xef, 0xff, 0xff, 0x97, 0xf2, 0xff, 0xff, 0x97, 0x00, 0x00, 0x00, 0x00,
        0xf8, 0x03, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x52, 0xc0, 0x03, 0x5f, 0xd6,
    ]
    static let aarch64LiteralEntry: UInt64 = 0x4003c0
    static let aarch64LiteralMain: UInt64 = 0x4003f8
    /// The 8 bytes the file holds at 0x4003f0.
    static let aarch64LiteralWord: [UInt8] = [
        0xf8, 0x03, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]

    // a64-movl: aarch64-linux-gnu-gcc -O0 -no-pie -nostartfiles start_movl.S main.c (older glibc's movz/movk MOVL). Entry 0x4003c0, main 0x4003f8 (nm).
    // 00000000004003c0 <_start>:
    //   4003c0:  d280001d   mov  x29, #0x0                     // #0
    //   4003c4:  d280001e   mov  x30, #0x0                     // #0
    //   4003c8:  aa0003e5   mov  x5, x0
    //   4003cc:  f94003e1   ldr  x1, [sp]
    //   4003d0:  910023e2   add  x2, sp, #0x8
    //   4003d4:  910003e6   mov  x6, sp
    //   4003d8:  d2e00000   movz  x0, #0x0, lsl #48
    //   4003dc:  f2c00000   movk  x0, #0x0, lsl #32
    //   4003e0:  f2a00800   movk  x0, #0x40, lsl #16
    //   4003e4:  f2807f00   movk  x0, #0x3f8
    //   4003e8:  d2800003   mov  x3, #0x0                     // #0
    //   4003ec:  d2800004   mov  x4, #0x0                     // #0
    //   4003f0:  97ffffec   bl  4003a0 <__libc_start_main@plt>
    //   4003f4:  97ffffef   bl  4003b0 <abort@plt>
    // 00000000004003f8 <main>:
    //   4003f8:  52800000   mov  w0, #0x0                     // #0
    //   4003fc:  d65f03c0   ret
    static let aarch64Movl: [UInt8] = [
        0x1d, 0x00, 0x80, 0xd2, 0x1e, 0x00, 0x80, 0xd2, 0xe5, 0x03, 0x00, 0xaa, 0xe1, 0x03, 0x40, 0xf9,
        0xe2, 0x23, 0x00, 0x91, 0xe6, 0x03, 0x00, 0x91, 0x00, 0x00, 0xe0, 0xd2, 0x00, 0x00, 0xc0, 0xf2,
        0x00, 0x08, 0xa0, 0xf2, 0x00, 0x7f, 0x80, 0xf2, 0x03, 0x00, 0x80, 0xd2, 0x04, 0x00, 0x80, 0xd2,
        0xec, 0xff, 0xff, 0x97, 0xef, 0xff, 0xff, 0x97, 0x00, 0x00, 0x80, 0x52, 0xc0, 0x03, 0x5f, 0xd6,
    ]
    static let aarch64MovlEntry: UInt64 = 0x4003c0
    static let aarch64MovlMain: UInt64 = 0x4003f8

    // x64-pie: gcc -O0 (PIE). Entry 0x1040, main 0x1129 (nm).
    // 0000000000001040 <_start>:
    //     1040:  31 ed                  xor    %ebp,%ebp
    //     1042:  49 89 d1               mov    %rdx,%r9
    //     1045:  5e                     pop    %rsi
    //     1046:  48 89 e2               mov    %rsp,%rdx
    //     1049:  48 83 e4 f0            and    $0xfffffffffffffff0,%rsp
    //     104d:  50                     push   %rax
    //     104e:  54                     push   %rsp
    //     104f:  45 31 c0               xor    %r8d,%r8d
    //     1052:  31 c9                  xor    %ecx,%ecx
    //     1054:  48 8d 3d ce 00 00 00   lea    0xce(%rip),%rdi        # 1129 <main>
    //     105b:  ff 15 5f 2f 00 00      call   *0x2f5f(%rip)        # 3fc0 <__libc_start_main@GLIBC_2.34>
    //     1061:  f4                     hlt
    //     1062:  66 2e 0f 1f 84 00 00   cs nopw 0x0(%rax,%rax,1)
    //     1069:  00 00 00
    //     106c:  0f 1f 40 00            nopl   0x0(%rax)
    // 0000000000001070 <deregister_tm_clones>:
    //     1070:  48 8d 3d 99 2f 00 00   lea    0x2f99(%rip),%rdi        # 4010 <__TMC_END__>
    //     1077:  48 8d 05 92 2f 00 00   lea    0x2f92(%rip),%rax        # 4010 <__TMC_END__>
    //     107e:  48                     rex.W
    //     107f:  39                     .byte 0x39
    static let x86PIE: [UInt8] = [
        0x31, 0xed, 0x49, 0x89, 0xd1, 0x5e, 0x48, 0x89, 0xe2, 0x48, 0x83, 0xe4, 0xf0, 0x50, 0x54, 0x45,
        0x31, 0xc0, 0x31, 0xc9, 0x48, 0x8d, 0x3d, 0xce, 0x00, 0x00, 0x00, 0xff, 0x15, 0x5f, 0x2f, 0x00,
        0x00, 0xf4, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x40, 0x00,
        0x48, 0x8d, 0x3d, 0x99, 0x2f, 0x00, 0x00, 0x48, 0x8d, 0x05, 0x92, 0x2f, 0x00, 0x00, 0x48, 0x39,
    ]
    static let x86PIEEntry: UInt64 = 0x1040
    static let x86PIEMain: UInt64 = 0x1129

    // x64-nopie: gcc -O0 -no-pie. Entry 0x401020, main 0x401106 (nm).
    // 0000000000401020 <_start>:
    //   401020:  31 ed                  xor    %ebp,%ebp
    //   401022:  49 89 d1               mov    %rdx,%r9
    //   401025:  5e                     pop    %rsi
    //   401026:  48 89 e2               mov    %rsp,%rdx
    //   401029:  48 83 e4 f0            and    $0xfffffffffffffff0,%rsp
    //   40102d:  50                     push   %rax
    //   40102e:  54                     push   %rsp
    //   40102f:  45 31 c0               xor    %r8d,%r8d
    //   401032:  31 c9                  xor    %ecx,%ecx
    //   401034:  48 c7 c7 06 11 40 00   mov    $0x401106,%rdi
    //   40103b:  ff 15 97 2f 00 00      call   *0x2f97(%rip)        # 403fd8 <__libc_start_main@GLIBC_2.34>
    //   401041:  f4                     hlt
    //   401042:  66 2e 0f 1f 84 00 00   cs nopw 0x0(%rax,%rax,1)
    //   401049:  00 00 00
    //   40104c:  0f 1f 40 00            nopl   0x0(%rax)
    // 0000000000401050 <_dl_relocate_static_pie>:
    //   401050:  c3                     ret
    //   401051:  66 2e 0f 1f 84 00 00   cs nopw 0x0(%rax,%rax,1)
    //   401058:  00 00 00
    //   40105b:  0f 1f 44 00 00         nopl   0x0(%rax,%rax,1)
    static let x86NoPIE: [UInt8] = [
        0x31, 0xed, 0x49, 0x89, 0xd1, 0x5e, 0x48, 0x89, 0xe2, 0x48, 0x83, 0xe4, 0xf0, 0x50, 0x54, 0x45,
        0x31, 0xc0, 0x31, 0xc9, 0x48, 0xc7, 0xc7, 0x06, 0x11, 0x40, 0x00, 0xff, 0x15, 0x97, 0x2f, 0x00,
        0x00, 0xf4, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x40, 0x00,
        0xc3, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x44, 0x00, 0x00,
    ]
    static let x86NoPIEEntry: UInt64 = 0x401020
    static let x86NoPIEMain: UInt64 = 0x401106

    // x64-static: gcc -O0 -static. Entry 0x4014f0, main 0x401615 (nm).
    // 00000000004014f0 <_start>:
    //   4014f0:  31 ed                  xor    %ebp,%ebp
    //   4014f2:  49 89 d1               mov    %rdx,%r9
    //   4014f5:  5e                     pop    %rsi
    //   4014f6:  48 89 e2               mov    %rsp,%rdx
    //   4014f9:  48 83 e4 f0            and    $0xfffffffffffffff0,%rsp
    //   4014fd:  50                     push   %rax
    //   4014fe:  54                     push   %rsp
    //   4014ff:  45 31 c0               xor    %r8d,%r8d
    //   401502:  31 c9                  xor    %ecx,%ecx
    //   401504:  48 c7 c7 15 16 40 00   mov    $0x401615,%rdi
    //   40150b:  67 e8 8f 12 00 00      addr32 call 4027a0 <__libc_start_main>
    //   401511:  f4                     hlt
    //   401512:  66 2e 0f 1f 84 00 00   cs nopw 0x0(%rax,%rax,1)
    //   401519:  00 00 00
    //   40151c:  0f 1f 40 00            nopl   0x0(%rax)
    // 0000000000401520 <_dl_relocate_static_pie>:
    //   401520:  c3                     ret
    //   401521:  66 2e 0f 1f 84 00 00   cs nopw 0x0(%rax,%rax,1)
    //   401528:  00 00 00
    //   40152b:  0f 1f 44 00 00         nopl   0x0(%rax,%rax,1)
    static let x86Static: [UInt8] = [
        0x31, 0xed, 0x49, 0x89, 0xd1, 0x5e, 0x48, 0x89, 0xe2, 0x48, 0x83, 0xe4, 0xf0, 0x50, 0x54, 0x45,
        0x31, 0xc0, 0x31, 0xc9, 0x48, 0xc7, 0xc7, 0x15, 0x16, 0x40, 0x00, 0x67, 0xe8, 0x8f, 0x12, 0x00,
        0x00, 0xf4, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x40, 0x00,
        0xc3, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x44, 0x00, 0x00,
    ]
    static let x86StaticEntry: UInt64 = 0x4014f0
    static let x86StaticMain: UInt64 = 0x401615

    // x64-pie-norelax: gcc -O0 -Wl,--no-relax (PIE, GOT load left as is). Entry 0x1040, main 0x1129 (nm).
    // 0000000000001040 <_start>:
    //     1040:  31 ed                  xor    %ebp,%ebp
    //     1042:  49 89 d1               mov    %rdx,%r9
    //     1045:  5e                     pop    %rsi
    //     1046:  48 89 e2               mov    %rsp,%rdx
    //     1049:  48 83 e4 f0            and    $0xfffffffffffffff0,%rsp
    //     104d:  50                     push   %rax
    //     104e:  54                     push   %rsp
    //     104f:  45 31 c0               xor    %r8d,%r8d
    //     1052:  31 c9                  xor    %ecx,%ecx
    //     1054:  48 8b 3d 75 2f 00 00   mov    0x2f75(%rip),%rdi        # 3fd0 <_DYNAMIC+0x1c8>
    //     105b:  ff 15 57 2f 00 00      call   *0x2f57(%rip)        # 3fb8 <__libc_start_main@GLIBC_2.34>
    //     1061:  f4                     hlt
    //     1062:  66 2e 0f 1f 84 00 00   cs nopw 0x0(%rax,%rax,1)
    //     1069:  00 00 00
    //     106c:  0f 1f 40 00            nopl   0x0(%rax)
    // 0000000000001070 <deregister_tm_clones>:
    //     1070:  48 8d 3d 99 2f 00 00   lea    0x2f99(%rip),%rdi        # 4010 <__TMC_END__>
    //     1077:  48 8d 05 92 2f 00 00   lea    0x2f92(%rip),%rax        # 4010 <__TMC_END__>
    //     107e:  48                     rex.W
    //     107f:  39                     .byte 0x39
    static let x86PIENoRelax: [UInt8] = [
        0x31, 0xed, 0x49, 0x89, 0xd1, 0x5e, 0x48, 0x89, 0xe2, 0x48, 0x83, 0xe4, 0xf0, 0x50, 0x54, 0x45,
        0x31, 0xc0, 0x31, 0xc9, 0x48, 0x8b, 0x3d, 0x75, 0x2f, 0x00, 0x00, 0xff, 0x15, 0x57, 0x2f, 0x00,
        0x00, 0xf4, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x40, 0x00,
        0x48, 0x8d, 0x3d, 0x99, 0x2f, 0x00, 0x00, 0x48, 0x8d, 0x05, 0x92, 0x2f, 0x00, 0x00, 0x48, 0x39,
    ]
    static let x86PIENoRelaxEntry: UInt64 = 0x1040
    static let x86PIENoRelaxMain: UInt64 = 0x1129
    /// The 8 bytes the file holds at 0x3fd0.
    static let x86PIENoRelaxWord: [UInt8] = [
        0x29, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]

    /// A little-endian 8-byte word.
    static func word(_ bytes: [UInt8]) -> UInt64 { bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) } }

    /// A run-time load address for the position-independent binaries (page- and 64 KiB-aligned).
    static let bias: UInt64 = 0xAAAA_C1D2_0000

    // musl (Debian musl-tools 1.2.3, musl-gcc -O1, PIE): `_start` calls `_start_c`, which loads
    // main into rdi and tail-calls `__libc_start_main`. _start 0x10a0, _start_c 0x10c0, main 0x11fe.
    //  10b1:  e8 0a 00 00 00         call   10c0 <_start_c>
    //  10d7:  48 8d 3d 20 01 00 00   lea    0x120(%rip),%rdi   # 11fe <main>
    //  10de:  e9 7d ff ff ff         jmp    1060 <__libc_start_main@plt>
    static let muslStart = bytes("4831ed4889e7488d35632d00004883e4f0e80a000000662e0f1f840000000000")
    static let muslStartC = bytes("8b37488d57084c8d05710100004531c9488d0d29ffffff488d3d20010000e97dffffff662e0f1f84")

    @Test func muslStartIsFollowedToStartC() {
        // Not glibc's form: nothing in `_start` itself; its call leads to `_start_c`, whose lea is main.
        #expect(X86_64.mainLocation(startCode: Self.muslStart, entry: 0x10a0) == nil)
        #expect(X86_64.calledFunction(startCode: Self.muslStart, entry: 0x10a0) == 0x10c0)
        #expect(X86_64.mainLocation(startCode: Self.muslStartC, entry: 0x10c0) == .address(0x11fe))
        // Static (non-PIE): `mov $main,%rdi; jmp __libc_start_main` (musl-gcc -static).
        let staticStartC = Self.bytes("8b37488d570849c7c0d45040004531c948c7c10010400048c7c78e114000e92d040000")
        #expect(X86_64.mainLocation(startCode: staticStartC, entry: 0x401050) == .address(0x40118e))
        // glibc's `_start` is no musl `_start`.
        #expect(X86_64.calledFunction(startCode: [UInt8](repeating: 0x90, count: 64), entry: 0) == nil)
    }

    /// Bytes from a hex string.
    static func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let next = hex.index(i, offsetBy: 2)
            result.append(UInt8(hex[i..<next], radix: 16)!)
            i = next
        }
        return result
    }

    @Test func aarch64PIELoadsMainFromItsGOTSlot() {
        let found = AArch64.mainLocation(startCode: Self.aarch64PIE, entry: Self.aarch64PIEEntry)
        #expect(found == .literalAt(0x1_FFD8))
        // In the file (before relocation) the slot holds main's link-time address.
        #expect(Self.word(Self.aarch64PIEWord) == Self.aarch64PIEMain)
        #expect(AArch64.mainAddress(startCode: Self.aarch64PIE, entry: Self.aarch64PIEEntry) == nil)
    }

    @Test func aarch64PIEGOTSlotMovesWithTheLoadAddress() {
        let found = AArch64.mainLocation(startCode: Self.aarch64PIE, entry: Self.bias + Self.aarch64PIEEntry)
        #expect(found == .literalAt(Self.bias + 0x1_FFD8))
    }

    @Test func aarch64NoPIEFollowsWrapMainToMain() {
        let found = AArch64.mainAddress(startCode: Self.aarch64NoPIE, entry: Self.aarch64NoPIEEntry)
        #expect(found == Self.aarch64NoPIEMain)
    }

    @Test func aarch64StaticFollowsWrapMainToMain() {
        let found = AArch64.mainAddress(startCode: Self.aarch64Static, entry: Self.aarch64StaticEntry)
        #expect(found == Self.aarch64StaticMain)
    }

    @Test func aarch64StaticPIEFindsMainAtAnyLoadAddress() {
        let linked = AArch64.mainAddress(startCode: Self.aarch64StaticPIE, entry: Self.aarch64StaticPIEEntry)
        #expect(linked == Self.aarch64StaticPIEMain)
        let entry = Self.bias + Self.aarch64StaticPIEEntry
        let loaded = AArch64.mainAddress(startCode: Self.aarch64StaticPIE, entry: entry)
        #expect(loaded == Self.bias + Self.aarch64StaticPIEMain)
    }

    @Test func aarch64WrapMainOutsideTheBytesIsReturnedAsIs() {
        // Only _start's own 52 bytes: __wrap_main (entry + 0x34) cannot be followed.
        let code = Array(Self.aarch64NoPIE.prefix(52))
        #expect(AArch64.mainAddress(startCode: code, entry: Self.aarch64NoPIEEntry) == Self.aarch64NoPIEEntry + 0x34)
    }

    @Test func aarch64LiteralPoolHoldsMain() {
        let found = AArch64.mainLocation(startCode: Self.aarch64Literal, entry: Self.aarch64LiteralEntry)
        #expect(found == .literalAt(0x40_03F0))
        #expect(Self.word(Self.aarch64LiteralWord) == Self.aarch64LiteralMain)
    }

    @Test func aarch64MovzMovkBuildsMain() {
        let found = AArch64.mainAddress(startCode: Self.aarch64Movl, entry: Self.aarch64MovlEntry)
        #expect(found == Self.aarch64MovlMain)
    }

    @Test func aarch64WithoutTheCallIsNotDecoded() {
        // Cut before `bl __libc_start_main`: x0 may still change.
        let code = Array(Self.aarch64NoPIE.prefix(44))
        #expect(AArch64.mainLocation(startCode: code, entry: Self.aarch64NoPIEEntry) == nil)
        #expect(AArch64.mainLocation(startCode: [], entry: 0) == nil)
        #expect(AArch64.mainLocation(startCode: Self.x86PIE, entry: Self.x86PIEEntry) == nil)
    }

    @Test func x86PIELeaOfMain() {
        #expect(X86_64.mainAddress(startCode: Self.x86PIE, entry: Self.x86PIEEntry) == Self.x86PIEMain)
        let loaded = X86_64.mainAddress(startCode: Self.x86PIE, entry: Self.bias + Self.x86PIEEntry)
        #expect(loaded == Self.bias + Self.x86PIEMain)
    }

    @Test func x86NoPIEMovOfMain() {
        #expect(X86_64.mainAddress(startCode: Self.x86NoPIE, entry: Self.x86NoPIEEntry) == Self.x86NoPIEMain)
    }

    @Test func x86StaticMovBeforeAddr32Call() {
        #expect(X86_64.mainAddress(startCode: Self.x86Static, entry: Self.x86StaticEntry) == Self.x86StaticMain)
    }

    @Test func x86UnrelaxedGOTLoadHoldsMain() {
        let found = X86_64.mainLocation(startCode: Self.x86PIENoRelax, entry: Self.x86PIENoRelaxEntry)
        #expect(found == .literalAt(0x3FD0))
        #expect(Self.word(Self.x86PIENoRelaxWord) == Self.x86PIENoRelaxMain)
    }

    @Test func x86WithoutTheCallIsNotDecoded() {
        #expect(X86_64.mainLocation(startCode: Array(Self.x86PIE.prefix(0x1B)), entry: Self.x86PIEEntry) == nil)
        #expect(X86_64.mainLocation(startCode: [], entry: 0) == nil)
        #expect(X86_64.mainLocation(startCode: Self.aarch64NoPIE, entry: Self.aarch64NoPIEEntry) == nil)
    }

    @Test func breakpointsAndExitGroup() {
        #expect(X86_64.exitGroupSyscall == 231)
        #expect(AArch64.exitGroupSyscall == 94)
        #expect(X86_64.breakpointAddress(trappedAt: 0x1001) == 0x1000)
        #expect(AArch64.breakpointAddress(trappedAt: 0x1000) == 0x1000)
        #expect(AArch64.breakpointInstruction == 0xD420_0000)
    }

    @Test func swiftAndCAgreeOnThisArchitecture() {
        #expect(spr_arch_exit_group_syscall() == NativeArchitecture.exitGroupSyscall)
        #expect(UInt64(spr_breakpoint_pc_advance()) == NativeArchitecture.breakpointPCAdvance)
        #expect(Tracer.exitSyscalls == [NativeArchitecture.exitGroupSyscall])
    }

    @Test func nativeArchitectureIsThisMachine() {
        #if arch(x86_64)
        #expect(NativeArchitecture.self == X86_64.self)
        #elseif arch(arm64)
        #expect(NativeArchitecture.self == AArch64.self)
        #endif
    }
}
