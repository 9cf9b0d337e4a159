/// Layers applied in order; backward runs the same list reversed.
public final class Sequential: Layer {
    public let layers: [any Layer]

    public init(_ layers: [any Layer]) { self.layers = layers }

    public var stateEntries: [StateEntry] { layers.flatMap(\.stateEntries) }

    public func forward(_ inp: Activation, training: Bool) throws(ShapeError) -> Activation {
        var x = inp
        for layer in layers { x = try layer.forward(x, training: training) }
        return x
    }

    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        var d = dout
        for layer in layers.reversed() { d = try layer.backward(d) }
        return d
    }
}

/// Adds two activations of one shape into a buffer of its own (a residual connection).
public final class Addition {
    private let output = FloatStorage()
    public init() {}

    // a and b are (B,C,H,W), out is (B,C,H,W) = a + b
    public func forward(_ a: Activation, _ b: Activation) throws(ShapeError) -> Activation {
        guard a.shape == b.shape else { throw ShapeError("Addition: shapes \(a.shape) and \(b.shape) differ") }
        let n = a.shape.count
        let out = output.reserve(n)
        let aBox = SendablePointer(a.data), bBox = SendablePointer(b.data), outBox = SendablePointer(out)
        Parallel.forEachChunk(n, grain: 65536) { range in
            for i in range { outBox.pointer[i] = aBox.pointer[i] + bBox.pointer[i] }
        }
        return Activation(data: out, shape: a.shape)
    }
}
