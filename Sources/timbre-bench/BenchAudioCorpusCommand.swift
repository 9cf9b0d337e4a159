import ArgumentParser
import AudioIO
import CommandLineProgress
import Dispatch
import Foundation

/// `timbre-bench bench-audio corpus --dir DIR`: writes the benchmark's audio files once
/// (files already there are kept) and prints their paths, one a line.
struct BenchAudioCorpusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corpus",
        abstract: "Write the benchmark corpus (30 WAV/FLAC/MP3 files, 30–240 s, plus one 22050 Hz WAV) if missing."
    )

    @Option(help: "Folder for the corpus (created if missing).")
    var dir: String

    @Option(help: "Files written at the same time.")
    var jobs: Int = 2

    func run() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let pieces = BenchCorpusPiece.corpus + [BenchCorpusPiece.reference22050]
        try BenchCorpusPiece.writeMissing(pieces.map { ($0, path(of: $0)) }, jobs: jobs)
        for piece in pieces { print(path(of: piece)) }
    }

    private func path(of piece: BenchCorpusPiece) -> String { "\(dir)/\(piece.fileName)" }
}

extension BenchCorpusPiece {
    /// Renders and writes the pieces whose file is missing, `jobs` at a time, with progress.
    /// Each is written under a temporary name and renamed (by `AudioWriter`), so an interrupted
    /// run never leaves a truncated file behind.
    static func writeMissing(_ items: [(piece: BenchCorpusPiece, path: String)], jobs: Int) throws {
        let missing = items.filter { !FileManager.default.fileExists(atPath: $0.path) }
        guard !missing.isEmpty else { return }
        let progress = ProgressReporter(label: "writing corpus", total: missing.count)
        let failures = FailureList()
        DispatchQueue.concurrentPerform(iterations: max(1, jobs)) { worker in
            for index in stride(from: worker, to: missing.count, by: max(1, jobs)) {
                let (piece, finalPath) = missing[index]
                let url = URL(fileURLWithPath: finalPath)
                do {
                    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try AudioWriter.write(piece.render(), sampleRate: piece.sampleRate, channels: 2, to: finalPath, format: piece.format)
                    progress.advance(note: piece.fileName)
                } catch {
                    failures.append("\(piece.fileName): \(error)")
                }
            }
        }
        progress.finish()
        if let first = failures.first { throw BenchCorpusError(message: first) }
    }
}

struct BenchCorpusError: Error, CustomStringConvertible {
    let message: String
    var description: String { "cannot write the benchmark corpus: \(message)" }
}

private final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ item: String) { lock.lock(); items.append(item); lock.unlock() }
    var first: String? { lock.lock(); defer { lock.unlock() }; return items.first }
}
