/// A small, fast, reproducible random number generator (SplitMix64, Steele et al. 2014)
/// so that a track depends only on the corpus seed and its index, never on thread
/// scheduling or on the standard library's unspecified `SystemRandomNumberGenerator`.
struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    /// An independent stream for one track and one purpose (composition, file format…),
    /// so that drawing more numbers for one purpose never shifts another.
    init(seed: UInt64, track: Int, stream: UInt64) {
        var mixer = SeededGenerator(seed: seed ^ 0x6A09_E667_F3BC_C908)
        let a = mixer.next()
        var second = SeededGenerator(seed: a ^ UInt64(truncatingIfNeeded: track) &* 0x9E37_79B9_7F4A_7C15)
        let b = second.next()
        state = b ^ (stream &* 0xBF58_476D_1CE4_E5B9)
        _ = next()
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// true with probability `p`.
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }

    mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }

    mutating func uniform(_ range: ClosedRange<Double>) -> Double { Double.random(in: range, using: &self) }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
}
