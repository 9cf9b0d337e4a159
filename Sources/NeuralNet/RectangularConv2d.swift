import COpenBLAS

/// Zero padding of a stride-1 convolution on each side of the plane, as TensorFlow spells it:
/// `valid` pads nothing; `same` pads k − 1 in all per axis, ⌊(k − 1)/2⌋ before and the rest after
/// (the extra row or column of an even kernel at the bottom or right, as `tf.nn.conv2d`), so the
/// output has the input's size; `explicit` pads as given (`tf.pad` before a `valid` convolution).
public enum ConvPadding: Sendable, Equatable {
    case valid
    case same
    case explicit(top: Int, bottom: Int, left: Int, right: Int)

    /// (top, bottom, left, right) for a kernel of `kernelHeight` × `kernelWidth`.
    public func pads(kernelHeight kh: Int, kernelWidth kw: Int) -> (top: Int, bottom: Int, left: Int, right: Int) {
        switch self {
        case .valid: return (0, 0, 0, 0)
        case .same: return ((kh - 1) / 2, kh - 1 - (kh - 1) / 2, (kw - 1) / 2, kw - 1 - (kw - 1) / 2)
        case let .explicit(top, bottom, left, right): return (top, bottom, left, right)
        }
    }
}

/// What a `RectangularConv2d` does to each output channel right after its GEMM, in this order:
/// + bias, then max(·, 0) with `relu`, then ·scale[k] + shift[k] (an evaluation BatchNorm after the
/// activation, as TensorFlow models often place it), then with `maxOverWidth` the maximum over the
/// whole width (a max-pool spanning every column, e.g. all mel bands), which leaves (K, H', 1).
public struct ConvOutputMap: @unchecked Sendable {
    public var relu: Bool
    public var scale: UnsafePointer<Float>?
    public var shift: UnsafePointer<Float>?
    public var maxOverWidth: Bool

    public init(relu: Bool = false, scale: UnsafePointer<Float>? = nil, shift: UnsafePointer<Float>? = nil,
                maxOverWidth: Bool = false) {
        self.relu = relu; self.scale = scale; self.shift = shift; self.maxOverWidth = maxOverWidth
    }
}

