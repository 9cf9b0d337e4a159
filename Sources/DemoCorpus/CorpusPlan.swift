import AudioIO
import Foundation

/// One track of the corpus before it is rendered: its score, the soundfonts its parts play
/// through, its production, its file name and format.
struct TrackPlan: Sendable {
    var index: Int
    var composition: Composition
    /// Paths of the track's soundfonts, in the order the synthesizer loads them (`Part.soundFont` indexes it).
    var soundFonts: [String]
    var production: Production
    var format: AudioFileFormat
    /// Encoder quality for lossy formats, 0…1.
    var quality: Double { production.quality }
    /// Path relative to the corpus directory (and to labels.csv).
    var relativePath: String

    var tags: [String] { composition.labels.tags }

    /// The track's row of `production.csv`: which font played which part, and the production.
    var productionRow: ProductionFile.Row {
        let names = soundFonts.map { ($0 as NSString).lastPathComponent }
        let parts = composition.parts.map { "\($0.instrument.rawValue)=\(names.isEmpty ? "" : names[min($0.soundFont, names.count - 1)])" }
        return ProductionFile.Row(path: relativePath, soundFonts: names, parts: parts,
                                  production: production.summary(format: format.rawValue, loudness: composition.loudness,
                                                                 reverb: composition.reverb))
    }

    /// The whole corpus, composed up front (milliseconds per track). The file format, the
    /// fonts and the production each have their own random stream, so they are independent of
    /// the genre and of everything musical, and of each other.
    /// - Parameter fonts: the run's soundfonts; empty leaves every part on font 0 (composition only).
    static func plans(for options: DemoCorpusOptions, fonts: [SoundFontInfo] = []) throws(DemoCorpusError) -> [TrackPlan] {
        var plans: [TrackPlan] = []
        for index in 0..<options.trackCount {
            var formatStream = SeededGenerator(seed: options.seed, track: index, stream: 3)
            let format = formatStream.pick(options.formats)
            let composed = Composer.compose(seed: options.seed, track: index, durationRange: options.durationRange)
            let (composition, used) = try FontAssignment.assign(composed, fonts: fonts, seed: options.seed, track: index)
            let width = max(5, String(options.trackCount - 1).count)
            let number = String(repeating: "0", count: max(width - String(index).count, 0)) + String(index)
            plans.append(TrackPlan(index: index, composition: composition, soundFonts: used.map { fonts[$0].path },
                                   production: Production.draw(seed: options.seed, track: index), format: format,
                                   relativePath: "audio/track-\(number).\(format.fileExtension)"))
        }
        return plans
    }
}

extension AudioFileFormat {
    var fileExtension: String { rawValue }
}
