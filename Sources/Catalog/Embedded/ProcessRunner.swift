import Foundation

/// Runs a command to completion with `posix_spawn` + `waitpid`, output collected in a temporary file.
///
/// Not Foundation's `Process`: on Linux it detects the child's exit through a descriptor the
/// child inherits, so a daemon forked by the command (the postmaster, forked by `pg_ctl start`)
/// would keep it waiting forever. `waitpid` waits for exactly the child we started.
enum ProcessRunner {
    struct Output { let status: Int32; let text: String }

    /// `environment` adds to (or replaces in) this process's environment; `failure` makes the
    /// error thrown when the program cannot be started or waited for (step, reason).
    static func run(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:],
                    failure: (_ step: String, _ reason: String) -> any Error = { CatalogError.embeddedClusterFailed(step: $0, output: $1) })
        throws -> Output {
        let outputPath = NSTemporaryDirectory() + "timbre-\(UUID().uuidString).out"
        // A new file (never an existing one, nor through a link planted in the shared /tmp).
        let outputDescriptor = open(outputPath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
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

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        var variables = ProcessInfo.processInfo.environment
        for (key, value) in extra { variables[key] = value }
        let envp: [UnsafeMutablePointer<CChar>?] = extra.isEmpty ? [] : variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid = pid_t()
        let spawned = extra.isEmpty ? posix_spawn(&pid, executable, &actions, nil, argv, environ)
                                    : posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else { throw failure("run \(executable)", String(cString: strerror(spawned))) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw failure("wait for \(executable)", String(cString: strerror(errno))) }
        }
        // WIFEXITED / WEXITSTATUS by hand: the macros are not imported into Swift.
        let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return Output(status: exitStatus, text: text)
    }
}
