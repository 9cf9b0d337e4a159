/// `10 · log10(x)` for eight positive, finite, normal floats at once: the Cephes `logf`
/// algorithm (S. Moshier, Cephes Math Library: x = 2^e · m with m in [√½, √2), ln(1+f) by a
/// degree-9 polynomial, e · ln 2 added in two parts), max relative error about 1e-7, so
/// within ~1e-6 dB of glibc's `log10f` over the dB range of a spectrogram.
/// Scalar `log10f` does not vectorise and was the largest cost of `power_to_db`.
@inline(__always)
func tenLog10(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let bits = unsafeBitCast(x, to: SIMD8<Int32>.self)
    var e = SIMD8<Float>((bits &>> 23) &- 126)
    // m in [0.5, 1): keep the mantissa, set the exponent of 0.5.
    var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F00_0000, to: SIMD8<Float>.self)
    let small = m .< 0.707106781186547524
    e.replace(with: e - 1, where: small)
    m.replace(with: m + m, where: small)
    m -= 1
    let z = m * m
    var y = SIMD8<Float>(repeating: 7.0376836292e-2)
    y = y * m - 1.1514610310e-1
    y = y * m + 1.1676998740e-1
    y = y * m - 1.2420140846e-1
    y = y * m + 1.4249322787e-1
    y = y * m - 1.6668057665e-1
    y = y * m + 2.0000714765e-1
    y = y * m - 2.4999993993e-1
    y = y * m + 3.3333331174e-1
    y = y * m * z
    y += -2.12194440e-4 * e
    y += -0.5 * z
    let ln = m + y + 0.693359375 * e
    return ln * 4.342944819032518  // 10 / ln 10
}
