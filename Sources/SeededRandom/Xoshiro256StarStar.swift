/// xoshiro256** (Blackman & Vigna 2018, "Scrambled linear pseudorandom number generators"),
/// its 256-bit state filled from the seed by four draws of `SeededGenerator` (SplitMix64), as
/// the authors recommend. The generator of the training pipeline: augmentations, shuffles,
/// stratified splits, and the library map's k-means. Its streams are not `SeededGenerator`'s,
/// and every training run and split made so far depends on them. Not cryptographic.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable, Equatable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var splitMix = SeededGenerator(seed: seed)
        s0 = splitMix.next(); s1 = splitMix.next(); s2 = splitMix.next(); s3 = splitMix.next()
    }

    /// The raw state, as the reference implementation's `s[0…3]` (known-answer tests).
    init(state: (UInt64, UInt64, UInt64, UInt64)) {
        (s0, s1, s2, s3) = state
    }

    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
