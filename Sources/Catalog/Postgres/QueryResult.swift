import CPostgres
import Foundation

/// The rows of one statement, in binary format. Owns its `PGresult` and frees it once.
///
/// Values are decoded on access straight from libpq's buffer (no copy per cell), typed by
/// the column's OID; asking for the wrong type is a `CatalogError.unexpectedColumn`.
public final class QueryResult {
    private let result: OpaquePointer
    public let rowCount: Int
    public let columnCount: Int
    /// Rows touched by INSERT/UPDATE/DELETE (`PQcmdTuples`).
    public let affectedRows: Int

    init(owning result: OpaquePointer) {
        self.result = result
        rowCount = Int(PQntuples(result))
        columnCount = Int(PQnfields(result))
        affectedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    deinit { PQclear(result) }

    public func columnName(_ column: Int) -> String { String(cString: PQfname(result, Int32(column))) }

    public func column(named name: String) throws -> Int {
        let index = Int(PQfnumber(result, name))
        guard index >= 0 else { throw CatalogError.unexpectedColumn(column: name, expected: "a column", found: "no such column") }
        return index
    }

    public func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(result, Int32(row), Int32(column)) != 0 }

    private func oid(_ column: Int) -> UInt32 { UInt32(PQftype(result, Int32(column))) }

    private func cell(_ row: Int, _ column: Int) -> UnsafeRawBufferPointer {
        let length = Int(PQgetlength(result, Int32(row), Int32(column)))
        return UnsafeRawBufferPointer(start: PQgetvalue(result, Int32(row), Int32(column)), count: length)
    }

    private func mismatch(_ column: Int, _ expected: String) -> CatalogError {
        .unexpectedColumn(column: columnName(column), expected: expected, found: "type OID \(oid(column))")
    }

    private func nonNull(_ row: Int, _ column: Int, _ expected: String) throws -> UnsafeRawBufferPointer {
        guard !isNull(row, column) else {
            throw CatalogError.unexpectedColumn(column: columnName(column), expected: expected, found: "NULL")
        }
        return cell(row, column)
    }

    // MARK: Typed access (non-optional versions throw on NULL).

    public func int(_ row: Int, _ column: Int) throws -> Int64 {
        let bytes = try nonNull(row, column, "an integer")
        switch oid(column) {
        case PostgresValue.int8OID: return Int64(bitPattern: bytes.bigEndianUInt64(at: 0))
        case PostgresValue.int4OID, PostgresValue.oidOID:
            return oid(column) == PostgresValue.oidOID ? Int64(bytes.bigEndianUInt32(at: 0))
                : Int64(Int32(bitPattern: bytes.bigEndianUInt32(at: 0)))
        case PostgresValue.int2OID: return Int64(Int16(bitPattern: UInt16(bytes[0]) << 8 | UInt16(bytes[1])))
        default: throw mismatch(column, "an integer")
        }
    }

    public func double(_ row: Int, _ column: Int) throws -> Double {
        let bytes = try nonNull(row, column, "a number")
        switch oid(column) {
        case PostgresValue.float8OID: return Double(bitPattern: bytes.bigEndianUInt64(at: 0))
        case PostgresValue.float4OID: return Double(Float(bitPattern: bytes.bigEndianUInt32(at: 0)))
        case PostgresValue.int8OID, PostgresValue.int4OID, PostgresValue.int2OID: return Double(try int(row, column))
        default: throw mismatch(column, "a number")
        }
    }

    public func bool(_ row: Int, _ column: Int) throws -> Bool {
        let bytes = try nonNull(row, column, "a boolean")
        guard oid(column) == PostgresValue.boolOID else { throw mismatch(column, "a boolean") }
        return bytes[0] != 0
    }

    public func string(_ row: Int, _ column: Int) throws -> String {
        let bytes = try nonNull(row, column, "text")
        switch oid(column) {
        case PostgresValue.textOID, PostgresValue.varcharOID, PostgresValue.bpcharOID, PostgresValue.nameOID,
             PostgresValue.jsonOID:
            return String(decoding: bytes, as: UTF8.self)
        case PostgresValue.jsonbOID:
            // Binary jsonb is a version byte (1) followed by the JSON text.
            return String(decoding: bytes.dropFirst(), as: UTF8.self)
        default: throw mismatch(column, "text")
        }
    }

