import Foundation

/// Samplers for the distributions the augmentations need, over any `RandomNumberGenerator`
/// (deterministic with `Xoshiro256StarStar`). All work in Double.
public enum RandomDistributions {
    /// Uniform on the open interval (0, 1): 53 random bits, offset by half a step so that
    /// 0 never occurs (safe under `log`).
    public static func openUnit(using rng: inout some RandomNumberGenerator) -> Double {
        (Double(rng.next() >> 11) + 0.5) * 0x1p-53
    }

    /// Standard normal by the Box–Muller transform.
    public static func standardNormal(using rng: inout some RandomNumberGenerator) -> Double {
        let u1 = openUnit(using: &rng), u2 = openUnit(using: &rng)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Gamma(shape, 1) by Marsaglia & Tsang (2000), "A simple method for generating gamma
    /// variables". For shape < 1: Gamma(shape) = Gamma(shape + 1) · U^(1/shape).
    /// `shape` must be positive and finite.
    public static func gamma(shape: Double, using rng: inout some RandomNumberGenerator) -> Double {
        if shape < 1 {
            let g = gamma(shape: shape + 1, using: &rng)
            return g * pow(openUnit(using: &rng), 1 / shape)
        }
        let d = shape - 1.0 / 3.0, c = 1 / (9 * d).squareRoot()
        while true {
            let x = standardNormal(using: &rng)
            var v = 1 + c * x
            if v <= 0 { continue }
            v = v * v * v
            let u = openUnit(using: &rng)
            if u < 1 - 0.0331 * x * x * x * x { return d * v }
            if log(u) < 0.5 * x * x + d * (1 - v + log(v)) { return d * v }
        }
    }

    /// Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). When both draws underflow
    /// to 0 (possible for tiny a, b), returns 0 or 1 with equal chance, the limit law.
    public static func beta(_ a: Double, _ b: Double, using rng: inout some RandomNumberGenerator) -> Double {
        let x = gamma(shape: a, using: &rng), y = gamma(shape: b, using: &rng)
        guard x + y > 0 else { return rng.next() & 1 == 0 ? 0 : 1 }
        return x / (x + y)
    }
}
