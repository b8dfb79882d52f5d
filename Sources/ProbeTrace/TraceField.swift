/// What one field of a trace event (or of an object inside one) is: its JSON name and type, and
/// when it is written. ``TraceObject/fields`` lists them for the schema test and the schema.
package struct TraceField: Sendable {
    /// The JSON types of `docs/trace.schema.json`.
    package enum JSONType: String, Sendable {
        case integer, number, string, boolean, array, object
    }

    /// When the field is written.
    package enum Presence: Sendable {
        /// Always (the Swift value is not optional).
        case always
        /// Left out when the value is nil (or, for ``TraceFieldVisitor/objectsUnlessEmpty(_:_:)``, empty).
        case omittedWhenNil
        /// Written as `null` when the value is nil.
        case nullWhenNil
    }

    /// The JSON name.
    package let name: String
    /// The JSON type of a present, non-null value.
    package let type: JSONType
    /// When it is written.
    package let presence: Presence
}

/// Walks the fields of a ``TraceObject`` in the order they are written: the encoder reads each
/// value, the decoder writes it, the lister records its ``TraceField``.
///
/// Each payload lists its fields once, as calls on a visitor (`v.int("pid", &pid)`); encoding,
/// decoding and the schema test all walk that one list. It takes the values `inout` rather than as
/// key paths: a key path is instantiated at run time (its generic class metadata, a demangled
/// type per field), which was 10 % of `probe-exec -- /bin/true`'s samples under `perf record`.
package protocol TraceFieldVisitor {
    /// One field: `value` converted to JSON by `to` (nil: left out) and read back by `from` (nil:
    /// keep the value; a value of another JSON type is ignored, as a tolerant reader does).
    mutating func field<Value>(
        _ name: String,
        _ type: TraceField.JSONType,
        _ presence: TraceField.Presence,
        _ value: inout Value,
        to: (Value) -> JSONValue?,
        from: (JSONValue) -> Value?
    )
}

extension TraceFieldVisitor {
    /// A value written always.
    private mutating func required<Value>(
        _ name: String,
        _ type: TraceField.JSONType,
        _ value: inout Value,
        to: (Value) -> JSONValue,
        from: (JSONValue) -> Value?
    ) {
        field(name, type, .always, &value, to: { to($0) }, from: from)
    }

    /// An optional value, left out or written as null when nil; read back as nil when the JSON
    /// is null or of another type.
    private mutating func optional<Value>(
        _ name: String,
        _ type: TraceField.JSONType,
        _ value: inout Value?,
        _ presence: TraceField.Presence,
        to: (Value) -> JSONValue,
        from: (JSONValue) -> Value?
    ) {
        field(
            name,
            type,
            presence,
            &value,
            to: { value in value.map(to) ?? (presence == .nullWhenNil ? .null : nil) },
            from: { json in .some(from(json)) }
        )
    }

    // MARK: Integers

    /// An integer.
    package mutating func int<I: BinaryInteger>(_ name: String, _ value: inout I) {
        required(name, .integer, &value, to: { .int($0) }, from: { $0.intValue.flatMap(I.init(exactly:)) })
    }

    /// An optional integer.
    package mutating func int<I: BinaryInteger>(
        _ name: String,
        _ value: inout I?,
        _ presence: TraceField.Presence = .omittedWhenNil
    ) {
        optional(name, .integer, &value, presence, to: { .int($0) }, from: { $0.intValue.flatMap(I.init(exactly:)) })
    }

    /// A list of integers.
    package mutating func ints<I: BinaryInteger>(_ name: String, _ value: inout [I]) {
        required(
            name,
            .array,
            &value,
            to: { .array($0.map { .int($0) }) },
            from: { $0.arrayValue?.compactMap { $0.intValue.flatMap(I.init(exactly:)) } }
        )
    }

    // MARK: Other scalars

    /// A number.
    package mutating func number(_ name: String, _ value: inout Double) {
        required(name, .number, &value, to: { .number($0) }, from: { $0.doubleValue })
    }

    /// An optional number.
    package mutating func number(
        _ name: String,
        _ value: inout Double?,
        _ presence: TraceField.Presence = .omittedWhenNil
    ) {
        optional(name, .number, &value, presence, to: { .number($0) }, from: { $0.doubleValue })
    }

    /// A string.
    package mutating func string(_ name: String, _ value: inout String) {
        required(name, .string, &value, to: { .string($0) }, from: { $0.stringValue })
    }

    /// An optional string.
    package mutating func string(
        _ name: String,
        _ value: inout String?,
        _ presence: TraceField.Presence = .omittedWhenNil
    ) {
        optional(name, .string, &value, presence, to: { .string($0) }, from: { $0.stringValue })
    }

    /// A list of strings.
    package mutating func strings(_ name: String, _ value: inout [String]) {
        required(name, .array, &value, to: { .strings($0) }, from: { $0.arrayValue?.compactMap(\.stringValue) })
    }

    /// A boolean.
    package mutating func bool(_ name: String, _ value: inout Bool) {
        required(name, .boolean, &value, to: { .bool($0) }, from: { $0.boolValue })
    }

