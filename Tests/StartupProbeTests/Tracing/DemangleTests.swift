import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing
import StartupProbe
import Testing

@Suite struct DemangleTests {
    @Test(arguments: [
        (
            "static probe_fixture.Crashes.loadConfiguration(path: Swift.String) -> Swift.Int",
            "static Crashes.loadConfiguration(path:)"
        ),
        (
            "static probe_fixture.Crashes.forceUnwrap(Swift.Optional<Swift.Int>) -> Swift.Int",
            "static Crashes.forceUnwrap(_:)"
        ),
        (
            "closure #1 (Swift.UnsafeBufferPointer<Swift.UInt8>) -> () in closure #1 (Swift.UnsafeBufferPointer<Swift.UInt8>) -> () in Swift._assertionFailure(_: Swift.StaticString, _: Swift.StaticString, file: Swift.StaticString, line: Swift.UInt, flags: Swift.UInt32) -> Swift.Never",
            "closure #1 in closure #1 in _assertionFailure(_:_:file:line:flags:)"
        ),
        (
            "App.Server.run(handler: (Swift.Int) -> Swift.String, port: Swift.Int) async throws -> ()",
            "Server.run(handler:port:)"
        ),
        ("main", "main"),
        (
            // An async closure's pieces (a Hummingbird route handler): named by the closure and where it is.
            "(2) suspend resume partial function for closure #6 (Hummingbird.Request, App.Context) async throws -> Hummingbird.Response in static App.App.routes(router: Hummingbird.Router<App.Context>) -> ()",
            "closure #6 in static App.routes(router:)"
        ),
        (
            "(1) await resume partial function for closure #1 () async throws -> Swift.Int in static App.App.routes(inout [() async throws -> Swift.Int]) -> ()",
            "closure #1 in static App.routes(_:)"
        ),
        ("partial apply forwarder for App.Server.start() -> ()", "Server.start()"),
        (
            // -O builds: the function as written, not its specialised copy.
            "function signature specialization <Arg[0] = Dead> of static as.M.main() -> ()",
            "static M.main()"
        ),
        (
            "generic specialization <Swift.Int> of App.Box.get(index: Swift.Int) -> A",
            "Box.get(index:)"
        ),
    ])
    func simplifiesSwiftNames(full: String, simplified: String) {
        #expect(SwiftNameSimplifier.simplify(full) == simplified)
    }

    @Test func demanglesRealSymbols() {
        // An async closure's resume piece, as `swift demangle --simplified` names it.
        #expect(
            Demangle.name("$s3AppAAV6routesyySaySiyYaKcGzFZSiyYaKcfU_TY1_") == "closure #1 in static App.routes(_:)"
        )
        #expect(Demangle.name("$s13probe_fixture7CrashesO11forceUnwrapyS2iSgFZ") == "static Crashes.forceUnwrap(_:)")
        #expect(
            Demangle.name("_ZN6config6LoaderC2ERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE").hasPrefix(
                "config::Loader::Loader("
            )
        )
        // Rust legacy: Itanium-compatible with a trailing hash.
        #expect(Demangle.name("_ZN4core9panicking5panic17h0123456789abcdefE") == "core::panicking::panic")
        #expect(Demangle.name("level3") == "level3")
        #expect(
            Demangle.name("_ZN3std2rt10lang_start28_$u7b$$u7b$closure$u7d$$u7d$17h0123456789abcdefE")
                == "std::rt::lang_start::{{closure}}"
        )
    }
}
