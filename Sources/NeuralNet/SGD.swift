/// Stochastic gradient descent with momentum, as `torch.optim.SGD` (dampening 0):
///
///     g ← grad + wd·p
///     b ← g on the first step, else μ·b + g
///     g ← g + μ·b (nesterov) or b (otherwise);   p ← p − lr·g
///
/// Defaults: momentum 0, nesterov false, weight_decay 0.
public final class SGD: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: Float
    private var buffers: [[Float]?]

    public init(parameters: [Parameter], learningRate: Float, momentum: Float = 0, nesterov: Bool = false,
                weightDecay: Float = 0) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov && momentum != 0
        self.weightDecay = weightDecay
        buffers = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        let (lr, mu, wd, nesterov) = (learningRate, momentum, weightDecay, self.nesterov)
        for (index, parameter) in parameters.enumerated() {
            let count = parameter.value.count
            let first = buffers[index] == nil
            if mu != 0 && first { buffers[index] = [Float](repeating: 0, count: count) }
            var buffer = buffers[index] ?? []
            buffers[index] = nil  // hand the storage to `buffer` so it is mutated in place
            parameter.value.data.withUnsafeMutableBufferPointer { p in
                parameter.grad.data.withUnsafeBufferPointer { grad in
                    buffer.withUnsafeMutableBufferPointer { b in
                        for i in 0..<count {
                            var g = grad[i]
                            if wd != 0 { g += wd * p[i] }
                            if mu != 0 {
                                b[i] = first ? g : b[i] * mu + g
                                g = nesterov ? g + mu * b[i] : b[i]
                            }
                            p[i] += -lr * g
                        }
                    }
                }
            }
            if mu != 0 { buffers[index] = buffer }
        }
    }

    public func stateDict() -> [(name: String, tensor: Tensor)] {
        zip(parameters, buffers).compactMap { parameter, buffer in
            guard let buffer, let tensor = try? Tensor(shape: parameter.value.shape, data: buffer) else { return nil }
            return ("\(parameter.name).momentum_buffer", tensor)
        }
    }

    public func loadStateDict(_ entries: [String: Tensor]) throws(OptimizerStateError) {
        var reader = OptimizerStateReader(entries)
        var restored: [[Float]?] = Array(repeating: nil, count: parameters.count)
        for (index, parameter) in parameters.enumerated() {
            restored[index] = reader.read(parameter.name, keys: [("momentum_buffer", parameter.value.shape)])?[0].data
        }
        try reader.finish()
        buffers = restored
    }
}
