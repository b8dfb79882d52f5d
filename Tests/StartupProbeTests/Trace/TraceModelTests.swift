import ProbeCore
import ProbeReport
import ProbeTrace
import Testing

/// The typed trace model against the documented schema and against traces written by the first
/// version (format v1, `Tests/Fixtures/traces-v1`): every kind is declared, every field has the
/// documented type, and old traces read without losing a field.
@Suite struct TraceModelTests {
    static let root = "/" + String(#filePath).split(separator: "/").dropLast(4).joined(separator: "/")
    static let fixtures = root + "/Tests/Fixtures/traces-v1"

    /// The JSON types a schema property allows (`type` as a string or a list).
    static func types(_ property: JSONValue?) -> Set<String> {
        if let one = property?["type"]?.stringValue { return [one] }
        if let many = property?["type"]?.arrayValue { return Set(many.compactMap(\.stringValue)) }
        if let values = property?["enum"]?.arrayValue {
            return Set(values.map { $0 == .null ? "null" : $0.stringValue != nil ? "string" : "integer" })
        }
        if property?["const"] != nil { return ["string", "integer"] }
        return []
    }

    @Test func everyCaseMatchesTheSchema() throws {
        let schema = try JSONParser.parse(try #require(readFile(Self.root + "/docs/trace.schema.json")))
        let documented = Set(try #require(schema["$defs"]?.objectKeys))
        let modelled = Set(TraceEvent.schemas.map(\.kind))
        #expect(
            documented == modelled,
            "documented only: \(documented.subtracting(modelled)); modelled only: \(modelled.subtracting(documented))"
        )
        let kinds = Set(try #require(schema["properties"]?["event"]?["enum"]?.arrayValue).compactMap(\.stringValue))
        #expect(kinds == modelled)
        for (kind, fields) in TraceEvent.schemas {
            let definition = schema["$defs"]?[kind]
            let properties = definition?["properties"]
            let required = Set(definition?["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            let names = Set(fields.map(\.name))
            #expect(Set(properties?.objectKeys ?? []) == names, "\(kind): schema and model list other fields")
            for field in fields {
                let allowed = Self.types(properties?[field.name])
                #expect(allowed.contains(field.type), "\(kind).\(field.name): \(field.type) not in \(allowed)")
                // The model writes null only where the schema allows it (the schema also allows
                // null where format v1 wrote it and v2 leaves the field out).
                if field.presence == "nullWhenNil" {
                    #expect(allowed.contains("null"), "\(kind).\(field.name) is written as null but not nullable")
                }
                if required.contains(field.name) {
                    #expect(field.presence == "always", "\(kind).\(field.name) is required but optional in the model")
                }
            }
        }
    }

    /// Every v1 fixture: each line decodes to a known case, and encoding it again gives back every
    /// field with the same value (a v1 `null` may now be left out: absent and null read alike).
    @Test(arguments: try listDirectory(fixtures).filter { $0.hasSuffix(".ndjson") })
    func versionOneTracesReadWithoutLoss(_ name: String) throws {
        let bytes = Array(try #require(readFile(Self.fixtures + "/" + name)).utf8)
        let document = TraceReader.parse(bytes, path: name)
        #expect(!document.events.isEmpty)
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let original = try JSONParser.parse(String(decoding: line, as: UTF8.self))
            let record = try #require(TraceRecord(original))
            #expect(record.version == 1)
            if case .unknown(let kind, _) = record.event { Issue.record("\(name): unknown event \(kind)") }
            guard case .object(let pairs) = original else { continue }
            for (key, value) in pairs where !TraceRecord.envelopeKeys.contains(key) {
                if value == .null {
                    #expect(record[key] == nil || record[key] == .null, "\(name) \(record.kind).\(key)")
                } else {
                    #expect(record[key] == value, "\(name) \(record.kind).\(key) changed")
                }
            }
            let again = try #require(TraceRecord(try JSONParser.parse(record.line)))
            #expect(again.line.dropFirst(6) == record.line.dropFirst(6), "\(name): \(record.kind) is not stable")
        }
        let text = ReportRenderer.render(document)
        #expect(text.contains("VERDICT"))
    }

    @Test func versionOneHistoryIsSummarised() throws {
        let directory = Self.fixtures + "/history"
        let paths = try listDirectory(directory).filter { $0.hasSuffix(".ndjson") }.map { directory + "/" + $0 }
        let summary = TraceHistory.summary(of: paths.sorted())
        #expect(summary.hasPrefix("3 starts"), "\(summary)")
        #expect(!summary.contains("unfinished"), "\(summary)")
    }
}

extension JSONValue {
    /// The keys of an object, in order.
    fileprivate var objectKeys: [String]? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.map(\.0)
    }
}
