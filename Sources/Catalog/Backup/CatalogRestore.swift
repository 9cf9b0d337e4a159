import Foundation

/// What `PreparedRestore.restore` did.
public struct RestoreSummary: Sendable {
    public let target: String
    public let manifest: BackupManifest
    /// Migrations of this build applied after the restore (the backup was older).
    public let migrated: [String]
    /// `models.file_path` after the restore, by model version.
    public let modelPaths: [String: String]
    public let warnings: [String]
    public let seconds: Double
}

/// `timbre db restore FILE`, in two steps so that a bad archive never touches the target:
///
/// 1. `CatalogRestore.prepare` reads the whole archive into a staging folder inside the data
///    directory, checking it as it goes: the manifest's format and schema against this build,
///    each entry's size and SHA-256, nothing missing, nothing extra, the end-of-archive marker,
///    and that `pg_restore` can read the dump. The target catalog is not opened yet.
/// 2. `PreparedRestore.restore` refuses a target that already has data (unless `force`) or
///    other Timbre processes connected, moves the model files into the model store
///    (`<data>/models/<sha256>.safetensors`, as `ModelFileStore` names them), and replaces the
///    catalog in one transaction (`psql --single-transaction`): drop what is in the `public`
///    schema, the dump's SQL, `models.file_path` rewritten to the restored files, and every
///    table's row count checked against the manifest. Any failure rolls it all back and removes
///    the model files it added. Then this build's newer migrations, if any, are applied.
public enum CatalogRestore {
    static let manifestLimit: UInt64 = 64 << 20

    public static func prepare(archive: URL, dataDirectory: URL, knownMigrations: [Migration],
                               progress: (String) -> Void = { _ in }) throws -> PreparedRestore {
        let path = archive.path
        let reader = try TarReader(path: path)
        guard let first = try reader.next() else { throw BackupError.notABackup(path: path, reason: "it is an empty archive") }
        guard first.name == "manifest.json" else {
            throw BackupError.notABackup(path: path, reason: "its first entry is \(first.name), not manifest.json")
        }
        let manifest = try BackupManifest.decoded(try reader.readAll(of: first, limit: manifestLimit), path: path)
        try checkSchema(manifest, knownMigrations: knownMigrations)
        try checkConsistency(manifest, path: path)
        progress("backup of \(manifest.source), made \(ISO8601DateFormatter().string(from: manifest.createdAt)) "
                 + "by timbre \(manifest.timbreVersion): catalog at migration \(manifest.schema.version), "
                 + CatalogBackup.describe(manifest.tables))

        let fileManager = FileManager.default
        let createdDataDirectory = !fileManager.fileExists(atPath: dataDirectory.path)
        try fileManager.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let staging = dataDirectory.appendingPathComponent(".restore-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())")
        TemporaryPaths.shared.add(staging.path)
        do {
            guard mkdir(staging.path, 0o700) == 0 else {
                throw CatalogError.fileSystem(path: staging.path, message: "cannot create the staging folder: \(String(cString: strerror(errno)))")
            }
            let expected = Dictionary(uniqueKeysWithValues: manifest.entries.map { ($0.name, $0) })
            var found = Set<String>()
            while let entry = try reader.next() {
                guard let listed = expected[entry.name] else {
                    throw BackupError.corrupt(path: path, reason: "it holds \(entry.name), which its manifest does not list")
                }
                guard found.insert(entry.name).inserted else {
                    throw BackupError.corrupt(path: path, reason: "it holds \(entry.name) twice")
                }
                guard entry.size == listed.size else {
                    throw BackupError.corrupt(path: path, reason: "\(entry.name) is \(entry.size) bytes, its manifest says \(listed.size)")
                }
                let destination = staging.appendingPathComponent(stagedName(listed)).path
                let sink = try StagedFile(creating: destination)
                var hasher = SHA256()
                try reader.readData(of: entry) { block in
                    hasher.update(block.assumingMemoryBound(to: UInt8.self))
                    try sink.write(block)
                }
                try sink.finish()
                let digest = hasher.finalize().hexString
                guard digest == listed.sha256 else {
                    throw BackupError.corrupt(path: path, reason: "\(entry.name) does not match its SHA-256 (the manifest says \(listed.sha256.prefix(12))…, "
                                                                + "its bytes hash to \(digest.prefix(12))…)")
                }
                progress("checked \(entry.name) (\(formatBytes(entry.size)), sha256 \(digest.prefix(12))…)")
            }
            let absent = manifest.entries.map(\.name).filter { !found.contains($0) }
            guard absent.isEmpty else {
                throw BackupError.truncated(path: path, reason: "its manifest lists \(absent.joined(separator: ", ")), which the archive does not hold")
            }
            let pgRestore = try PostgresClientTools.locate("pg_restore", minimumMajor: manifest.postgres.dumpMajor,
                                                           purpose: "read a dump made by pg_dump \(manifest.postgres.dumpMajor)")
            let dump = staging.appendingPathComponent(BackupManifest.catalogEntry).path
            let listing = try ClientProcess.run(pgRestore.path, ["--list", dump])
            guard listing.status == 0 else {
                throw BackupError.corrupt(path: path, reason: "its catalog.dump cannot be read by \(pgRestore.path): \(listing.text.trimmed)")
            }
            return PreparedRestore(archive: path, manifest: manifest, staging: staging, dataDirectory: dataDirectory,
                                   createdDataDirectory: createdDataDirectory, pgRestore: pgRestore)
        } catch {
            try? fileManager.removeItem(at: staging)
            TemporaryPaths.shared.remove(staging.path)
            if createdDataDirectory { rmdir(dataDirectory.path) }
            throw error
        }
    }