    public func bytes(_ row: Int, _ column: Int) throws -> [UInt8] {
        let bytes = try nonNull(row, column, "bytea")
        guard oid(column) == PostgresValue.byteaOID else { throw mismatch(column, "bytea") }
        return Array(bytes)
    }

    /// `timestamptz`/`timestamp`: binary is microseconds since 2000-01-01 00:00 UTC.
    public func date(_ row: Int, _ column: Int) throws -> Date {
        let bytes = try nonNull(row, column, "a timestamp")
        guard oid(column) == PostgresValue.timestamptzOID || oid(column) == PostgresValue.timestampOID else {
            throw mismatch(column, "a timestamp")
        }
        let micros = Int64(bitPattern: bytes.bigEndianUInt64(at: 0))
        return Date(timeIntervalSince1970: 946_684_800 + Double(micros) / 1_000_000)
    }

    /// `real[]` (one dimension, no NULL elements), e.g. an embedding.
    public func floats(_ row: Int, _ column: Int) throws -> [Float] {
        let bytes = try nonNull(row, column, "real[]")
        guard oid(column) == PostgresValue.float4ArrayOID else { throw mismatch(column, "real[]") }
        let (count, start) = try arrayBounds(bytes, column)
        var out = [Float](repeating: 0, count: count)
        var offset = start
        for i in 0..<count {
            guard offset + 8 <= bytes.count, bytes.bigEndianUInt32(at: offset) == 4 else { throw mismatch(column, "real[] without NULLs") }
            out[i] = Float(bitPattern: bytes.bigEndianUInt32(at: offset + 4))
            offset += 8
        }
        return out
    }

    /// `text[]` (one dimension, no NULL elements), e.g. a model's labels.
    public func strings(_ row: Int, _ column: Int) throws -> [String] {
        let bytes = try nonNull(row, column, "text[]")
        guard oid(column) == PostgresValue.textArrayOID else { throw mismatch(column, "text[]") }
        let (count, start) = try arrayBounds(bytes, column)
        var out = [String]()
        out.reserveCapacity(count)
        var offset = start
        for _ in 0..<count {
            guard offset + 4 <= bytes.count else { throw mismatch(column, "text[]") }
            let length = Int(Int32(bitPattern: bytes.bigEndianUInt32(at: offset)))
            guard length >= 0, offset + 4 + length <= bytes.count else { throw mismatch(column, "text[] without NULLs") }
            out.append(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<(offset + 4 + length)]), as: UTF8.self))
            offset += 4 + length
        }
        return out
    }

    /// Element count and offset of the first element of a binary array; empty arrays have ndim 0.
    private func arrayBounds(_ bytes: UnsafeRawBufferPointer, _ column: Int) throws -> (Int, Int) {
        guard bytes.count >= 12 else { throw mismatch(column, "an array") }
        let dimensions = bytes.bigEndianUInt32(at: 0)
        if dimensions == 0 { return (0, 12) }
        guard dimensions == 1, bytes.count >= 20 else { throw mismatch(column, "a one-dimensional array") }
        return (Int(bytes.bigEndianUInt32(at: 12)), 20)
    }

    // MARK: Optional access.

    public func optionalInt(_ row: Int, _ column: Int) throws -> Int64? { isNull(row, column) ? nil : try int(row, column) }
    public func optionalDouble(_ row: Int, _ column: Int) throws -> Double? { isNull(row, column) ? nil : try double(row, column) }
    public func optionalString(_ row: Int, _ column: Int) throws -> String? { isNull(row, column) ? nil : try string(row, column) }
    public func optionalDate(_ row: Int, _ column: Int) throws -> Date? { isNull(row, column) ? nil : try date(row, column) }
    public func optionalBytes(_ row: Int, _ column: Int) throws -> [UInt8]? { isNull(row, column) ? nil : try bytes(row, column) }
}

extension UnsafeRawBufferPointer {
    @inline(__always) func bigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16 | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }
    @inline(__always) func bigEndianUInt64(at offset: Int) -> UInt64 {
        UInt64(bigEndianUInt32(at: offset)) << 32 | UInt64(bigEndianUInt32(at: offset + 4))
    }
}
