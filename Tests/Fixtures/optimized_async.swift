// An optimised (-O) Swift program that force-unwraps nil inside an async closure, as a route
// handler of a server would. Its trap instruction's own line is `<compiler-generated>:0`; the
// inline chain in .debug_info says where it was written (InlineChainTests).

struct Request { var query: [String: String] }

enum App {
    static func routes(_ handlers: inout [(Request) async throws -> Int]) {
        handlers.append { request in
            let id = request.query["id"]
            try await Task.sleep(nanoseconds: 1_000_000)
            return Int(id!)!  // CRASH-LINE
        }
    }
}

@main
struct Main {
    static func main() async throws {
        var handlers: [(Request) async throws -> Int] = []
        App.routes(&handlers)
        let n = try await handlers[0](Request(query: [:]))
        print(n)
    }
}