    /// Every migration of the backup must be this build's, byte for byte.
    static func checkSchema(_ manifest: BackupManifest, knownMigrations: [Migration]) throws {
        let known = Dictionary(uniqueKeysWithValues: knownMigrations.map { ($0.version, $0) })
        let newest = knownMigrations.map(\.version).max() ?? 0
        for migration in manifest.schema.migrations {
            guard let ours = known[migration.version] else {
                if migration.version > newest {
                    throw BackupError.backupNewerThanBinary(version: migration.version, name: migration.name, known: newest)
                }
                throw BackupError.migrationDiffers(version: migration.version, name: migration.name)
            }
            guard ours.checksum == migration.checksum else {
                throw BackupError.migrationDiffers(version: migration.version, name: migration.name)
            }
        }
    }

    /// Entry names are the only ones a backup writes (so none can point outside the staging
    /// folder), and each model's file is one of the entries.
    static func checkConsistency(_ manifest: BackupManifest, path: String) throws {
        guard manifest.catalog != nil else { throw BackupError.corrupt(path: path, reason: "its manifest lists no catalog.dump") }
        for entry in manifest.entries where entry.name != BackupManifest.catalogEntry {
            guard isSHA256(entry.sha256), entry.name == "models/\(entry.sha256).safetensors" else {
                throw BackupError.corrupt(path: path, reason: "its manifest lists an unexpected entry \(entry.name)")
            }
        }
        let names = Set(manifest.entries.map(\.name))
        for model in manifest.models where !names.contains(model.file) || model.file != "models/\(model.sha256).safetensors" {
            throw BackupError.corrupt(path: path, reason: "model \(model.version)'s file \(model.file) is not among the archive's entries")
        }
        for name in manifest.tables.keys where !isPlainIdentifier(name) {
            throw BackupError.corrupt(path: path, reason: "its manifest names a table \(name)")
        }
    }

    static func stagedName(_ entry: BackupManifest.Entry) -> String {
        entry.name == BackupManifest.catalogEntry ? entry.name : entry.sha256 + ".safetensors"
    }

