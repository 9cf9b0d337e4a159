import Foundation
import XCTest

/// A program run to completion with exactly the environment given, in a chosen folder, its
/// stdout and stderr collected (posix_spawn + waitpid: see `spawn` in WorkerTests for why).
struct ChildProcess {
    let status: Int32
    let output: String
    let errors: String

    /// The few variables a `timbre` run needs; the test process's own (TIMBRE_*, PG*) are not passed.
    static let baseEnvironment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"]

    /// Starts `arguments` without waiting; `/usr/bin/env -i -C directory` sets the folder and
    /// clears the environment.
    static func start(_ arguments: [String], environment: [String: String] = [:], directory: String = "/",
                      output: String, errors: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let variables = baseEnvironment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }.sorted()
        let command = ["/usr/bin/env", "-i", "-C", directory] + variables + arguments
        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, command[0], &actions, nil, argv, environ)
        guard status == 0 else { throw XCTSkip("cannot start \(arguments[0]): error \(status)") }
        return pid
    }

    /// Runs `arguments` to completion.
    static func run(_ arguments: [String], environment: [String: String] = [:], directory: String = "/") throws -> ChildProcess {
        let scratch = NSTemporaryDirectory() + "timbre-child-\(UUID().uuidString.prefix(8))"
        defer { unlink(scratch + ".out"); unlink(scratch + ".err") }
        let pid = try start(arguments, environment: environment, directory: directory, output: scratch + ".out", errors: scratch + ".err")
        return try finish(pid, output: scratch + ".out", errors: scratch + ".err")
    }

    static func finish(_ pid: pid_t, output: String, errors: String) throws -> ChildProcess {
        let status = try waitForExit(pid)
        return ChildProcess(status: status, output: (try? String(contentsOfFile: output, encoding: .utf8)) ?? "",
                            errors: (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")
    }

    var description: String { "exit \(status)\nstdout: \(output)\nstderr: \(errors)" }
}
