import NeuralNet

/// musicnn (Pons & Serra, "musicnn: pre-trained convolutional neural networks for music audio
/// tagging", ISMIR LBD 2019; the `musicnn` package's `build_musicnn`), for inference on weights
/// converted from its TensorFlow checkpoints by tools/musicnn/import.sh.
///
/// Per patch, with the spectrogram as (T frames, F mel bands) — TensorFlow's NHWC with H = time:
///
///     x̂ = BN(x)                                                       input_norm
///     timbral i (2): conv (7 × ⌊0.4F⌋ / ⌊0.7F⌋, time padded 3 + 3, valid over F) → ReLU → BN
///                    → max over F                    → (T, timbral_filters) each
///     temporal j (3): conv (128/64/32 × 1, TF 'same') → ReLU → BN → max over F
///                                                    → (T, temporal_filters) each
///     front = concat(timbral, temporal)              → (T, 2·timbral + 3·temporal)
///     m1 = BN(ReLU(conv1d_7(front))), r2 = BN(ReLU(conv1d_7(m1))) + m1,
///     r3 = BN(ReLU(conv1d_7(r2))) + r2               (1-D convs along time, padded 3 + 3)
///     h = concat(front, m1, r2, r3)                  → (T, D)
///     pooled = [max_t h[·,0], mean_t h[·,0], max_t h[·,1], …]  (D, 2) flattened, TF's order
///     embedding = BN(ReLU(dense(BN(pooled))))        musicnn's `penultimate` (200 units)
///     logits = dense(embedding)
///
/// Every BatchNorm is `tf.layers.batch_normalization` at inference, eps 0.001. Input (B, 1, F, T)
/// as Timbre's chunks (mel-major; any T ≥ 1, musicnn's patches are 187), transposed per patch.
/// The front and mid-end of each patch run on one worker (patches split across the cores, each
/// with single-threaded BLAS); the dense back end runs on the whole batch.
///
/// state_dict names: `input_norm.*`, `timbral.{0,1}.{conv,norm}.*`, `temporal.{0,1,2}.{conv,norm}.*`,
/// `midend.{0,1,2}.{conv,norm}.*`, `pool_norm.*`, `embedding.0.*` (dense), `embedding.1.*` (BN),
/// `classifier.*`. Weights are PyTorch-shaped (convs (K, C, kh, kw), dense (out, in)).
/// Not trainable in Timbre: training, backward and Grad-CAM taps throw.
public final class MusicnnNetwork: TaggingNetwork {
    public let config: ArchitectureConfig
    /// Mel bands (F) the network reads.
    public let mels: Int
    public let inputNorm: BatchNorm
    public let timbral: [(conv: RectangularConv2d, norm: BatchNorm)]
    public let temporal: [(conv: RectangularConv2d, norm: BatchNorm)]
    public let midend: [(conv: RectangularConv2d, norm: BatchNorm)]
    public let poolNorm: BatchNorm
    public let dense: Linear
    public let denseNorm: BatchNorm
    public let classifier: Linear

    /// Features per frame after the front end and after the mid-end (musicnn's 561 and 753).
    public let frontWidth: Int
    public let featureWidth: Int

    /// musicnn's temporal kernel lengths and the mid-end's, fixed by its code.
    public static let temporalKernels = [128, 64, 32]
    public static let midendKernel = 7
    /// tf.layers.batch_normalization's default.
    public static let batchNormEpsilon: Float = 0.001

    private var scratch: [Scratch] = []
    private let pooled = FloatStorage()