    static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    static func isPlainIdentifier(_ text: String) -> Bool {
        guard let first = text.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        return text.utf8.allSatisfy { $0 == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}

/// A checked archive unpacked in its staging folder, ready to replace a catalog.
public final class PreparedRestore: @unchecked Sendable {
    public let archive: String
    public let manifest: BackupManifest
    public let dataDirectory: URL
    let staging: URL
    let createdDataDirectory: Bool
    let pgRestore: PostgresClientTools.Tool

    init(archive: String, manifest: BackupManifest, staging: URL, dataDirectory: URL, createdDataDirectory: Bool,
         pgRestore: PostgresClientTools.Tool) {
        self.archive = archive
        self.manifest = manifest
        self.staging = staging
        self.dataDirectory = dataDirectory
        self.createdDataDirectory = createdDataDirectory
        self.pgRestore = pgRestore
    }

    /// The model store the restored catalog points at.
    public var modelDirectory: URL { ModelFileStore(dataDirectory: dataDirectory).directory }

    /// Removes the staging folder (and the data directory, if `prepare` created it and it is
    /// still empty). Called after `restore` too.
    public func discard() {
        try? FileManager.default.removeItem(at: staging)
        TemporaryPaths.shared.remove(staging.path)
        if createdDataDirectory { rmdir(dataDirectory.path) }
    }

    /// Replaces the catalog `database` holds with the backup's. `knownMigrations` (this build's)
    /// are applied afterwards.
    public func restore(into database: Database, force: Bool, knownMigrations: [Migration],
                        progress: (String) -> Void = { _ in }) throws -> RestoreSummary {
        let started = Date()
        let target = database.embedded.map { "the embedded catalog in \($0.directory.path)" }
            ?? PostgresConnection.redact(database.pool.url) + (database.pool.database.map { " (database \($0))" } ?? "")
        try checkTarget(database, target: target, force: force)
        let client = try ClientConnection(url: database.pool.url, database: database.pool.database)
        let psql = try PostgresClientTools.locate("psql", purpose: "restore the catalog",
            directories: [URL(fileURLWithPath: pgRestore.path).deletingLastPathComponent().path] + PostgresClientTools.searchDirectories())

        // The model files first: content-addressed, so a file already there is the same file.
        let store = modelDirectory
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        var placed: [String] = []
        var paths: [Int64: String] = [:]
        do {
            for entry in manifest.entries where entry.name != BackupManifest.catalogEntry {
                let destination = store.appendingPathComponent(entry.sha256 + ".safetensors").path
                let staged = staging.appendingPathComponent(CatalogRestore.stagedName(entry)).path
                if FileManager.default.fileExists(atPath: destination),
                   (try? CatalogBackup.fileDigest(destination))?.digest.hexString == entry.sha256 {
                    progress("model file \(destination) is already there")
                } else {
                    chmod(staged, 0o644)
                    TemporaryPaths.shared.add(destination)
                    placed.append(destination)
                    guard rename(staged, destination) == 0 else {
                        throw CatalogError.fileSystem(path: destination, message: "cannot move the restored model file into place: \(String(cString: strerror(errno)))")
                    }
                    progress("model file \(destination) (\(formatBytes(entry.size)))")
                }
            }
            let folder = open(store.path, O_RDONLY)
            if folder >= 0 { _ = fsync(folder); close(folder) }
            for model in manifest.models {
                paths[model.id] = store.appendingPathComponent(model.sha256 + ".safetensors").path
            }

            let dump = staging.appendingPathComponent(BackupManifest.catalogEntry).path
            let script = staging.appendingPathComponent("catalog.sql").path
            let converted = try ClientProcess.run(pgRestore.path, ["--no-owner", "--no-privileges", "--file=\(script)", dump])
            guard converted.status == 0 else { throw BackupError.clientFailed(tool: pgRestore.path, status: converted.status, output: converted.text) }
            let prelude = staging.appendingPathComponent("prelude.sql").path
            let postlude = staging.appendingPathComponent("postlude.sql").path
            try Data(Self.preludeSQL.utf8).write(to: URL(fileURLWithPath: prelude))
            try Data(postludeSQL(paths: paths).utf8).write(to: URL(fileURLWithPath: postlude))
            progress("replacing \(target) in one transaction with \(psql.path)")
            let output = try ClientProcess.run(psql.path, ["-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1", "--single-transaction",
                                                           "--output=/dev/null", "--dbname=\(client.connectionString)",
                                                           "-f", prelude, "-f", script, "-f", postlude],
                                               environment: client.environment)
            guard output.status == 0 else { throw BackupError.restoreFailed(target: target, output: Self.errors(in: output.text)) }
        } catch {
            for path in placed { unlink(path); TemporaryPaths.shared.remove(path) }
            throw error
        }
        for path in placed { TemporaryPaths.shared.remove(path) }

        let migrated = try Migrator(migrations: knownMigrations).migrate(database.pool).map(\.name)
        if !migrated.isEmpty { progress("migrated the restored catalog: \(migrated.joined(separator: ", "))") }

        // The restored rows point at files that are there and whole.
        var modelPaths: [String: String] = [:]
        for model in try database.models.list() {
            guard let listed = manifest.models.first(where: { $0.id == model.id }), model.filePath == paths[model.id] else {
                throw BackupError.restoredCatalogDiffers(reason: "model \(model.version) points at \(model.filePath), not at a restored file")
            }
            var info = stat()
            guard stat(model.filePath, &info) == 0, UInt64(info.st_size) == listed.size else {
                throw BackupError.restoredCatalogDiffers(reason: "model \(model.version)'s file \(model.filePath) is missing or has the wrong size")
            }
            modelPaths[model.version] = model.filePath
        }
        var warnings: [String] = []
        for library in try database.libraries.list() {
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: library.rootPath, isDirectory: &isDirectory) || !isDirectory.boolValue {
                let warning = "library \(library.id)'s folder \(library.rootPath) is not on this machine: mount it at the same path before `timbre scan`"
                warnings.append(warning)
                progress("warning: " + warning)
            }
        }
        return RestoreSummary(target: target, manifest: manifest, migrated: migrated, modelPaths: modelPaths,
                              warnings: warnings, seconds: Date().timeIntervalSince(started))
    }

    /// No other Timbre process connected; no data unless `force`.
    func checkTarget(_ database: Database, target: String, force: Bool) throws {
        try database.pool.withConnection { connection in
            let others = try connection.query("""
                SELECT count(DISTINCT application_name) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()
                  AND application_name LIKE 'timbre:%' AND application_name <> $1
                """, [database.pool.applicationName]).int(0, 0)
            if others > 0 { throw BackupError.othersConnected(target: target, count: Int(others)) }
            let tables = try CatalogBackup.tableCounts(connection).filter { $0.key != "schema_migrations" && $0.value > 0 }
            if !tables.isEmpty && !force {
                throw BackupError.targetHasData(target: target, contents: CatalogBackup.describe(tables))
            }
        }
    }

    /// Drops everything in the `public` schema that is not part of an extension (the dump
    /// recreates it), waiting at most a minute for locks.
    static let preludeSQL = """
        SET client_min_messages = warning;
        SET lock_timeout = '60s';
        -- Names below print schema-qualified, whatever the role's own schemas are called.
        SET search_path = pg_catalog;
        DO $drop$
        DECLARE
            item record;
        BEGIN
            FOR item IN
                SELECT format('%I.%I', n.nspname, c.relname) AS name,
                       CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                                      WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
                  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
                ORDER BY c.relkind = 'S'
            LOOP
                EXECUTE format('DROP %s IF EXISTS %s CASCADE', item.kind, item.name);
            END LOOP;
            FOR item IN
                SELECT p.oid::regprocedure::text AS name, CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END AS kind
                FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = 'public'
                  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
            LOOP
                EXECUTE format('DROP %s IF EXISTS %s CASCADE', item.kind, item.name);
            END LOOP;
            FOR item IN
                SELECT t.oid::regtype::text AS name, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS kind
                FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r', 'c')
                  AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
                  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
            LOOP
                EXECUTE format('DROP %s IF EXISTS %s CASCADE', item.kind, item.name);
            END LOOP;
        END
        $drop$;

        """

    /// Points `models.file_path` at the restored files and checks every table's row count
    /// against the manifest, inside the restore's transaction.
    func postludeSQL(paths: [Int64: String]) -> String {
        var sql = "SET client_min_messages = warning;\n"
        for (id, path) in paths.sorted(by: { $0.key < $1.key }) {
            sql += "UPDATE public.models SET file_path = \(Self.literal(path)) WHERE id = \(id);\n"
        }
        let ids = paths.keys.sorted().map(String.init).joined(separator: ", ")
        sql += "DO $verify$\nDECLARE\n    n bigint;\nBEGIN\n"
        sql += paths.isEmpty
            ? "    IF EXISTS (SELECT 1 FROM public.models) THEN\n"
            : "    IF EXISTS (SELECT 1 FROM public.models WHERE id NOT IN (\(ids))) THEN\n"
        sql += "        RAISE EXCEPTION 'the restored models table has rows the manifest does not list';\n    END IF;\n"
        for (table, count) in manifest.tables.sorted(by: { $0.key < $1.key }) {
            sql += "    SELECT count(*) INTO n FROM public.\(CatalogBackup.quoteIdentifier(table));\n"
            sql += "    IF n <> \(count) THEN RAISE EXCEPTION 'table \(table) has % rows after the restore, the backup has \(count)', n; END IF;\n"
        }
        sql += "END\n$verify$;\n"
        return sql
    }

    /// A SQL string literal (standard_conforming_strings is on in the dump's script).
    static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// psql's error lines (and their details), not its notices.
    static func errors(in output: String) -> String {
        let lines = output.split(separator: "\n").map(String.init)
        let interesting = lines.filter { $0.contains("ERROR:") || $0.contains("FATAL:") || $0.hasPrefix("DETAIL:") || $0.contains("error:") }
        return (interesting.isEmpty ? lines : interesting).prefix(12).joined(separator: "\n")
    }
}

/// A staging file: written in full, flushed, closed.
private final class StagedFile {
    let path: String
    private var descriptor: Int32

    init(creating path: String) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw CatalogError.fileSystem(path: path, message: "cannot create: \(String(cString: strerror(errno))); check the data directory's space and permissions")
        }
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    func write(_ raw: UnsafeRawBufferPointer) throws {
        guard let base = raw.baseAddress else { return }
        var offset = 0
        while offset < raw.count {
            let n = Glibc.write(descriptor, base + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw CatalogError.fileSystem(path: path, message: "cannot write: \(String(cString: strerror(errno))); check the data directory's space")
            }
            offset += n
        }
    }

    func finish() throws {
        let synced = fsync(descriptor) == 0
        let closed = close(descriptor) == 0
        descriptor = -1
        guard synced, closed else {
            throw CatalogError.fileSystem(path: path, message: "cannot flush: \(String(cString: strerror(errno)))")
        }
    }
}
