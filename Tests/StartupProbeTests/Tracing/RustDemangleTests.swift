import Foundation
import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing
import StartupProbe
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Rust v0 symbols from a real binary, demangled by us and by GNU c++filt (crate hashes removed).
@Suite struct RustDemangleTests {
    static var toolsPresent: Bool {
        access("/usr/bin/c++filt", X_OK) == 0 && (try? run(["/usr/bin/env", "rustc", "--version"]).status) == 0
    }

    @Test func knownSymbols() {
        #expect(RustV0Demangler.demangle("_RNvNtCsjrHSEGnQ3l9_3std7process4exit") == "std::process::exit")
        #expect(RustV0Demangler.demangle("_RNvNtNtCsjrHSEGnQ3l9_3std3sys4exit4exit") == "std::sys::exit::exit")
        #expect(RustV0Demangler.demangle("_RINvNtC3std3mem8align_ofjE") == "std::mem::align_of::<usize>")
        #expect(RustV0Demangler.demangle("_RNvMNtC3std3fooNtB2_3Bar3baz") != nil)
        for garbage in [
            "_R", "_RN", "_RNvC", "_RB_", "_RIC3fooE", "_RNvC999999999x", String(repeating: "_RI", count: 500),
        ] {
            _ = RustV0Demangler.demangle(garbage)  // must not trap
        }
    }

    @Test(.enabled(if: toolsPresent, "needs rustc and GNU c++filt"))
    func agreesWithCxxFiltOnARealBinary() throws {
        let dir = Binaries.freshDirectory("rust")
        let source = dir + "/p.rs"
        try writeFile(
            source,
            "fn main() { let v: Vec<String> = std::env::args().collect(); if v.len() > 5 { panic!(\"x\") } }\n",
            mode: 0o644
        )
        #expect(try run(["/usr/bin/env", "rustc", "-o", dir + "/p", source]).status == 0)
        let symbols = try run(["/usr/bin/nm", dir + "/p"]).stdout.split(separator: "\n").compactMap { line -> String? in
            let name = line.split(separator: " ").last.map(String.init) ?? ""
            return name.hasPrefix("_R") ? name : nil
        }
        #expect(symbols.count > 50)
        try writeFile(dir + "/symbols", symbols.joined(separator: "\n") + "\n", mode: 0o644)
        let reference = try run(["/bin/sh", "-c", "c++filt -s rust < \(dir)/symbols | sed -E 's/\\[[0-9a-f]+\\]//g'"])
            .stdout
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var mismatches: [String] = []
        for (i, symbol) in symbols.enumerated() where i < reference.count {
            let ours = RustV0Demangler.demangle(symbol) ?? "nil"
            if ours != reference[i] { mismatches.append("\(symbol)\n  ours: \(ours)\n  c++filt: \(reference[i])") }
        }
        let examples = mismatches.prefix(5).joined(separator: "\n")
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(symbols.count) differ, e.g.:\n\(examples)")
    }
}