/// A stride-1 2-D convolution with a kh × kw kernel (square or not) and TensorFlow padding
/// (`ConvPadding`), by im2col and one `cblas_sgemm` per sample, for inference: it has no backward
/// (the networks that use it are imported, not trained, in Timbre). `Conv2d` stays the trainable,
/// square-kernel layer with its Winograd path; this one covers the kernels it does not (7 × 38,
/// 128 × 1, …) and 1-D convolutions along the height as kernels k × 1 over planes of width 1.
/// Weight (K, C, kh, kw) (PyTorch's layout; TensorFlow's (kh, kw, C, K) transposed), bias (K);
/// PyTorch's default initialisation until a checkpoint is loaded.
///
/// The batch is split across the workers, each with its own column matrix and single-threaded
/// BLAS. `forward(sample:…)` is the same computation for one sample on the caller's scratch, for
/// a network that runs its whole per-sample pipeline on one worker.
///
/// `@unchecked Sendable`: the workers of a forward only read the weights; nothing writes them
/// while a forward runs (loading a checkpoint is not concurrent with inference).
public final class RectangularConv2d: @unchecked Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let padding: ConvPadding
    public let weight: Parameter
    public let bias: Parameter?

    private let output = FloatStorage()
    private var columns: [FloatStorage] = []
    private var products: [FloatStorage] = []

    /// `name` is the module path, e.g. `timbral.0.conv`.
    public init(name: String, inChannels: Int, outChannels: Int, kernelHeight: Int, kernelWidth: Int,
                padding: ConvPadding = .valid, bias: Bool = true, rng: inout SeededGenerator) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.padding = padding
        let fanIn = inChannels * kernelHeight * kernelWidth
        var w = Tensor(zeros: [outChannels, inChannels, kernelHeight, kernelWidth])
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

    /// Rows of the column matrix, C·kh·kw.
    public var columnRows: Int { inChannels * kernelHeight * kernelWidth }

    /// (H', W') for an input plane of H × W; zero or negative when the kernel does not fit.
    public func outputSize(height H: Int, width W: Int) -> (height: Int, width: Int) {
        let p = padding.pads(kernelHeight: kernelHeight, kernelWidth: kernelWidth)
        return (H + p.top + p.bottom - kernelHeight + 1, W + p.left + p.right - kernelWidth + 1)
    }

    /// Floats of the column matrix and of the product for one sample of H × W.
    public func scratchSize(height H: Int, width W: Int) -> (columns: Int, product: Int) {
        let (oh, ow) = outputSize(height: H, width: W)
        let plane = max(0, oh) * max(0, ow)
        return (columnRows * plane, outChannels * plane)
    }

    /// Throws unless an input plane of H × W gives a non-empty output.
    public func checkInput(channels: Int, height H: Int, width W: Int) throws(ShapeError) {
        guard channels == inChannels else {
            throw ShapeError("RectangularConv2d \(weight.name): expected \(inChannels) input channels, got \(channels)")
        }
        let (oh, ow) = outputSize(height: H, width: W)
        guard oh > 0, ow > 0 else {
            throw ShapeError("RectangularConv2d \(weight.name): input plane \(H)×\(W) is too small for kernel \(kernelHeight)×\(kernelWidth) with padding \(padding)")
        }
    }

    // inp is (B,C,H,W), out is (B,K,H',W') — or (B,K,H',1) with `map.maxOverWidth` —
    // with H' = H + top + bottom − kh + 1, W' = W + left + right − kw + 1
    public func forward(_ inp: Activation, map: ConvOutputMap = ConvOutputMap()) throws(ShapeError) -> Activation {
        let s = inp.shape
        guard s.batch > 0 else { throw ShapeError("RectangularConv2d \(weight.name): empty batch, got input \(s)") }
        try checkInput(channels: s.channels, height: s.height, width: s.width)
        let (oh, ow) = outputSize(height: s.height, width: s.width)
        let outShape = ActivationShape(batch: s.batch, channels: outChannels, height: oh, width: map.maxOverWidth ? 1 : ow)
        let workers = max(1, min(Parallel.workerCount, s.batch))
        let sizes = scratchSize(height: s.height, width: s.width)
        while columns.count < workers { columns.append(FloatStorage()); products.append(FloatStorage()) }
        let cols = columns.prefix(workers).map { SendablePointer($0.reserve(sizes.columns)) }
        let prods = products.prefix(workers).map { SendablePointer($0.reserve(sizes.product)) }
        let out = SendablePointer(output.reserve(outShape.count)), x = SendablePointer(inp.data)
        let inSample = s.sampleSize, outSample = outShape.sampleSize
        BLASThreads.single()
        Parallel.forEachChunk(s.batch, chunks: workers) { worker, run in
            for b in run {
                self.forward(sample: x.pointer + b * inSample, height: s.height, width: s.width,
                             into: out.pointer + b * outSample, columns: cols[worker].pointer,
                             product: prods[worker].pointer, map: map)
            }
        }
        return Activation(data: out.pointer, shape: outShape)
    }

    /// One sample: x is (C,H,W), out is (K,H',W') or (K,H') with `map.maxOverWidth`; `columns`
    /// and `product` hold at least `scratchSize(height:width:)` floats (`product` is unused
    /// unless pooling, when the GEMM writes there first). Serial, single-threaded BLAS: the caller
    /// checked the shapes (`checkInput`) and called `BLASThreads.single()`.
    public func forward(sample x: UnsafePointer<Float>, height H: Int, width W: Int, into out: UnsafeMutablePointer<Float>,
                        columns col: UnsafeMutablePointer<Float>, product: UnsafeMutablePointer<Float>,
                        map: ConvOutputMap = ConvOutputMap()) {
        let (oh, ow) = outputSize(height: H, width: W)
        let K = outChannels, R = columnRows, P = oh * ow
        rectangularIm2col(col, x, channels: inChannels, height: H, width: W, kernelHeight: kernelHeight,
                          kernelWidth: kernelWidth, pads: padding.pads(kernelHeight: kernelHeight, kernelWidth: kernelWidth),
                          outHeight: oh, outWidth: ow)
        let y = map.maxOverWidth ? product : out
        weight.value.data.withUnsafeBufferPointer { w in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(K), Int32(P), Int32(R),
                        1, w.baseAddress!, Int32(R), col, Int32(P), 0, y, Int32(P))
        }
        withOptionalPointer(bias?.value.data) { b in
            for k in 0..<K {
                let plane = y + k * P
                let add = b?[k] ?? 0, a = map.scale?[k] ?? 1, c = map.shift?[k] ?? 0
                let affine = map.scale != nil || map.shift != nil
                switch (map.relu, affine) {
                case (true, true): for p in 0..<P { plane[p] = max(plane[p] + add, 0) * a + c }
                case (true, false): for p in 0..<P { plane[p] = max(plane[p] + add, 0) }
                case (false, true): for p in 0..<P { plane[p] = (plane[p] + add) * a + c }
                case (false, false): if add != 0 { for p in 0..<P { plane[p] += add } }
                }
                guard map.maxOverWidth else { continue }
                let row = out + k * oh
                for i in 0..<oh {
                    let values = plane + i * ow
                    var m = values[0]
                    for j in 1..<max(1, ow) { m = max(m, values[j]) }
                    row[i] = m
                }
            }
        }
    }
}

