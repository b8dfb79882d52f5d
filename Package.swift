// swift-tools-version:6.0
import PackageDescription

// The targets follow the data flow; every arrow points down:
//
//   probe-exec (CLI) ─► ProbeReport ─► ProbeDiagnosis ─► ProbeSupervisor ─► ProbeTracing ─► CProbeExec
//                                                                   │              │
//   StartupProbe (library) ─────────────────────────────────► ProbeTrace ─► ProbeCore ─► CStartupProbe
//
// A server that links the StartupProbe library gets ProbeTrace, ProbeCore and CStartupProbe (its
// crash handler and signal relay) and swift-log: no supervisor, tracer, DWARF reader, OTLP
// exporter or ArgumentParser.
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
        // C that runs inside a server that links the library (and in probe-exec): the crash
        // handler (async-signal-safe), the signal relay thread, the clocks, whole writes, the trace
        // file. libunwind (Debian libunwind-dev: headers at build time) is loaded with dlopen at
        // run time, so nothing of it is linked and `_Unwind_*` stay libgcc_s's.
        .target(
            name: "CStartupProbe",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("dl")]  // dlopen
        ),
        // C only probe-exec needs: fork/exec, the output pump, ptrace, remote unwinding, its early
        // signal blocking and saved argv.
        .target(
            name: "CProbeExec",
            dependencies: ["CStartupProbe"],
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("stdc++")]  // dlopen; __cxa_demangle
        ),
        // Typed errors, signals, wait statuses, clocks, process facts, and the door to
        // CStartupProbe: with ProbeTracing and ProbeSupervisor (the door to CProbeExec), the only
        // Swift that calls the C targets.
        .target(name: "ProbeCore", dependencies: ["CStartupProbe"]),
        // The trace format: events, JSON, writing, reading, where traces live.
        .target(name: "ProbeTrace", dependencies: ["ProbeCore"]),
        // ptrace: milestones, backtraces, symbolication (ELF, DWARF, demanglers).
        .target(name: "ProbeTracing", dependencies: ["ProbeCore", "ProbeTrace", "CProbeExec"]),
        // Spawn, signal forwarding, reaping, the output pump: writes events, returns facts.
        .target(name: "ProbeSupervisor", dependencies: ["ProbeCore", "ProbeTrace", "ProbeTracing", "CProbeExec"]),
        // From recorded facts to a verdict; the post-mortem collectors.
        .target(name: "ProbeDiagnosis", dependencies: ["ProbeCore", "ProbeTrace", "ProbeTracing", "ProbeSupervisor"]),
        // `show`, `--history`, OTLP export.
        .target(
            name: "ProbeReport",
            dependencies: ["ProbeCore", "ProbeTrace", "ProbeTracing", "ProbeSupervisor", "ProbeDiagnosis"]
        ),
        // The library a Swift server links: one call at the top of main.
        .target(
            name: "StartupProbe",
            dependencies: [
                "ProbeCore", "ProbeTrace",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "probe-exec",
            dependencies: [
                "ProbeCore", "ProbeTrace", "ProbeTracing", "ProbeSupervisor", "ProbeDiagnosis", "ProbeReport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A small program that crashes, exits or waits on request: the README demo and test fixture.
        .executableTarget(name: "probe-fixture"),
        // The library's differential fixture: each scenario without StartupProbe, or with `start`
        // before or after the program's own signal setup (LibraryDifferentialTests).
        .executableTarget(
            name: "library-fixture",
            dependencies: ["StartupProbe", "CLibraryFixture", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "CLibraryFixture"),
        // A tiny Swift server that uses the StartupProbe library (README example, library tests).
        .executableTarget(
            name: "example-server",
            dependencies: ["StartupProbe", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "StartupProbeTests",
            dependencies: [
                "StartupProbe", "ProbeCore", "ProbeTrace", "ProbeTracing", "ProbeSupervisor", "ProbeDiagnosis",
                "ProbeReport", "CStartupProbe", "CProbeExec", "probe-exec", "probe-fixture", "example-server",
                "library-fixture",
            ]
        ),
    ]
)
