/// A small deterministic generator (SplitMix64, Steele et al. 2014) so that weights and
/// dropout masks are reproducible from a seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [-bound, bound).
    public mutating func uniform(bound: Float) -> Float {
        (nextUnitFloat() * 2 - 1) * bound
    }
}

/// PyTorch's default initialisation of `nn.Conv2d` and `nn.Linear`: `kaiming_uniform_(a=√5)`,
/// whose bound gain·√(3/fan_in) with gain = √(2/(1+a²)) reduces to 1/√fan_in, and the bias
/// uniform in ±1/√fan_in as well.
public enum DefaultInitialization {
    public static func fill(_ tensor: inout Tensor, fanIn: Int, using rng: inout SeededGenerator) {
        let bound = 1 / Float(max(1, fanIn)).squareRoot()
        for i in tensor.data.indices { tensor.data[i] = rng.uniform(bound: bound) }
    }
}
