import CPostgres
import Foundation

/// One libpq connection; the only owner of its `PGconn` (closed with `PQfinish` in deinit).
///
/// Not thread-safe: one thread at a time, which `ConnectionPool` guarantees. Every statement
/// with data goes through `PQexecParams` with parameters; SQL text is never built from values.
public final class PostgresConnection {
    private let connection: OpaquePointer
    /// Where it points, for messages (no password).
    public let target: String

    /// - Parameters:
    ///   - url: a libpq URI (`postgresql:///db?host=/socket/dir&user=u`) or `key=value` string.
    ///   - database: overrides the database named in `url`.
    ///   - applicationName: shown in `pg_stat_activity`; "timbre:<pid>" by default, which the
    ///     embedded cluster uses to tell which sessions belong to which process.
    public init(url: String, database: String? = nil, applicationName: String = PostgresConnection.defaultApplicationName) throws {
        // Defaults first so that the URL's own settings (expanded at "dbname") override them:
        // give up connecting after 10 s, and notice a dead TCP peer within about a minute.
        var keywords = ["connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
                        "dbname", "application_name", "client_encoding"]
        var values = ["10", "30", "10", "3", url, applicationName, "UTF8"]
        if let database { keywords.append("dbname"); values.append(database) }
        // expand_dbname = 1: the first dbname is a whole connection string; a later one is a plain name.
        let connection = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in PQconnectdbParams(keywordPointers, valuePointers, 1) }
        }
        guard let connection else { throw CatalogError.connectionFailed(target: Self.redact(url), message: "out of memory") }
        target = Self.redact(url) + (database.map { " (database \($0))" } ?? "")
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection))
            PQfinish(connection)
            throw CatalogError.connectionFailed(target: target, message: message)
        }
        // Server notices ("relation already exists, skipping") are not errors; keep them off stderr.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        self.connection = connection
    }

    deinit { PQfinish(connection) }

    public static let defaultApplicationName = "timbre:\(getpid())"

    public var isHealthy: Bool { PQstatus(connection) == CONNECTION_OK }

    /// Inside BEGIN … COMMIT (or a failed transaction awaiting ROLLBACK).
    public var isInTransaction: Bool {
        let status = PQtransactionStatus(connection)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// The server process serving this connection (`pg_backend_pid()`).
    public var backendPID: Int32 { PQbackendPID(connection) }

    /// Re-establishes a broken connection with the same parameters (`PQreset`).
    public func reset() throws {
        PQreset(connection)
        guard isHealthy else {
            throw CatalogError.connectionFailed(target: target, message: String(cString: PQerrorMessage(connection)))
        }
    }

    /// Runs one statement with `$1…$n` parameters; results come back in binary.
    @discardableResult
    public func query(_ sql: String, _ parameters: [PostgresEncodable] = []) throws -> QueryResult {
        let values = parameters.map(\.postgresValue)
        for case let .text(text) in values where text.utf8.contains(0) {
            throw CatalogError.invalidArgument("text with a NUL character cannot be stored in PostgreSQL; remove it")
        }
        let wires = values.map(\.wire)
        let types = wires.map { Oid($0.oid) }
        let formats = wires.map { $0.format }
        let lengths = wires.map { Int32($0.bytes?.count ?? 0) }
        let result: OpaquePointer? = withByteBuffers(wires.map(\.bytes)) { valuePointers in
            PQexecParams(connection, sql, Int32(wires.count), types, valuePointers, lengths, formats, 1)
        }
        return try check(result, sql)
    }

    /// Runs a script of several statements without parameters (migrations, DDL).
    /// Only for SQL that ships with Timbre: user data always goes through `query`.
    public func execute(script sql: String) throws {
        _ = try check(PQexec(connection, sql), sql)
    }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    @discardableResult
    public func withTransaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try query("BEGIN")
        do {
            let value = try body(self)
            try query("COMMIT")
            return value
        } catch {
            if isHealthy { _ = try? query("ROLLBACK") }
            throw error
        }
    }

    private func check(_ result: OpaquePointer?, _ sql: String) throws -> QueryResult {
        guard let result else {
            throw CatalogError.connectionLost(message: String(cString: PQerrorMessage(connection)))
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return QueryResult(owning: result)
        default:
            let field = { (code: Int32) -> String? in
                PQresultErrorField(result, code).map { String(cString: $0) }
            }
            let state = field(Int32(UInt8(ascii: "C"))) // PG_DIAG_SQLSTATE
            let message = field(Int32(UInt8(ascii: "M"))) ?? String(cString: PQresultErrorMessage(result))
            let detail = field(Int32(UInt8(ascii: "D")))
            PQclear(result)
            // A dead socket means the server vanished under us, whatever the message says.
            if !isHealthy { throw CatalogError.connectionLost(message: message) }
            throw CatalogError.queryFailed(sqlState: state ?? "?????", message: message, detail: detail, statement: sql)
        }
    }

    /// `postgresql://user:secret@host/db` → `postgresql://user:***@host/db`; `password=…` → `password=***`.
    static func redact(_ url: String) -> String {
        if !url.contains("://") {
            return url.split(separator: " ").map { $0.hasPrefix("password=") ? "password=***" : String($0) }.joined(separator: " ")
        }
        var url = url
        if let range = url.range(of: "password=") {
            let end = url[range.upperBound...].firstIndex(of: "&") ?? url.endIndex
            url.replaceSubrange(range.upperBound..<end, with: "***")
        }
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else { return url }
        let credentials = url[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
    }
}

/// NUL-terminated C strings for the duration of `body`, with a terminating NULL pointer.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let duplicates = strings.map { strdup($0) }
    defer { duplicates.forEach { free($0) } }
    return body(duplicates.map { UnsafePointer($0) } + [nil])
}

/// Raw parameter buffers for libpq; nil stays nil (SQL NULL).
private func withByteBuffers<R>(_ buffers: [[UInt8]?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = []
    pointers.reserveCapacity(buffers.count)
    defer { pointers.forEach { $0?.deallocate() } }
    for buffer in buffers {
        guard let buffer else { pointers.append(nil); continue }
        // Text-format values are read up to a NUL (their length is ignored), so always add one.
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: buffer.count + 1)
        buffer.withUnsafeBytes { raw in
            if let base = raw.baseAddress { UnsafeMutableRawPointer(pointer).copyMemory(from: base, byteCount: raw.count) }
        }
        pointer[buffer.count] = 0
        pointers.append(pointer)
    }
    return body(pointers.map { UnsafePointer($0) })
}
