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
        let K = outChannels, R = columnRows, P = outH * outW, BP = s.batch * P
        outputShape = ActivationShape(batch: s.batch, channels: K, height: outH, width: outW)
        input = inp
        let out = output.reserve(outputShape.count)
        let col = workspace.columns.reserve(R * BP)
        im2colForward(col, inp.data, s, geometry, outH: outH, outW: outW)
        weight.value.data.withUnsafeBufferPointer { w in
            if s.batch == 1 {
                // Channel-major and batch-major coincide: write straight into the output.
                var beta: Float = 0
                if let bias {
                    bias.value.data.withUnsafeBufferPointer { bp in
                        for k in 0..<K { (out + k * P).update(repeating: bp[k], count: P) }
                    }
                    beta = 1
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(K), Int32(P), Int32(R),
                            1, w.baseAddress, Int32(R), col, Int32(P), beta, out, Int32(P))
            } else {
                let product = workspace.product.reserve(K * BP)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(K), Int32(BP), Int32(R),
                            1, w.baseAddress, Int32(R), col, Int32(BP), 0, product, Int32(BP))
                if let bias {
                    bias.value.data.withUnsafeBufferPointer { bp in
                        permuteBatchChannel(out, product, batch: s.batch, channels: K, plane: P,
                                            toBatchMajor: true, bias: bp.baseAddress)
                    }
                } else {
                    permuteBatchChannel(out, product, batch: s.batch, channels: K, plane: P, toBatchMajor: true)
                }
            }
        }
        return Activation(data: out, shape: outputShape)
    }

    // dout is (B,K,H',W'), dinp is (B,C,H,W); dW += dout·colᵀ, dcol = Wᵀ·dout, dinp = col2im(dcol)
    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let inp = input else { throw backwardBeforeForward("Conv2d \(weight.name)") }
        let s = inp.shape
        let K = outChannels, R = columnRows, P = outputShape.planeSize, BP = s.batch * P
        let dinp = inputGradient.reserve(s.count)
        // The output gradient, channel-major (K, B·P).
        let doutT: UnsafeMutablePointer<Float>
        if s.batch == 1 {
            doutT = dout
        } else {
            doutT = workspace.product.reserve(K * BP)
            permuteBatchChannel(doutT, dout, batch: s.batch, channels: K, plane: P, toBatchMajor: false)
        }
        if let bias {
            bias.grad.data.withUnsafeMutableBufferPointer { db in
                for k in 0..<K {
                    var sum: Float = 0
                    let row = doutT + k * BP
                    for i in 0..<BP { sum += row[i] }
                    db[k] += sum
                }
            }
        }
        let col = workspace.columns.reserve(R * BP)
        im2colForward(col, inp.data, s, geometry, outH: outputShape.height, outW: outputShape.width)
        weight.grad.data.withUnsafeMutableBufferPointer { dw in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(K), Int32(R), Int32(BP),
                        1, doutT, Int32(BP), col, Int32(BP), 1, dw.baseAddress, Int32(R))
        }
        guard computesInputGradient else {
            dinp.update(repeating: 0, count: s.count)
            return dinp
        }
        weight.value.data.withUnsafeBufferPointer { w in
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(R), Int32(BP), Int32(K),
                        1, w.baseAddress, Int32(R), doutT, Int32(BP), 0, col, Int32(BP))
        }
        im2colBackward(dinp, col, s, geometry, outH: outputShape.height, outW: outputShape.width)
        return dinp
    }
}
