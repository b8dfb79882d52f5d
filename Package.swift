// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "StartupProbe",
    products: [
        .library(name: "StartupProbe", targets: ["StartupProbe"]),
        .executable(name: "probe-exec", targets: ["probe-exec"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Async-signal-safe parts: everything that runs between fork and exec, the output pump
        // threads, and wrappers for what Swift cannot call (macros, variadic syscalls).
        // libunwind (Debian libunwind-dev: headers at build time) is loaded with dlopen at run
        // time, see spr_unwind.h: nothing of it is linked, so `_Unwind_*` stay libgcc_s's.
        .target(
            name: "CStartupProbe",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("stdc++")]  // dlopen; __cxa_demangle
        ),
        .target(
            name: "StartupProbe",
            dependencies: [
                "CStartupProbe",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "probe-exec",
            dependencies: [
                "StartupProbe",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A small program that crashes, exits or waits on request: the README demo and test fixture.
        .executableTarget(name: "probe-fixture"),
        // A tiny Swift server that uses the StartupProbe library (README example, library tests).
        .executableTarget(
            name: "example-server",
            dependencies: ["StartupProbe", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "StartupProbeTests",
            dependencies: ["StartupProbe", "probe-exec", "probe-fixture", "example-server"]
        ),
    ]
)
