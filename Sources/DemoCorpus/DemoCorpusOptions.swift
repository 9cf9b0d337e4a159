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
    /// The .sf2/.sf3 files to render with, chosen per track and per part; empty:
    /// `TIMBRE_SOUNDFONT` (a path or a comma-separated list), then the default training set
    /// (`SoundFontSet.defaultTrainingPaths`, those installed; never the held-out fonts).
    public var soundFontPaths: [String]
    /// Rendering threads (one synthesizer each); nil: one per core.
    public var threads: Int?

    /// One soundfont (nil: none given), as before several were allowed.
    public var soundFontPath: String? {
        get { soundFontPaths.count == 1 ? soundFontPaths[0] : nil }
        set { soundFontPaths = newValue.map { [$0] } ?? [] }
    }

    public static let defaultSoundFontPath = SoundFontSet.defaultTrainingPaths[0]

    public init(outputDirectory: String, trackCount: Int, seed: UInt64 = 0,
                formats: [AudioFileFormat] = [.wav, .flac, .ogg, .mp3], sampleRate: Int = 22050,
                durationRange: ClosedRange<Double> = 20...60, soundFontPath: String? = nil,
                soundFontPaths: [String] = [], threads: Int? = nil) {
        self.outputDirectory = outputDirectory
        self.trackCount = trackCount
        self.seed = seed
        self.formats = formats
        self.sampleRate = sampleRate
        self.durationRange = durationRange
        self.soundFontPaths = (soundFontPath.map { [$0] } ?? []) + soundFontPaths
        self.threads = threads
    }

    /// The first soundfont that will be used: the option, else `TIMBRE_SOUNDFONT`, else the
    /// first default (FluidR3_GM), without checking that it exists.
    public var resolvedSoundFontPath: String {
        if let path = soundFontPaths.flatMap(SoundFontSet.splitList).first { return path }
        if let variable = ProcessInfo.processInfo.environment["TIMBRE_SOUNDFONT"],
           let path = SoundFontSet.splitList(variable).first { return path }
        return DemoCorpusOptions.defaultSoundFontPath
    }

    /// The soundfonts of the run, checked (each exists and has General MIDI presets) and
    /// with the defaults that are skipped and why.
    public func resolvedSoundFonts() throws(DemoCorpusError) -> SoundFontSet {
        try SoundFontSet.resolve(given: soundFontPaths)
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
    /// The soundfonts of the corpus and how many tracks use each, in the order given.
    public var soundFontCounts: [(path: String, tracks: Int)] = []
    public var productionPath: String = ""
}
