/// Everything that can go wrong in the catalog, each case saying what to do about it.
public enum CatalogError: Error, CustomStringConvertible, Sendable {
    /// The server could not be reached or refused the login.
    case connectionFailed(target: String, message: String)
    /// The connection died mid-use (server restart, `pg_terminate_backend`, network loss).
    case connectionLost(message: String)
    /// The server rejected a statement; `sqlState` is the five-character SQLSTATE.
    case queryFailed(sqlState: String, message: String, detail: String?, statement: String)
    /// A column held a type or a NULL the caller did not expect.
    case unexpectedColumn(column: String, expected: String, found: String)
    case migrationsNotFound(searched: [String])
    case badMigrationName(file: String)
    case duplicateMigrationVersion(version: Int, files: [String])
    /// A migration already applied has been edited since.
    case migrationChanged(version: Int, file: String, applied: String, now: String)
    /// The database has a migration this build does not know (it is newer than this Timbre).
    case unknownAppliedMigration(version: Int, name: String)
    case migrationFailed(file: String, underlying: String)
    case embeddedClusterFailed(step: String, output: String)
    case notFound(what: String)
    case invalidArgument(String)
    case fileSystem(path: String, message: String)

    public var description: String {
        switch self {
        case let .connectionFailed(target, message):
            return "cannot connect to PostgreSQL at \(target): \(message.trimmed). "
                + "Check that the server is running and that TIMBRE_DATABASE_URL is right "
                + "(unset it to use the embedded cluster)."
        case let .connectionLost(message):
            return "the PostgreSQL connection was lost: \(message.trimmed). "
                + "It is reopened on next use; retry the operation."
        case let .queryFailed(sqlState, message, detail, statement):
            var text = "PostgreSQL error \(sqlState): \(message.trimmed)"
            if let detail, !detail.isEmpty { text += " (\(detail.trimmed))" }
            text += " in `\(statement.firstLine)`. " + Self.advice(forSQLState: sqlState)
            return text
        case let .unexpectedColumn(column, expected, found):
            return "column \(column) holds \(found) where \(expected) was expected: "
                + "the schema and this build disagree; run `timbre db migrate`."
        case let .migrationsNotFound(searched):
            return "no migrations directory found (looked in \(searched.joined(separator: ", "))); "
                + "pass its path or set TIMBRE_MIGRATIONS to the repository's migrations/ folder."
        case let .badMigrationName(file):
            return "migration file \(file) is not named NNNN_description.sql; rename it."
        case let .duplicateMigrationVersion(version, files):
            return "migration version \(version) is used by several files (\(files.joined(separator: ", "))); "
                + "give each file its own number."
        case let .migrationChanged(version, file, applied, now):
            return "migration \(file) (version \(version)) was changed after it was applied "
                + "(applied checksum \(applied.prefix(12))…, file now \(now.prefix(12))…). "
                + "Restore the original file and put the change in a new migration."
        case let .unknownAppliedMigration(version, name):
            return "the database has migration \(version) (\(name)) which this build does not have: "
                + "it was migrated by a newer Timbre; upgrade this one."
        case let .migrationFailed(file, underlying):
            return "migration \(file) failed and was rolled back: \(underlying)"
        case let .embeddedClusterFailed(step, output):
            return "the embedded PostgreSQL failed to \(step): \(output.trimmed). "
                + "Check the log under $TIMBRE_HOME/postgres, or point TIMBRE_DATABASE_URL at a server."
        case let .notFound(what):
            return "\(what) not found."
        case let .invalidArgument(message):
            return message
        case let .fileSystem(path, message):
            return "\(path): \(message)"
        }
    }

    /// True when the failure was the connection, not the statement: safe to retry idempotent work.
    public var isConnectionLoss: Bool {
        switch self {
        case .connectionLost: return true
        case let .queryFailed(sqlState, _, _, _):
            // 08: connection exception; 57P01-57P03: admin/crash shutdown, cannot connect now.
            return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState)
        default: return false
        }
    }

    public var sqlState: String? {
        if case let .queryFailed(state, _, _, _) = self { return state }
        return nil
    }

    static func advice(forSQLState state: String) -> String {
        switch state {
        case "23505": return "A row with the same key exists already."
        case "23503": return "It refers to a row that does not exist (or is still referenced)."
        case "23514", "23502", "22P02", "22003": return "A value was out of range or malformed; check the input."
        case "40001", "40P01": return "A concurrent transaction conflicted; retry."
        case "42P01", "42703", "42883": return "The schema is out of date; run `timbre db migrate`."
        case "3D000": return "The database does not exist; create it or fix TIMBRE_DATABASE_URL."
        case "53100": return "The server's disk is full; free space."
        case "57014": return "The statement was cancelled or timed out."
        default:
            if state.hasPrefix("08") || state.hasPrefix("57P") { return "The server went away; retry." }
            if state.hasPrefix("28") { return "Authentication failed; check the user in TIMBRE_DATABASE_URL." }
            return "See the PostgreSQL documentation for this SQLSTATE."
        }
    }
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while let last = s.last, last.isWhitespace { s.removeLast() }
        while let first = s.first, first.isWhitespace { s.removeFirst() }
        return String(s)
    }
    var firstLine: String {
        let line = trimmed.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
        return line.count > 80 ? String(line.prefix(80)) + "…" : line
    }
}
