import Foundation

/// e^x, the logistic function and tanh on 8 lanes, for the LSTM's gates: Swift has no vector
/// `expf`, and the scalar one per gate value was most of an LSTM step.
extension VectorMath {
    /// Cephes' expf: x = k·ln 2 + r with |r| ≤ ln 2 / 2 (ln 2 split in two so r is exact), a
    /// degree-5 polynomial for e^r, 2^k from the exponent bits; within 2 ulp of `expf` over
    /// [−87.3, 88.3], clamped outside (0 → 2^−126, overflow → the largest power of two).
    @inline(__always)
    static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // Plain lane arithmetic only: SIMD's generic rounding and conversions are slow loops.
        let x = pointwiseMax(pointwiseMin(x, SIMD8(repeating: 88.3)), SIMD8(repeating: -87.3))
        // t's low mantissa bits hold round(x·log2 e): 1.5·2²³ pushes the fraction out.
        let t = x * 1.44269504088896341 + 12582912
        let k = t - 12582912
        var r = x - k * 0.693359375
        r = r - k * -2.12194440e-4
        var p = SIMD8<Float>(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let y = p * (r * r) + r + 1
        let exponent = (unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        return y * unsafeBitCast(exponent, to: SIMD8<Float>.self)
    }

    /// 1 / (1 + e^−x)
    @inline(__always)
    static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> { 1 / (1 + exp(-x)) }

    /// tanh x = 2σ(2x) − 1 (absolute error ~1e-7 near 0, where tanh x ≈ x)
    @inline(__always)
    static func tanh(_ x: SIMD8<Float>) -> SIMD8<Float> { 2 / (1 + exp(-2 * x)) - 1 }

    /// One LSTM step for one sequence row: `a` holds the 4H pre-activations (i, f, g, o) and is
    /// overwritten with σ(i), σ(f), tanh(g), σ(o); c = f·cPrev + i·g, tc = tanh c, h = o·tc.
    static func lstmCell(_ a: UnsafeMutablePointer<Float>, cPrev: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
                         tanhC: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>, hidden H: Int) {
        var j = 0
        while j + 8 <= H {
            let i = sigmoid(load(a + j)), f = sigmoid(load(a + H + j))
            let g = tanh(load(a + 2 * H + j)), o = sigmoid(load(a + 3 * H + j))
            let cv = f * load(cPrev + j) + i * g
            let th = tanh(cv)
            store(i, a + j); store(f, a + H + j); store(g, a + 2 * H + j); store(o, a + 3 * H + j)
            store(cv, c + j); store(th, tanhC + j); store(o * th, h + j)
            j += 8
        }
        while j < H {
            let i = 1 / (1 + expf(-a[j])), f = 1 / (1 + expf(-a[H + j]))
            let g = tanhf(a[2 * H + j]), o = 1 / (1 + expf(-a[3 * H + j]))
            let cv = f * cPrev[j] + i * g
            let th = tanhf(cv)
            a[j] = i; a[H + j] = f; a[2 * H + j] = g; a[3 * H + j] = o
            c[j] = cv; tanhC[j] = th; h[j] = o * th
            j += 1
        }
    }
}
