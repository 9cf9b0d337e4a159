import Foundation

/// `torch.sigmoid`: out = 1/(1 + e^(−inp)), computed without overflow for large |inp|.
public final class Sigmoid: Layer {
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
        for i in 0..<n {
            let x = inp.data[i]
            if x >= 0 {
                out[i] = 1 / (1 + expf(-x))
            } else {
                let e = expf(x)
                out[i] = e / (1 + e)
            }
        }
        return Activation(data: out, shape: inp.shape)
    }

    // dinp = dout·out·(1 − out)
    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let shape = outputShape else { throw backwardBeforeForward("Sigmoid") }
        let n = shape.count
        let dinp = inputGradient.reserve(n)
        let out = output.pointer
        for i in 0..<n { dinp[i] = dout[i] * out[i] * (1 - out[i]) }
        return dinp
    }
}