    public init(_ config: ArchitectureConfig, seed: UInt64) {
        self.config = config
        var rng = SeededGenerator(seed: seed)
        let F = min(4096, max(3, config.inputMels))
        let timbralK = min(4096, max(1, config.timbralFilters)), temporalK = min(4096, max(1, config.temporalFilters))
        let midK = min(4096, max(1, config.midendFilters)), units = max(1, config.embeddingDim)
        let eps = Self.batchNormEpsilon
        mels = F
        inputNorm = BatchNorm(name: "input_norm", numFeatures: 1, eps: eps)
        // Python's int(0.4 * 96) = 38, int(0.7 * 96) = 67: the same double arithmetic.
        timbral = [0.4, 0.7].enumerated().map { i, share in
            (conv: RectangularConv2d(name: "timbral.\(i).conv", inChannels: 1, outChannels: timbralK, kernelHeight: 7,
                               kernelWidth: max(1, Int(share * Double(F))),
                               padding: .explicit(top: 3, bottom: 3, left: 0, right: 0), rng: &rng),
             norm: BatchNorm(name: "timbral.\(i).norm", numFeatures: timbralK, eps: eps))
        }
        temporal = Self.temporalKernels.enumerated().map { j, length in
            (conv: RectangularConv2d(name: "temporal.\(j).conv", inChannels: 1, outChannels: temporalK, kernelHeight: length,
                               kernelWidth: 1, padding: .same, rng: &rng),
             norm: BatchNorm(name: "temporal.\(j).norm", numFeatures: temporalK, eps: eps))
        }
        let front = 2 * timbralK + 3 * temporalK
        frontWidth = front
        let k = Self.midendKernel, pad = ConvPadding.explicit(top: k / 2, bottom: k / 2, left: 0, right: 0)
        midend = (0..<3).map { i in
            (conv: RectangularConv2d(name: "midend.\(i).conv", inChannels: i == 0 ? front : midK, outChannels: midK,
                               kernelHeight: k, kernelWidth: 1, padding: pad, rng: &rng),
             norm: BatchNorm(name: "midend.\(i).norm", numFeatures: midK, eps: eps))
        }
        featureWidth = front + 3 * midK
        poolNorm = BatchNorm(name: "pool_norm", numFeatures: 2 * (front + 3 * midK), eps: eps)
        dense = Linear(name: "embedding.0", inFeatures: 2 * (front + 3 * midK), outFeatures: units, rng: &rng)
        denseNorm = BatchNorm(name: "embedding.1", numFeatures: units, eps: eps)
        classifier = Linear(name: "classifier", inFeatures: units, outFeatures: max(1, config.numGenres), rng: &rng)
    }

    public var stateEntries: [StateEntry] {
        var entries = inputNorm.stateEntries
        for block in timbral + temporal + midend { entries += block.conv.stateEntries + block.norm.stateEntries }
        return entries + poolNorm.stateEntries + dense.stateEntries + denseNorm.stateEntries + classifier.stateEntries
    }

    /// One worker's buffers, grown to the largest patch seen.
    private final class Scratch {
        /// The patch as (T, F), normalised.
        let input = FloatStorage()
        /// h as (D, T): the front end's rows, then m1, r2, r3.
        let features = FloatStorage()
        let columns = FloatStorage()
        let product = FloatStorage()
    }

    private struct Affine: @unchecked Sendable {
        let scale: UnsafePointer<Float>
        let shift: UnsafePointer<Float>
    }

