import ArgumentParser
import AudioIO
import Foundation
import SeededRandom

/// `timbre-bench bench-catalog`: the Swift half of `scripts/bench catalog`.
struct BenchCatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-catalog",
        abstract: "Benchmark scanning and tagging a library (used by scripts/bench catalog).",
        subcommands: [BenchCatalogLibraryCommand.self]
    )
}

/// `timbre-bench bench-catalog library --dir DIR`: writes a synthetic music library once (files
/// already there are kept) in `artist-N/album-M/` folders, in the mix of formats a real
/// library has, and prints how much audio it holds.
struct BenchCatalogLibraryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "library",
        abstract: "Write a library of synthetic tracks (mixed formats and lengths) if missing."
    )

    @Option(help: "Folder for the library (created if missing).") var dir: String
    @Option(help: "Number of tracks.") var tracks = 300
    @Option(help: "Shortest track in seconds.") var minSeconds = 30
    @Option(help: "Longest track in seconds (lengths are spread uniformly between the two).") var maxSeconds = 240
    @Option(help: "Makes a different library (same seed, same files).") var seed = 1
    @Option(help: "Files written at the same time.") var jobs = 2

    /// Formats in turn: mostly MP3 and FLAC, as in most collections, and some of each other.
    static let formats: [AudioFileFormat] = [.mp3, .flac, .mp3, .ogg, .flac, .mp3, .opus, .wav, .flac, .aiff]

    func validate() throws {
        guard tracks > 0 else { throw ValidationError("--tracks must be at least 1") }
        guard minSeconds >= 1, maxSeconds >= minSeconds, maxSeconds <= 3600 else {
            throw ValidationError("need 1 ≤ --min-seconds ≤ --max-seconds ≤ 3600")
        }
    }

    func run() throws {
        var random = SeededGenerator(seed: UInt64(truncatingIfNeeded: seed) &* 0xD1B5_4A32_D192_ED03 &+ 7)
        let items: [(piece: BenchCorpusPiece, path: String)] = (0..<tracks).map { i in
            let format = Self.formats[i % Self.formats.count]
            let rate = format == .opus || (i / Self.formats.count) % 3 == 2 ? 48000 : 44100
            let seconds = minSeconds + Int(random.nextUnitDouble() * Double(maxSeconds - minSeconds + 1))
            let piece = BenchCorpusPiece(index: seed * 100_000 + i, format: format, sampleRate: rate, seconds: seconds)
            return (piece, "\(dir)/artist-\(i / 50)/album-\(i / 10)/\(piece.fileName)")
        }
        try BenchCorpusPiece.writeMissing(items, jobs: jobs)
        let seconds = items.reduce(0) { $0 + $1.piece.seconds }
        var formats: [AudioFileFormat: Int] = [:]
        for item in items { formats[item.piece.format, default: 0] += 1 }
        let mix = AudioFileFormat.allCases.compactMap { f in formats[f].map { "\($0) \(f.rawValue)" } }.joined(separator: ", ")
        print("\(items.count) tracks, \(String(format: "%.1f", Double(seconds) / 60)) min of audio (\(mix)) in \(dir)")
    }
}
