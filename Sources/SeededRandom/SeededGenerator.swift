/// The project's one seeded generator: SplitMix64 (Steele, Lea & Flood 2014, "Fast splittable
/// pseudorandom number generators"), so that weights, dropout masks, the demo corpus and test
/// data are reproducible from a seed on every platform and never depend on the standard
/// library's unspecified `SystemRandomNumberGenerator`. Not cryptographic.
///
/// The state is the seed itself (no scrambling at construction): every stream Timbre has ever
/// drawn from a seed, and every golden test built on one, depends on that.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// An independent stream for one track and one purpose (composition, file format…) of a
    /// corpus drawn from `seed`, so that drawing more numbers for one purpose never shifts
    /// another: the track and the stream number are mixed into a fresh state, and its first
    /// output is skipped.
    public init(seed: UInt64, track: Int, stream: UInt64) {
        var mixer = SeededGenerator(seed: seed ^ 0x6A09_E667_F3BC_C908)
        let a = mixer.next()
        var second = SeededGenerator(seed: a ^ UInt64(truncatingIfNeeded: track) &* 0x9E37_79B9_7F4A_7C15)
        let b = second.next()
        state = b ^ (stream &* 0xBF58_476D_1CE4_E5B9)
        _ = next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SeededGenerator {
    /// Uniform in [0, 1) with 24 random bits (the top 24 of one draw).
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1) with 53 random bits (the top 53 of one draw).
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) / Double(1 << 53)
    }

    /// Uniform in [-bound, bound), from `nextUnitFloat`.
    public mutating func uniform(bound: Float) -> Float {
        (nextUnitFloat() * 2 - 1) * bound
    }

    /// true with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    public mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }

    public mutating func uniform(_ range: ClosedRange<Double>) -> Double { Double.random(in: range, using: &self) }

    public mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
}
