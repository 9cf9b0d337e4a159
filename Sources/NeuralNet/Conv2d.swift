import COpenBLAS

/// `nn.Conv2d` with a square kernel, by im2col and `cblas_sgemm`, or for 3×3 kernels with stride 1
/// and padding 1 by Winograd's F(4×4, 3×3) or F(2×2, 3×3) (`Conv2d+Winograd.swift`): the batch is split across
/// the workers, each converting and multiplying the samples it takes with single-threaded BLAS.
/// Weight (K, C, k, k), optional bias (K); PyTorch's default initialisation.
public final class Conv2d: Layer {
    public let inChannels: Int
    public let outChannels: Int
    public let geometry: ConvGeometry
    public let weight: Parameter
    public let bias: Parameter?
    /// False for a layer fed by the network input: backward then skips the input gradient and
    /// returns zeros.
    public var computesInputGradient = true
    /// Whether a 3×3 convolution with stride 1 and padding 1 runs by Winograd's minimal
    /// filtering: forward, input and weight gradients.
    public var usesWinograd = true
    /// With `usesWinograd`: whether evaluation may take F(4×4, 3×3) (`Winograd4`, 4× fewer
    /// multiplies than im2col), chosen per plane size; otherwise, and always in training,
    /// F(2×2, 3×3) (`Winograd`, 2.25× fewer).
    public var allowsLargeWinogradTiles = true

    let workspace: ConvWorkspace
    /// The forward pass's Winograd-transformed weights in evaluation, for the weights' version
    /// and tiling they were made from (`Conv2d+Winograd.swift`).
    var evaluationTransform: (version: Int, tiling: WinogradTiling, weights: FloatStorage)?
    let output = FloatStorage()
    private let inputGradient = FloatStorage()
    private var input: Activation?
    private(set) var outputShape = ActivationShape(batch: 0, channels: 0)

