import Features
import NeuralNet

/// The chunks of one split of a prepared corpus, as network batches: (B, 1, n_mels, frames)
/// normalised log-mel and (B, labels) multi-hot targets.
public struct TrainingData {
    public let cache: ChunkCache
    public let labels: [String]
    /// Indices into `cache.index.tracks` of this split's tracks.
    public let tracks: [Int]
    /// Per track of `tracks`, its multi-hot target row.
    public let targets: [[Float]]
    /// Per track of `tracks`, the audio variants `fill` may use instead of it (empty unless
    /// `audioVariants` was given for the train split).
    public let variants: [[CachedVariant]]

    /// Per track of `tracks`, how much each target counts (0: unknown): nil when every target is
    /// known — no soft labels, every track with hard tags — as in a corpus without distillation.
    public let masks: [[Float]]?
    /// The first `hardLabelCount` of `labels` are hard tags (metrics are computed on them); the
    /// rest are soft (distillation) tags.
    public let hardLabelCount: Int

    /// - Parameters:
    ///   - split: "train", "val", "test", or "all".
    ///   - labels: the hard-tag vocabulary (default: the cache's).
    ///   - softLabels: soft tags to learn after them, from the tracks' soft values (`SoftLabelTable`);
    ///     with none, tracks whose hard tags are unknown are left out.
    ///   - softWeight: the weight of a soft target against a hard one (`training.distillation_weight`).
    ///   - audioVariants: use each training track's variants numbered up to this (`augmentation.audio`).
    public init(cache: ChunkCache, split: String, labels: [String]? = nil, softLabels: [String] = [],
                softWeight: Float = 1, audioVariants: Int = 0) {
        self.cache = cache
        let hard = labels ?? cache.index.labels
        self.labels = hard + softLabels
        hardLabelCount = hard.count
        let position = Dictionary(uniqueKeysWithValues: hard.enumerated().map { ($1, $0) })
        let all = cache.index.tracks
        tracks = all.indices.filter { (split == "all" || all[$0].split == split) && (!softLabels.isEmpty || !all[$0].tags.isEmpty) }
        let tracks = tracks
        targets = tracks.map { t in
            var row = [Float](repeating: 0, count: hard.count + softLabels.count)
            for tag in all[t].tags { if let j = position[tag] { row[j] = 1 } }
            for (k, tag) in softLabels.enumerated() { row[hard.count + k] = all[t].soft?[tag] ?? 0 }
            return row
        }
        masks = softLabels.isEmpty ? nil : tracks.map { t in
            let known: Float = all[t].tags.isEmpty ? 0 : 1
            return [Float](repeating: known, count: hard.count) + softLabels.map { all[t].soft?[$0] == nil ? 0 : softWeight }
        }
        variants = Self.variantLists(of: tracks, in: cache, split: split, upTo: audioVariants)
    }

    /// Positions in `tracks` of the tracks whose hard tags are known (the ones metrics are on).
    public var hardLabelledTracks: [Int] {
        tracks.indices.filter { !cache.index.tracks[tracks[$0]].tags.isEmpty }
    }

    public var chunkShape: (nMels: Int, frames: Int) { (cache.index.chunkShape[0], cache.index.chunkShape[1]) }
    public var chunkCount: Int { tracks.reduce(0) { $0 + cache.index.tracks[$1].chunkCount } }

    /// (track position in `tracks`, chunk) pairs; with `perTrack`, at most that many chunks of
    /// each track, drawn anew from `rng` — of a track whose hard tags are unknown (soft targets
    /// only), `softOnlyPerTrack` when given.
    public func items(perTrack: Int?, softOnlyPerTrack: Int? = nil, using rng: inout Xoshiro256StarStar) -> [(track: Int, chunk: Int)] {
        var result: [(Int, Int)] = []
        for (position, t) in tracks.enumerated() {
            let count = cache.index.tracks[t].chunkCount
            let limit = cache.index.tracks[t].tags.isEmpty ? softOnlyPerTrack ?? perTrack : perTrack
            if let limit, limit < count {
                var chosen = Array(0..<count)
                chosen.shuffle(using: &rng)
                result += chosen.prefix(limit).sorted().map { (position, $0) }
            } else {
                result += (0..<count).map { (position, $0) }
            }
        }
        return result
    }

    /// Mean and standard deviation of the split's values, from at most `sampleChunks` chunks
    /// spread evenly (exact enough for standardisation, and fast on large corpora).
    public func normalization(sampleChunks: Int = 2000) -> InputNormalization {
        var rng = Xoshiro256StarStar(seed: 0)
        let all = items(perTrack: nil, using: &rng)
        guard !all.isEmpty else { return InputNormalization(mean: 0, std: 1) }
        let step = max(1, all.count / sampleChunks)
        var buffer = [Float](repeating: 0, count: cache.chunkSize)
        var sum = 0.0, sumSquares = 0.0, n = 0.0
        for k in stride(from: 0, to: all.count, by: step) {
            let item = all[k]
            buffer.withUnsafeMutableBufferPointer { cache.read(track: cache.index.tracks[tracks[item.track]], chunk: item.chunk, into: $0.baseAddress!) }
            for x in buffer { sum += Double(x); sumSquares += Double(x) * Double(x) }
            n += Double(buffer.count)
        }
        let mean = sum / n
        let variance = max(sumSquares / n - mean * mean, 1e-12)
        return InputNormalization(mean: Float(mean), std: Float(variance.squareRoot()))
    }

