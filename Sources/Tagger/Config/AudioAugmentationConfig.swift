/// `augmentation.audio`: the seed's waveform augmentation (pitch shift, time stretch, noise),
/// rendered once by `timbre prepare` instead of per example, since training reads cached
/// log-mel chunks. `prepare` writes `variants` augmented copies of every *training* track's
/// chunks beside the original's; `train` then uses, for each example, one of them instead of
/// the original with probability `probability`. Each variant applies all three effects, each
/// drawn uniformly from its range (a range of one value, e.g. `time_stretch: [1, 1]` or
/// `pitch_shift_semitones: 0`, leaves that effect out; `noise_snr_db: null` adds no noise).
///
/// Time stretch changes a track's tempo, so it can move a track across a tempo tag's threshold
/// (the demo corpus: `fast` ≥ 130 BPM, `slow` ≤ 85 BPM). The default ±5 % (rather than the seed's
/// ±10 %) keeps that to tracks within 5 % of a threshold, for a fraction of their examples; a
/// vocabulary whose tempo tags matter more can set `time_stretch: [1, 1]`.
public struct AudioAugmentationConfig: Codable, Sendable, Equatable {
    /// Off by default: existing configs and the shipped model's recipe train as before.
    public var enabled = false
    /// Augmented copies per training track.
    public var variants = 2
    /// Chance that an example comes from one of its track's variants instead of the original.
    public var probability: Float = 0.5
    /// Pitch shift uniform in ±this many semitones (the seed's ±2).
    public var pitchShiftSemitones = 2.0
    /// Time-stretch rate uniform in [low, high] (> 1 is faster).
    public var timeStretch = [0.95, 1.05]
    /// White noise at an SNR uniform in [low, high] dB; nil adds none.
    public var noiseSnrDb: [Double]? = [20, 40]

    public init() {}

    enum CodingKeys: String, CodingKey {
        case enabled, variants, probability, pitchShiftSemitones = "pitch_shift_semitones"
        case timeStretch = "time_stretch", noiseSnrDb = "noise_snr_db"
    }

    /// At most this many variants per track (each costs the track's chunks again on disk).
    public static let maxVariants = 16

    /// Problems that would stop `prepare` or `train`, all at once (checked even when off, so a
    /// bad value is found before someone turns it on).
    public var problems: [String] {
        var found: [String] = []
        if variants < 1 || variants > Self.maxVariants {
            found.append("augmentation.audio.variants must be in 1...\(Self.maxVariants), got \(variants)")
        }
        if !(probability >= 0 && probability <= 1) {
            found.append("augmentation.audio.probability must be in 0...1, got \(probability)")
        }
        if !(pitchShiftSemitones >= 0 && pitchShiftSemitones <= 12) {
            found.append("augmentation.audio.pitch_shift_semitones must be in 0...12, got \(pitchShiftSemitones)")
        }
        if timeStretch.count != 2 || !(timeStretch[0] >= 0.5 && timeStretch[0] <= timeStretch[1] && timeStretch[1] <= 2) {
            found.append("augmentation.audio.time_stretch must be [low, high] with 0.5 <= low <= high <= 2, got \(timeStretch)")
        }
        if let snr = noiseSnrDb, snr.count != 2 || !(snr[0] >= -20 && snr[0] <= snr[1] && snr[1] <= 120) {
            found.append("augmentation.audio.noise_snr_db must be [low, high] with -20 <= low <= high <= 120 (dB), or null for no noise, got \(snr)")
        }
        return found
    }
}
