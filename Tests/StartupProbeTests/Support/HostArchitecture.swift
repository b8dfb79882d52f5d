import CStartupProbe

/// The names that differ between the machines the tests run on (x86_64, aarch64): one place for
/// what tests would otherwise hard-code for x86_64.
enum HostArchitecture {
    #if arch(x86_64)
    /// Debian's multiarch tuple, the directory of this machine's libraries under /usr/lib.
    static let multiarch = "x86_64-linux-gnu"
    /// SwiftPM's build triple, a directory under a scratch path.
    static let swiftTriple = "x86_64-unknown-linux-gnu"
    /// An ELF e_machine this machine does not run, and its name in probe-exec's messages.
    static let foreignMachine: (number: UInt16, name: String) = (183, "aarch64")  // EM_AARCH64
    #elseif arch(arm64)
    /// Debian's multiarch tuple, the directory of this machine's libraries under /usr/lib.
    static let multiarch = "aarch64-linux-gnu"
    /// SwiftPM's build triple, a directory under a scratch path.
    static let swiftTriple = "aarch64-unknown-linux-gnu"
    /// An ELF e_machine this machine does not run, and its name in probe-exec's messages.
    static let foreignMachine: (number: UInt16, name: String) = (62, "x86_64")  // EM_X86_64
    #else
    #error("StartupProbe supports x86_64 and aarch64")
    #endif

    /// libunwind's remote unwinder as probe-exec dlopens it (its soname from spr_arch), in
    /// Debian's multiarch library directory.
    static let remoteUnwinder = "/usr/lib/\(multiarch)/" + String(cString: spr_arch_remote_unwinder().pointee.library)
}
