import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The `timbre` executable built beside the tests, run as a child (posix_spawn: Foundation's
/// Process can miss a child's exit on Linux) with its own environment, output captured, and
/// killed if it outlives a deadline. A test that needs the binary fails, never skips.
struct TimbreProcess {
    struct Result {
        /// The exit status, or nil when a signal ended it.
        let status: Int32?
        let signal: Int32?
        let stdout: String
        let stderr: String
        let seconds: Double
        var summary: String { "status \(status.map(String.init) ?? "-") signal \(signal.map(String.init) ?? "-") after \(String(format: "%.1f", seconds)) s\nstdout: \(stdout)\nstderr: \(stderr)" }
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    static func binary() throws -> String {
        let folders = [Bundle.main.executableURL?.deletingLastPathComponent(), Bundle.main.bundleURL,
                       Bundle.main.bundleURL.deletingLastPathComponent()]
            + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for folder in folders.compactMap({ $0 }) {
            let path = folder.appendingPathComponent("timbre").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw Failure(description: "the timbre executable is not built next to the tests (build with --build-tests): failing, not skipping")
    }

    /// Runs `arguments` (an absolute path first) with the environment plus `environment`,
    /// its output kept in `directory` until it ends; kills it after `timeout` seconds.
    static func run(_ arguments: [String], environment: [String: String] = [:], directory: URL, timeout: Double = 60) throws -> Result {
        let out = directory.appendingPathComponent("child-\(UUID().uuidString).out").path
        let err = directory.appendingPathComponent("child-\(UUID().uuidString).err").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        var argv = arguments.map { strdup($0) } + [nil]
        var envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        let started = Date()
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, &argv, &envp)
        guard spawned == 0 else { throw Failure(description: "cannot start \(arguments[0]): error \(spawned)") }
        var status: Int32 = 0
        var killed = false
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { break }
            if done < 0 && errno != EINTR { throw Failure(description: "waitpid failed: errno \(errno)") }
            if !killed, Date().timeIntervalSince(started) > timeout {
                kill(pid, SIGKILL)
                killed = true
            }
            usleep(10_000)
        }
        let seconds = Date().timeIntervalSince(started)
        let text = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        defer { unlink(out); unlink(err) }
        let signalled = status & 0x7F != 0
        if killed { throw Failure(description: "\(arguments.joined(separator: " ")) ran past \(timeout) s and was killed\nstderr: \(text(err))") }
        return Result(status: signalled ? nil : (status >> 8) & 0xFF, signal: signalled ? status & 0x7F : nil,
                      stdout: text(out), stderr: text(err), seconds: seconds)
    }
}
