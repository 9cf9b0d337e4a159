import Foundation

/// One numbered plain-SQL file from `migrations/`, e.g. `0001_initial.sql`.
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

    /// Finds the migrations folder, first match wins:
    /// 1. `explicit` (a command-line option);
    /// 2. `$TIMBRE_MIGRATIONS`;
    /// 3. `migrations/` in the executable's directory or any directory above it (a build
    ///    under `.build/` finds the repository's folder), or `share/timbre/migrations` beside
    ///    an installed `bin/`;
    /// 4. `migrations/` in the working directory or any directory above it.
    public static func locateDirectory(explicit: String? = nil,
                                       environment: [String: String] = ProcessInfo.processInfo.environment) throws -> URL {
        if let explicit { return try existing(explicit) }
        if let fromEnvironment = environment["TIMBRE_MIGRATIONS"], !fromEnvironment.isEmpty { return try existing(fromEnvironment) }
        var searched: [String] = []
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let starts = [executable.deletingLastPathComponent(), URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        for start in starts {
            var directory = start.standardizedFileURL
            while true {
                for candidate in [directory.appendingPathComponent("migrations"),
                                  directory.appendingPathComponent("share/timbre/migrations")] {
                    searched.append(candidate.path)
                    if isMigrationsDirectory(candidate) { return candidate }
                }
                let parent = directory.deletingLastPathComponent()
                if parent.path == directory.path { break }
                directory = parent
            }
        }
        throw CatalogError.migrationsNotFound(searched: Array(Set(searched)).sorted().prefix(6) + ["…"])
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
