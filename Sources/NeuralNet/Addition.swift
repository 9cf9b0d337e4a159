/// Adds two activations of one shape into a buffer of its own (a residual connection).
public final class Addition {
    private let output = FloatStorage()
    public init() {}

    // a and b are (B,C,H,W), out is (B,C,H,W) = a + b, or max(a + b, 0) with `relu` (evaluation
    // only: a following ReLU layer's backward needs its own forward)
    public func forward(_ a: Activation, _ b: Activation, relu: Bool = false) throws(ShapeError) -> Activation {
        guard a.shape == b.shape else { throw ShapeError("Addition: shapes \(a.shape) and \(b.shape) differ") }
        return Activation(data: elementwiseSum(a.data, b.data, count: a.shape.count, into: output, relu: relu),
                          shape: a.shape)
    }
    // The gradient of a sum reaches both operands unchanged, so there is no backward.
}

/// out = a + b (or max(a + b, 0) with `relu`) over `count` values, in `storage` (also how two
/// gradient paths merge).
public func elementwiseSum(_ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, count: Int,
                           into storage: FloatStorage, relu: Bool = false) -> UnsafeMutablePointer<Float> {
    let out = storage.reserve(count)
    let aBox = SendablePointer(a), bBox = SendablePointer(b), outBox = SendablePointer(out)
    Parallel.forEachChunk(count, grain: 65536) { range in
        let a = aBox.pointer, b = bBox.pointer, out = outBox.pointer
        if relu {
            for i in range { out[i] = max(a[i] + b[i], 0) }
        } else {
            for i in range { out[i] = a[i] + b[i] }
        }
    }
    return out
}
