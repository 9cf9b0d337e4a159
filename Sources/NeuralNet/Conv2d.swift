import COpenBLAS

/// `nn.Conv2d` with a square kernel, by im2col and one `cblas_sgemm` over the whole batch.
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

    private let workspace: ConvWorkspace
    private let output = FloatStorage()
    private let inputGradient = FloatStorage()
    private var input: Activation?
    private var outputShape = ActivationShape(batch: 0, channels: 0)

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

    /// Samples per GEMM: enough columns for an efficient GEMM while the column matrix
    /// (C·k·k × G·P floats) stays near 4 MB, in cache, instead of spanning the whole batch.
    private func groupSize(batch: Int, plane P: Int) -> Int {
        max(1, min(batch, (1 << 20) / max(1, columnRows * P)))
    }

    // inp is (B,C,H,W), out is (B,K,H',W') with H' = ⌊(H+2p−k)/s⌋+1
    public func forward(_ inp: Activation, training: Bool = false) throws(ShapeError) -> Activation {
        let s = inp.shape
        guard s.channels == inChannels else {
            throw ShapeError("Conv2d \(weight.name): expected \(inChannels) input channels, got input \(s)")
        }
        let outH = geometry.outputSize(s.height), outW = geometry.outputSize(s.width)
        guard outH > 0, outW > 0, s.batch > 0 else {
            throw ShapeError("Conv2d \(weight.name): input \(s) is too small for kernel \(geometry.kernel), stride \(geometry.stride), padding \(geometry.padding)")
        }
        BLASThreads.configure()
        let K = outChannels, R = columnRows, P = outH * outW
        outputShape = ActivationShape(batch: s.batch, channels: K, height: outH, width: outW)
        input = inp
        let out = output.reserve(outputShape.count)
        let G = groupSize(batch: s.batch, plane: P)
        let col = workspace.columns.reserve(R * G * P)
        let direct = G == 1 || P >= Self.directPlane
        let product = direct ? out : workspace.product.reserve(K * G * P)
        weight.value.data.withUnsafeBufferPointer { w in
            for b0 in stride(from: 0, to: s.batch, by: G) {
                let samples = b0..<min(s.batch, b0 + G), n = samples.count * P
                im2colForward(col, inp.data, s, geometry, outH: outH, outW: outW, samples: samples)
                if direct {
                    // A sample's (K, P) product is already its NCHW output.
                    for b in samples {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(K), Int32(P), Int32(R),
                                    1, w.baseAddress, Int32(R), col + (b - b0) * P, Int32(n), 0, out + b * K * P, Int32(P))
                    }
                } else {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(K), Int32(n), Int32(R),
                                1, w.baseAddress, Int32(R), col, Int32(n), 0, product, Int32(n))
                    permuteBatchChannel(out + b0 * K * P, product, batch: samples.count, channels: K, plane: P,
                                        toBatchMajor: true)
                }
            }
        }
        if let bias {
            bias.value.data.withUnsafeBufferPointer { bp in
                for row in 0..<(s.batch * K) {
                    let v = bp[row % K], y = out + row * P
                    for p in 0..<P { y[p] += v }
                }
            }
        }
        return Activation(data: out, shape: outputShape)
    }

    // dout is (B,K,H',W'), dinp is (B,C,H,W); per group: dW += dout·colᵀ, dcol = Wᵀ·dout, dinp = col2im(dcol)
    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let inp = input else { throw backwardBeforeForward("Conv2d \(weight.name)") }
        let s = inp.shape
        let K = outChannels, R = columnRows, P = outputShape.planeSize
        let dinp = inputGradient.reserve(s.count)
        if let bias {
            bias.grad.data.withUnsafeMutableBufferPointer { db in
                for row in 0..<(s.batch * K) {
                    var sum: Float = 0
                    let dy = dout + row * P
                    for p in 0..<P { sum += dy[p] }
                    db[row % K] += sum
                }
            }
        }
        let G = groupSize(batch: s.batch, plane: P)
        let col = workspace.columns.reserve(R * G * P)
        let direct = G == 1 || P >= Self.directPlane
        let product = direct ? dout : workspace.product.reserve(K * G * P)
        if !computesInputGradient { dinp.update(repeating: 0, count: s.count) }
        weight.grad.data.withUnsafeMutableBufferPointer { dw in
            weight.value.data.withUnsafeBufferPointer { w in
                for b0 in stride(from: 0, to: s.batch, by: G) {
                    let samples = b0..<min(s.batch, b0 + G), n = samples.count * P
                    im2colForward(col, inp.data, s, geometry, outH: outputShape.height, outW: outputShape.width,
                                  samples: samples)
                    // The group's output gradient as (pointer, leading dimension) blocks with their
                    // column blocks: one per sample over dout itself, or one channel-major copy.
                    let blocks = direct ? samples.count : 1
                    if !direct {
                        permuteBatchChannel(product, dout + b0 * K * P, batch: samples.count, channels: K, plane: P,
                                            toBatchMajor: false)
                    }
                    func block(_ i: Int) -> (dy: UnsafeMutablePointer<Float>, ld: Int, col: UnsafeMutablePointer<Float>, width: Int) {
                        direct ? (dout + (b0 + i) * K * P, P, col + i * P, P) : (product, n, col, n)
                    }
                    for i in 0..<blocks {
                        let part = block(i)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(K), Int32(R), Int32(part.width),
                                    1, part.dy, Int32(part.ld), part.col, Int32(n), 1, dw.baseAddress, Int32(R))
                    }
                    guard computesInputGradient else { continue }
                    // The column matrix is no longer needed: it becomes dcol.
                    for i in 0..<blocks {
                        let part = block(i)
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(R), Int32(part.width), Int32(K),
                                    1, w.baseAddress, Int32(R), part.dy, Int32(part.ld), 0, part.col, Int32(n))
                    }
                    im2colBackward(dinp, col, s, geometry, outH: outputShape.height, outW: outputShape.width,
                                   samples: samples)
                }
            }
        }
        return dinp
    }
}
