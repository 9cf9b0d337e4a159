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

/// Runs a program to completion with `posix_spawn` + `waitpid` (see `ProcessRunner` for why
/// not Foundation's `Process`), with extra environment variables, stdin from /dev/null and
/// stdout and stderr collected in a temporary file.
enum ClientProcess {
    struct Output { let status: Int32; let text: String }

    static func run(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> Output {
        let outputPath = NSTemporaryDirectory() + "timbre-\(UUID().uuidString).out"
        let outputDescriptor = open(outputPath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard outputDescriptor >= 0 else {
            throw CatalogError.fileSystem(path: outputPath, message: "cannot create a temporary file: " + String(cString: strerror(errno)))
        }
        defer { close(outputDescriptor); unlink(outputPath) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outputDescriptor, 1)
        posix_spawn_file_actions_adddup2(&actions, outputDescriptor, 2)

        var variables = ProcessInfo.processInfo.environment
        for (key, value) in extra { variables[key] = value }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw BackupError.clientFailed(tool: executable, status: -1, output: String(cString: strerror(spawned)))
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else {
                throw BackupError.clientFailed(tool: executable, status: -1, output: "waitpid: " + String(cString: strerror(errno)))
            }
        }
        let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return Output(status: exitStatus, text: text)
    }
}
