import ArgumentParser
import AudioIO
import Foundation

/// `timbre info FILE…`: format, length, stream properties and tags of audio files;
/// `timbre info --system`: the CPU, the BLAS kernels and the C libraries this process runs on.
/// A file cut short of what its header declares is shown with a `truncated` row (and a
/// "truncation" object in JSON), said on stderr too, and makes the command exit 1, as an
/// unreadable file does.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show the format, duration, sample rate, channels, bitrate and tags of audio files (or, with --system, the machine)."
    )

    @Argument(help: "Audio files (WAV, FLAC, OGG/Vorbis, Opus, AIFF, MP3).")
    var files: [String] = []

    @Flag(help: "Show the CPU's features, the OpenBLAS kernels chosen and why, BLAS threads and the C libraries' versions.")
    var system = false

    @Flag(help: "Print JSON: an array with one object per file (failures carry an \"error\" field), or one object for --system.")
    var json = false

    func validate() throws {
        if system, !files.isEmpty { throw ValidationError("give audio files or --system, not both") }
        if !system, files.isEmpty { throw ValidationError("give one or more audio files, or --system") }
    }

    func run() throws {
        if system { return try SystemReport.current().print(json: json) }
        var reports: [FileInfoReport] = []
        for path in files {
            do {
                let metadata = try AudioMetadata.read(path: path)
                if let truncation = metadata.truncation {
                    FileHandle.standardError.write(Data("timbre info: \(path): truncated: \(truncation.summary)\n".utf8))
                }
                reports.append(FileInfoReport(path: path, result: .success(metadata)))
            } catch {
                // Say so at once, carry on with the other files, and fail at the end.
                FileHandle.standardError.write(Data("timbre info: \(error)\n".utf8))
                reports.append(FileInfoReport(path: path, result: .failure(error)))
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(reports), as: UTF8.self))
        } else {
            let blocks = reports.compactMap(\.text)
            if !blocks.isEmpty { print(blocks.joined(separator: "\n")) }
        }
        if reports.contains(where: \.failed) { throw ExitCode.failure }
    }
}

/// What `info` found out about one file: its metadata, or why it could not be read.
struct FileInfoReport: Encodable {
    let path: String
    let result: Result<AudioMetadata, AudioError>

    /// Unreadable, or cut short of its header.
    var failed: Bool {
        switch result {
        case .failure: return true
        case .success(let metadata): return metadata.truncation != nil
        }
    }

    /// The metadata's fields plus "path", or "path" and "error".
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(path, forKey: .path)
        switch result {
        case .success(let metadata): try metadata.encode(to: encoder)
        case .failure(let error): try container.encode(error.description, forKey: .error)
        }
    }

    private enum Key: String, CodingKey { case path, error }

    /// An aligned block for a terminal; nil for a failed file (its error went to stderr).
    var text: String? {
        guard case .success(let m) = result else { return nil }
        var rows: [(String, String)] = [
            ("format", m.format.uppercased()),
            ("duration", "\(Self.minutesSeconds(m.duration)) (\(String(format: "%.2f", m.duration)) s)"),
            ("sample rate", "\(m.sampleRate) Hz"),
            ("channels", "\(m.channels)"),
        ]
        if let bitrate = m.bitrate { rows.append(("bitrate", "\(bitrate) kbit/s")) }
        if let truncation = m.truncation { rows.insert(("truncated", truncation.summary), at: 2) }
        let tags: [(String, String?)] = [
            ("title", m.title), ("artist", m.artist), ("album", m.album), ("album artist", m.albumArtist),
            ("genre", m.genre), ("year", m.year.map(String.init)), ("track", m.trackNumber.map(String.init)),
        ]
        rows += tags.compactMap { name, value in value.map { (name, $0) } }
        let width = rows.map(\.0.count).max() ?? 0
        return ([path] + rows.map { "  " + $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 })
            .joined(separator: "\n")
    }

    /// `m:ss.s`, how players show a track's length.
    static func minutesSeconds(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let tenths = Int((seconds * 10).rounded())
        return String(format: "%d:%04.1f", tenths / 600, Double(tenths % 600) / 10)
    }
}
