import NeuralNet

/// The reference `ResidualBlock`: relu(bn2(conv2(relu(bn1(conv1(x))))) [· SE] + shortcut(x)),
/// conv 3×3 without bias; the shortcut is a 1×1 conv + BN when stride or width change, else x.
final class ResidualBlock: Layer {
    let conv1: Conv2d
    let bn1: BatchNorm2d
    let relu1 = ReLU(inPlace: true)
    let conv2: Conv2d
    let bn2: BatchNorm2d
    let attention: ChannelAttention?
    let shortcutConv: Conv2d?
    let shortcutNorm: BatchNorm2d?
    let residual = Addition()
    let relu2 = ReLU(inPlace: true)
    private let inputGradient = FloatStorage()
    private var inputCount = 0

    /// `name` is the module path, e.g. `layers.1.0`.
    init(name: String, inChannels: Int, outChannels: Int, stride: Int, useAttention: Bool, reduction: Int,
         rng: inout SeededGenerator, workspace: ConvWorkspace) {
        conv1 = Conv2d(name: name + ".conv1", inChannels: inChannels, outChannels: outChannels, kernelSize: 3,
                       stride: stride, padding: 1, bias: false, rng: &rng, workspace: workspace)
        bn1 = BatchNorm2d(name: name + ".bn1", numFeatures: outChannels)
        conv2 = Conv2d(name: name + ".conv2", inChannels: outChannels, outChannels: outChannels, kernelSize: 3,
                       stride: 1, padding: 1, bias: false, rng: &rng, workspace: workspace)
        bn2 = BatchNorm2d(name: name + ".bn2", numFeatures: outChannels)
        attention = useAttention
            ? ChannelAttention(name: name + ".attention", channels: outChannels, reduction: reduction, rng: &rng) : nil
        if stride != 1 || inChannels != outChannels {
            shortcutConv = Conv2d(name: name + ".shortcut.0", inChannels: inChannels, outChannels: outChannels,
                                  kernelSize: 1, stride: stride, padding: 0, bias: false, rng: &rng, workspace: workspace)
            shortcutNorm = BatchNorm2d(name: name + ".shortcut.1", numFeatures: outChannels)
        } else {
            shortcutConv = nil
            shortcutNorm = nil
        }
    }

    var stateEntries: [StateEntry] {
        conv1.stateEntries + bn1.stateEntries + conv2.stateEntries + bn2.stateEntries
            + (attention?.stateEntries ?? []) + (shortcutConv?.stateEntries ?? []) + (shortcutNorm?.stateEntries ?? [])
    }

    // x is (B,C,H,W), out is (B,K,H/s,W/s)
    func forward(_ x: Activation, training: Bool) throws(ShapeError) -> Activation {
        inputCount = x.shape.count
        var out = try conv1.forward(x, training: training)
        out = try bn1.forward(out, training: training)
        out = try relu1.forward(out, training: training)
        out = try conv2.forward(out, training: training)
        out = try bn2.forward(out, training: training)
        if let attention { out = try attention.forward(out, training: training) }
        var skip = x
        if let shortcutConv, let shortcutNorm {
            skip = try shortcutConv.forward(x, training: training)
            skip = try shortcutNorm.forward(skip, training: training)
        }
        out = try residual.forward(out, skip)
        return try relu2.forward(out, training: training)
    }

    /// `forward(x, training: false)`'s values with every BatchNorm (running statistics) and ReLU
    /// folded into the pass that produces its input, for inference: no backward may follow.
    func forwardInference(_ x: Activation) throws(ShapeError) -> Activation {
        inputCount = x.shape.count
        var out = try conv1.forwardEvaluation(x, normalizedBy: bn1, relu: true)
        out = try conv2.forwardEvaluation(out, normalizedBy: bn2, relu: false)
        if let attention { out = try attention.forward(out, training: false) }
        var skip = x
        if let shortcutConv, let shortcutNorm {
            skip = try shortcutConv.forwardEvaluation(x, normalizedBy: shortcutNorm, relu: false)
        }
        return try residual.forward(out, skip, relu: true)
    }

    // dout is (B,K,H/s,W/s), dx is (B,C,H,W): the main path's and the shortcut's gradients summed
    func backward(_ dout: UnsafeMutablePointer<Float>) throws(ShapeError) -> UnsafeMutablePointer<Float> {
        let dsum = try relu2.backward(dout)
        var d = dsum
        if let attention { d = try attention.backward(d) }
        d = try bn2.backward(d)
        d = try conv2.backward(d)
        d = try relu1.backward(d)
        d = try bn1.backward(d)
        let dxMain = try conv1.backward(d)
        var dxSkip = dsum
        if let shortcutConv, let shortcutNorm {
            dxSkip = try shortcutNorm.backward(dxSkip)
            dxSkip = try shortcutConv.backward(dxSkip)
        }
        return elementwiseSum(dxMain, dxSkip, count: inputCount, into: inputGradient)
    }
}
