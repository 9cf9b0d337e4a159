import Foundation

/// Adam (Kingma & Ba, 2015) with L2 weight decay added to the gradient, as `torch.optim.Adam`.
/// Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.
public final class Adam: Optimizer {
    let core: AdamCore
    public var learningRate: Float {
        get { core.learningRate }
        set { core.learningRate = newValue }
    }
    public var parameters: [Parameter] { core.parameters }

    public init(parameters: [Parameter], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                eps: Float = 1e-8, weightDecay: Float = 0) {
        core = AdamCore(parameters: parameters, learningRate: learningRate, betas: betas, eps: eps,
                        weightDecay: weightDecay, decoupled: false)
    }

    public func step() { core.step() }
    public func stateDict() -> [(name: String, tensor: Tensor)] { core.stateDict() }
    public func loadStateDict(_ entries: [String: Tensor]) throws(OptimizerStateError) { try core.loadStateDict(entries) }
}

/// AdamW (Loshchilov & Hutter, 2019): weight decay decoupled from the gradient,
/// p ← p·(1 − lr·wd) before the Adam update, as `torch.optim.AdamW`.
/// Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2.
public final class AdamW: Optimizer {
    let core: AdamCore
    public var learningRate: Float {
        get { core.learningRate }
        set { core.learningRate = newValue }
    }
    public var parameters: [Parameter] { core.parameters }

    public init(parameters: [Parameter], learningRate: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                eps: Float = 1e-8, weightDecay: Float = 1e-2) {
        core = AdamCore(parameters: parameters, learningRate: learningRate, betas: betas, eps: eps,
                        weightDecay: weightDecay, decoupled: true)
    }

    public func step() { core.step() }
    public func stateDict() -> [(name: String, tensor: Tensor)] { core.stateDict() }
    public func loadStateDict(_ entries: [String: Tensor]) throws(OptimizerStateError) { try core.loadStateDict(entries) }
}

/// The update shared by Adam and AdamW, in the order of torch's single-tensor `_single_tensor_adam`:
///
///     g ← grad (+ wd·p for Adam);  p ← p·(1 − lr·wd) for AdamW
///     m ← m + (1 − β1)·(g − m);    v ← β2·v + (1 − β2)·g²
///     p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps)
///
/// Scalars are formed in Double as Python floats are, then applied in Float32.
final class AdamCore {
    let parameters: [Parameter]
    var learningRate: Float
    let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    let decoupled: Bool
    private var steps: [Int]
    private var expAvg: [[Float]]
    private var expAvgSq: [[Float]]

    init(parameters: [Parameter], learningRate: Float, betas: (Float, Float), eps: Float, weightDecay: Float,
         decoupled: Bool) {
        self.parameters = parameters
        self.learningRate = learningRate
        (beta1, beta2) = betas
        self.eps = eps
        self.weightDecay = weightDecay
        self.decoupled = decoupled
        steps = Array(repeating: 0, count: parameters.count)
        expAvg = Array(repeating: [], count: parameters.count)
        expAvgSq = Array(repeating: [], count: parameters.count)
    }

    /// The Double a Float hyperparameter was written as (0.999, not 0.99900001287): torch keeps
    /// hyperparameters as Python doubles, and 1 − β2 from the Float would be off by 1e-5 relative.
    static func decimal(_ value: Float) -> Double {
        Double(value.description) ?? Double(value)
    }

    func step() {
        let lr = Self.decimal(learningRate), b1 = Self.decimal(beta1), b2 = Self.decimal(beta2)
        for (index, parameter) in parameters.enumerated() {
            let count = parameter.value.count
            if steps[index] == 0 {
                expAvg[index] = [Float](repeating: 0, count: count)
                expAvgSq[index] = [Float](repeating: 0, count: count)
            }
            steps[index] += 1
            let t = Double(steps[index])
            let stepSize = Float(lr / (1 - pow(b1, t)))
            let biasCorrection2Sqrt = Float((1 - pow(b2, t)).squareRoot())
            let decay = Float(1 - lr * Self.decimal(weightDecay))
            let oneMinusBeta1 = Float(1 - b1), oneMinusBeta2 = Float(1 - b2)
            let (decoupled, weightDecay, beta2, eps) = (self.decoupled, self.weightDecay, self.beta2, self.eps)
            parameter.value.data.withUnsafeMutableBufferPointer { p in
                parameter.grad.data.withUnsafeBufferPointer { grad in
                    expAvg[index].withUnsafeMutableBufferPointer { m in
                        expAvgSq[index].withUnsafeMutableBufferPointer { v in
                            // Decay first, in its own pass, so the moment loop has no branch.
                            if decoupled {
                                for i in 0..<count { p[i] *= decay }
                            }
                            let l2 = decoupled ? 0 : weightDecay
                            for i in 0..<count {
                                let g = grad[i] + l2 * p[i]
                                m[i] += oneMinusBeta1 * (g - m[i])
                                v[i] = v[i] * beta2 + oneMinusBeta2 * g * g
                                let denom = v[i].squareRoot() / biasCorrection2Sqrt + eps
                                p[i] += -stepSize * m[i] / denom
                            }
                        }
                    }
                }
            }
        }
    }

    func stateDict() -> [(name: String, tensor: Tensor)] {
        var out: [(name: String, tensor: Tensor)] = []
        for (index, parameter) in parameters.enumerated() where steps[index] > 0 {
            let shape = parameter.value.shape
            // Shapes match by construction, so these initialisers cannot fail.
            out.append(("\(parameter.name).step", stepTensor(steps[index])))
            out.append(("\(parameter.name).exp_avg", (try? Tensor(shape: shape, data: expAvg[index])) ?? Tensor(zeros: shape)))
            out.append(("\(parameter.name).exp_avg_sq", (try? Tensor(shape: shape, data: expAvgSq[index])) ?? Tensor(zeros: shape)))
        }
        return out
    }

    func loadStateDict(_ entries: [String: Tensor]) throws(OptimizerStateError) {
        var reader = OptimizerStateReader(entries)
        var restored: [(Int, Int, [Float], [Float])] = []
        for (index, parameter) in parameters.enumerated() {
            let shape = parameter.value.shape
            guard let tensors = reader.read(parameter.name, keys: [("step", [1]), ("exp_avg", shape), ("exp_avg_sq", shape)])
            else { continue }
            guard let step = Int(exactly: tensors[0].data[0].rounded()), step > 0 else { continue }
            restored.append((index, step, tensors[1].data, tensors[2].data))
        }
        try reader.finish()
        // Only a fully valid state replaces the current one.
        steps = Array(repeating: 0, count: parameters.count)
        expAvg = Array(repeating: [], count: parameters.count)
        expAvgSq = Array(repeating: [], count: parameters.count)
        for (index, step, m, v) in restored {
            steps[index] = step
            expAvg[index] = m
            expAvgSq[index] = v
        }
    }
}
