/// One field of a trace event or of an object inside one: its JSON name and type, and how it is
/// read from and written to the Swift value that holds it. Each payload lists its fields once, in
/// the order they are written; encoding, decoding and the schema test all walk that list.
package struct TraceField<Root>: @unchecked Sendable {  // key paths and pure closures: immutable
    /// The JSON types of `docs/trace.schema.json`.
    package enum JSONType: String, Sendable {
        case integer, number, string, boolean, array, object
    }

    /// When the field is written.
    package enum Presence: Sendable {
        /// Always (the Swift value is not optional).
        case always
        /// Left out when the value is nil.
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
    /// The value's JSON, nil when it is left out.
    package let encode: (Root) -> JSONValue?
    /// Reads the JSON into the value; a value of another type is ignored (a tolerant reader).
    package let decode: (inout Root, JSONValue) -> Void

    private init(
        _ name: String,
        _ type: JSONType,
        _ presence: Presence,
        encode: @escaping (Root) -> JSONValue?,
        decode: @escaping (inout Root, JSONValue) -> Void
    ) {
        self.name = name
        self.type = type
        self.presence = presence
        self.encode = encode
        self.decode = decode
    }

    /// A value written always, with its JSON conversions.
    private static func required<Value>(
        _ name: String,
        _ type: JSONType,
        _ keyPath: WritableKeyPath<Root, Value>,
        to: @escaping (Value) -> JSONValue,
        from: @escaping (JSONValue) -> Value?
    ) -> TraceField {
        TraceField(
            name,
            type,
            .always,
            encode: { to($0[keyPath: keyPath]) },
            decode: { root, json in if let value = from(json) { root[keyPath: keyPath] = value } }
        )
    }

    /// An optional value, left out or written as null when nil.
    private static func optional<Value>(
        _ name: String,
        _ type: JSONType,
        _ keyPath: WritableKeyPath<Root, Value?>,
        _ presence: Presence,
        to: @escaping (Value) -> JSONValue,
        from: @escaping (JSONValue) -> Value?
    ) -> TraceField {
        TraceField(
            name,
            type,
            presence,
            encode: { root in
                guard let value = root[keyPath: keyPath] else { return presence == .nullWhenNil ? .null : nil }
                return to(value)
            },
            decode: { root, json in root[keyPath: keyPath] = from(json) }
        )
    }

    // MARK: Integers

    /// An integer.
    package static func int<I: BinaryInteger>(_ name: String, _ keyPath: WritableKeyPath<Root, I>) -> TraceField {
        required(name, .integer, keyPath, to: { .int($0) }, from: { $0.intValue.flatMap(I.init(exactly:)) })
    }

    /// An optional integer.
    package static func int<I: BinaryInteger>(
        _ name: String,
        _ keyPath: WritableKeyPath<Root, I?>,
        _ presence: Presence = .omittedWhenNil
    ) -> TraceField {
        optional(name, .integer, keyPath, presence, to: { .int($0) }, from: { $0.intValue.flatMap(I.init(exactly:)) })
    }

    /// A list of integers.
    package static func ints<I: BinaryInteger>(_ name: String, _ keyPath: WritableKeyPath<Root, [I]>) -> TraceField {
        required(
            name,
            .array,
            keyPath,
            to: { .array($0.map { .int($0) }) },
            from: { $0.arrayValue?.compactMap { $0.intValue.flatMap(I.init(exactly:)) } }
        )
    }

    // MARK: Other scalars

    /// A number.
    package static func number(_ name: String, _ keyPath: WritableKeyPath<Root, Double>) -> TraceField {
        required(name, .number, keyPath, to: { .number($0) }, from: { $0.doubleValue })
    }

    /// An optional number.
    package static func number(
        _ name: String,
        _ keyPath: WritableKeyPath<Root, Double?>,
        _ presence: Presence = .omittedWhenNil
    ) -> TraceField {
        optional(name, .number, keyPath, presence, to: { .number($0) }, from: { $0.doubleValue })
    }

    /// A string.
    package static func string(_ name: String, _ keyPath: WritableKeyPath<Root, String>) -> TraceField {
        required(name, .string, keyPath, to: { .string($0) }, from: { $0.stringValue })
    }

    /// An optional string.
    package static func string(
        _ name: String,
        _ keyPath: WritableKeyPath<Root, String?>,
        _ presence: Presence = .omittedWhenNil
    ) -> TraceField {
        optional(name, .string, keyPath, presence, to: { .string($0) }, from: { $0.stringValue })
    }

    /// A list of strings.
    package static func strings(_ name: String, _ keyPath: WritableKeyPath<Root, [String]>) -> TraceField {
        required(name, .array, keyPath, to: { .strings($0) }, from: { $0.arrayValue?.compactMap(\.stringValue) })
    }

    /// A boolean.
    package static func bool(_ name: String, _ keyPath: WritableKeyPath<Root, Bool>) -> TraceField {
        required(name, .boolean, keyPath, to: { .bool($0) }, from: { $0.boolValue })
    }

    /// An optional boolean.
    package static func bool(
        _ name: String,
        _ keyPath: WritableKeyPath<Root, Bool?>,
        _ presence: Presence = .omittedWhenNil
    ) -> TraceField {
        optional(name, .boolean, keyPath, presence, to: { .bool($0) }, from: { $0.boolValue })
    }

    /// An address or offset written as a `0x…` string.
    package static func hex(_ name: String, _ keyPath: WritableKeyPath<Root, UInt64>) -> TraceField {
        required(name, .string, keyPath, to: { .hex($0) }, from: { $0.hexValue })
    }

    /// An optional address or offset written as a `0x…` string.
    package static func hex(
        _ name: String,
        _ keyPath: WritableKeyPath<Root, UInt64?>,
        _ presence: Presence = .omittedWhenNil
    ) -> TraceField {
        optional(name, .string, keyPath, presence, to: { .hex($0) }, from: { $0.hexValue })
    }

    /// A list of addresses written as `0x…` strings.
    package static func hexes(_ name: String, _ keyPath: WritableKeyPath<Root, [UInt64]>) -> TraceField {
        required(
            name,
            .array,
            keyPath,
            to: { .array($0.map { .hex($0) }) },
            from: { $0.arrayValue?.compactMap(\.hexValue) }
        )
    }

    // MARK: Objects

    /// A nested object.
    package static func object<T: TraceObject>(_ name: String, _ keyPath: WritableKeyPath<Root, T>) -> TraceField {
        required(name, .object, keyPath, to: { $0.json }, from: { T(json: $0) })
    }

    /// An optional nested object.
    package static func object<T: TraceObject>(
        _ name: String,
        _ keyPath: WritableKeyPath<Root, T?>,
        _ presence: Presence = .omittedWhenNil
    ) -> TraceField {
        optional(name, .object, keyPath, presence, to: { $0.json }, from: { T(json: $0) })
    }

    /// A list of objects.
    package static func objects<T: TraceObject>(_ name: String, _ keyPath: WritableKeyPath<Root, [T]>) -> TraceField {
        required(name, .array, keyPath, to: { .array($0.map(\.json)) }, from: { $0.arrayValue?.map { T(json: $0) } })
    }

    /// A list of objects, left out when empty.
    package static func objectsUnlessEmpty<T: TraceObject>(
        _ name: String,
        _ keyPath: WritableKeyPath<Root, [T]>
    ) -> TraceField {
        TraceField(
            name,
            .array,
            .omittedWhenNil,
            encode: { root in root[keyPath: keyPath].isEmpty ? nil : .array(root[keyPath: keyPath].map(\.json)) },
            decode: { root, json in
                if let items = json.arrayValue { root[keyPath: keyPath] = items.map { T(json: $0) } }
            }
        )
    }
}

/// A JSON object of the trace format with a fixed list of fields: an event's payload, or an
/// object inside one (a frame, a process, a module).
package protocol TraceObject: Sendable {
    /// The fields, in the order they are written.
    static var fields: [TraceField<Self>] { get }
    /// A value with every field at its default, which decoding fills in.
    init()
}

extension TraceObject {
    /// The fields that are present, in order.
    package var encodedFields: [(String, JSONValue)] {
        var out: [(String, JSONValue)] = []
        out.reserveCapacity(Self.fields.count)
        for field in Self.fields {
            if let value = field.encode(self) { out.append((field.name, value)) }
        }
        return out
    }

    /// The object's JSON.
    package var json: JSONValue { .object(encodedFields) }

    /// Reads an object; fields that are missing or of another type keep their defaults.
    package init(json: JSONValue) {
        self.init()
        guard case .object(let pairs) = json else { return }
        for field in Self.fields {
            if let value = pairs.first(where: { $0.0 == field.name })?.1 { field.decode(&self, value) }
        }
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
