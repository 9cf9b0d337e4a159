/// `nn.ReLU`: out = max(inp, 0); the gradient passes where the output is positive.
///
/// With `inPlace` (PyTorch's `inplace=True`) forward overwrites its input and backward its
/// output gradient, so no buffers of its own are needed; the caller promises that neither is
/// read again by anyone else (true after BatchNorm, Linear or a residual sum, whose backward
/// reads their input, not their output).
public final class ReLU: Layer {
    public let inPlace: Bool
    private let output = FloatStorage()
    private let inputGradient = FloatStorage()
    private var outputData: UnsafeMutablePointer<Float>?
    private var outputShape: ActivationShape?

    public init(inPlace: Bool = false) { self.inPlace = inPlace }
    public var stateEntries: [StateEntry] { [] }

    // inp is any shape, out has the same shape
    public func forward(_ inp: Activation, training: Bool = false) throws(ShapeError) -> Activation {
        let n = inp.shape.count
        let out = inPlace ? inp.data : output.reserve(n)
        outputData = out
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
        guard let shape = outputShape, let out = outputData else { throw backwardBeforeForward("ReLU") }
        let n = shape.count
        let dinp = inPlace ? dout : inputGradient.reserve(n)
        let outBox = SendablePointer(out), dBox = SendablePointer(dout), dinBox = SendablePointer(dinp)
        Parallel.forEachChunk(n, grain: 65536) { range in
            let start = range.lowerBound
            VectorMath.reluBackward(dinBox.pointer + start, outBox.pointer + start, dBox.pointer + start, range.count)
        }
        return dinp
    }
}
