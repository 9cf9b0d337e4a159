import ArgumentParser
import Catalog
import Foundation

struct DatabaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the catalog database.",
        subcommands: [Migrate.self, Status.self, Start.self, Stop.self, Backup.self, Restore.self]
    )

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending schema migrations.")
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try database.withDatabase(migrate: false) { db in
                let source = try Migration.resolve(explicit: database.migrations)
                let applied = try Migrator(migrations: source.migrations).migrate(db.pool)
                if applied.isEmpty {
                    print("The schema is up to date (migrations \(source.origin)).")
                } else {
                    for migration in applied { print("applied \(migration.name)") }
                }
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show applied migrations, tracks and jobs.")
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try database.withDatabase(migrate: false) { db in
                if let embedded = db.embedded { print("embedded cluster: \(embedded.directory.path)") }
                let source = try Migration.resolve(explicit: database.migrations)
                let migrator = Migrator(migrations: source.migrations)
                let status = try db.pool.withConnection { try migrator.status($0) }
                let done = Set(status.applied.map(\.version))
                print("migrations: \(source.origin)")
                for migration in migrator.migrations {
                    print("\(done.contains(migration.version) ? "applied" : "pending") \(migration.name)")
                }
                for newer in status.unknown {
                    print("newer   \(newer.name) (applied by a newer Timbre; this one does not know it: upgrade it)")
                }
                guard status.pending.isEmpty, status.unknown.isEmpty else { return }
                let tracks = try db.tracks.counts()
                print("tracks: " + TrackStatus.allCases.map { "\($0.rawValue) \(tracks[$0] ?? 0)" }.joined(separator: ", "))
                let jobs = try db.jobs.counts()
                print("jobs: " + JobState.allCases.map { "\($0.rawValue) \(jobs[$0] ?? 0)" }.joined(separator: ", "))
            }
        }
    }

    /// `timbre db start`: starts the embedded cluster and keeps it up between commands (for
    /// many workers, or to save a start per command) until `timbre db stop`.
    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start the embedded PostgreSQL and keep it running until `timbre db stop`.")
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            guard database.databaseURL ?? ProcessInfo.processInfo.environment["TIMBRE_DATABASE_URL"] == nil else {
                throw ValidationError("TIMBRE_DATABASE_URL (or --database-url) names an external server; there is no embedded one to start")
            }
            let cluster = try EmbeddedPostgres(home: TimbreHome.directory())
            try cluster.start(keepRunning: true)
            // Migrate now, so that the first worker does not have to.
            let db = try Database.open(url: cluster.url, migrationsDirectory: database.migrations)
            db.close()
            print("embedded PostgreSQL running in \(cluster.directory.path) until `timbre db stop`")
            print("url: \(cluster.url)")
        }
    }

    /// `timbre db stop`: stops the embedded cluster now (fast shutdown; committed work is kept).
    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the embedded PostgreSQL (sessions are disconnected).")

        func run() throws {
            let cluster = try EmbeddedPostgres(home: TimbreHome.directory())
            let wasRunning = try cluster.serverIsRunning()
            try cluster.stop()
            print(wasRunning ? "stopped the embedded PostgreSQL in \(cluster.directory.path)" : "the embedded PostgreSQL in \(cluster.directory.path) was not running")
        }
    }
}
