import Features
import Foundation

/// Where the heat of a `TrackExplanation` lies, in units a person reads: time spans in seconds,
/// mel bands in Hz, and time–frequency regions, each with its share of the track's total heat.
///
/// A frame t stands for [(t − ½)·hop/sr, (t + ½)·hop/sr] (frames are centred), clamped to the
/// track. Band m, whose filter is centred on the (m+1)-th of n_mels + 2 points equally spaced in
/// mel between fmin and fmax (librosa's `mel_frequencies`), stands for its centre widened halfway
/// (in mel) to its neighbours' centres. "Hot" means at least `threshold` (default ½) of the
/// largest value: of the time profile (heat summed over bands) for spans, of the band profile
/// (summed over frames) for bands, and of single cells for regions (4-connected hot cells).
public struct HeatRegions: Sendable, Equatable, Encodable {
    public struct TimeSpan: Sendable, Equatable, Encodable {
        public var startSeconds: Double, endSeconds: Double, share: Double
        enum CodingKeys: String, CodingKey { case startSeconds = "start_seconds", endSeconds = "end_seconds", share }
    }
    public struct BandRange: Sendable, Equatable, Encodable {
        public var lowHz: Double, highHz: Double
        /// Mel band indices, 0 the lowest.
        public var firstBand: Int, lastBand: Int
        public var share: Double
        enum CodingKeys: String, CodingKey {
            case lowHz = "low_hz", highHz = "high_hz", firstBand = "first_band", lastBand = "last_band", share
        }
    }
    public struct Region: Sendable, Equatable, Encodable {
        public var startSeconds: Double, endSeconds: Double
        public var lowHz: Double, highHz: Double
        public var firstBand: Int, lastBand: Int
        public var share: Double
        enum CodingKeys: String, CodingKey {
            case startSeconds = "start_seconds", endSeconds = "end_seconds", lowHz = "low_hz", highHz = "high_hz"
            case firstBand = "first_band", lastBand = "last_band", share
        }
    }

    /// Largest share first.
    public var timeSpans: [TimeSpan]
    public var melBands: [BandRange]
    public var regions: [Region]

    enum CodingKeys: String, CodingKey { case timeSpans = "time_spans", melBands = "mel_bands", regions }

    /// Every list empty when the explanation holds no heat (nothing in the analysed chunks raised the tag).
    public init(_ explanation: TrackExplanation, limit: Int = 5, threshold: Float = 0.5) {
        let total = explanation.total
        guard total > 0 else { timeSpans = []; melBands = []; regions = []; return }
        let nMels = explanation.nMels
        let seconds = { (frames: ClosedRange<Int>) -> (Double, Double) in
            let spf = explanation.secondsPerFrame
            return (max(0, (Double(frames.lowerBound) - 0.5) * spf), min(explanation.duration, (Double(frames.upperBound) + 0.5) * spf))
        }
        let hz = Self.bandEdges(explanation.frontEnd.spectrogram)

        // Time spans: runs of hot frames in the time profile.
        var profiles: [(span: TrackExplanation.Span, sums: [Double])] = []
        for span in explanation.spans {
            let width = span.frames.count
            var sums = [Double](repeating: 0, count: width)
            for m in 0..<nMels { for t in 0..<width { sums[t] += Double(span.heat[m * width + t]) } }
            profiles.append((span, sums))
        }
        let peak = profiles.flatMap(\.sums).max() ?? 0
        var spans: [TimeSpan] = []
        for (span, sums) in profiles {
            for run in Self.runs(sums, atLeast: Double(threshold) * peak) {
                let (start, end) = seconds((span.frames.lowerBound + run.lowerBound)...(span.frames.lowerBound + run.upperBound - 1))
                spans.append(TimeSpan(startSeconds: start, endSeconds: end, share: sums[run].reduce(0, +) / total))
            }
        }
        timeSpans = Array(spans.sorted { $0.share > $1.share }.prefix(limit))

        // Bands: runs of hot bands in the band profile.
        var bandSums = [Double](repeating: 0, count: nMels)
        for span in explanation.spans {
            let width = span.frames.count
            for m in 0..<nMels { for t in 0..<width { bandSums[m] += Double(span.heat[m * width + t]) } }
        }
        let bandPeak = bandSums.max() ?? 0
        melBands = Array(Self.runs(bandSums, atLeast: Double(threshold) * bandPeak).map { run in
            BandRange(lowHz: hz[run.lowerBound].low, highHz: hz[run.upperBound - 1].high, firstBand: run.lowerBound,
                      lastBand: run.upperBound - 1, share: bandSums[run].reduce(0, +) / total)
        }.sorted { $0.share > $1.share }.prefix(limit))

        // Regions: 4-connected hot cells within each span (spans never touch).
        let cut = threshold * explanation.maximum
        var found: [Region] = []
        for span in explanation.spans {
            let width = span.frames.count
            var seen = [Bool](repeating: false, count: nMels * width)
            for cell in 0..<(nMels * width) where !seen[cell] && span.heat[cell] >= cut {
                var stack = [cell], mass = 0.0
                var (m0, m1, t0, t1) = (Int.max, Int.min, Int.max, Int.min)
                seen[cell] = true
                while let c = stack.popLast() {
                    let (m, t) = (c / width, c % width)
                    mass += Double(span.heat[c])
                    (m0, m1, t0, t1) = (min(m0, m), max(m1, m), min(t0, t), max(t1, t))
                    for (dm, dt) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                        let (nm, nt) = (m + dm, t + dt)
                        guard (0..<nMels).contains(nm), (0..<width).contains(nt) else { continue }
                        let n = nm * width + nt
                        if !seen[n] && span.heat[n] >= cut { seen[n] = true; stack.append(n) }
                    }
                }
                let (start, end) = seconds((span.frames.lowerBound + t0)...(span.frames.lowerBound + t1))
                found.append(Region(startSeconds: start, endSeconds: end, lowHz: hz[m0].low, highHz: hz[m1].high,
                                    firstBand: m0, lastBand: m1, share: mass / total))
            }
        }
        regions = Array(found.sorted { $0.share > $1.share }.prefix(limit))
    }

    /// Maximal runs of consecutive indices whose value is at least `cut` (and above zero).
    static func runs(_ values: [Double], atLeast cut: Double) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var start: Int?
        for (i, v) in values.enumerated() {
            let hot = v >= cut && v > 0
            if hot, start == nil { start = i }
            if !hot, let s = start { runs.append(s..<i); start = nil }
        }
        if let s = start { runs.append(s..<values.count) }
        return runs
    }

    /// The frequency range each mel band stands for (see the type's comment).
    public static func bandEdges(_ config: SpectrogramConfig) -> [(low: Double, high: Double)] {
        let low = MelFilterbank.hzToMel(Double(config.fmin), htk: config.htk)
        let high = MelFilterbank.hzToMel(Double(config.effectiveFmax), htk: config.htk)
        let step = (high - low) / Double(config.nMels + 1)
        return (0..<config.nMels).map { m in
            (MelFilterbank.melToHz(low + (Double(m) + 0.5) * step, htk: config.htk),
             MelFilterbank.melToHz(low + (Double(m) + 1.5) * step, htk: config.htk))
        }
    }
}
