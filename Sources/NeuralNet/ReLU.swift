/// `nn.ReLU`: out = max(inp, 0); the gradient passes where the output is positive.
public final class ReLU: Layer {
    private let output = FloatStorage()
    private let inputGradient = FloatStorage()
    private var outputShape: ActivationShape?

    public init() {}
    public var stateEntries: [StateEntry] { [] }

    // inp is any shape, out has the same shape
    public func forward(_ inp: Activation, training: Bool = false) throws(ShapeError) -> Activation {
        let n = inp.shape.count
        let out = output.reserve(n)
        outputShape = inp.shape
        let inBox = SendablePointer(inp.data), outBox = SendablePointer(out)
        Parallel.forEachChunk(n, grain: 65536) { range in
            let x = inBox.pointer, y = outBox.pointer
            for i in range { y[i] = max(x[i], 0) }
        }
        return Activation(data: out, shape: inp.shape)
    }

    // dout and dinp have the shape of out; dinp = dout where out > 0, else 0
    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let shape = outputShape else { throw backwardBeforeForward("ReLU") }
        let n = shape.count
        let dinp = inputGradient.reserve(n)
        let outBox = SendablePointer(output.pointer), dBox = SendablePointer(dout), dinBox = SendablePointer(dinp)
        Parallel.forEachChunk(n, grain: 65536) { range in
            let start = range.lowerBound
            VectorMath.reluBackward(dinBox.pointer + start, outBox.pointer + start, dBox.pointer + start, range.count)
        }
        return dinp
    }
}
