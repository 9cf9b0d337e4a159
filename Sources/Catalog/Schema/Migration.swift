import Foundation

/// One numbered plain-SQL file from `migrations/`, e.g. `0001_initial.sql`; built into the
/// binary (`bundled`), or read from a folder for development (`load(from:)`).
public struct Migration: Sendable, Equatable {
    public let version: Int
    /// The file name, recorded with the version so a message can name it.
    public let name: String
    public let sql: String
    /// SHA-256 of the file's bytes, lower-case hex.
    public let checksum: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        checksum = SHA256.hash(Array(sql.utf8)).hexString
    }

    /// Reads every `NNNN_*.sql` in `directory`, sorted by version.
    public static func load(from directory: URL) throws -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw CatalogError.migrationsNotFound(searched: [directory.path])
        }
        var migrations: [Migration] = []
        for name in names.sorted() where name.hasSuffix(".sql") {
            let digits = name.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let version = Int(digits), name.dropFirst(digits.count).first == "_" else {
                throw CatalogError.badMigrationName(file: name)
            }
            let url = directory.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw CatalogError.fileSystem(path: url.path, message: "cannot read the migration file; check its permissions")
            }
            migrations.append(Migration(version: version, name: name, sql: String(decoding: data, as: UTF8.self)))
        }
        let byVersion = Dictionary(grouping: migrations, by: \.version)
        if let duplicate = byVersion.first(where: { $0.value.count > 1 }) {
            throw CatalogError.duplicateMigrationVersion(version: duplicate.key, files: duplicate.value.map(\.name))
        }
        return migrations.sorted { $0.version < $1.version }
    }

    /// `load(from:)` for a folder, else the built-in migrations: what
    /// `load(from: locateDirectory(explicit:))` gives when no folder is named.
    public static func load(from directory: URL?) throws -> [Migration] {
        guard let directory else { return bundled }
        return try load(from: directory)
    }

    /// The migrations built into this binary (`BundledMigrations`, generated from migrations/
    /// by tools/migrations/generate-swift.sh), sorted by version.
    public static let bundled: [Migration] = BundledMigrations.files.map { file in
        let digits = file.name.prefix { $0.isASCII && $0.isNumber }
        return Migration(version: Int(digits) ?? 0, name: file.name, sql: file.sql)
    }.sorted { $0.version < $1.version }

    /// The migrations this process works with, and where they came from, first match wins:
    /// 1. the folder `explicit` names (`--migrations DIR`, for development);
    /// 2. the folder `$TIMBRE_MIGRATIONS` names;
    /// 3. the ones built into the binary (`bundled`), wherever it runs from.
    public static func resolve(explicit: String? = nil,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (migrations: [Migration], origin: String) {
        if let directory = try locateDirectory(explicit: explicit, environment: environment) {
            return (try load(from: directory), directory.path)
        }
        return (bundled, "built into timbre")
    }

    /// The folder named by `explicit` (a command-line option), else by `$TIMBRE_MIGRATIONS`;
    /// nil when neither is set: then the built-in migrations apply (`resolve`). Nothing is
    /// searched for: the working directory never decides which schema a catalog gets.
    public static func locateDirectory(explicit: String? = nil,
                                       environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL? {
        if let explicit { return try existing(explicit) }
        if let fromEnvironment = environment["TIMBRE_MIGRATIONS"], !fromEnvironment.isEmpty { return try existing(fromEnvironment) }
        return nil
    }

    private static func existing(_ path: String) throws -> URL {
        let url = URL(fileURLWithPath: path)
        guard isMigrationsDirectory(url) else { throw CatalogError.migrationsNotFound(searched: [path]) }
        return url
    }

    /// A folder holding at least one `NNNN_*.sql` file.
    private static func isMigrationsDirectory(_ url: URL) -> Bool {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: url.path) else { return false }
        return names.contains { $0.hasSuffix(".sql") && ($0.first?.isNumber ?? false) }
    }
}