    /// `name` is the module path, e.g. `layers.0.0.conv1`.
    public init(name: String, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1,
                padding: Int = 0, bias: Bool = true, rng: inout SeededGenerator,
                workspace: ConvWorkspace = ConvWorkspace()) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        geometry = ConvGeometry(kernel: kernelSize, stride: stride, padding: padding)
        self.workspace = workspace
        let fanIn = inChannels * kernelSize * kernelSize
        var w = Tensor(zeros: [outChannels, inChannels, kernelSize, kernelSize])
        DefaultInitialization.fill(&w, fanIn: fanIn, using: &rng)
        weight = Parameter(name: name + ".weight", value: w)
        if bias {
            var b = Tensor(zeros: [outChannels])
            DefaultInitialization.fill(&b, fanIn: fanIn, using: &rng)
            self.bias = Parameter(name: name + ".bias", value: b)
        } else {
            self.bias = nil
        }
    }

    public var stateEntries: [StateEntry] { [.parameter(weight)] + (bias.map { [.parameter($0)] } ?? []) }

    /// Rows of the column matrix, C·k·k.
    private var columnRows: Int { inChannels * geometry.kernel * geometry.kernel }

    /// From this plane size (H'·W') up, one GEMM per sample writes NCHW directly and no
    /// batch/channel transposition is needed.
    static let directPlane = 256

    /// Floats of one worker's column matrix (or Winograd's transformed tiles): it stays in cache
    /// while its GEMM reads it.
    static let columnBudget = 1 << 19

    /// How a batch is cut: one fixed run of samples per worker, and groups of samples inside it
    /// that share a GEMM (one sample each on the direct path).
    private struct Split {
        let workers: Int
        let group: Int
        let direct: Bool
        /// The forward pass's parts of the batch, taken by the workers as they come free
        /// (`Parallel.forEachPart`): one sample each on the direct path, else equal groups of
        /// at most `partGroup` samples, at least one per worker.
        let parts: Int
        let partGroup: Int

        init(batch: Int, plane P: Int, columnRows R: Int) {
            workers = max(1, min(Parallel.workerCount, batch))
            let perWorker = (batch + workers - 1) / workers
            let most = max(1, min(perWorker, Conv2d.columnBudget / max(1, R * P)))
            direct = most == 1 || P >= Conv2d.directPlane
            // Equal groups rather than full ones and a remainder.
            let groups = (perWorker + most - 1) / most
            group = direct ? 1 : (perWorker + groups - 1) / groups
            parts = direct ? batch : min(batch, max(workers, (batch + most - 1) / most))
            partGroup = (batch + parts - 1) / parts
        }
    }

    // inp is (B,C,H,W), out is (B,K,H',W') with H' = ⌊(H+2p−k)/s⌋+1; per worker and group of
    // samples: col = im2col(inp), out = W·col (+ bias)
    public func forward(_ inp: Activation, training: Bool = false) throws(ShapeError) -> Activation {
        try withOptionalPointer(bias?.value.data) { (b) throws(ShapeError) in
            try forward(inp, epilogue: ChannelEpilogue(shift: b), training: training)
        }
    }

    /// Evaluation's conv → `norm` (running statistics) → ReLU (with `relu`) in one pass over every
    /// sample's output, the same values as the three layers one after the other. `norm` is left
    /// without a forward of its own: neither layer's backward may follow.
    public func forwardEvaluation(_ inp: Activation, normalizedBy norm: BatchNorm, relu: Bool) throws(ShapeError) -> Activation {
        guard norm.numFeatures == outChannels, bias == nil else {
            throw ShapeError("Conv2d \(weight.name): cannot fold \(norm.weight.name) (\(norm.numFeatures) channels) into a convolution with \(outChannels) channels\(bias == nil ? "" : " and a bias")")
        }
        let (scale, shift) = norm.evaluationAffine()
        let out = try forward(inp, epilogue: ChannelEpilogue(scale: scale, shift: shift, relu: relu), training: false)
        input = nil
        return out
    }

    private func forward(_ inp: Activation, epilogue: ChannelEpilogue, training: Bool) throws(ShapeError) -> Activation {
        let s = inp.shape
        guard s.channels == inChannels else {
            throw ShapeError("Conv2d \(weight.name): expected \(inChannels) input channels, got input \(s)")
        }
        let outH = geometry.outputSize(s.height), outW = geometry.outputSize(s.width)
        guard outH > 0, outW > 0, s.batch > 0 else {
            throw ShapeError("Conv2d \(weight.name): input \(s) is too small for kernel \(geometry.kernel), stride \(geometry.stride), padding \(geometry.padding)")
        }
        BLASThreads.single()
        let K = outChannels, R = columnRows, P = outH * outW
        outputShape = ActivationShape(batch: s.batch, channels: K, height: outH, width: outW)
        input = inp
        if runsWinograd {
            winograd(inp, outChannels: outChannels, transposed: false, into: output.reserve(outputShape.count),
                     epilogue: epilogue, evaluation: !training)
            return Activation(data: output.pointer, shape: outputShape)
        }
        let split = Split(batch: s.batch, plane: P, columnRows: R)
        let G = split.partGroup, direct = split.direct
        let cols = workspace.columns(split.workers, count: R * G * P)
        let products = direct ? cols : workspace.products(split.workers, count: K * G * P)
        let out = SendablePointer(output.reserve(outputShape.count)), x = SendablePointer(inp.data)
        let geometry = geometry
        weight.value.data.withUnsafeBufferPointer { wb in
            let w = SendablePointer(UnsafeMutablePointer(mutating: wb.baseAddress!))
            Parallel.forEachPart(s.batch, parts: split.parts, workers: split.workers) { worker, samples in
                let col = cols[worker].pointer, product = products[worker].pointer, out = out.pointer
                let b0 = samples.lowerBound, n = samples.count * P
                im2colForward(col, x.pointer, s, geometry, outH: outH, outW: outW, samples: samples)
                if direct {
                    // A sample's (K, P) product is already its NCHW output.
                    let y = out + b0 * K * P
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(K), Int32(P), Int32(R),
                                1, w.pointer, Int32(R), col, Int32(P), 0, y, Int32(P))
                    if !epilogue.isIdentity {
                        for k in 0..<K { epilogue.apply(y + k * P, channel: k, count: P) }
                    }
                } else {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(K), Int32(n), Int32(R),
                                1, w.pointer, Int32(R), col, Int32(n), 0, product, Int32(n))
                    permuteBatchChannel(out + b0 * K * P, product, batch: samples.count, channels: K,
                                        plane: P, toBatchMajor: true, epilogue: epilogue)
                }
            }
        }
        return Activation(data: out.pointer, shape: outputShape)
    }

    // dout is (B,K,H',W'), dinp is (B,C,H,W); per worker and group: dW += dout·colᵀ,
    // dcol = Wᵀ·dout, dinp = col2im(dcol). Workers after the first sum dW in their own buffer,
    // added in worker order at the end.
    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let inp = input else { throw backwardBeforeForward("Conv2d \(weight.name)") }
        BLASThreads.single()
        let s = inp.shape
        let K = outChannels, R = columnRows, P = outputShape.planeSize
        let outH = outputShape.height, outW = outputShape.width
        let dinp = SendablePointer(inputGradient.reserve(s.count)), dy = SendablePointer(dout)
        if let bias { accumulateBiasGradient(bias, dout, batch: s.batch, plane: P) }
        if !computesInputGradient { dinp.pointer.update(repeating: 0, count: s.count) }
        if runsWinograd {
            winogradWeightGradient(inp, dout)
            // The input gradient is the 3×3 convolution of dout by the rotated kernels.
            if computesInputGradient {
                winograd(Activation(data: dout, shape: outputShape), outChannels: inChannels, transposed: true,
                         into: dinp.pointer, epilogue: ChannelEpilogue())
            }
            return dinp.pointer
        }
        let split = Split(batch: s.batch, plane: P, columnRows: R)
        let G = split.group, direct = split.direct
        let cols = workspace.columns(split.workers, count: R * G * P)
        let products = direct ? cols : workspace.products(split.workers, count: K * G * P)
        let partials = workspace.weightGradients(split.workers, count: K * R)
        let x = SendablePointer(inp.data), geometry = geometry, inputGradient = computesInputGradient
        weight.grad.data.withUnsafeMutableBufferPointer { dwb in
            weight.value.data.withUnsafeBufferPointer { wb in
                let dw = SendablePointer(dwb.baseAddress!), w = SendablePointer(UnsafeMutablePointer(mutating: wb.baseAddress!))
                Parallel.forEachChunk(s.batch, chunks: split.workers) { worker, run in
                    let col = cols[worker].pointer, product = products[worker].pointer
                    // Worker 0 accumulates into the gradient itself, the others from zero.
                    let dwTarget = worker == 0 ? dw.pointer : partials[worker].pointer
                    var beta: Float = worker == 0 ? 1 : 0
                    for b0 in stride(from: run.lowerBound, to: run.upperBound, by: G) {
                        let samples = b0..<min(run.upperBound, b0 + G), n = samples.count * P
                        im2colForward(col, x.pointer, s, geometry, outH: outH, outW: outW, samples: samples)
                        // The group's output gradient as (K, n) with leading dimension n: the
                        // sample's own NCHW block on the direct path, else a channel-major copy.
                        let g: UnsafeMutablePointer<Float>
                        if direct {
                            g = dy.pointer + b0 * K * P
                        } else {
                            permuteBatchChannel(product, dy.pointer + b0 * K * P, batch: samples.count, channels: K,
                                                plane: P, toBatchMajor: false)
                            g = product
                        }
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(K), Int32(R), Int32(n),
                                    1, g, Int32(n), col, Int32(n), beta, dwTarget, Int32(R))
                        beta = 1
                        guard inputGradient else { continue }
                        // The column matrix is no longer needed: it becomes dcol.
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(R), Int32(n), Int32(K),
                                    1, w.pointer, Int32(R), g, Int32(n), 0, col, Int32(n))
                        im2colBackward(dinp.pointer, col, s, geometry, outH: outH, outW: outW, samples: samples)
                    }
                }
                let workers = split.workers
                guard workers > 1 else { return }
                Parallel.forEachChunk(K * R, grain: 16384) { range in
                    for worker in 1..<workers {
                        let part = partials[worker].pointer
                        for i in range { dw.pointer[i] += part[i] }
                    }
                }
            }
        }
        return dinp.pointer
    }

    /// dbias[k] += Σ_b Σ_p dout[b,k,p], planes added in batch order.
    private func accumulateBiasGradient(_ bias: Parameter, _ dout: UnsafeMutablePointer<Float>, batch B: Int, plane P: Int) {
        let K = outChannels, dy = SendablePointer(dout)
        bias.grad.data.withUnsafeMutableBufferPointer { dbb in
            let db = SendablePointer(dbb.baseAddress!)
            Parallel.forEachChunk(K, grain: max(1, 16384 / max(1, B * P))) { channels in
                for k in channels {
                    for b in 0..<B {
                        var sum: Float = 0
                        let plane = dy.pointer + (b * K + k) * P
                        for p in 0..<P { sum += plane[p] }
                        db.pointer[k] += sum
                    }
                }
            }
        }
    }
}

/// `body` with a pointer to the array's elements, or nil for no array.
func withOptionalPointer<R, E: Error>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) throws(E) -> R) throws(E) -> R {
    guard let array else { return try body(nil) }
    return try array.withUnsafeBufferPointer { (b) throws(E) -> R in try body(b.baseAddress) }
}
