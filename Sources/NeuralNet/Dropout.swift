/// `nn.Dropout(p)`: in training each value is zeroed with probability p and the survivors
/// scaled by 1/(1−p) (inverted dropout), so evaluation is the identity. The mask comes from
/// `rng`, owned here and seeded, so a run is reproducible.
public final class Dropout: Layer {
    public let probability: Float
    public var rng: SeededGenerator
    private let output = FloatStorage()
    private let inputGradient = FloatStorage()
    /// Per value of the last training forward: 0 or 1/(1−p).
    private let mask = FloatStorage()
    private var shape: ActivationShape?
    private var masked = false

    public init(probability: Float, seed: UInt64) {
        self.probability = probability
        rng = SeededGenerator(seed: seed)
    }

    public var stateEntries: [StateEntry] { [] }

    // inp is any shape, out has the same shape
    public func forward(_ inp: Activation, training: Bool) throws(ShapeError) -> Activation {
        let n = inp.shape.count
        shape = inp.shape
        masked = training && probability > 0
        guard masked else { return inp }
        let out = output.reserve(n), m = mask.reserve(n)
        let scale: Float = probability < 1 ? 1 / (1 - probability) : 0
        for i in 0..<n {
            m[i] = rng.nextUnitFloat() < probability ? 0 : scale
            out[i] = inp.data[i] * m[i]
        }
        return Activation(data: out, shape: inp.shape)
    }

    // dinp = dout·mask (dout itself when nothing was dropped)
    public func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        guard let shape else { throw backwardBeforeForward("Dropout") }
        guard masked else { return dout }
        let n = shape.count
        let dinp = inputGradient.reserve(n), m = mask.pointer
        for i in 0..<n { dinp[i] = dout[i] * m[i] }
        return dinp
    }
}
