import AudioIO

/// One track of the corpus before it is rendered: its score, its file name and format.
struct TrackPlan: Sendable {
    var index: Int
    var composition: Composition
    var format: AudioFileFormat
    /// Encoder quality for lossy formats, 0…1.
    var quality: Double
    /// Path relative to the corpus directory (and to labels.csv).
    var relativePath: String

    var tags: [String] { composition.labels.tags }

    /// The whole corpus, composed up front (milliseconds per track). The file format has its
    /// own random stream, so it is independent of the genre and of everything musical.
    static func plans(for options: DemoCorpusOptions) -> [TrackPlan] {
        (0..<options.trackCount).map { index in
            var production = SeededGenerator(seed: options.seed, track: index, stream: 3)
            let format = production.pick(options.formats)
            let quality = production.uniform(0.4...0.9)
            let composition = Composer.compose(seed: options.seed, track: index, durationRange: options.durationRange)
            let width = max(5, String(options.trackCount - 1).count)
            let number = String(repeating: "0", count: max(width - String(index).count, 0)) + String(index)
            return TrackPlan(index: index, composition: composition, format: format, quality: quality,
                             relativePath: "audio/track-\(number).\(format.fileExtension)")
        }
    }
}

extension AudioFileFormat {
    var fileExtension: String { rawValue }
}