    // x is (B, 1, F, T); logits (B, numGenres), embeddings (B, embeddingDim)
    public func forward(_ x: Tensor, training: Bool) throws(ShapeError) -> ModelOutput {
        guard !training else { throw Self.inferenceOnly("training") }
        guard x.rank == 4, x.shape[1] == 1, x.shape[2] == mels, x.shape[0] > 0, x.shape[3] > 0 else {
            throw ShapeError("MusicnnNetwork: expected input (batch, 1, \(mels) mel bands, frames), got shape \(x.shape)")
        }
        let B = x.shape[0], T = x.shape[3], F = mels
        for block in timbral + temporal { try block.conv.checkInput(channels: 1, height: T, width: F) }
        try midend[0].conv.checkInput(channels: frontWidth, height: T, width: 1)

        // The affine maps of every evaluation BatchNorm, made once here (each in its own layer's
        // memory) and only read by the workers.
        let (inScale, inShift) = inputNorm.evaluationAffine()
        let a = inScale[0], c = inShift[0]
        let timbralMaps = timbral.map { b in let m = b.norm.evaluationAffine(); return Affine(scale: m.scale, shift: m.shift) }
        let temporalMaps = temporal.map { b in let m = b.norm.evaluationAffine(); return Affine(scale: m.scale, shift: m.shift) }
        let midendMaps = midend.map { b in let m = b.norm.evaluationAffine(); return Affine(scale: m.scale, shift: m.shift) }

        let workers = max(1, min(Parallel.workerCount, B))
        var columns = 0, product = 0
        for block in timbral + temporal {
            let s = block.conv.scratchSize(height: T, width: F)
            columns = max(columns, s.columns); product = max(product, s.product)
        }
        for block in midend { columns = max(columns, block.conv.scratchSize(height: T, width: 1).columns) }
        while scratch.count < workers { scratch.append(Scratch()) }
        let D = featureWidth, midK = midend[0].conv.outChannels
        let buffers = scratch.prefix(workers).map { s in
            (input: SendablePointer(s.input.reserve(T * F)), features: SendablePointer(s.features.reserve(D * T)),
             columns: SendablePointer(s.columns.reserve(columns)), product: SendablePointer(s.product.reserve(product)))
        }
        let pooledOut = SendablePointer(pooled.reserve(B * 2 * D))
        let blocks = (timbral: timbral.map { $0.conv }, temporal: temporal.map { $0.conv }, midend: midend.map { $0.conv })
        BLASThreads.single()
        x.data.withUnsafeBufferPointer { xb in
            let source = SendablePointer(UnsafeMutablePointer(mutating: xb.baseAddress!))
            Parallel.forEachChunk(B, chunks: workers) { worker, run in
                let buf = buffers[worker]
                let xt = buf.input.pointer, h = buf.features.pointer
                for b in run {
                    // (F, T) → (T, F), through the input BatchNorm.
                    let patch = source.pointer + b * F * T
                    for f in 0..<F {
                        for t in 0..<T { xt[t * F + f] = patch[f * T + t] * a + c }
                    }
                    var row = 0
                    for (conv, map) in zip(blocks.timbral + blocks.temporal, timbralMaps + temporalMaps) {
                        conv.forward(sample: xt, height: T, width: F, into: h + row * T, columns: buf.columns.pointer,
                                     product: buf.product.pointer,
                                     map: ConvOutputMap(relu: true, scale: map.scale, shift: map.shift, maxOverWidth: true))
                        row += conv.outChannels
                    }
                    // The mid-end: (C, T, 1) planes in, (K, T) rows out, residuals from the second on.
                    var from = 0
                    for (i, conv) in blocks.midend.enumerated() {
                        let out = h + row * T
                        conv.forward(sample: h + from * T, height: T, width: 1, into: out, columns: buf.columns.pointer,
                                     product: buf.product.pointer,
                                     map: ConvOutputMap(relu: true, scale: midendMaps[i].scale, shift: midendMaps[i].shift))
                        if i > 0 {
                            let previous = h + from * T
                            for j in 0..<(midK * T) { out[j] += previous[j] }
                        }
                        from = row
                        row += midK
                    }
                    // Max and mean over time of each feature, interleaved as TF flattens (D, 2).
                    let p = pooledOut.pointer + b * 2 * D
                    for d in 0..<D {
                        let v = h + d * T
                        var m = v[0], sum: Double = 0
                        for t in 0..<T { m = max(m, v[t]); sum += Double(v[t]) }
                        p[2 * d] = m
                        p[2 * d + 1] = Float(sum / Double(T))
                    }
                }
            }
        }
        var y = try poolNorm.forward(Activation(data: pooledOut.pointer, shape: ActivationShape(batch: B, channels: 2 * D)),
                                     training: false)
        y = try dense.forward(y, training: false)
        for i in 0..<y.shape.count { y.data[i] = max(y.data[i], 0) }
        let embeddings = try denseNorm.forward(y, training: false)
        let logits = try classifier.forward(embeddings, training: false)
        return ModelOutput(logits: logits.tensor([B, classifier.outFeatures]),
                           embeddings: embeddings.tensor([B, dense.outFeatures]))
    }

    public func backward(_ dLogits: Tensor) throws(ShapeError) { throw Self.inferenceOnly("backward") }
    public func backward(_ dLogits: Tensor, dEmbeddings: Tensor) throws(ShapeError) { throw Self.inferenceOnly("backward") }

    public var stageNames: [String] { [] }

    public func forward(_ x: Tensor, tappingStage stage: Int) throws(ShapeError) -> TappedOutput {
        throw Self.inferenceOnly("Grad-CAM (explain)")
    }

    public func backwardToTap(_ dLogits: Tensor) throws(ShapeError) -> Tensor {
        throw Self.inferenceOnly("Grad-CAM (explain)")
    }

    private static func inferenceOnly(_ what: String) -> ShapeError {
        ShapeError("MusicnnNetwork: \(what) is not available: an imported musicnn model runs inference only (tag, predict, embed); train or fine-tune a Timbre model instead")
    }
}
