/// mixup (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization"): a training
/// example made of two, `x = λ x₁ + (1 - λ) x₂`, `y = λ y₁ + (1 - λ) y₂`, λ ~ Beta(α, α).
/// The seed uses α = 0.2.
public enum Mixup {
    /// The blended pair and the λ used for both spectrogram and labels.
    public struct Result: Sendable, Equatable {
        public var spectrogram: Spectrogram
        public var labels: [Float]
        public var lambda: Float
    }

    /// λ ~ Beta(α, α), sampled through two Gamma draws (Marsaglia–Tsang).
    public static func sampleLambda(alpha: Float = 0.2, using rng: inout some RandomNumberGenerator) throws(FeatureError) -> Float {
        guard alpha.isFinite, alpha > 0 else { throw .invalidParameter(name: "alpha", reason: "must be positive, got \(alpha)") }
        return Float(RandomDistributions.beta(Double(alpha), Double(alpha), using: &rng))
    }

    /// `λ a + (1 - λ) b`, element-wise, for spectrograms or label vectors of equal length.
    public static func blend(_ a: [Float], _ b: [Float], lambda: Float) throws(FeatureError) -> [Float] {
        guard a.count == b.count else { throw .shapeMismatch("mixup inputs have \(a.count) and \(b.count) values") }
        var out = a
        for i in out.indices { out[i] = lambda * a[i] + (1 - lambda) * b[i] }
        return out
    }

    /// Mixes two examples with one λ ~ Beta(α, α) for both the spectrogram and the labels.
    public static func mix(_ a: Spectrogram, labels labelsA: [Float], with b: Spectrogram, labels labelsB: [Float],
                           alpha: Float = 0.2, using rng: inout some RandomNumberGenerator) throws(FeatureError) -> Result {
        guard a.nMels == b.nMels, a.frames == b.frames else {
            throw .shapeMismatch("mixup spectrograms are \(a.nMels)x\(a.frames) and \(b.nMels)x\(b.frames)")
        }
        let lambda = try sampleLambda(alpha: alpha, using: &rng)
        let values = try blend(a.values, b.values, lambda: lambda)
        let labels = try blend(labelsA, labelsB, lambda: lambda)
        return Result(spectrogram: Spectrogram(nMels: a.nMels, frames: a.frames, values: values), labels: labels, lambda: lambda)
    }
}
