import AudioIO
@testable import Catalog
import Features
import Foundation
import Tagger
import XCTest

/// `timbre db backup` and `timbre db restore` with the built binary: a catalog on the test
/// server (scanned and tagged by a tiny model, with a correction and a second model version)
/// is restored into a fresh embedded `TIMBRE_HOME` and answers the same; bad archives and
/// refused overwrites change nothing. Needs TIMBRE_TEST_DATABASE_URL (scripts/test-postgres).
final class BackupTests: XCTestCase {
    private var root: URL!
    private var scratch: URL!
    private var modelPath: String!
    static let labels = ["ambient", "jazz", "rock"]

    override func setUpWithError() throws {
        root = try makeTemporaryDirectory("timbre-backup-library")
        scratch = try makeTemporaryDirectory("timbre-backup-scratch")
        modelPath = scratch.appendingPathComponent("model.safetensors").path
        try Self.tinyModel(seed: 11).write(to: modelPath)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
        try? FileManager.default.removeItem(at: scratch)
    }

    static func tinyModel(seed: UInt64) -> ModelBundle {
        let network = makeNetwork(ArchitectureConfig(numGenres: 3, baseChannels: 4, embeddingDim: 8, dropout: 0,
                                                     blocks: [1, 1], attentionReduction: 2), seed: seed)
        let frontEnd = FrontEnd(spectrogram: SpectrogramConfig(sampleRate: 16000, nFFT: 512, hopLength: 256, nMels: 32),
                                chunkFrames: 32)
        return ModelBundle(network: network, labels: labels, frontEnd: frontEnd, normalization: InputNormalization(mean: -40, std: 20))
    }

    /// `count` distinct one-second tones with a little noise (every third one FLAC).
    @discardableResult
    private func writeLibrary(count: Int) throws -> [String] {
        try (0..<count).map { index in
            let name = String(format: "track%02d.%@", index, index % 3 == 2 ? "flac" : "wav")
            var state = UInt32(index + 1) &* 2_654_435_761
            let samples = (0..<16000).map { i -> Float in
                state = state &* 1_664_525 &+ 1_013_904_223
                return 0.4 * sin(2 * .pi * 110 * Float(index + 1) * Float(i) / 16000) + 0.1 * (Float(state >> 8) / Float(1 << 24) - 0.5)
            }
            try AudioWriter.write(samples, sampleRate: 16000, to: root.appendingPathComponent(name).path)
            return name
        }
    }

    func testRoundTripIntoAFreshEmbeddedHomeGivesTheSameAnswers() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let url = database.url.replacingOccurrences(of: "///postgres?", with: "///\(database.name)?")
        let external = ["--database-url", url]

        // The catalog: a library scanned and tagged with a model file outside any data
        // directory (as the shipped default is), a correction, and a second, rejected version
        // in the model store of another data directory.
        let names = try writeLibrary(count: 5)
        try expectSuccess(["library", "add", root.path] + external)
        try expectSuccess(["scan", "--model", modelPath, "--concurrency", "2"] + external)
        let source = try database.connection()
        let trackIDs = try column(source, "SELECT id::text FROM tracks ORDER BY id")
        XCTAssertEqual(trackIDs.count, 5)
        try expectSuccess(["tag", trackIDs[1], "+party", "-ambient"] + external)
        let models = ModelRepository(pool: database.pool)
        let active = try XCTUnwrap(try models.active())
        let stored = try ModelFileStore(dataDirectory: scratch.appendingPathComponent("source-home")).write(Self.tinyModel(seed: 12))
        let second = try models.register(version: "retrain-test", filePath: stored.path, labels: Self.labels, parentID: active.id)
        try models.reject(id: second.id)
        XCTAssertEqual(try column(source, "SELECT count(*)::text FROM predictions"), ["15"])

        let outside = scratch.appendingPathComponent("outside-\(names[0])").path
        try FileManager.default.copyItem(atPath: root.appendingPathComponent(names[0]).path, toPath: outside)
        func answers(_ options: [String], environment: [String: String] = [:]) throws -> [String] {
            try [["tag", trackIDs[1]], ["tag", trackIDs[3]], ["similar", trackIDs[0], "--limit", "3"],
                 ["similar", outside, "--limit", "2"], ["tags", "--limit", "10"]].map { arguments in
                try expectSuccess(arguments + options, environment: environment).stdout
            }
        }
        let expectedAnswers = try answers(external)
        XCTAssertTrue(expectedAnswers[0].contains("party"), expectedAnswers[0])
        let expectedRows = try Self.rows(source)