/// x is (C,H,W), col is (C·kh·kw, H'·W'): row (c, ki, kj), column (oh, ow) holds
/// x[c, oh − top + ki, ow − left + kj], 0 where that falls in the padding. Stride 1.
func rectangularIm2col(_ col: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, channels C: Int, height H: Int,
                       width W: Int, kernelHeight kh: Int, kernelWidth kw: Int,
                       pads: (top: Int, bottom: Int, left: Int, right: Int), outHeight oh: Int, outWidth ow: Int) {
    let P = oh * ow
    for c in 0..<C {
        for ki in 0..<kh {
            // Output rows whose input row oh − top + ki lies in [0, H).
            let rowLo = max(0, pads.top - ki), rowHi = min(oh, H + pads.top - ki)
            for kj in 0..<kw {
                let colLo = max(0, pads.left - kj), colHi = min(ow, W + pads.left - kj)
                let dst = col + ((c * kh + ki) * kw + kj) * P
                guard rowLo < rowHi, colLo < colHi else {
                    dst.update(repeating: 0, count: P)
                    continue
                }
                if ow == 1 {
                    // A 1-D convolution along the height: the row is one contiguous run.
                    let src = x + c * H * W + (rowLo - pads.top + ki) * W + (kj - pads.left)
                    for i in 0..<rowLo { dst[i] = 0 }
                    if W == 1 {
                        (dst + rowLo).update(from: src, count: rowHi - rowLo)
                    } else {
                        for i in rowLo..<rowHi { dst[i] = src[(i - rowLo) * W] }
                    }
                    for i in rowHi..<oh { dst[i] = 0 }
                    continue
                }
                (dst).update(repeating: 0, count: rowLo * ow)
                for i in rowLo..<rowHi {
                    let row = dst + i * ow
                    let srcRow = x + c * H * W + (i - pads.top + ki) * W + (kj - pads.left)
                    for j in 0..<colLo { row[j] = 0 }
                    (row + colLo).update(from: srcRow + colLo, count: colHi - colLo)
                    for j in colHi..<ow { row[j] = 0 }
                }
                (dst + rowHi * ow).update(repeating: 0, count: (oh - rowHi) * ow)
            }
        }
    }
}
