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
        let x = SendablePointer(inp.data), y = SendablePointer(out)
        Parallel.forEachChunk(rows, grain: max(1, 16384 / P)) { range in
            for row in range { y.pointer[row] = VectorMath.sum(x.pointer + row * P, P) * scale }
        }
        return Activation(data: out, shape: ActivationShape(batch: s.batch, channels: s.channels))
    }

    // dout is (B,C), dinp is (B,C,H,W) = dout/(H·W) everywhere
    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let s = inputShape else { throw backwardBeforeForward("GlobalAvgPool") }
        let rows = s.batch * s.channels, P = s.planeSize
        let dinp = inputGradient.reserve(s.count)
        let scale = 1 / Float(P)
        let dy = SendablePointer(dout), dx = SendablePointer(dinp)
        Parallel.forEachChunk(rows, grain: max(1, 16384 / P)) { range in
            for row in range { (dx.pointer + row * P).update(repeating: dy.pointer[row] * scale, count: P) }
        }
        return dinp
    }
}
