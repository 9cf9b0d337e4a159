/// Geometry of a square-kernel 2-D convolution or pooling window.
public struct ConvGeometry: Sendable, Equatable {
    public var kernel: Int
    public var stride: Int
    public var padding: Int

    /// Output size ⌊(n + 2·padding − kernel) / stride⌋ + 1 (PyTorch, `ceil_mode=False`).
    public func outputSize(_ n: Int) -> Int {
        let span = n + 2 * padding - kernel
        return span < 0 ? 0 : span / stride + 1
    }
}

/// Scratch buffers shared by all convolutions of one network, one set per worker: the column
/// matrix, the channel-major product and a weight-gradient accumulator. Layers run one at a time,
/// so one set per worker serves every layer.
public final class ConvWorkspace {
    private var columns: [FloatStorage] = []
    private var products: [FloatStorage] = []
    private var weightGradients: [FloatStorage] = []
    private var paddedPlanes: [FloatStorage] = []
    private let transformedWeights = FloatStorage()
    public init() {}

    /// The Winograd-transformed weights of the layer running now.
    func transformedWeights(count: Int) -> UnsafeMutablePointer<Float> { transformedWeights.reserve(count) }
    func paddedPlanes(_ workers: Int, count: Int) -> [SendablePointer<Float>] { Self.reserve(&paddedPlanes, workers, count) }

    /// Worker i's column matrix of at least `count` floats, for `workers` workers.
    func columns(_ workers: Int, count: Int) -> [SendablePointer<Float>] { Self.reserve(&columns, workers, count) }
    func products(_ workers: Int, count: Int) -> [SendablePointer<Float>] { Self.reserve(&products, workers, count) }
    func weightGradients(_ workers: Int, count: Int) -> [SendablePointer<Float>] {
        Self.reserve(&weightGradients, workers, count)
    }

    private static func reserve(_ storages: inout [FloatStorage], _ workers: Int, _ count: Int) -> [SendablePointer<Float>] {
        while storages.count < workers { storages.append(FloatStorage()) }
        return storages.prefix(workers).map { SendablePointer($0.reserve(count)) }
    }
}

// The column matrix of a group of samples b0..<b0+G: row r = (c, ki, kj) of the C·k·k rows,
// column (b−b0)·P + p of the G·P columns (P = H'·W'), so one GEMM covers the whole group.

extension ConvGeometry {
    /// The outputs o in [lo, hi) whose input o·stride − padding + offset lies in [0, n).
    func validRange(offset: Int, inputSize n: Int, outputSize: Int) -> Range<Int> {
        let first = padding - offset                       // o·stride ≥ first
        let lo = first <= 0 ? 0 : (first + stride - 1) / stride
        let last = n - 1 + padding - offset                 // o·stride ≤ last
        let hi = last < 0 ? 0 : min(outputSize, last / stride + 1)
        return lo..<max(lo, hi)
    }
}

/// inp is (B,C,H,W), col is (C·k·k, G·H'·W') for the samples `samples` (G of them)
func im2colForward(_ col: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ shape: ActivationShape,
                   _ g: ConvGeometry, outH: Int, outW: Int, samples: Range<Int>) {
    let (C, H, W) = (shape.channels, shape.height, shape.width)
    let k = g.kernel, s = g.stride, pad = g.padding
    let G = samples.count, b0 = samples.lowerBound
    let P = outH * outW, ld = G * P
    // Serial: the caller runs one group per worker.
    for r in 0..<(C * k * k) {
        let c = r / (k * k), ki = (r / k) % k, kj = r % k
        let rows = g.validRange(offset: ki, inputSize: H, outputSize: outH)
        let cols = g.validRange(offset: kj, inputSize: W, outputSize: outW)
        for b in samples {
            let dst = col + r * ld + (b - b0) * P
            let src = inp + (b * C + c) * H * W
            // Rows are short (8 to 64 values): plain loops, no memcpy/memset call per row.
            for i in 0..<(rows.lowerBound * outW) { dst[i] = 0 }
            for oh in rows {
                let row = dst + oh * outW
                let srcRow = src + (oh * s - pad + ki) * W - pad + kj
                for ow in 0..<cols.lowerBound { row[ow] = 0 }
                if s == 1 {
                    for ow in cols { row[ow] = srcRow[ow] }
                } else {
                    for ow in cols { row[ow] = srcRow[ow * s] }
                }
                for ow in cols.upperBound..<outW { row[ow] = 0 }
            }
            for i in (rows.upperBound * outW)..<(outH * outW) { dst[i] = 0 }
        }
    }
}

