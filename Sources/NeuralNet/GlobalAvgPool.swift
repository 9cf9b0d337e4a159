/// `nn.AdaptiveAvgPool2d(1)` followed by `flatten(1)`: the mean of every channel plane.
public final class GlobalAvgPool: Layer {
    private let output = FloatStorage()
    private let inputGradient = FloatStorage()
    private var inputShape: ActivationShape?

    public init() {}
    public var stateEntries: [StateEntry] { [] }

    // inp is (B,C,H,W), out is (B,C,1,1)
    public func forward(_ inp: Activation, training: Bool = false) throws(ShapeError) -> Activation {
        let s = inp.shape
        guard s.planeSize > 0 else { throw ShapeError("GlobalAvgPool: empty spatial size in input \(s)") }
        inputShape = s
        let rows = s.batch * s.channels, P = s.planeSize
        let out = output.reserve(rows)
        let scale = 1 / Float(P)
        for row in 0..<rows {
            let x = inp.data + row * P
            var sum: Float = 0
            for p in 0..<P { sum += x[p] }
            out[row] = sum * scale
        }
        return Activation(data: out, shape: ActivationShape(batch: s.batch, channels: s.channels))
    }

    // dout is (B,C), dinp is (B,C,H,W) = dout/(H·W) everywhere
    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let s = inputShape else { throw backwardBeforeForward("GlobalAvgPool") }
        let rows = s.batch * s.channels, P = s.planeSize
        let dinp = inputGradient.reserve(s.count)
        let scale = 1 / Float(P)
        for row in 0..<rows { (dinp + row * P).update(repeating: dout[row] * scale, count: P) }
        return dinp
    }
}
