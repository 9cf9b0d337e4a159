import Foundation

/// What `CatalogBackup.write` made.
public struct BackupSummary: Sendable {
    public let path: String
    public let manifest: BackupManifest
    public let bytes: UInt64
    public let seconds: Double
}

/// `timbre db backup FILE`: one tar archive holding `manifest.json`, the catalog as
/// `pg_dump --format=custom` (`catalog.dump`) and every model file the `models` table names
/// (`models/<sha256>.safetensors`, each once), so that `CatalogRestore` can rebuild the
/// catalog and its models on another machine or in another `TIMBRE_HOME`.
///
/// The dump and the model list come from one snapshot: a repeatable-read transaction
/// exports it (`pg_export_snapshot`) and `pg_dump --snapshot` dumps exactly what it saw,
/// so a model registered meanwhile is in neither. The archive is written beside FILE under a
/// temporary name, flushed, and then linked (or, with `overwrite`, renamed) into place: FILE
/// is either the previous file or the whole new archive, never half of one; temporary files
/// are removed on failure and at exit (Ctrl-C included).
public enum CatalogBackup {
    /// Fails before any work when FILE exists (without `overwrite`) or its folder does not.
    public static func checkDestination(_ file: URL, overwrite: Bool) throws {
        let folder = file.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CatalogError.fileSystem(path: folder, message: "the folder for the backup does not exist; create it first")
        }
        if FileManager.default.fileExists(atPath: file.path) {
            var info = stat()
            if stat(file.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
                throw CatalogError.fileSystem(path: file.path, message: "is a folder; name the backup file itself")
            }
            if !overwrite { throw BackupError.destinationExists(path: file.path) }
        }
    }

    /// Writes the backup of `database` to `file`. `knownMigrations` are this build's: a
    /// catalog migrated by a newer Timbre is refused.
    @discardableResult
    public static func write(database: Database, to file: URL, overwrite: Bool, knownMigrations: [Migration],
                             progress: (String) -> Void = { _ in }) throws -> BackupSummary {
        let file = file.standardizedFileURL
        try checkDestination(file, overwrite: overwrite)
        let started = Date()
        let folder = file.deletingLastPathComponent()
        let tag = ".\(file.lastPathComponent).\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
        let work = folder.appendingPathComponent(tag + ".work")
        let partial = folder.appendingPathComponent(tag + ".partial")
        TemporaryPaths.shared.add(work.path)
        TemporaryPaths.shared.add(partial.path)
        defer {
            try? FileManager.default.removeItem(at: work)
            unlink(partial.path)
            TemporaryPaths.shared.remove(work.path)
            TemporaryPaths.shared.remove(partial.path)
        }
        guard mkdir(work.path, 0o700) == 0 else {
            throw CatalogError.fileSystem(path: work.path, message: "cannot create a temporary folder beside the backup: \(String(cString: strerror(errno)))")
        }
        let dumpPath = work.appendingPathComponent(BackupManifest.catalogEntry).path
        let source = database.embedded.map { "embedded cluster in \($0.directory.path)" }
            ?? PostgresConnection.redact(database.pool.url) + (database.pool.database.map { " (database \($0))" } ?? "")
        let client = try ClientConnection(url: database.pool.url, database: database.pool.database)

        // Everything read from the catalog comes from one snapshot, the dump's.
        let snapshot = try database.pool.withConnection(retryingOnConnectionLoss: false) { connection in
            try connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            defer { _ = try? connection.query("ROLLBACK") }
            let snapshotID = try connection.query("SELECT pg_export_snapshot()").string(0, 0)
            let state = try readCatalog(connection, source: source, knownMigrations: knownMigrations)
            progress("catalog at migration \(state.schema.version) (\(state.schema.migrations.last?.name ?? "?")), "
                     + "PostgreSQL \(state.serverVersion): \(describe(state.tables))")
            let files = try hashModelFiles(state.models, progress: progress)
            let pgDump = try PostgresClientTools.locate("pg_dump", minimumMajor: state.serverMajor,
                                                        purpose: "dump a PostgreSQL \(state.serverMajor) server")
            progress("dumping the catalog with \(pgDump.path)")
            let output = try ClientProcess.run(pgDump.path, ["--format=custom", "--no-password", "--snapshot=\(snapshotID)",
                                                             "--file=\(dumpPath)", "--dbname=\(client.connectionString)"],
                                               environment: client.environment)
            guard output.status == 0 else { throw BackupError.clientFailed(tool: pgDump.path, status: output.status, output: output.text) }
            return (state, files, pgDump)
        }
        let (state, files, pgDump) = snapshot
        let dump = try fileDigest(dumpPath)
        progress("catalog dump: \(formatBytes(dump.size))")

        var entries = [BackupManifest.Entry(name: BackupManifest.catalogEntry, size: dump.size, sha256: dump.digest.hexString)]
        var seen = Set<String>()
        for file in files.values.sorted(by: { $0.entry.name < $1.entry.name }) where seen.insert(file.entry.name).inserted {
            entries.append(file.entry)
        }
        let models = state.models.map { row -> BackupManifest.Model in
            let entry = files[row.path]!.entry
            return BackupManifest.Model(id: row.id, version: row.version, state: row.state, originalPath: row.path,
                                        file: entry.name, size: entry.size, sha256: entry.sha256)
        }
        let manifest = BackupManifest(
            format: BackupManifest.formatName, formatVersion: BackupManifest.currentFormatVersion,
            timbreVersion: BackupManifest.timbreVersion, createdAt: Date(), source: source, schema: state.schema,
            postgres: .init(serverVersion: state.serverVersion, dumpedWith: pgDump.versionText, dumpMajor: pgDump.major),
            tables: state.tables, models: models, entries: entries)

        progress("writing \(file.path)")
        let writer = try TarWriter(creating: partial.path)
        try writer.add(name: "manifest.json", bytes: try manifest.encoded())
        let copiedDump = try writer.add(name: BackupManifest.catalogEntry, copying: dumpPath, size: dump.size)
        guard copiedDump == dump.digest else { throw CatalogError.fileSystem(path: dumpPath, message: "changed while it was being archived") }
        for entry in entries.dropFirst() {
            let path = files.values.first { $0.entry.name == entry.name }!.path
            let copied = try writer.add(name: entry.name, copying: path, size: entry.size)
            guard copied.hexString == entry.sha256 else {
                throw CatalogError.fileSystem(path: path, message: "the model file changed while it was being backed up; back up again")
            }
        }
        try writer.finish()
        try publish(partial.path, as: file.path, overwrite: overwrite)
        let summary = BackupSummary(path: file.path, manifest: manifest, bytes: writer.bytesWritten,
                                    seconds: Date().timeIntervalSince(started))
        progress("wrote \(file.path): the catalog and \(entries.count - 1) model file(s), \(formatBytes(summary.bytes)) "
                 + "in \(String(format: "%.1f", summary.seconds)) s")
        return summary
    }

    // MARK: Reading the catalog

    struct ModelRow { let id: Int64; let version: String; let path: String; let state: String }

    struct CatalogState {
        let schema: BackupManifest.Schema
        let serverVersion: String
        let serverMajor: Int
        let tables: [String: Int64]
        let models: [ModelRow]
    }

    static func readCatalog(_ connection: PostgresConnection, source: String, knownMigrations: [Migration]) throws -> CatalogState {
        guard try connection.query("SELECT to_regclass('public.schema_migrations') IS NOT NULL").bool(0, 0) else {
            throw BackupError.notACatalog(target: source)
        }
        let rows = try connection.query("SELECT version, name, checksum FROM public.schema_migrations ORDER BY version")
        let applied = try (0..<rows.rowCount).map {
            BackupManifest.Migration(version: Int(try rows.int($0, 0)), name: try rows.string($0, 1), checksum: try rows.string($0, 2))
        }
        guard let last = applied.last else { throw BackupError.notACatalog(target: source) }
        let known = Set(knownMigrations.map(\.version))
        if let unknown = applied.first(where: { !known.contains($0.version) }) {
            throw BackupError.catalogNewerThanBinary(version: unknown.version, name: unknown.name, known: knownMigrations.map(\.version).max() ?? 0)
        }
        let serverVersion = try connection.query("SHOW server_version").string(0, 0)
        let serverMajor = Int(try connection.query("SELECT current_setting('server_version_num')::int / 10000").int(0, 0))
        let tables = try tableCounts(connection)
        let models = try connection.query("SELECT id, version, file_path, state FROM public.models ORDER BY id")
        let modelRows = try (0..<models.rowCount).map {
            ModelRow(id: try models.int($0, 0), version: try models.string($0, 1), path: try models.string($0, 2), state: try models.string($0, 3))
        }
        return CatalogState(schema: .init(version: last.version, migrations: applied), serverVersion: serverVersion,
                            serverMajor: serverMajor, tables: tables, models: modelRows)
    }

    /// Rows of every ordinary table in the `public` schema.
    static func tableCounts(_ connection: PostgresConnection) throws -> [String: Int64] {
        let names = try connection.query("""
            SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1
            """)
        var counts: [String: Int64] = [:]
        for row in 0..<names.rowCount {
            let name = try names.string(row, 0)
            counts[name] = try connection.query("SELECT count(*) FROM public.\(quoteIdentifier(name))").int(0, 0)
        }
        return counts
    }

    /// "12 tracks, 2 models, …": the tables people think of first, then any other non-empty one.
    static func describe(_ tables: [String: Int64]) -> String {
        let first = ["tracks", "predictions", "embeddings", "models", "corrections", "users", "libraries"]
        let rest = tables.keys.filter { !first.contains($0) && $0 != "schema_migrations" && (tables[$0] ?? 0) > 0 }.sorted()
        return (first + rest).compactMap { name in tables[name].map { "\($0) \(name)" } }.joined(separator: ", ")
    }

    // MARK: Model files

    struct ModelFile { let path: String; let entry: BackupManifest.Entry }

    /// Hashes each model file once (by path), naming every missing one in a single error.
    static func hashModelFiles(_ models: [ModelRow], progress: (String) -> Void) throws -> [String: ModelFile] {
        var files: [String: ModelFile] = [:]
        var missing: [String] = []
        for model in models {
            if files[model.path] != nil { continue }
            var info = stat()
            guard stat(model.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(model.path, R_OK) == 0 else {
                missing.append("\(model.version) at \(model.path)")
                continue
            }
            let (digest, size) = try fileDigest(model.path)
            let hex = digest.hexString
            files[model.path] = ModelFile(path: model.path,
                                          entry: .init(name: "models/\(hex).safetensors", size: size, sha256: hex))
            progress("model \(model.version) (\(model.state)): \(model.path), \(formatBytes(size)), sha256 \(hex.prefix(12))…")
            // Content-addressed names (the model store's, and the shipped default's version)
            // say what the bytes should be: a file replaced since it was registered is worth a word.
            let name = URL(fileURLWithPath: model.path).deletingPathExtension().lastPathComponent
            if (name.count == 64 && name.allSatisfy(\.isHexDigit) && name.lowercased() != hex)
                || (model.version.hasPrefix("default-") && !hex.hasPrefix(model.version.dropFirst("default-".count))) {
                progress("warning: \(model.path) no longer holds the bytes model \(model.version) was registered with; backing up what is there now")
            }
        }
        guard missing.isEmpty else { throw BackupError.modelFilesMissing(missing) }
        return files
    }

    // MARK: Files

    /// SHA-256 and size of a file, read in 1 MiB blocks.
    static func fileDigest(_ path: String) throws -> (digest: [UInt8], size: UInt64) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CatalogError.fileSystem(path: path, message: "cannot open for reading: " + String(cString: strerror(errno)))
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var size: UInt64 = 0
        while true {
            let block = try handle.read(upToCount: 1 << 20) ?? Data()
            if block.isEmpty { break }
            block.withUnsafeBytes { hasher.update($0.assumingMemoryBound(to: UInt8.self)) }
            size += UInt64(block.count)
        }
        return (hasher.finalize(), size)
    }

    /// Puts the finished temporary file at `path`: `link(2)`, which fails if `path` appeared
    /// meanwhile, or `rename(2)` over it with `overwrite` (and where links are not supported).
    static func publish(_ temporary: String, as path: String, overwrite: Bool) throws {
        if overwrite {
            guard rename(temporary, path) == 0 else {
                throw CatalogError.fileSystem(path: path, message: "cannot move the finished backup into place: \(String(cString: strerror(errno)))")
            }
        } else if link(temporary, path) == 0 {
            unlink(temporary)
        } else if errno == EEXIST {
            throw BackupError.destinationExists(path: path)
        } else if [EPERM, EOPNOTSUPP, EXDEV, EMLINK].contains(errno), !FileManager.default.fileExists(atPath: path),
                  rename(temporary, path) == 0 {
            // A file system without hard links.
        } else {
            throw CatalogError.fileSystem(path: path, message: "cannot move the finished backup into place: \(String(cString: strerror(errno)))")
        }
        let folder = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY)
        if folder >= 0 { _ = fsync(folder); close(folder) }
    }

    static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

func formatBytes(_ bytes: UInt64) -> String {
    let value = Double(bytes)
    for (unit, size) in [("GiB", 1_073_741_824.0), ("MiB", 1_048_576.0), ("KiB", 1024.0)] where value >= size {
        return String(format: "%.1f ", value / size) + unit
    }
    return "\(bytes) bytes"
}

/// Temporary files and folders of a backup or restore in progress, removed at exit: the
/// commands' Ctrl-C handler ends the process with `exit`, which runs `atexit` handlers.
final class TemporaryPaths: @unchecked Sendable {
    static let shared = TemporaryPaths()
    private let lock = NSLock()
    private var paths: Set<String> = []
    private var registered = false

    func add(_ path: String) {
        lock.lock(); defer { lock.unlock() }
        paths.insert(path)
        if !registered {
            registered = true
            atexit { TemporaryPaths.shared.removeAll() }
        }
    }

    func remove(_ path: String) {
        lock.lock(); paths.remove(path); lock.unlock()
    }

    func removeAll() {
        lock.lock(); let all = paths; paths.removeAll(); lock.unlock()
        for path in all { try? FileManager.default.removeItem(atPath: path) }
    }
}
