import Foundation

/// Binary cross-entropy on logits, mean over every element, as `torch.nn.BCEWithLogitsLoss`.
///
/// For logit x, target y ∈ [0, 1] (soft targets from mixup or distillation are fine) and the
/// class's positive weight pw (default 1):
///
///     ℓ(x, y) = (1 − y)·x + (1 + (pw − 1)·y)·(log1p(exp(−|x|)) + max(−x, 0))
///
/// which is −[pw·y·log σ(x) + (1 − y)·log(1 − σ(x))] written so exp never overflows
/// (PyTorch's `binary_cross_entropy_with_logits`). The loss is the mean of ℓ over the B×C
/// elements; its gradient is ∂ℓ/∂x = (1 − y) − (1 + (pw − 1)·y)·σ(−x), divided by B·C.
///
/// With a `mask` m ∈ {0, 1} (or any weights ≥ 0) the loss is Σ m·ℓ / Σ m: elements whose
/// target is unknown (m = 0) add nothing and get no gradient, and the mean is over the known
/// ones, so a batch's loss keeps its scale however many targets are missing. An all-ones mask
/// gives exactly the unmasked loss. (torch's `weight=` argument instead divides by B·C.)
public struct BCEWithLogitsLoss: Sendable {
    /// Per-class weight of the positive term (length C), or nil for 1 everywhere.
    public let posWeight: [Float]?

    public init(posWeight: [Float]? = nil) {
        self.posWeight = posWeight
    }

    /// `logits` and `targets` are (B, C); returns the mean loss and ∂loss/∂logits (B, C).
    public func callAsFunction(logits: Tensor, targets: Tensor) throws(ShapeError) -> (loss: Float, gradient: Tensor) {
        try callAsFunction(logits: logits, targets: targets, mask: nil)
    }

    /// `logits`, `targets` and `mask` are (B, C); the mean over the elements with mask > 0
    /// (weighted by the mask), and its gradient. No known element: loss 0, gradient 0.
    public func callAsFunction(logits: Tensor, targets: Tensor, mask: Tensor?) throws(ShapeError) -> (loss: Float, gradient: Tensor) {
        try targets.checkShape(logits.shape, "BCEWithLogitsLoss targets")
        if let mask { try mask.checkShape(logits.shape, "BCEWithLogitsLoss mask") }
        let classes = logits.shape.last ?? 1
        if let posWeight, posWeight.count != classes {
            throw ShapeError("BCEWithLogitsLoss pos_weight has \(posWeight.count) values for \(classes) classes")
        }
        let count = logits.count
        guard count > 0 else { return (.nan, logits) }  // torch: the mean of nothing is NaN
        var gradient = Tensor(zeros: logits.shape)
        let known = mask.map { $0.data.reduce(Float(0)) { $0 + max($1, 0) } } ?? Float(count)
        guard known > 0 else { return (0, gradient) }
        let scale = 1 / known
        var total = 0.0
        let weights = mask?.data ?? []
        logits.data.withUnsafeBufferPointer { x in
            targets.data.withUnsafeBufferPointer { y in
                gradient.data.withUnsafeMutableBufferPointer { g in
                    for i in 0..<count {
                        let m = weights.isEmpty ? 1 : max(weights[i], 0)
                        if m == 0 { continue }
                        let xi = x[i], yi = y[i]
                        let weight = posWeight.map { 1 + ($0[i % classes] - 1) * yi } ?? 1
                        let softplusNegX = log1p(exp(-abs(xi))) + max(-xi, 0)  // −log σ(x)
                        total += Double(m * ((1 - yi) * xi + weight * softplusNegX))
                        g[i] = m * ((1 - yi) - weight * Self.sigmoid(-xi)) * scale
                    }
                }
            }
        }
        return (Float(total / Double(known)), gradient)
    }

    /// σ(z) without overflow for large |z|.
    @inline(__always)
    static func sigmoid(_ z: Float) -> Float {
        if z >= 0 { return 1 / (1 + exp(-z)) }
        let e = exp(z)
        return e / (1 + e)
    }
}
