/// Four consecutive outputs of an exact polyphase bank computed together from one input
/// window, so each input load serves four dot products (five loads per four multiply-adds
/// of four lanes instead of eight) and the four horizontal sums share one transpose.
///
/// Output n reads x[i_n ..< i_n + 2K] with row p_n = n·down mod up, i_n = ⌊n·down/up⌋.
/// For a group starting at n₀ the offsets i_{n₀+r} − i_{n₀} (r < 4) depend only on p_{n₀}, so
/// one row set per residue holds the four kernels shifted by their offsets inside a common
/// window of `width` inputs, interleaved four floats at a time:
/// rows[p·4·width + 16·c + 4·r + l] = h_{p_{n₀+r}}[4c + l − offset_r] (zero outside the kernel).
struct GroupedPhases: Sendable {
    static let groupSize = 4
    /// Inputs read per group: 2K plus the largest offset, rounded up to a multiple of 4.
    let width: Int
    let rows: [Float]

    /// Nil when the row sets would exceed `maxFloats`.
    init?(table: [Float], stride: Int, taps: Int, up: Int, down: Int, maxFloats: Int = 1 << 20) {
        let span = ((up - 1) + (Self.groupSize - 1) * down) / up
        width = (taps + span + 3) / 4 * 4
        guard up * Self.groupSize * width <= maxFloats else { return nil }
        var rows = [Float](repeating: 0, count: up * Self.groupSize * width)
        for p in 0..<up {
            for r in 0..<Self.groupSize {
                let phase = (p + r * down) % up
                let offset = (p + r * down) / up
                for j in 0..<taps {
                    let column = j + offset
                    rows[p * Self.groupSize * width + 16 * (column / 4) + 4 * r + column % 4] = table[phase * stride + j]
                }
            }
        }
        self.rows = rows
    }
}

extension FilterBank {
    /// `out[n]` for n in `outputs`, four at a time; returns the first output not computed
    /// (fewer than four remain).
    func runGrouped(_ buffers: Buffers, rows: UnsafePointer<Float>, width: Int, outputs: Range<Int>) -> Int {
        let x = UnsafeRawPointer(buffers.x), out = buffers.out
        let rowsRaw = UnsafeRawPointer(rows)
        let group = GroupedPhases.groupSize
        let stepWhole = group * down / up, stepPhase = group * down % up
        var i = outputs.lowerBound * down / up, p = outputs.lowerBound * down % up
        var n = outputs.lowerBound
        let chunks = width / 4
        while n + group <= outputs.upperBound {
            var a0 = SIMD4<Float>(), a1 = SIMD4<Float>(), a2 = SIMD4<Float>(), a3 = SIMD4<Float>()
            let base = p * group * width * 4
            for c in 0..<chunks {
                let xv = x.loadUnaligned(fromByteOffset: (i + 4 * c) * 4, as: SIMD4<Float>.self)
                let h = base + c * 64
                a0 += rowsRaw.load(fromByteOffset: h, as: SIMD4<Float>.self) * xv
                a1 += rowsRaw.load(fromByteOffset: h + 16, as: SIMD4<Float>.self) * xv
                a2 += rowsRaw.load(fromByteOffset: h + 32, as: SIMD4<Float>.self) * xv
                a3 += rowsRaw.load(fromByteOffset: h + 48, as: SIMD4<Float>.self) * xv
            }
            // Transpose-and-add: lane r of the result is the sum of a_r's lanes.
            let s01 = SIMD4(a0[0], a1[0], a0[2], a1[2]) + SIMD4(a0[1], a1[1], a0[3], a1[3])
            let s23 = SIMD4(a2[0], a3[0], a2[2], a3[2]) + SIMD4(a2[1], a3[1], a2[3], a3[3])
            let sums = SIMD4(s01[0], s01[1], s23[0], s23[1]) + SIMD4(s01[2], s01[3], s23[2], s23[3])
            UnsafeMutableRawPointer(out + n).storeBytes(of: sums, as: SIMD4<Float>.self)
            p += stepPhase
            if p >= up { p -= up; i += 1 }
            i += stepWhole
            n += group
        }
        return n
    }
}