/// dcol is (C·k·k, G·H'·W'), dinp is (B,C,H,W): scatter-adds every column entry back to its
/// pixel, overwriting the planes of the samples `samples`.
func im2colBackward(_ dinp: UnsafeMutablePointer<Float>, _ dcol: UnsafePointer<Float>, _ shape: ActivationShape,
                    _ g: ConvGeometry, outH: Int, outW: Int, samples: Range<Int>) {
    let (C, H, W) = (shape.channels, shape.height, shape.width)
    let k = g.kernel, s = g.stride, pad = g.padding
    let G = samples.count, b0 = samples.lowerBound
    let P = outH * outW, ld = G * P
    // Serial: the caller gives each worker its own samples, so no two write the same pixel.
    for b in samples {
        for c in 0..<C {
            let dst = dinp + (b * C + c) * H * W
            dst.update(repeating: 0, count: H * W)
            for ki in 0..<k {
                let rows = g.validRange(offset: ki, inputSize: H, outputSize: outH)
                for kj in 0..<k {
                    let cols = g.validRange(offset: kj, inputSize: W, outputSize: outW)
                    let src = dcol + ((c * k + ki) * k + kj) * ld + (b - b0) * P
                    for oh in rows {
                        let dstRow = dst + (oh * s - pad + ki) * W - pad + kj, srcRow = src + oh * outW
                        if s == 1 {
                            for ow in cols { dstRow[ow] += srcRow[ow] }
                        } else {
                            for ow in cols { dstRow[ow * s] += srcRow[ow] }
                        }
                    }
                }
            }
        }
    }
}

/// What a convolution does to each output channel right after its GEMM, while the values are in
/// cache: y = y·scale[k] + shift[k] (a bias is shift alone; an evaluation BatchNorm both), then
/// max(y, 0) with `relu`.
struct ChannelEpilogue: @unchecked Sendable {
    var scale: UnsafePointer<Float>?
    var shift: UnsafePointer<Float>?
    var relu = false

    var isIdentity: Bool { scale == nil && shift == nil && !relu }

    /// Applies channel k's map to `count` values at `y`; `from` (default: y itself) is the source.
    @inline(__always)
    func apply(_ y: UnsafeMutablePointer<Float>, from x: UnsafePointer<Float>? = nil, channel k: Int, count: Int) {
        let x = x ?? UnsafePointer(y)
        let a = scale?[k] ?? 1, b = shift?[k] ?? 0
        switch (scale != nil, relu) {
        case (true, true): for p in 0..<count { y[p] = max(x[p] * a + b, 0) }
        case (true, false): for p in 0..<count { y[p] = x[p] * a + b }
        case (false, true): for p in 0..<count { y[p] = max(x[p] + b, 0) }
        case (false, false): for p in 0..<count { y[p] = x[p] + b }
        }
    }
}

/// src is (B, K, P), dst is (K, B·P) (or the reverse with `toBatchMajor`, then applying
/// `epilogue`); serial, one group per worker.
func permuteBatchChannel(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>,
                         batch B: Int, channels K: Int, plane P: Int, toBatchMajor: Bool,
                         epilogue: ChannelEpilogue = ChannelEpilogue()) {
    for b in 0..<B {
        for k in 0..<K {
            let batchMajor = (b * K + k) * P, channelMajor = k * B * P + b * P
            let from = src + (toBatchMajor ? channelMajor : batchMajor)
            let to = dst + (toBatchMajor ? batchMajor : channelMajor)
            if epilogue.isIdentity {
                to.update(from: from, count: P)
            } else {
                epilogue.apply(to, from: from, channel: k, count: P)
            }
        }
    }
}