        // Backup.
        let archive = scratch.appendingPathComponent("catalog.tar")
        let backup = try expectSuccess(["db", "backup", archive.path] + external)
        XCTAssertTrue(backup.stderr.contains("backup: dumping the catalog with "), backup.stderr)
        XCTAssertTrue(backup.stderr.contains("backup: model \(active.version) (active): \(modelPath!)"), backup.stderr)
        XCTAssertTrue(backup.stdout.contains("5 tracks, 2 model versions"), backup.stdout)
        XCTAssertEqual(try leftovers(in: scratch), [], "no temporary file is left beside the backup")
        let digests = [active.version: try CatalogBackup.fileDigest(modelPath).digest.hexString,
                       second.version: try CatalogBackup.fileDigest(stored.path).digest.hexString]
        XCTAssertEqual(stored.digest, digests[second.version])

        // An ordinary tar: the manifest first, the dump, each model file by its hash.
        let listing = try run(["/usr/bin/env", "tar", "-tf", archive.path])
        XCTAssertEqual(listing.status, 0, listing.stderr)
        XCTAssertEqual(listing.stdout.split(separator: "\n").map(String.init),
                       ["manifest.json", "catalog.dump"] + digests.values.sorted().map { "models/\($0).safetensors" })
        let manifestText = try run(["/usr/bin/env", "tar", "-xOf", archive.path, "manifest.json"]).stdout
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let manifest = try decoder.decode(BackupManifest.self, from: Data(manifestText.utf8))
        let migrations = try Migration.load(from: TestDatabase.migrationsDirectory)
        XCTAssertEqual(manifest.schema.version, migrations.last?.version)
        XCTAssertEqual(manifest.schema.migrations.map(\.checksum), migrations.map(\.checksum))
        XCTAssertEqual(manifest.tables["tracks"], 5)
        XCTAssertEqual(manifest.tables["corrections"], 2)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: manifest.models.map { ($0.version, $0.sha256) }), digests)
        XCTAssertEqual(manifest.models.first { $0.version == active.version }?.originalPath, modelPath)

        // Restore into a fresh embedded home (held up by `timbre db start`, as for workers).
        let home = URL(fileURLWithPath: "/tmp/timbre-restore-\(UUID().uuidString.prefix(8))")
        let embedded = ["TIMBRE_HOME": home.path]
        defer {
            _ = try? run([Self.binary().path, "db", "stop"], environment: embedded)
            try? FileManager.default.removeItem(at: home)
        }
        try expectSuccess(["db", "start"], environment: embedded)
        let restore = try expectSuccess(["db", "restore", archive.path], environment: embedded)
        XCTAssertTrue(restore.stderr.contains("restore: checked catalog.dump"), restore.stderr)
        XCTAssertTrue(restore.stdout.contains("5 tracks, 2 model versions"), restore.stdout)

        let restored = try PostgresConnection(url: EmbeddedPostgres(home: home).url, applicationName: "backup-test")
        XCTAssertEqual(try Self.rows(restored), expectedRows, "every table holds the same rows (models.file_path aside)")
        let modelStore = home.appendingPathComponent("models")
        func checkModelFiles() throws {
            let paths = try Self.modelPaths(restored)
            XCTAssertEqual(Set(paths.keys), Set(digests.keys))
            for (version, path) in paths {
                let digest = try XCTUnwrap(digests[version])
                XCTAssertEqual(path, modelStore.appendingPathComponent(digest + ".safetensors").path, version)
                XCTAssertEqual(try CatalogBackup.fileDigest(path).digest.hexString, digest, version)
            }
        }
        try checkModelFiles()
        XCTAssertEqual(try answers([], environment: embedded), expectedAnswers, "tags, similar tracks (by id and by file) and the tag list")
        let modelFiles = try FileManager.default.contentsOfDirectory(atPath: modelStore.path).sorted()

        // A catalog with data is not replaced without --force.
        let refused = try run([Self.binary().path, "db", "restore", archive.path], environment: embedded)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("already holds a catalog") && refused.stderr.contains("--force"), refused.stderr)

        // A truncated archive fails, saying so, and changes nothing, even with --force.
        let bytes = try Data(contentsOf: archive)
        let truncated = scratch.appendingPathComponent("truncated.tar")
        try bytes.prefix(bytes.count * 2 / 3).write(to: truncated)
        let cut = try run([Self.binary().path, "db", "restore", truncated.path, "--force"], environment: embedded)
        XCTAssertNotEqual(cut.status, 0)
        XCTAssertTrue(cut.stderr.contains("\(truncated.path) is truncated: it ends inside "), cut.stderr)
        XCTAssertEqual(try Self.rows(restored), expectedRows)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: modelStore.path).sorted(), modelFiles)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: home.path).filter { $0.hasPrefix(".restore") }, [])

        // A restore that fails inside its transaction (here: the row counts disagree with the
        // manifest) is rolled back whole: the catalog is as it was.
        let miscounted = scratch.appendingPathComponent("miscounted.tar")
        try Self.rewrite(archive, to: miscounted) { manifest in
            var tables = manifest["tables"] as! [String: Any]
            tables["tracks"] = 999
            manifest["tables"] = tables
        }
        let rolledBack = try run([Self.binary().path, "db", "restore", miscounted.path, "--force"], environment: embedded)
        XCTAssertNotEqual(rolledBack.status, 0)
        XCTAssertTrue(rolledBack.stderr.contains("failed and was rolled back"), rolledBack.stderr)
        XCTAssertTrue(rolledBack.stderr.contains("table tracks has 5 rows after the restore, the backup has 999"), rolledBack.stderr)
        XCTAssertEqual(try Self.rows(restored), expectedRows)
        try checkModelFiles()

        // With --force the catalog is replaced (dropped and reloaded in one transaction).
        try expectSuccess(["db", "restore", archive.path, "--force"], environment: embedded)
        XCTAssertEqual(try Self.rows(restored), expectedRows)
        try checkModelFiles()
        XCTAssertEqual(try expectSuccess(["tag", trackIDs[1]], environment: embedded).stdout, expectedAnswers[0])
    }

    func testBackupRefusesToOverwriteAndSaysWhatIsWrong() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let url = database.url.replacingOccurrences(of: "///postgres?", with: "///\(database.name)?")
        let external = ["--database-url", url]
        let models = ModelRepository(pool: database.pool)
        _ = try UserRepository(pool: database.pool).add(name: "admin")
        let model = try models.register(version: "tiny-1", filePath: modelPath, labels: Self.labels)
        try models.promote(id: model.id)

        // No overwriting without --force: the first archive stays as it was.
        let archive = scratch.appendingPathComponent("catalog.tar")
        try expectSuccess(["db", "backup", archive.path] + external)
        let first = try Data(contentsOf: archive)
        let again = try run([Self.binary().path, "db", "backup", archive.path] + external)
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("\(archive.path) exists already; pass --force"), again.stderr)
        XCTAssertEqual(try Data(contentsOf: archive), first)
        try expectSuccess(["db", "backup", archive.path, "--force"] + external)
        XCTAssertEqual(try run(["/usr/bin/env", "tar", "-tf", archive.path]).status, 0)
        XCTAssertEqual(try leftovers(in: scratch), [])

        // A model file the catalog names but that is gone: the version and the path are named,
        // and no archive is written.
        let gone = scratch.appendingPathComponent("gone.safetensors").path
        let lost = try models.register(version: "lost-1", filePath: gone, labels: Self.labels)
        let missingArchive = scratch.appendingPathComponent("missing.tar")
        let missing = try run([Self.binary().path, "db", "backup", missingArchive.path] + external)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("lost-1 at \(gone)"), missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: missingArchive.path))
        XCTAssertEqual(try leftovers(in: scratch), [])
        try database.connection().query("DELETE FROM models WHERE id = $1", [lost.id])

        // A catalog migrated by a newer Timbre is not backed up by this one.
        let connection = try database.connection()
        try connection.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, '9999_future.sql', 'x')")
        let newer = try run([Self.binary().path, "db", "backup", missingArchive.path] + external)
        XCTAssertNotEqual(newer.status, 0)
        XCTAssertTrue(newer.stderr.contains("migration 9999 (9999_future.sql), newer than this timbre"), newer.stderr)
        try connection.query("DELETE FROM schema_migrations WHERE version = 9999")

        // Archives that are not whole are refused before the target is touched: a fresh home
        // is never even created.
        let home = URL(fileURLWithPath: "/tmp/timbre-untouched-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: home) }
        func refusedRestore(_ file: URL, _ message: String) throws {
            let result = try run([Self.binary().path, "db", "restore", file.path], environment: ["TIMBRE_HOME": home.path])
            XCTAssertNotEqual(result.status, 0, message)
            XCTAssertTrue(result.stderr.contains(message), "expected “\(message)” in: \(result.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: home.path), "\(file.lastPathComponent) left \(home.path) behind")
        }
        let bytes = try Data(contentsOf: archive)
        let garbage = scratch.appendingPathComponent("garbage.tar")
        try Data(repeating: 0x41, count: 4096).write(to: garbage)
        try refusedRestore(garbage, "\(garbage.path) is not a Timbre backup: it does not start with a tar header")
        let truncated = scratch.appendingPathComponent("truncated.tar")
        try bytes.prefix(bytes.count - 1024).write(to: truncated)
        try refusedRestore(truncated, "\(truncated.path) is truncated: it ends inside an entry header")
        // One byte changed inside the dump.
        var damaged = bytes
        let dumpStart = try XCTUnwrap(bytes.range(of: Data("PGDMP".utf8))).lowerBound
        damaged[dumpStart + 200] ^= 0xff
        let damagedFile = scratch.appendingPathComponent("damaged.tar")
        try damaged.write(to: damagedFile)
        try refusedRestore(damagedFile, "\(damagedFile.path) is damaged: catalog.dump does not match its SHA-256")

        // A backup of a catalog newer than this build.
        let future = scratch.appendingPathComponent("future.tar")
        try Self.rewrite(archive, to: future) { manifest in
            var schema = manifest["schema"] as! [String: Any]
            schema["migrations"] = (schema["migrations"] as! [[String: Any]]) + [["version": 9999, "name": "9999_future.sql", "checksum": "x"]]
            schema["version"] = 9999
            manifest["schema"] = schema
        }
        try refusedRestore(future, "the backup's catalog is at migration 9999 (9999_future.sql), newer than this timbre")
    }

    /// Missing or too old client programs are named with what to install; a password goes to
    /// them in the environment, never on the command line.
    func testClientProgramsAndTheirConnection() throws {
        let empty = try makeTemporaryDirectory("timbre-no-postgres")
        defer { try? FileManager.default.removeItem(at: empty) }
        XCTAssertThrowsError(try PostgresClientTools.locate("pg_dump", purpose: "dump", directories: [empty.path])) { error in
            XCTAssertTrue("\(error)".hasPrefix("pg_dump was not found (looked in \(empty.path)"), "\(error)")
            XCTAssertTrue("\(error)".contains("apt-get install postgresql-client-15"), "\(error)")
        }
        let installed = PostgresClientTools.searchDirectories()
        let found = try PostgresClientTools.locate("pg_dump", purpose: "dump", directories: installed)
        XCTAssertGreaterThanOrEqual(found.major, 15)
        XCTAssertThrowsError(try PostgresClientTools.locate("pg_dump", minimumMajor: 99, purpose: "dump a PostgreSQL 99 server",
                                                            directories: installed)) { error in
            XCTAssertTrue("\(error)".contains("pg_dump must be from PostgreSQL 99 or newer to dump a PostgreSQL 99 server"), "\(error)")
            XCTAssertTrue("\(error)".contains("install postgresql-client-99"), "\(error)")
        }
        XCTAssertEqual(PostgresClientTools.majorVersion("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"), 15)

        let client = try ClientConnection(url: "postgresql://timbre:s3cr%27et@db.example.org:5433/catalog?sslmode=require", database: nil)
        XCTAssertFalse(client.connectionString.contains("s3cr"), client.connectionString)
        XCTAssertEqual(client.environment["PGPASSWORD"], "s3cr'et")
        for pair in ["host='db.example.org'", "port='5433'", "dbname='catalog'", "user='timbre'", "sslmode='require'"] {
            XCTAssertTrue(client.connectionString.contains(pair), client.connectionString)
        }
        let other = try ClientConnection(url: "postgresql:///postgres?host=/tmp/a%20b&user=x", database: "test_1")
        XCTAssertTrue(other.connectionString.contains("host='/tmp/a b'") && other.connectionString.contains("dbname='test_1'"),
                      other.connectionString)
        XCTAssertFalse(other.connectionString.contains("dbname='postgres'"), other.connectionString)
    }

    /// A copy of `archive` whose manifest `edit` changed (the other entries as they were).
    static func rewrite(_ archive: URL, to copy: URL, edit: (inout [String: Any]) -> Void) throws {
        let reader = try TarReader(path: archive.path)
        let first = try XCTUnwrap(try reader.next())
        var manifest = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try reader.readAll(of: first, limit: 1 << 20))) as? [String: Any])
        edit(&manifest)
        let writer = try TarWriter(creating: copy.path)
        try writer.add(name: "manifest.json", bytes: Array(try JSONSerialization.data(withJSONObject: manifest)))
        while let entry = try reader.next() {
            var data: [UInt8] = []
            try reader.readData(of: entry) { data.append(contentsOf: $0) }
            try writer.add(name: entry.name, bytes: data)
        }
        try writer.finish()
    }

    // MARK: Helpers

    /// Every table of the public schema, each row as JSON text (sorted), `models.file_path` left out.
    static func rows(_ connection: PostgresConnection) throws -> [String: [String]] {
        let tables = try connection.query("""
            SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1
            """)
        var rows: [String: [String]] = [:]
        for index in 0..<tables.rowCount {
            let table = try tables.string(index, 0)
            let result = try connection.query("SELECT (to_jsonb(t) - 'file_path')::text FROM public.\(table) t ORDER BY 1")
            rows[table] = try (0..<result.rowCount).map { try result.string($0, 0) }
        }
        XCTAssertGreaterThanOrEqual(rows.count, 9, "the catalog's tables: \(rows.keys.sorted())")
        return rows
    }

    static func modelPaths(_ connection: PostgresConnection) throws -> [String: String] {
        let result = try connection.query("SELECT version, file_path FROM models")
        return Dictionary(uniqueKeysWithValues: try (0..<result.rowCount).map { (try result.string($0, 0), try result.string($0, 1)) })
    }

    private func column(_ connection: PostgresConnection, _ sql: String) throws -> [String] {
        let result = try connection.query(sql)
        return try (0..<result.rowCount).map { try result.string($0, 0) }
    }

    /// Temporary files of a backup (".NAME.<pid>-….work/.partial") left in `folder`.
    private func leftovers(in folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(".") }
    }

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    /// Runs `timbre ARGUMENTS` and fails the test (with its stderr) unless it exits 0.
    @discardableResult
    private func expectSuccess(_ arguments: [String], environment: [String: String] = [:],
                               file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        let result = try run([Self.binary().path] + arguments, environment: environment)
        XCTAssertEqual(result.status, 0, "timbre \(arguments.joined(separator: " ")): \(result.stderr)", file: file, line: line)
        return result
    }

    /// Runs a program (absolute path first) with this environment less Timbre's own variables,
    /// plus `environment`; stdout and stderr are collected. A program that cannot be started
    /// fails the test.
    private func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        var variables = ProcessInfo.processInfo.environment
        for key in ["TIMBRE_DATABASE_URL", "TIMBRE_HOME", "TIMBRE_MODEL"] { variables[key] = nil }
        variables["TIMBRE_MIGRATIONS"] = TestDatabase.migrationsDirectory.path
        for (key, value) in environment { variables[key] = value }
        let stdoutPath = scratch.appendingPathComponent(".out-\(UUID().uuidString.prefix(8))").path
        let stderrPath = stdoutPath + ".err"
        defer { unlink(stdoutPath); unlink(stderrPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
        guard spawned == 0 else { throw SpawnFailure(description: "cannot start \(arguments[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw SpawnFailure(description: "waitpid failed: errno \(errno)") }
        }
        let signal = status & 0x7f
        return Result(status: signal == 0 ? (status >> 8) & 0xff : 128 + signal,
                      stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "")
    }

    struct SpawnFailure: Error, CustomStringConvertible { let description: String }

    /// The `timbre` executable built beside this test bundle; its absence fails the test.
    static func binary() throws -> URL {
        let bundle = Bundle.main.bundleURL
        let candidates = [bundle.appendingPathComponent("timbre"), bundle.deletingLastPathComponent().appendingPathComponent("timbre")]
            + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent().appendingPathComponent("timbre") }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw SpawnFailure(description: "the timbre executable was not found beside the tests (looked at \(candidates.map(\.path))); build it with the tests")
        }
        return found
    }
}
