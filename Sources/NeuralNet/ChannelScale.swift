/// Multiplies every channel plane by its own factor: out[b,c,h,w] = inp[b,c,h,w]·scale[b,c]
/// (`x * s[:, :, None, None]` in squeeze-and-excitation).
public final class ChannelScale {
    private let output = FloatStorage()
    private let inputGradient = FloatStorage()
    private let scaleGradient = FloatStorage()
    private var input: Activation?
    private var scale: UnsafeMutablePointer<Float>?

    public init() {}

    // inp is (B,C,H,W), scale is (B,C), out is (B,C,H,W)
    public func forward(_ inp: Activation, scale: Activation) throws(ShapeError) -> Activation {
        let s = inp.shape
        guard scale.shape.count == s.batch * s.channels, scale.shape.batch == s.batch else {
            throw ShapeError("ChannelScale: scale \(scale.shape) does not match input \(s): expected (\(s.batch), \(s.channels))")
        }
        input = inp
        self.scale = scale.data
        let out = output.reserve(s.count), P = s.planeSize
        let inBox = SendablePointer(inp.data), outBox = SendablePointer(out), scaleBox = SendablePointer(scale.data)
        Parallel.forEachChunk(s.batch * s.channels, grain: max(1, 16384 / max(1, P))) { rows in
            for row in rows {
                let f = scaleBox.pointer[row], x = inBox.pointer + row * P, y = outBox.pointer + row * P
                for p in 0..<P { y[p] = x[p] * f }
            }
        }
        return Activation(data: out, shape: s)
    }

    // dout is (B,C,H,W); dinp = dout·scale (B,C,H,W), dscale = Σ_hw dout·inp (B,C)
    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError)
        -> (input: UnsafeMutablePointer<Float>, scale: UnsafeMutablePointer<Float>) {
        guard let inp = input, let scale else { throw backwardBeforeForward("ChannelScale") }
        let s = inp.shape, P = s.planeSize
        let dinp = inputGradient.reserve(s.count), dscale = scaleGradient.reserve(s.batch * s.channels)
        let inBox = SendablePointer(inp.data), dBox = SendablePointer(dout), scaleBox = SendablePointer(scale)
        let dinBox = SendablePointer(dinp), dsBox = SendablePointer(dscale)
        Parallel.forEachChunk(s.batch * s.channels, grain: max(1, 16384 / max(1, P))) { rows in
            for row in rows {
                let f = scaleBox.pointer[row], x = inBox.pointer + row * P
                let dy = dBox.pointer + row * P, dx = dinBox.pointer + row * P
                var sum: Float = 0
                for p in 0..<P {
                    dx[p] = dy[p] * f
                    sum += dy[p] * x[p]
                }
                dsBox.pointer[row] = sum
            }
        }
        return (dinp, dscale)
    }
}
