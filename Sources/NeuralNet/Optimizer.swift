/// Updates parameters from their gradients, with PyTorch's semantics (`torch.optim`).
///
/// State (moments, momentum buffers, step counts) is exposed as named tensors
/// `<parameter name>.<torch state key>` (`exp_avg`, `exp_avg_sq`, `step`, `momentum_buffer`),
/// so a trainer can store it in a safetensors file and `--resume` restores it exactly.
public protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    var parameters: [Parameter] { get }
    /// One update of every parameter from its `grad`.
    func step()
    func zeroGrad()
    /// The state as named tensors; a parameter not stepped yet has none (as in torch).
    func stateDict() -> [(name: String, tensor: Tensor)]
    /// Restores `stateDict()` output; lists every missing, unexpected or wrong-shape entry.
    func loadStateDict(_ entries: [String: Tensor]) throws(OptimizerStateError)
}

extension Optimizer {
    public func zeroGrad() {
        for parameter in parameters { parameter.zeroGrad() }
    }
}

/// Saved optimizer state that does not fit the optimizer's parameters.
public struct OptimizerStateError: Error, CustomStringConvertible, Equatable {
    public var missing: [String] = []
    public var unexpected: [String] = []
    public var wrongShape: [String] = []

    public var isEmpty: Bool { missing.isEmpty && unexpected.isEmpty && wrongShape.isEmpty }

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing: \(missing.joined(separator: ", "))") }
        if !unexpected.isEmpty { parts.append("unexpected: \(unexpected.joined(separator: ", "))") }
        if !wrongShape.isEmpty { parts.append("wrong shape: \(wrongShape.joined(separator: "; "))") }
        return "optimizer state does not match the model (\(parts.joined(separator: "; "))); "
            + "resume with the optimizer and model the checkpoint was saved with, or start afresh"
    }
}

/// Per-parameter state matching for `loadStateDict`: a parameter has either all of `keys`
/// (restored) or none (fresh state, as torch before the first step).
struct OptimizerStateReader {
    let entries: [String: Tensor]
    private(set) var error = OptimizerStateError()
    private var used = Set<String>()

    init(_ entries: [String: Tensor]) { self.entries = entries }

    /// The tensors `<name>.<key>` for `keys` with the given shapes, nil when none is present.
    mutating func read(_ name: String, keys: [(key: String, shape: [Int])]) -> [Tensor]? {
        let present = keys.filter { entries["\(name).\($0.key)"] != nil }
        if present.isEmpty { return nil }
        var result: [Tensor] = []
        for (key, shape) in keys {
            let full = "\(name).\(key)"
            guard let tensor = entries[full] else { error.missing.append(full); continue }
            used.insert(full)
            guard tensor.shape == shape || (shape == [1] && tensor.count == 1) else {
                error.wrongShape.append("\(full) expected \(shape) got \(tensor.shape)")
                continue
            }
            result.append(tensor)
        }
        return result.count == keys.count ? result : nil
    }

    /// Throws if anything was missing, misshapen or left unused.
    mutating func finish() throws(OptimizerStateError) {
        error.unexpected = entries.keys.filter { !used.contains($0) }.sorted()
        if !error.isEmpty { throw error }
    }
}

/// A step count stored as a one-element tensor (exact up to 2^24 steps), as torch stores it.
func stepTensor(_ step: Int) -> Tensor {
    Tensor(zeros: [1]).withValue(Float(step))
}

extension Tensor {
    fileprivate func withValue(_ value: Float) -> Tensor {
        var copy = self
        copy.data[0] = value
        return copy
    }
}