    /// An optional boolean.
    package mutating func bool(
        _ name: String,
        _ value: inout Bool?,
        _ presence: TraceField.Presence = .omittedWhenNil
    ) {
        optional(name, .boolean, &value, presence, to: { .bool($0) }, from: { $0.boolValue })
    }

    /// An address or offset written as a `0x…` string.
    package mutating func hex(_ name: String, _ value: inout UInt64) {
        required(name, .string, &value, to: { .hex($0) }, from: { $0.hexValue })
    }

    /// An optional address or offset written as a `0x…` string.
    package mutating func hex(
        _ name: String,
        _ value: inout UInt64?,
        _ presence: TraceField.Presence = .omittedWhenNil
    ) {
        optional(name, .string, &value, presence, to: { .hex($0) }, from: { $0.hexValue })
    }

    /// A list of addresses written as `0x…` strings.
    package mutating func hexes(_ name: String, _ value: inout [UInt64]) {
        required(
            name,
            .array,
            &value,
            to: { .array($0.map { .hex($0) }) },
            from: { $0.arrayValue?.compactMap(\.hexValue) }
        )
    }

    // MARK: Objects

    /// A nested object.
    package mutating func object<T: TraceObject>(_ name: String, _ value: inout T) {
        required(name, .object, &value, to: { $0.json }, from: { T(json: $0) })
    }

    /// An optional nested object.
    package mutating func object<T: TraceObject>(
        _ name: String,
        _ value: inout T?,
        _ presence: TraceField.Presence = .omittedWhenNil
    ) {
        optional(name, .object, &value, presence, to: { $0.json }, from: { T(json: $0) })
    }

    /// A list of objects.
    package mutating func objects<T: TraceObject>(_ name: String, _ value: inout [T]) {
        required(name, .array, &value, to: { .array($0.map(\.json)) }, from: { $0.arrayValue?.map { T(json: $0) } })
    }

    /// A list of objects, left out when empty.
    package mutating func objectsUnlessEmpty<T: TraceObject>(_ name: String, _ value: inout [T]) {
        field(
            name,
            .array,
            .omittedWhenNil,
            &value,
            to: { $0.isEmpty ? nil : .array($0.map(\.json)) },
            from: { $0.arrayValue?.map { T(json: $0) } }
        )
    }
}

/// A JSON object of the trace format with a fixed list of fields: an event's payload, or an
/// object inside one (a frame, a process, a module).
package protocol TraceObject: Sendable {
    /// Walks the fields, in the order they are written.
    mutating func visitFields<V: TraceFieldVisitor>(_ v: inout V)
    /// A value with every field at its default, which decoding fills in.
    init()
}

extension TraceObject {
    /// The fields, in the order they are written.
    package static var fields: [TraceField] {
        var lister = FieldLister()
        var value = Self()
        value.visitFields(&lister)
        return lister.fields
    }

    /// The fields that are present, in order.
    package var encodedFields: [(String, JSONValue)] {
        var encoder = FieldEncoder()
        var copy = self
        copy.visitFields(&encoder)
        return encoder.pairs
    }

    /// The object's JSON.
    package var json: JSONValue { .object(encodedFields) }

    /// Reads an object; fields that are missing or of another type keep their defaults.
    package init(json: JSONValue) {
        self.init()
        guard case .object(let pairs) = json else { return }
        var decoder = FieldDecoder(pairs: pairs)
        visitFields(&decoder)
    }
}

/// Collects the present fields' JSON.
private struct FieldEncoder: TraceFieldVisitor {
    var pairs: [(String, JSONValue)] = []

    mutating func field<Value>(
        _ name: String,
        _ type: TraceField.JSONType,
        _ presence: TraceField.Presence,
        _ value: inout Value,
        to: (Value) -> JSONValue?,
        from: (JSONValue) -> Value?
    ) {
        if let json = to(value) { pairs.append((name, json)) }
    }
}

/// Fills the fields from an object's pairs.
private struct FieldDecoder: TraceFieldVisitor {
    let pairs: [(String, JSONValue)]

    mutating func field<Value>(
        _ name: String,
        _ type: TraceField.JSONType,
        _ presence: TraceField.Presence,
        _ value: inout Value,
        to: (Value) -> JSONValue?,
        from: (JSONValue) -> Value?
    ) {
        if let json = pairs.first(where: { $0.0 == name })?.1, let decoded = from(json) { value = decoded }
    }
}

/// Records each field's name, type and presence.
private struct FieldLister: TraceFieldVisitor {
    var fields: [TraceField] = []

    mutating func field<Value>(
        _ name: String,
        _ type: TraceField.JSONType,
        _ presence: TraceField.Presence,
        _ value: inout Value,
        to: (Value) -> JSONValue?,
        from: (JSONValue) -> Value?
    ) {
        fields.append(TraceField(name: name, type: type, presence: presence))
    }
}

extension JSONValue {
    /// `0x…` text of a number, as addresses and offsets are written.
    package static func hex(_ value: UInt64) -> JSONValue { .string("0x" + String(value, radix: 16)) }

    /// The number in `0x…` text, when this is such a string.
    package var hexValue: UInt64? {
        guard let text = stringValue, text.hasPrefix("0x") else { return nil }
        return UInt64(text.dropFirst(2), radix: 16)
    }
}
