import AudioIO
import Foundation

/// What to generate. Defaults give a corpus a tagger can train on: 22050 Hz (the
/// analysis rate of Timbre's front end, so no resampling at training time, and half the
/// synthesis cost of 44100 Hz), 20–60 s per track, a mix of four file formats.
public struct DemoCorpusOptions: Sendable {
    public var outputDirectory: String
    public var trackCount: Int
    public var seed: UInt64
    public var formats: [AudioFileFormat]
    public var sampleRate: Int
    /// Track length in seconds, drawn uniformly per track.
    public var durationRange: ClosedRange<Double>
    /// The .sf2 to render with; nil: `TIMBRE_SOUNDFONT`, then the Debian fluid-soundfont-gm path.
    public var soundFontPath: String?
    /// Rendering threads (one synthesizer each); nil: one per core.
    public var threads: Int?

    public static let defaultSoundFontPath = "/usr/share/sounds/sf2/FluidR3_GM.sf2"

    public init(outputDirectory: String, trackCount: Int, seed: UInt64 = 0,
                formats: [AudioFileFormat] = [.wav, .flac, .ogg, .mp3], sampleRate: Int = 22050,
                durationRange: ClosedRange<Double> = 20...60, soundFontPath: String? = nil, threads: Int? = nil) {
        self.outputDirectory = outputDirectory
        self.trackCount = trackCount
        self.seed = seed
        self.formats = formats
        self.sampleRate = sampleRate
        self.durationRange = durationRange
        self.soundFontPath = soundFontPath
        self.threads = threads
    }

    /// The soundfont that will be used: the option, else `TIMBRE_SOUNDFONT`, else the default path.
    public var resolvedSoundFontPath: String {
        if let path = soundFontPath { return path }
        if let path = ProcessInfo.processInfo.environment["TIMBRE_SOUNDFONT"], !path.isEmpty { return path }
        return DemoCorpusOptions.defaultSoundFontPath
    }

    func validate() throws(DemoCorpusError) {
        guard trackCount > 0 else { throw .invalidOptions("track count is \(trackCount); ask for at least 1 track") }
        guard !formats.isEmpty else { throw .invalidOptions("no output formats; give at least one of wav, flac, ogg, mp3") }
        guard [16000, 22050, 24000, 32000, 44100, 48000].contains(sampleRate) else {
            throw .invalidOptions("sample rate \(sampleRate) Hz; use 22050 or 44100 (also 16000, 24000, 32000, 48000)")
        }
        guard durationRange.lowerBound >= 1, durationRange.upperBound <= 600 else {
            throw .invalidOptions("track length \(durationRange) s; lengths must lie within 1…600 s")
        }
        if let threads, threads < 1 { throw .invalidOptions("\(threads) threads; use at least 1") }
        guard !outputDirectory.isEmpty else { throw .invalidOptions("no output directory; pass --out DIR") }
    }
}

/// What a run produced.
public struct DemoCorpusSummary: Sendable {
    public var labelsPath: String
    /// Tracks rendered by this run and tracks found complete from an earlier run.
    public var rendered: Int
    public var skipped: Int
    public var audioSeconds: Double
    public var wallSeconds: Double
    /// How many tracks carry each tag, in vocabulary order (tags on no track included, with 0).
    public var tagCounts: [(tag: String, count: Int)]
}
