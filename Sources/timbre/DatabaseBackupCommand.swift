import ArgumentParser
import Catalog
import Foundation

extension DatabaseCommand {
    /// `timbre db backup FILE`: the catalog (pg_dump) and the model files it uses, in one archive.
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back up the catalog and the model files it uses to one archive file.",
            discussion: """
                FILE is a tar archive: manifest.json (versions, row counts, every file's size and \
                SHA-256), catalog.dump (pg_dump's custom format, from one snapshot) and \
                models/<sha256>.safetensors for every model version in the catalog. It is written \
                under a temporary name and moved into place when complete. Music files are not \
                included. Restore with `timbre db restore FILE`.
                """
        )
        @Argument(help: "The archive to write.") var file: String
        @Flag(help: "Replace FILE if it exists.") var force = false
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let destination = URL(fileURLWithPath: file)
            try CatalogBackup.checkDestination(destination, overwrite: force)
            let migrations = try Migration.load(from: Migration.locateDirectory(explicit: database.migrations))
            let summary = try database.withDatabase(migrate: false) { db in
                try CatalogBackup.write(database: db, to: destination, overwrite: force, knownMigrations: migrations,
                                        progress: { progressLine("backup", $0) })
            }
            let manifest = summary.manifest
            print("backed up the catalog (migration \(manifest.schema.version), \(manifest.tables["tracks"] ?? 0) tracks, "
                  + "\(versions(manifest.models.count))) to \(summary.path)")
        }
    }

    /// `timbre db restore FILE`: replaces the catalog with a backup's and puts its model files
    /// in the data directory's model store.
    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup made by `timbre db backup` into the catalog.",
            discussion: """
                The whole archive is checked first (sizes, SHA-256 of every file, the dump); a \
                damaged or truncated one changes nothing. The catalog is then replaced in one \
                transaction, and model files go to DATA_DIR/models/<sha256>.safetensors, which the \
                restored catalog points at. A catalog that already holds data is refused unless \
                --force. Stop `timbre serve` and workers first.
                """
        )
        @Argument(help: "The archive to restore.") var file: String
        @Flag(help: "Replace a catalog that already holds data.") var force = false
        @Option(help: "Where the model files go (default: the data directory, $TIMBRE_HOME).") var dataDir: String?
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let migrations = try Migration.load(from: Migration.locateDirectory(explicit: database.migrations))
            let dataDirectory = dataDir.map { URL(fileURLWithPath: $0) } ?? TimbreHome.directory()
            // Checked before the catalog is opened: a bad archive does not even start a server.
            let prepared = try CatalogRestore.prepare(archive: URL(fileURLWithPath: file), dataDirectory: dataDirectory,
                                                      knownMigrations: migrations, progress: { progressLine("restore", $0) })
            defer { prepared.discard() }
            let summary = try database.withDatabase(migrate: false) { db in
                try prepared.restore(into: db, force: force, knownMigrations: migrations, progress: { progressLine("restore", $0) })
            }
            let manifest = summary.manifest
            print("restored \(file) (made \(ISO8601DateFormatter().string(from: manifest.createdAt)) from \(manifest.source)) "
                  + "into \(summary.target): \(manifest.tables["tracks"] ?? 0) tracks, \(versions(manifest.models.count)) "
                  + "in \(prepared.modelDirectory.path)")
        }
    }
}

private func versions(_ count: Int) -> String { count == 1 ? "1 model version" : "\(count) model versions" }

/// One progress line on stderr, prefixed with the command.
private func progressLine(_ command: String, _ line: String) {
    FileHandle.standardError.write(Data("\(command): \(line)\n".utf8))
}
