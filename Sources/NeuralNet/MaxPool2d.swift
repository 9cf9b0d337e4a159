/// `nn.MaxPool2d(kernel, stride, padding)`, `ceil_mode=False`; padding counts as −∞. Backward routes
/// each output gradient to the input that won; on ties the first in scan order wins, as in PyTorch.
/// `forward` records the winners in training and evaluation alike (a backward may follow an
/// evaluation forward, as for Grad-CAM); `forwardInference` skips them, for inference only.
public final class MaxPool2d: Layer {
    public let geometry: ConvGeometry
    private let output = FloatStorage()
    private let inputGradient = FloatStorage()
    /// For every output, the index of the winning input within its (H·W) plane.
    private let argmax = BufferStorage<Int32>()
    private var inputShape: ActivationShape?
    /// Whether the last forward recorded the winners (`forward`); `forwardInference` skips them.
    private var routed = false
    private var outputShape = ActivationShape(batch: 0, channels: 0)

    /// PyTorch's default stride is the kernel size.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        geometry = ConvGeometry(kernel: kernelSize, stride: stride ?? kernelSize, padding: padding)
    }

    public var stateEntries: [StateEntry] { [] }

    // inp is (B,C,H,W), out is (B,C,H',W') with H' = ⌊(H+2p−k)/s⌋+1
    public func forward(_ inp: Activation, training: Bool = false) throws(ShapeError) -> Activation {
        try forward(inp, routing: true)
    }

    /// `forward`'s values without recording the winners (separable maxima, faster): no backward
    /// may follow.
    public func forwardInference(_ inp: Activation) throws(ShapeError) -> Activation {
        try forward(inp, routing: false)
    }

    private func forward(_ inp: Activation, routing: Bool) throws(ShapeError) -> Activation {
        let s = inp.shape
        let outH = geometry.outputSize(s.height), outW = geometry.outputSize(s.width)
        guard outH > 0, outW > 0 else {
            throw ShapeError("MaxPool2d: input \(s) is too small for kernel \(geometry.kernel), stride \(geometry.stride), padding \(geometry.padding)")
        }
        inputShape = s
        outputShape = ActivationShape(batch: s.batch, channels: s.channels, height: outH, width: outW)
        let out = output.reserve(outputShape.count)
        let (H, W, k, st, pad) = (s.height, s.width, geometry.kernel, geometry.stride, geometry.padding)
        let inBox = SendablePointer(inp.data), outBox = SendablePointer(out)
        routed = routing
        guard routing else {
            maxOnly(out, inp.data, s, outH: outH, outW: outW)
            return Activation(data: out, shape: outputShape)
        }
        let argBox = SendablePointer(argmax.reserve(outputShape.count))
        Parallel.forEachChunk(s.batch * s.channels, grain: max(1, 4096 / max(1, H * W))) { planes in
            for plane in planes {
                let x = inBox.pointer + plane * H * W
                let y = outBox.pointer + plane * outH * outW, arg = argBox.pointer + plane * outH * outW
                for oh in 0..<outH {
                    let h0 = max(0, oh * st - pad), h1 = min(H, oh * st - pad + k)
                    for ow in 0..<outW {
                        let w0 = max(0, ow * st - pad), w1 = min(W, ow * st - pad + k)
                        // PyTorch: start from the first element of the window, take any later
                        // value that is strictly greater (or NaN).
                        var bestIndex = h0 * W + w0
                        var best = x[bestIndex]
                        for ih in h0..<h1 {
                            let row = ih * W
                            for iw in w0..<w1 {
                                // Selects instead of branches: random data defeats prediction.
                                let v = x[row + iw]
                                let wins = v > best || v != v
                                best = wins ? v : best
                                bestIndex = wins ? row + iw : bestIndex
                            }
                        }
                        y[oh * outW + ow] = best
                        arg[oh * outW + ow] = Int32(bestIndex)
                    }
                }
            }
        }
        return Activation(data: out, shape: outputShape)
    }

    // dout is (B,C,H',W'), dinp is (B,C,H,W)
    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let s = inputShape else { throw backwardBeforeForward("MaxPool2d") }
        guard routed else { throw ShapeError("MaxPool2d.backward needs forward: forwardInference does not record the winners") }
        let dinp = inputGradient.reserve(s.count)
        let P = s.planeSize, Q = outputShape.planeSize
        let dinBox = SendablePointer(dinp), dBox = SendablePointer(dout)
        let argBox = SendablePointer(argmax.pointer)
        Parallel.forEachChunk(s.batch * s.channels, grain: max(1, 4096 / max(1, P))) { planes in
            for plane in planes {
                let dx = dinBox.pointer + plane * P
                dx.update(repeating: 0, count: P)
                let dy = dBox.pointer + plane * Q, arg = argBox.pointer + plane * Q
                for q in 0..<Q { dx[Int(arg[q])] += dy[q] }
            }
        }
        return dinp
    }

    /// The inference forward: the same maxima without their positions, separably — the max over
    /// the window's rows for every column, then over the window's columns. NaN wins as in PyTorch.
    private func maxOnly(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafeMutablePointer<Float>, _ s: ActivationShape,
                         outH: Int, outW: Int) {
        let (H, W, k, st, pad) = (s.height, s.width, geometry.kernel, geometry.stride, geometry.padding)
        let inBox = SendablePointer(inp), outBox = SendablePointer(out)
        Parallel.forEachChunk(s.batch * s.channels, grain: max(1, 4096 / max(1, H * W))) { planes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: W) { columnMax in
                let m = columnMax.baseAddress!
                for plane in planes {
                    let x = inBox.pointer + plane * H * W, y = outBox.pointer + plane * outH * outW
                    for oh in 0..<outH {
                        let h0 = max(0, oh * st - pad), h1 = min(H, oh * st - pad + k)
                        m.update(from: x + h0 * W, count: W)
                        for ih in (h0 + 1)..<max(h0 + 1, h1) {
                            let row = x + ih * W
                            for w in 0..<W { let v = row[w]; m[w] = (v > m[w] || v != v) ? v : m[w] }
                        }
                        for ow in 0..<outW {
                            let w0 = max(0, ow * st - pad), w1 = min(W, ow * st - pad + k)
                            var best = m[w0]
                            for w in (w0 + 1)..<max(w0 + 1, w1) { let v = m[w]; best = (v > best || v != v) ? v : best }
                            y[oh * outW + ow] = best
                        }
                    }
                }
            }
        }
    }
}
