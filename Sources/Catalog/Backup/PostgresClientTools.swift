import CPostgres
import Foundation

/// PostgreSQL's own client programs (`pg_dump`, `pg_restore`, `psql`), as backups use them.
///
/// Looked for in `pg_config --bindir` first (on Debian the PostgreSQL 15 that also runs the
/// embedded cluster), then in `/usr/lib/postgresql/<N>/bin`, newest first, then on `PATH`. A
/// program must be at least as new as what it talks to: `pg_dump` refuses a newer server, and
/// `pg_restore` a dump made by a newer `pg_dump`.
struct PostgresClientTools {
    /// A found program and its major version (15 for "pg_dump (PostgreSQL) 15.18").
    struct Tool {
        let path: String
        let versionText: String
        let major: Int
    }

    /// The folders to look in, in order, without duplicates.
    static func searchDirectories(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var directories: [String] = []
        if let output = try? ClientProcess.run("/usr/bin/env", ["pg_config", "--bindir"]), output.status == 0 {
            directories.append(output.text.trimmed)
        }
        directories.append("/usr/lib/postgresql/15/bin")
        let versioned = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap { Int($0) }.sorted(by: >).map { "/usr/lib/postgresql/\($0)/bin" }
        directories += versioned
        directories += (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        var seen = Set<String>()
        return directories.filter { !$0.isEmpty && seen.insert($0).inserted }
    }

    /// `name` at least `minimumMajor` (nil: any): the first one found that is new enough.
    static func locate(_ name: String, minimumMajor: Int? = nil, purpose: String,
                       directories: [String] = searchDirectories()) throws -> Tool {
        var found: [Tool] = []
        for directory in directories {
            let path = directory + "/" + name
            guard FileManager.default.isExecutableFile(atPath: path),
                  let output = try? ClientProcess.run(path, ["--version"]), output.status == 0,
                  let major = majorVersion(output.text) else { continue }
            let tool = Tool(path: path, versionText: output.text.trimmed, major: major)
            if major >= (minimumMajor ?? 0) { return tool }
            found.append(tool)
        }
        if let newest = found.max(by: { $0.major < $1.major }), let minimumMajor {
            throw BackupError.clientTooOld(tool: name, found: "\(newest.path) (\(newest.versionText))",
                                           needed: minimumMajor, purpose: purpose)
        }
        throw BackupError.clientMissing(tool: name, searched: directories.prefix(4).map { $0 })
    }

    /// 15 from "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"; 10 from "… 10beta2".
    static func majorVersion(_ text: String) -> Int? {
        guard let range = text.range(of: "(PostgreSQL) ") else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }
}

/// How a client program reaches the database a `ConnectionPool` uses: a `key='value'`
/// connection string for its command line, without the password, which goes in `PGPASSWORD`
/// (a command line is readable by every local user; a process's environment is not).
struct ClientConnection {
    let connectionString: String
    let environment: [String: String]

    init(url: String, database: String?) throws {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &error) else {
            let message = error.map { String(cString: $0) } ?? "out of memory"
            if let error { PQfreemem(error) }
            throw CatalogError.invalidArgument("the database URL \(PostgresConnection.redact(url)) is not valid: \(message.trimmed)")
        }
        defer { PQconninfoFree(options) }
        var pairs: [(String, String)] = []
        var environment: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val {
                let key = String(cString: keyword), text = String(cString: value)
                if key == "password" {
                    environment["PGPASSWORD"] = text
                } else if key != "dbname" || database == nil {
                    pairs.append((key, text))
                }
            }
            option += 1
        }
        if let database { pairs.append(("dbname", database)) }
        // Sessions of the tools are not Timbre processes: the embedded cluster's "last one out
        // stops it" count looks for `timbre:<pid>` names only.
        environment["PGAPPNAME"] = "timbre-backup"
        connectionString = pairs.map { "\($0.0)='\(Self.escape($0.1))'" }.joined(separator: " ")
        self.environment = environment
    }

    /// A value inside single quotes: backslash and quote escaped with a backslash.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
    }
}

/// Runs a PostgreSQL client program to completion (`ProcessRunner`: `posix_spawn` + `waitpid`,
/// stdin from /dev/null, stdout and stderr collected), with extra environment variables; a
/// program that cannot be started is a `BackupError.clientFailed`.
enum ClientProcess {
    typealias Output = ProcessRunner.Output

    static func run(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> Output {
        try ProcessRunner.run(executable, arguments, environment: extra) { step, reason in
            BackupError.clientFailed(tool: executable, status: -1, output: step.hasPrefix("wait") ? "waitpid: " + reason : reason)
        }
    }
}
