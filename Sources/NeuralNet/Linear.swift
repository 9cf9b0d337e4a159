import COpenBLAS

/// `nn.Linear(in, out)`: out = inp·Wᵀ + b, weight (out, in), bias (out); an input (B,C,H,W) is
/// flattened to (B, C·H·W). PyTorch's default initialisation.
public final class Linear: Layer {
    public let inFeatures: Int
    public let outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter?

    private let output = FloatStorage()
    private let inputGradient = FloatStorage()
    private var input: Activation?

    /// `name` is the module path, e.g. `classifier`.
    public init(name: String, inFeatures: Int, outFeatures: Int, bias: Bool = true, rng: inout SeededGenerator) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        var w = Tensor(zeros: [outFeatures, inFeatures])
        DefaultInitialization.fill(&w, fanIn: inFeatures, using: &rng)
        weight = Parameter(name: name + ".weight", value: w)
        if bias {
            var b = Tensor(zeros: [outFeatures])
            DefaultInitialization.fill(&b, fanIn: inFeatures, using: &rng)
            self.bias = Parameter(name: name + ".bias", value: b)
        } else {
            self.bias = nil
        }
    }

    public var stateEntries: [StateEntry] { [.parameter(weight)] + (bias.map { [.parameter($0)] } ?? []) }

    // inp is (B,in), out is (B,out)
    public func forward(_ inp: Activation, training: Bool = false) throws(ShapeError) -> Activation {
        let s = inp.shape
        guard s.sampleSize == inFeatures else {
            throw ShapeError("Linear \(weight.name): expected \(inFeatures) input features, got input \(s)")
        }
        BLASThreads.single()
        input = inp
        let B = s.batch, I = inFeatures, O = outFeatures
        let out = output.reserve(B * O)
        let beta: Float = bias == nil ? 0 : 1
        if let bias {
            bias.value.data.withUnsafeBufferPointer { b in
                for row in 0..<B { (out + row * O).update(from: b.baseAddress!, count: O) }
            }
        }
        let x = SendablePointer(inp.data), y = SendablePointer(out)
        weight.value.data.withUnsafeBufferPointer { wb in
            let w = SendablePointer(UnsafeMutablePointer(mutating: wb.baseAddress!))
            Self.forEachRowBlock(B, work: B * O * I) { rows in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows.count), Int32(O), Int32(I),
                            1, x.pointer + rows.lowerBound * I, Int32(I), w.pointer, Int32(I), beta,
                            y.pointer + rows.lowerBound * O, Int32(O))
            }
        }
        return Activation(data: out, shape: ActivationShape(batch: B, channels: O))
    }

    // dout is (B,out), dinp is (B,in): dW += doutᵀ·inp, db += Σ_b dout, dinp = dout·W
    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let inp = input else { throw backwardBeforeForward("Linear \(weight.name)") }
        let B = inp.shape.batch, I = inFeatures, O = outFeatures
        let dinp = inputGradient.reserve(B * I)
        BLASThreads.single()
        let dy = SendablePointer(dout), x = SendablePointer(inp.data), dx = SendablePointer(dinp)
        weight.grad.data.withUnsafeMutableBufferPointer { dwb in
            let dw = SendablePointer(dwb.baseAddress!)
            // Rows o of dW are independent: each block is doutᵀ[o, :]·inp.
            Self.forEachRowBlock(O, work: B * O * I) { rows in
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(rows.count), Int32(I), Int32(B),
                            1, dy.pointer + rows.lowerBound, Int32(O), x.pointer, Int32(I), 1,
                            dw.pointer + rows.lowerBound * I, Int32(I))
            }
        }
        if let bias {
            bias.grad.data.withUnsafeMutableBufferPointer { db in
                for row in 0..<B {
                    for o in 0..<O { db[o] += dout[row * O + o] }
                }
            }
        }
        weight.value.data.withUnsafeBufferPointer { wb in
            let w = SendablePointer(UnsafeMutablePointer(mutating: wb.baseAddress!))
            Self.forEachRowBlock(B, work: B * O * I) { rows in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows.count), Int32(I), Int32(O),
                            1, dy.pointer + rows.lowerBound * O, Int32(O), w.pointer, Int32(I), 0,
                            dx.pointer + rows.lowerBound * I, Int32(I))
            }
        }
        return dinp
    }

    /// Multiply-adds from which a product is split by rows across the workers: below, one
    /// single-threaded GEMM beats the fan-out.
    static let parallelWork = 1 << 23

    /// `body` on fixed blocks of `0..<rows`, one per worker when `work` multiply-adds are worth it.
    private static func forEachRowBlock(_ rows: Int, work: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let workers = work >= parallelWork ? min(Parallel.workerCount, rows) : 1
        Parallel.forEachChunk(rows, chunks: workers) { _, range in body(range) }
    }
}
