import NeuralNet

/// Squeeze-and-excitation (Hu et al. 2018): out = x · σ(fc2(relu(fc1(mean_hw(x))))) per channel,
/// with hidden width max(1, channels / reduction). Reference: `ChannelAttention`.
final class ChannelAttention: Layer {
    let squeeze = GlobalAvgPool()
    let fc1: Linear
    let relu = ReLU(inPlace: true)
    let fc2: Linear
    let gate = Sigmoid()
    let excite = ChannelScale()
    private let inputGradient = FloatStorage()
    private var inputCount = 0

    init(name: String, channels: Int, reduction: Int, rng: inout SeededGenerator) {
        let hidden = max(1, channels / max(1, reduction))
        fc1 = Linear(name: name + ".fc1", inFeatures: channels, outFeatures: hidden, rng: &rng)
        fc2 = Linear(name: name + ".fc2", inFeatures: hidden, outFeatures: channels, rng: &rng)
    }

    var stateEntries: [StateEntry] { fc1.stateEntries + fc2.stateEntries }

    // x is (B,C,H,W), out is (B,C,H,W)
    func forward(_ x: Activation, training: Bool) throws(ShapeError) -> Activation {
        inputCount = x.shape.count
        var s = try squeeze.forward(x, training: training)
        s = try fc1.forward(s, training: training)
        s = try relu.forward(s, training: training)
        s = try fc2.forward(s, training: training)
        s = try gate.forward(s, training: training)
        return try excite.forward(x, scale: s)
    }

    // dout is (B,C,H,W); dx = dout·s + the gradient through the squeeze path
    func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        let (dxDirect, dscale) = try excite.backward(dout)
        var d = try gate.backward(dscale)
        d = try fc2.backward(d)
        d = try relu.backward(d)
        d = try fc1.backward(d)
        let dxSqueeze = try squeeze.backward(d)
        return elementwiseSum(dxDirect, dxSqueeze, count: inputCount, into: inputGradient)
    }
}
