/// `nn.AvgPool2d(kernel, stride, padding)` with PyTorch's defaults `ceil_mode=False`,
/// `count_include_pad=True`: every window divides by its size including padding.
public final class AvgPool2d: Layer {
    public let geometry: ConvGeometry
    private let output = FloatStorage()
    private let inputGradient = FloatStorage()
    private var inputShape: ActivationShape?
    private var outputShape = ActivationShape(batch: 0, channels: 0)

    /// PyTorch's default stride is the kernel size.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        geometry = ConvGeometry(kernel: kernelSize, stride: stride ?? kernelSize, padding: padding)
    }

    public var stateEntries: [StateEntry] { [] }

    /// The window [start, end) along one axis, clipped to the input, and its divisor share
    /// (the window length within input plus padding).
    private func window(_ o: Int, _ n: Int) -> (start: Int, end: Int, padded: Int) {
        let start = o * geometry.stride - geometry.padding
        let end = min(start + geometry.kernel, n + geometry.padding)
        return (max(start, 0), min(end, n), end - start)
    }

    // inp is (B,C,H,W), out is (B,C,H',W')
    public func forward(_ inp: Activation, training: Bool = false) throws(ShapeError) -> Activation {
        let s = inp.shape
        let outH = geometry.outputSize(s.height), outW = geometry.outputSize(s.width)
        guard outH > 0, outW > 0 else {
            throw ShapeError("AvgPool2d: input \(s) is too small for kernel \(geometry.kernel), stride \(geometry.stride), padding \(geometry.padding)")
        }
        inputShape = s
        outputShape = ActivationShape(batch: s.batch, channels: s.channels, height: outH, width: outW)
        let out = output.reserve(outputShape.count)
        let H = s.height, W = s.width
        for plane in 0..<(s.batch * s.channels) {
            let x = inp.data + plane * H * W, y = out + plane * outH * outW
            for oh in 0..<outH {
                let rows = window(oh, H)
                for ow in 0..<outW {
                    let cols = window(ow, W)
                    var sum: Float = 0
                    for ih in rows.start..<rows.end {
                        for iw in cols.start..<cols.end { sum += x[ih * W + iw] }
                    }
                    y[oh * outW + ow] = sum / Float(rows.padded * cols.padded)
                }
            }
        }
        return Activation(data: out, shape: outputShape)
    }

    // dout is (B,C,H',W'), dinp is (B,C,H,W): each output spreads dout/divisor over its window
    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let s = inputShape else { throw backwardBeforeForward("AvgPool2d") }
        let dinp = inputGradient.reserve(s.count)
        dinp.update(repeating: 0, count: s.count)
        let H = s.height, W = s.width, outH = outputShape.height, outW = outputShape.width
        for plane in 0..<(s.batch * s.channels) {
            let dx = dinp + plane * H * W, dy = dout + plane * outH * outW
            for oh in 0..<outH {
                let rows = window(oh, H)
                for ow in 0..<outW {
                    let cols = window(ow, W)
                    let g = dy[oh * outW + ow] / Float(rows.padded * cols.padded)
                    for ih in rows.start..<rows.end {
                        for iw in cols.start..<cols.end { dx[ih * W + iw] += g }
                    }
                }
            }
        }
        return dinp
    }
}
