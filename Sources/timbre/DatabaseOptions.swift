import ArgumentParser
import Catalog
import Foundation

/// Where the catalog lives; shared by every command that opens it.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"),
            help: "libpq URL of the PostgreSQL database (default: $TIMBRE_DATABASE_URL, else the embedded cluster in $TIMBRE_HOME).")
    var databaseURL: String?

    @Option(help: "Folder of numbered SQL migrations, for development (default: $TIMBRE_MIGRATIONS, else the migrations built into timbre).")
    var migrations: String?

    @Flag(help: "Show the embedded PostgreSQL's start and stop lines (also $TIMBRE_VERBOSE=1); `serve` also logs every request.")
    var verbose = false

    /// Opens the catalog (starting the embedded cluster if needed), runs `body`, and closes it,
    /// also on Ctrl-C or SIGTERM so that an embedded server this process started is stopped.
    /// With `stopping`, the first signal only sets it (the body winds down and returns: a worker
    /// finishes its batch) and a second one exits at once. `migrate: false` leaves the schema
    /// alone (`Database.SchemaPolicy.unchecked`).
    func withDatabase<T>(migrate: Bool = true, stopping: StopFlag? = nil, _ body: (Database) throws -> T) throws -> T {
        try withDatabase(schema: migrate ? .migrate : .unchecked, stopping: stopping, body)
    }

    /// As above, with the schema policy spelled out: `.readOnly` for commands that only read
    /// (no migration applied; a catalog newer than this build refused). `$TIMBRE_VERBOSE=1`
    /// shows the embedded server's start and stop lines.
    func withDatabase<T>(schema: Database.SchemaPolicy, stopping: StopFlag? = nil, _ body: (Database) throws -> T) throws -> T {
        let database = try Database.open(url: databaseURL, schema: schema, migrationsDirectory: migrations, verbose: verbose ? true : nil)
        let numbers: [Int32] = [SIGINT, SIGTERM]
        let signals = numbers.map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if let stopping, !stopping.isSet {
                    FileHandle.standardError.write(Data("\nstopping after the current batch (again to stop at once)\n".utf8))
                    stopping.set()
                    return
                }
                FileHandle.standardError.write(Data("\ninterrupted; closing the catalog\n".utf8))
                database.close()
                Foundation.exit(128 + number)
            }
            source.resume()
            return source
        }
        defer {
            signals.forEach { $0.cancel() }
            database.close()
        }
        return try body(database)
    }
}
