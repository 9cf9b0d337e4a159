/// Bit-exact conversions between Float32 and the 16-bit float formats of safetensors files.
///
/// Written by hand rather than with Swift's `Float16` because that type is missing on some
/// platforms (macOS on x86_64). IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 fraction
/// bits; bfloat16: the top 16 bits of a binary32. Float→16-bit rounds to nearest, ties to even.
enum Float16Conversion {
    /// binary16 bits → Float (exact: every binary16 value is a binary32 value).
    static func float(fromHalf bits: UInt16) -> Float {
        let sign: UInt32 = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let fraction = UInt32(bits & 0x03FF)
        switch exponent {
        case 0:  // zero or subnormal: fraction · 2^-24
            let magnitude = Float(fraction) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 0x1F:  // infinity or NaN (payload kept in the high fraction bits)
            return Float(bitPattern: sign | 0x7F80_0000 | (fraction << 13))
        default:
            return Float(bitPattern: sign | ((exponent + 112) << 23) | (fraction << 13))
        }
    }

    /// Float → binary16 bits, round to nearest even; overflow gives ±infinity, NaN stays NaN.
    static func half(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let magnitude = bits & 0x7FFF_FFFF
        if magnitude >= 0x7F80_0000 {  // inf or NaN
            return sign | 0x7C00 | (magnitude > 0x7F80_0000 ? 0x0200 : 0)
        }
        if magnitude >= 0x477F_F000 { return sign | 0x7C00 }  // ≥ 65520 rounds to infinity
        if magnitude < 0x3880_0000 {  // below 2^-14: subnormal half; scaling by 2^24 is exact
            let scaled = (Float(bitPattern: magnitude) * 0x1p24).rounded(.toNearestOrEven)
            return sign | UInt16(scaled)  // 1024 here is correctly the smallest normal
        }
        let fraction = magnitude & 0x007F_FFFF
        var half = ((magnitude >> 23) - 112) << 10 | (fraction >> 13)
        let rest = fraction & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && half & 1 == 1) { half += 1 }  // carry may bump the exponent
        return sign | UInt16(truncatingIfNeeded: half)
    }

    /// bfloat16 bits → Float (exact).
    static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Float → bfloat16 bits, round to nearest even; NaN stays NaN.
    static func bfloat16(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }
}
