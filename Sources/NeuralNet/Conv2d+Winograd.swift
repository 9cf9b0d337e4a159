import COpenBLAS

/// The output tile of a Winograd convolution: F(2×2, 3×3) (`Winograd`) or F(4×4, 3×3)
/// (`Winograd4`), both with the same data layout, ξ running over the input tile's positions.
enum WinogradTiling {
    case two, four

    /// The tiling with fewer GEMM multiplies on an H × W plane (36 per 4×4 tile, 16 per 2×2
    /// tile): F(4×4, 3×3) but for planes so small that its padded tiles waste more than it saves.
    init(height H: Int, width W: Int) {
        let four = Winograd4.tiles(height: H, width: W), two = Winograd.tiles(height: H, width: W)
        self = 36 * four.rows * four.columns < 16 * two.rows * two.columns ? .four : .two
    }

    /// Tile positions ξ: the GEMMs per group of samples.
    var positions: Int { self == .two ? 16 : 36 }

    func tiles(height H: Int, width W: Int) -> (rows: Int, columns: Int) {
        self == .two ? Winograd.tiles(height: H, width: W) : Winograd4.tiles(height: H, width: W)
    }

    func inputScratch(height H: Int, width W: Int) -> Int {
        self == .two ? Winograd.inputScratch(height: H, width: W) : Winograd4.inputScratch(height: H, width: W)
    }

    func transformWeights(_ u: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>, outChannels K: Int,
                          inChannels C: Int, transposed: Bool) {
        switch self {
        case .two: Winograd.transformWeights(u, w, outChannels: K, inChannels: C, transposed: transposed)
        case .four: Winograd4.transformWeights(u, w, outChannels: K, inChannels: C, transposed: transposed)
        }
    }

    func transformInput(_ v: UnsafeMutablePointer<Float>, stride: Int, _ inp: UnsafePointer<Float>,
                        _ shape: ActivationShape, samples: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
        switch self {
        case .two: Winograd.transformInput(v, stride: stride, inp, shape, samples: samples, scratch: scratch)
        case .four: Winograd4.transformInput(v, stride: stride, inp, shape, samples: samples, scratch: scratch)
        }
    }

    func transformOutput(_ out: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, stride: Int,
                         _ shape: ActivationShape, outChannels K: Int, samples: Range<Int>, epilogue: ChannelEpilogue) {
        switch self {
        case .two: Winograd.transformOutput(out, m, stride: stride, shape, outChannels: K, samples: samples, epilogue: epilogue)
        case .four: Winograd4.transformOutput(out, m, stride: stride, shape, outChannels: K, samples: samples, epilogue: epilogue)
        }
    }
}

/// Conv2d's Winograd path for 3×3 convolutions with stride 1 and padding 1. Per worker and group
/// of samples: V = Bᵀ d B, then one GEMM per tile position ξ, then back. Evaluation takes the
/// tiling `WinogradTiling(height:width:)` chooses (F(4×4, 3×3) on all but the smallest planes),
/// with the transformed weights kept between calls; training (forward, input and weight
/// gradients) runs on F(2×2, 3×3), whose smaller rounding AdamW's steps do not amplify.
extension Conv2d {
    var runsWinograd: Bool { usesWinograd && geometry == ConvGeometry(kernel: 3, stride: 1, padding: 1) }

    /// The tiling of an evaluation pass on an H × W plane.
    func evaluationTiling(height H: Int, width W: Int) -> WinogradTiling {
        allowsLargeWinogradTiles ? WinogradTiling(height: H, width: W) : .two
    }

    /// Workers and samples per group of the weight gradient (F(2×2, 3×3), one fixed run of
    /// samples per worker): the transformed tiles of a group (16 × channels × tiles) stay near
    /// `columnBudget`.
    func winogradSplit(_ s: ActivationShape, channels: Int) -> (workers: Int, group: Int) {
        let (tr, tc) = Winograd.tiles(height: s.height, width: s.width)
        let workers = max(1, min(Parallel.workerCount, s.batch))
        let perWorker = (s.batch + workers - 1) / workers
        let most = max(1, min(perWorker, Self.columnBudget / max(1, 16 * channels * tr * tc)))
        let groups = (perWorker + most - 1) / most
        return (workers, (perWorker + groups - 1) / groups)
    }

    /// Workers and parts of the batch for a forward pass (or an input gradient): parts of equal
    /// size whose transformed tiles stay near `columnBudget`, at least one per worker, taken by
    /// the workers as they come free (`Parallel.forEachPart`).
    func winogradParts(_ s: ActivationShape, channels: Int, tiling: WinogradTiling) -> (workers: Int, parts: Int, group: Int) {
        let (tr, tc) = tiling.tiles(height: s.height, width: s.width)
        let workers = max(1, min(Parallel.workerCount, s.batch))
        let most = max(1, Self.columnBudget / max(1, tiling.positions * channels * tr * tc))
        let parts = min(s.batch, max(workers, (s.batch + most - 1) / most))
        return (workers, parts, (s.batch + parts - 1) / parts)
    }

