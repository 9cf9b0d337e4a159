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

/// Scratch buffers shared by all convolutions of one network: the column matrix and the
/// channel-major product. Layers run one at a time, so one pair serves every layer.
public final class ConvWorkspace {
    let columns = FloatStorage()
    let product = FloatStorage()
    public init() {}
}

// The column matrix of a batch: row r = (c, ki, kj) of the C·k·k rows, column b·P + p of the
// B·P columns (P = H'·W'), so one GEMM covers the whole batch.

/// inp is (B,C,H,W), col is (C·k·k, B·H'·W')
func im2colForward(_ col: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ shape: ActivationShape,
                   _ g: ConvGeometry, outH: Int, outW: Int) {
    let (B, C, H, W) = (shape.batch, shape.channels, shape.height, shape.width)
    let k = g.kernel, s = g.stride, pad = g.padding
    let P = outH * outW, ld = B * P
    let colBox = SendablePointer(col), inBox = SendablePointer(UnsafeMutablePointer(mutating: inp))
    Parallel.forEachChunk(C * k * k * B, grain: max(1, 4096 / max(1, P))) { items in
        let col = colBox.pointer, inp = inBox.pointer
        for item in items {
            let r = item / B, b = item % B
            let c = r / (k * k), ki = (r / k) % k, kj = r % k
            let dst = col + r * ld + b * P
            let src = inp + (b * C + c) * H * W
            for oh in 0..<outH {
                let ih = oh * s - pad + ki
                let row = dst + oh * outW
                guard ih >= 0 && ih < H else {
                    row.update(repeating: 0, count: outW)
                    continue
                }
                let srcRow = src + ih * W
                for ow in 0..<outW {
                    let iw = ow * s - pad + kj
                    row[ow] = (iw >= 0 && iw < W) ? srcRow[iw] : 0
                }
            }
        }
    }
}

/// dcol is (C·k·k, B·H'·W'), dinp is (B,C,H,W): scatter-adds every column entry back to its pixel.
func im2colBackward(_ dinp: UnsafeMutablePointer<Float>, _ dcol: UnsafePointer<Float>, _ shape: ActivationShape,
                    _ g: ConvGeometry, outH: Int, outW: Int) {
    let (B, C, H, W) = (shape.batch, shape.channels, shape.height, shape.width)
    let k = g.kernel, s = g.stride, pad = g.padding
    let P = outH * outW, ld = B * P
    let dinBox = SendablePointer(dinp), dcolBox = SendablePointer(UnsafeMutablePointer(mutating: dcol))
    // One worker per (b, c) plane, so no two workers write the same pixel.
    Parallel.forEachChunk(B * C, grain: max(1, 4096 / max(1, H * W))) { planes in
        let dinp = dinBox.pointer, dcol = dcolBox.pointer
        for plane in planes {
            let b = plane / C, c = plane % C
            let dst = dinp + plane * H * W
            dst.update(repeating: 0, count: H * W)
            for ki in 0..<k {
                for kj in 0..<k {
                    let src = dcol + ((c * k + ki) * k + kj) * ld + b * P
                    for oh in 0..<outH {
                        let ih = oh * s - pad + ki
                        guard ih >= 0 && ih < H else { continue }
                        let dstRow = dst + ih * W, srcRow = src + oh * outW
                        for ow in 0..<outW {
                            let iw = ow * s - pad + kj
                            if iw >= 0 && iw < W { dstRow[iw] += srcRow[ow] }
                        }
                    }
                }
            }
        }
    }
}

/// src is (B, K, P), dst is (K, B·P) (or the reverse with `toBatchMajor`), optionally adding `bias[k]`.
func permuteBatchChannel(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>,
                         batch B: Int, channels K: Int, plane P: Int, toBatchMajor: Bool,
                         bias: UnsafePointer<Float>? = nil) {
    let dstBox = SendablePointer(dst), srcBox = SendablePointer(UnsafeMutablePointer(mutating: src))
    let biasBox = bias.map { SendablePointer(UnsafeMutablePointer(mutating: $0)) }
    Parallel.forEachChunk(B * K, grain: max(1, 8192 / max(1, P))) { rows in
        let dst = dstBox.pointer, src = srcBox.pointer
        for row in rows {
            let b = row / K, k = row % K
            let batchMajor = (b * K + k) * P, channelMajor = k * B * P + b * P
            let from = src + (toBatchMajor ? channelMajor : batchMajor)
            let to = dst + (toBatchMajor ? batchMajor : channelMajor)
            if let bias = biasBox?.pointer[k] {
                for p in 0..<P { to[p] = from[p] + bias }
            } else {
                to.update(from: from, count: P)
            }
        }
    }
}
