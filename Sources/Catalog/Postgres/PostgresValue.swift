import Foundation

/// A query parameter, sent to the server in binary (numbers, arrays, bytes) or as text
/// whose type the server infers from context (`text`, `jsonb`, `timestamptz`, …).
public enum PostgresValue: Sendable, Equatable {
    case null
    case text(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case bytes([UInt8])
    case floatArray([Float])
    case intArray([Int64])
    case textArray([String])
    case bytesArray([[UInt8]])

    // Type OIDs from pg_type.h.
    static let boolOID: UInt32 = 16, byteaOID: UInt32 = 17, int8OID: UInt32 = 20, int2OID: UInt32 = 21
    static let int4OID: UInt32 = 23, textOID: UInt32 = 25, oidOID: UInt32 = 26, jsonOID: UInt32 = 114
    static let float4OID: UInt32 = 700, float8OID: UInt32 = 701, varcharOID: UInt32 = 1043
    static let bpcharOID: UInt32 = 1042, nameOID: UInt32 = 19, timestampOID: UInt32 = 1114
    static let timestamptzOID: UInt32 = 1184, jsonbOID: UInt32 = 3802, int8ArrayOID: UInt32 = 1016
    static let float4ArrayOID: UInt32 = 1021, textArrayOID: UInt32 = 1009, byteaArrayOID: UInt32 = 1001
    static let voidOID: UInt32 = 2278, numericOID: UInt32 = 1700, intervalOID: UInt32 = 1186

    /// (type OID, wire bytes, format 0 = text / 1 = binary); nil bytes means SQL NULL.
    var wire: (oid: UInt32, bytes: [UInt8]?, format: Int32) {
        var out = WireWriter()
        switch self {
        case .null:
            return (0, nil, 0)
        case let .text(string):
            // OID 0 lets the server infer the type, so text also feeds jsonb and timestamptz.
            return (0, Array(string.utf8), 0)
        case let .int(value):
            out.int64(value); return (Self.int8OID, out.bytes, 1)
        case let .double(value):
            out.uint64(value.bitPattern); return (Self.float8OID, out.bytes, 1)
        case let .bool(value):
            return (Self.boolOID, [value ? 1 : 0], 1)
        case let .bytes(value):
            return (Self.byteaOID, value, 1)
        case let .floatArray(values):
            out.arrayHeader(elementOID: Self.float4OID, count: values.count)
            for value in values { out.int32(4); out.uint32(value.bitPattern) }
            return (Self.float4ArrayOID, out.bytes, 1)
        case let .intArray(values):
            out.arrayHeader(elementOID: Self.int8OID, count: values.count)
            for value in values { out.int32(8); out.int64(value) }
            return (Self.int8ArrayOID, out.bytes, 1)
        case let .textArray(values):
            out.arrayHeader(elementOID: Self.textOID, count: values.count)
            for value in values { let utf8 = Array(value.utf8); out.int32(Int32(utf8.count)); out.bytes += utf8 }
            return (Self.textArrayOID, out.bytes, 1)
        case let .bytesArray(values):
            out.arrayHeader(elementOID: Self.byteaOID, count: values.count)
            for value in values { out.int32(Int32(value.count)); out.bytes += value }
            return (Self.byteaArrayOID, out.bytes, 1)
        }
    }
}

/// Big-endian writer for PostgreSQL's binary wire format.
struct WireWriter {
    var bytes: [UInt8] = []
    mutating func uint32(_ v: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: v >> 24)); bytes.append(UInt8(truncatingIfNeeded: v >> 16))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8)); bytes.append(UInt8(truncatingIfNeeded: v))
    }
    mutating func int32(_ v: Int32) { uint32(UInt32(bitPattern: v)) }
    mutating func uint64(_ v: UInt64) { uint32(UInt32(truncatingIfNeeded: v >> 32)); uint32(UInt32(truncatingIfNeeded: v)) }
    mutating func int64(_ v: Int64) { uint64(UInt64(bitPattern: v)) }
    /// One-dimensional array without NULLs: ndim, has-null flag, element OID, length, lower bound.
    mutating func arrayHeader(elementOID: UInt32, count: Int) {
        int32(1); int32(0); uint32(elementOID); int32(Int32(count)); int32(1)
    }
}

/// Values that can be passed straight as parameters.
public protocol PostgresEncodable: Sendable { var postgresValue: PostgresValue { get } }
extension PostgresValue: PostgresEncodable { public var postgresValue: PostgresValue { self } }
extension String: PostgresEncodable { public var postgresValue: PostgresValue { .text(self) } }
extension Int: PostgresEncodable { public var postgresValue: PostgresValue { .int(Int64(self)) } }
extension Int64: PostgresEncodable { public var postgresValue: PostgresValue { .int(self) } }
extension Int32: PostgresEncodable { public var postgresValue: PostgresValue { .int(Int64(self)) } }
extension Double: PostgresEncodable { public var postgresValue: PostgresValue { .double(self) } }
extension Float: PostgresEncodable { public var postgresValue: PostgresValue { .double(Double(self)) } }
extension Bool: PostgresEncodable { public var postgresValue: PostgresValue { .bool(self) } }
extension Array: PostgresEncodable where Element: PostgresArrayElement {
    public var postgresValue: PostgresValue { Element.arrayValue(self) }
}
extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresValue: PostgresValue { self?.postgresValue ?? .null }
}

/// Element types with a binary array encoding (`[UInt8]` itself is `bytea`, not an array).
public protocol PostgresArrayElement: Sendable { static func arrayValue(_ values: [Self]) -> PostgresValue }
extension UInt8: PostgresArrayElement { public static func arrayValue(_ v: [UInt8]) -> PostgresValue { .bytes(v) } }
extension Float: PostgresArrayElement { public static func arrayValue(_ v: [Float]) -> PostgresValue { .floatArray(v) } }
extension Int64: PostgresArrayElement { public static func arrayValue(_ v: [Int64]) -> PostgresValue { .intArray(v) } }
extension String: PostgresArrayElement { public static func arrayValue(_ v: [String]) -> PostgresValue { .textArray(v) } }