    /// Fills `input` ((B, 1, M, F)) and `target` ((B, L)) from `batch`, normalised; with
    /// `augmentation`, SpecAugment per chunk and mixup over the batch.
    public func fill(
        batch: ArraySlice<(track: Int, chunk: Int)>, normalization: InputNormalization,
        augmentation: AugmentationConfig?, rng: inout Xoshiro256StarStar,
        input: inout Tensor, target: inout Tensor
    ) throws {
        var mask = Tensor(zeros: [0])
        try fill(batch: batch, normalization: normalization, augmentation: augmentation, rng: &rng,
                 input: &input, target: &target, mask: &mask)
    }

    /// How a batch was mixed: example i is λ·(example i) + (1−λ)·(example partner[i]).
    public struct MixupDraw: Sendable, Equatable {
        public var lambda: Float
        public var partner: [Int]
    }

    /// As `fill(batch:…target:)`, and `mask` ((B, L)) from `masks` (all ones when nil); mixup
    /// keeps a target only where both mixed tracks know it (the smaller weight). Returns the
    /// mixup draw when the batch was mixed.
    @discardableResult
    public func fill(
        batch: ArraySlice<(track: Int, chunk: Int)>, normalization: InputNormalization,
        augmentation: AugmentationConfig?, rng: inout Xoshiro256StarStar,
        input: inout Tensor, target: inout Tensor, mask: inout Tensor
    ) throws -> MixupDraw? {
        let (m, f) = chunkShape
        let size = m * f
        let b = batch.count
        let l = labels.count
        if input.shape != [b, 1, m, f] { input = Tensor(zeros: [b, 1, m, f]) }
        if target.shape != [b, l] { target = Tensor(zeros: [b, l]) }
        if mask.shape != [b, l] { mask = Tensor(zeros: [b, l]) }
        let specAugment = augmentation.flatMap { a in
            a.specAugment ? SpecAugment(frequencyMasks: a.frequencyMasks, maxFrequencyWidth: a.maxFrequencyWidth,
                                        timeMasks: a.timeMasks, maxTimeWidth: a.maxTimeWidth) : nil
        }
        var chunk = Spectrogram(nMels: m, frames: f, repeating: 0)
        for (i, item) in batch.enumerated() {
            let variant = augmentation.flatMap { $0.audio.enabled ? $0.audio : nil }
                .flatMap { variantChunk(for: item, probability: $0.probability, using: &rng) }
            chunk.values.withUnsafeMutableBufferPointer {
                if let variant {
                    cache.read(variant: variant.variant, chunk: variant.chunk, into: $0.baseAddress!)
                } else {
                    cache.read(track: cache.index.tracks[tracks[item.track]], chunk: item.chunk, into: $0.baseAddress!)
                }
                normalization.apply($0)
            }
            if let specAugment { try specAugment.apply(to: &chunk, using: &rng) }
            input.data.withUnsafeMutableBufferPointer { dst in
                chunk.values.withUnsafeBufferPointer { src in (dst.baseAddress! + i * size).update(from: src.baseAddress!, count: size) }
            }
            target.data.replaceSubrange((i * l)..<((i + 1) * l), with: targets[item.track])
            if let masks { mask.data.replaceSubrange((i * l)..<((i + 1) * l), with: masks[item.track]) }
            else { for k in (i * l)..<((i + 1) * l) { mask.data[k] = 1 } }
        }
        if let a = augmentation, a.mixupAlpha > 0, b > 1, Float.random(in: 0..<1, using: &rng) < a.mixupProbability {
            let lambda = try Mixup.sampleLambda(alpha: a.mixupAlpha, using: &rng)
            let partner = Array(0..<b).shuffled(using: &rng)
            let x = input.data, y = target.data, w = mask.data
            for i in 0..<b {
                let p = partner[i]
                for k in 0..<size { input.data[i * size + k] = lambda * x[i * size + k] + (1 - lambda) * x[p * size + k] }
                for k in 0..<l { target.data[i * l + k] = lambda * y[i * l + k] + (1 - lambda) * y[p * l + k] }
                if masks != nil { for k in 0..<l { mask.data[i * l + k] = min(w[i * l + k], w[p * l + k]) } }
            }
            return MixupDraw(lambda: lambda, partner: partner)
        }
        return nil
    }

    /// pos_weight per label: negatives / positives over the split's tracks that know the label,
    /// capped at `cap` (a label with no positive gets `cap`); a soft tag's is 1 (a teacher's
    /// probabilities are matched as they are).
    public func positiveWeights(cap: Float) -> [Float] {
        let known = hardLabelledTracks
        let n = Float(known.count)
        return labels.indices.map { j in
            guard j < hardLabelCount else { return 1 }
            let positives = known.reduce(Float(0)) { $0 + targets[$1][j] }
            return positives > 0 ? min(cap, (n - positives) / positives) : cap
        }
    }
}