    /// out (B, K, H, W) = the 3×3 convolution (stride 1, padding 1) of inp (B, C, H, W) by this
    /// layer's weights, or with `transposed` by their 180° rotation with C and K swapped (the
    /// input gradient from the output gradient). With `evaluation`, the tiling is
    /// `evaluationTiling` and the transformed weights stay with the layer until its weights
    /// change, at 36/9 times the weights' memory; otherwise the tiling is F(2×2, 3×3) and they
    /// are made again in the shared workspace.
    func winograd(_ inp: Activation, outChannels K: Int, transposed: Bool, into output: UnsafeMutablePointer<Float>,
                  epilogue: ChannelEpilogue, evaluation: Bool = false) {
        let s = inp.shape, C = s.channels
        let tiling = evaluation ? evaluationTiling(height: s.height, width: s.width) : .two, positions = tiling.positions
        let (tr, tc) = tiling.tiles(height: s.height, width: s.width)
        let perSample = tr * tc
        let (workers, parts, G) = winogradParts(s, channels: max(C, K), tiling: tiling)
        let u = SendablePointer(transformedWeights(tiling, outChannels: K, inChannels: C, transposed: transposed,
                                                   keeps: evaluation && !transposed))
        // The matrices of V and of M a little more than a power of two apart, so that their
        // runs do not all fall into the same cache sets; the 16 floats between them also take
        // F(4×4, 3×3)'s four-lane loads past a row's last tile.
        let vStride = C * G * perSample + 16, mStride = K * G * perSample + 16
        let vs = workspace.columns(workers, count: positions * vStride)
        let ms = workspace.products(workers, count: positions * mStride)
        let scratch = workspace.paddedPlanes(workers, count: tiling.inputScratch(height: s.height, width: s.width))
        let out = SendablePointer(output), x = SendablePointer(inp.data)
        let outShape = ActivationShape(batch: s.batch, channels: K, height: s.height, width: s.width)
        Parallel.forEachPart(s.batch, parts: parts, workers: workers) { worker, samples in
            let v = vs[worker].pointer, m = ms[worker].pointer, T = samples.count * perSample
            tiling.transformInput(v, stride: vStride, x.pointer, s, samples: samples, scratch: scratch[worker].pointer)
            for xi in 0..<positions {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(K), Int32(T), Int32(C),
                            1, u.pointer + xi * K * C, Int32(C), v + xi * vStride, Int32(T), 0, m + xi * mStride, Int32(T))
            }
            tiling.transformOutput(out.pointer, m, stride: mStride, outShape, outChannels: K, samples: samples,
                                   epilogue: epilogue)
        }
    }

    /// U for this call: the kept evaluation transform when it is still this version's and
    /// tiling's (made and kept with `keeps`), else made in the shared workspace.
    private func transformedWeights(_ tiling: WinogradTiling, outChannels K: Int, inChannels C: Int, transposed: Bool,
                                    keeps: Bool) -> UnsafeMutablePointer<Float> {
        let count = tiling.positions * K * C
        if keeps, let kept = evaluationTransform, kept.version == weight.version, kept.tiling == tiling {
            return kept.weights.pointer
        }
        let u: UnsafeMutablePointer<Float>
        if keeps {
            let storage = evaluationTransform?.weights ?? FloatStorage()
            u = storage.reserve(count)
            evaluationTransform = (weight.version, tiling, storage)
        } else {
            evaluationTransform = nil
            u = workspace.transformedWeights(count: count)
        }
        weight.value.data.withUnsafeBufferPointer {
            tiling.transformWeights(u, $0.baseAddress!, outChannels: K, inChannels: C, transposed: transposed)
        }
        return u
    }

    /// dW += Gᵀ dU G with dU[ξ] (K × C) = Σ_t dM[ξ][t] · V[ξ][t]ᵀ, dM = A dY Aᵀ per output tile and
    /// V the forward's transformed input tiles. Each worker sums its own dU (worker 0 in place),
    /// added in worker order.
    func winogradWeightGradient(_ inp: Activation, _ dout: UnsafeMutablePointer<Float>) {
        let s = inp.shape, C = s.channels, K = outChannels
        let (tr, tc) = Winograd.tiles(height: s.height, width: s.width)
        let perSample = tr * tc
        let (workers, G) = winogradSplit(s, channels: max(C, K))
        let vStride = C * G * perSample + 16, mStride = K * G * perSample + 16
        let vs = workspace.columns(workers, count: 16 * vStride)
        let ms = workspace.products(workers, count: 16 * mStride)
        let dus = workspace.weightGradients(workers, count: 16 * K * C)
        let scratch = workspace.paddedPlanes(workers, count: max(Winograd.inputScratch(height: s.height, width: s.width),
                                                                 Winograd.gradientScratch(height: s.height, width: s.width)))
        let x = SendablePointer(inp.data), dy = SendablePointer(dout)
        let outShape = outputShape
        Parallel.forEachChunk(s.batch, chunks: workers) { worker, run in
            let v = vs[worker].pointer, m = ms[worker].pointer, du = dus[worker].pointer
            var beta: Float = 0
            for b0 in stride(from: run.lowerBound, to: run.upperBound, by: G) {
                let samples = b0..<min(run.upperBound, b0 + G), T = samples.count * perSample
                Winograd.transformInput(v, stride: vStride, x.pointer, s, samples: samples, scratch: scratch[worker].pointer)
                Winograd.transformOutputGradient(m, stride: mStride, dy.pointer, outShape, samples: samples,
                                                 scratch: scratch[worker].pointer)
                for xi in 0..<16 {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(K), Int32(C), Int32(T),
                                1, m + xi * mStride, Int32(T), v + xi * vStride, Int32(T), beta, du + xi * K * C, Int32(C))
                }
                beta = 1
            }
        }
        let total = dus[0]
        if workers > 1 {
            Parallel.forEachChunk(16 * K * C, grain: 16384) { range in
                for worker in 1..<workers {
                    let part = dus[worker].pointer
                    for i in range { total.pointer[i] += part[i] }
                }
            }
        }
        weight.grad.data.withUnsafeMutableBufferPointer { dw in
            Winograd.accumulateWeightGradient(dw.baseAddress!, total.pointer, outChannels: K, inChannels: C)
        }
    }
}
