/// Winograd's minimal filtering F(2×2, 3×3) for 3×3 convolutions with stride 1 and padding 1
/// (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks"):
///
///     Y = Aᵀ [ Σ_c (G g_kc Gᵀ) ∘ (Bᵀ d_c B) ] A
///
/// for every 2×2 output tile, d_c its 4×4 input tile (zero outside the image), g_kc the 3×3
/// kernel. With ξ one of the 16 tile positions, the sum over c is 16 GEMMs
/// M[ξ] (K × T) = U[ξ] (K × C) · V[ξ] (C × T) over the T tiles of a group of samples: 16
/// multiplies per 4 outputs instead of 36, 2.25× fewer than im2col's GEMM.
///
///     G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
///     Aᵀ = [1 1 1 0; 0 1 −1 −1]
enum Winograd {
    /// The 16 transformed kernels, U[ξ][k][c] = (G g_kc Gᵀ)[ξ]; w is (K, C, 3, 3). With
    /// `transposed`, w is (C, K, 3, 3) and g_kc is w[c, k] rotated by 180°: the kernels of the
    /// input gradient, itself a 3×3 convolution of the output gradient.
    static func transformWeights(_ u: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>, outChannels K: Int,
                                 inChannels C: Int, transposed: Bool = false) {
        let uBox = SendablePointer(u), wBox = SendablePointer(UnsafeMutablePointer(mutating: w))
        Parallel.forEachChunk(K, grain: max(1, 4096 / max(1, C))) { kernels in
            let u = uBox.pointer, w = wBox.pointer
            for k in kernels {
                for c in 0..<C {
                    let kernel = w + (transposed ? c * K + k : k * C + c) * 9
                    @inline(__always) func g(_ n: Int) -> Float { kernel[transposed ? 8 - n : n] }
                    // G·g, one SIMD4 per column j of g (the 4 rows of G·g)
                    func column(_ j: Int) -> SIMD4<Float> {
                        let g0 = g(j), g1 = g(3 + j), g2 = g(6 + j)
                        return SIMD4(g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2)
                    }
                    let t0 = column(0), t1 = column(1), t2 = column(2)
                    // (G·g)·Gᵀ: column j' of the result combines the columns of G·g the same way
                    let half = SIMD4<Float>(repeating: 0.5)
                    let columns = (t0, half * (t0 + t1 + t2), half * (t0 - t1 + t2), t2)
                    for i in 0..<4 {
                        u[((i * 4 + 0) * K + k) * C + c] = columns.0[i]
                        u[((i * 4 + 1) * K + k) * C + c] = columns.1[i]
                        u[((i * 4 + 2) * K + k) * C + c] = columns.2[i]
                        u[((i * 4 + 3) * K + k) * C + c] = columns.3[i]
                    }
                }
            }
        }
    }

    /// Tiles per sample: ⌈H/2⌉ × ⌈W/2⌉.
    static func tiles(height H: Int, width W: Int) -> (rows: Int, columns: Int) { ((H + 1) / 2, (W + 1) / 2) }

    /// Floats of the scratch `transformInput` needs: the padded plane's even and odd columns.
    static func inputScratch(height H: Int, width W: Int) -> Int {
        let (tr, tc) = tiles(height: H, width: W)
        return 2 * (2 * tr + 2) * (tc + 5)
    }

    /// V[ξ][c][t] = (Bᵀ d B)[ξ] for the tiles t of `samples` (sample-major, then tile rows), the
    /// matrices V[ξ] `stride` floats apart; `scratch` holds `inputScratch` floats.
    ///
    /// Four neighbouring tiles at a time on SIMD4 lanes: with the zero-padded plane split into its
    /// even and odd columns E and O, column q of tiles j…j+3 is E[j…j+3], O[j…j+3], E[j+1…j+4] or
    /// O[j+1…j+4], and each of the 16 results is a contiguous run of V[ξ].
    static func transformInput(_ v: UnsafeMutablePointer<Float>, stride: Int, _ inp: UnsafePointer<Float>,
                               _ shape: ActivationShape, samples: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
        let (C, H, W) = (shape.channels, shape.height, shape.width)
        let (tr, tc) = tiles(height: H, width: W)
        let perSample = tr * tc, T = samples.count * perSample
        // Padded row r holds input row r − 1; padded column 2x is E[x], 2x + 1 is O[x].
        let Hp = 2 * tr + 2, Ws = tc + 5
        let even = scratch, odd = scratch + Hp * Ws
        scratch.update(repeating: 0, count: 2 * Hp * Ws)
        for b in samples {
            for c in 0..<C {
                let src = inp + (b * C + c) * H * W
                for h in 0..<H {
                    let e = even + (h + 1) * Ws, o = odd + (h + 1) * Ws, row = src + h * W
                    // input column w is padded column w + 1: odd w → E[(w+1)/2], even w → O[w/2]
                    var w = 0
                    while w + 1 < W { o[w / 2] = row[w]; e[w / 2 + 1] = row[w + 1]; w += 2 }
                    if w < W { o[w / 2] = row[w] }
                }
                let base = v + c * T + (b - samples.lowerBound) * perSample
                for i in 0..<tr {
                    let o = base + i * tc
                    var j = 0
                    while j < tc {
                        @inline(__always) func load(_ plane: UnsafeMutablePointer<Float>, _ r: Int, _ x: Int) -> SIMD4<Float> {
                            UnsafeRawPointer(plane + (2 * i + r) * Ws + x).loadUnaligned(as: SIMD4<Float>.self)
                        }
                        // Bᵀ d per column q: rows d0 − d2, d1 + d2, d2 − d1, d1 − d3
                        @inline(__always) func rows(_ plane: UnsafeMutablePointer<Float>, _ x: Int)
                            -> (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>) {
                            let d0 = load(plane, 0, x), d1 = load(plane, 1, x), d2 = load(plane, 2, x), d3 = load(plane, 3, x)
                            return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
                        }
                        let q0 = rows(even, j), q1 = rows(odd, j), q2 = rows(even, j + 1), q3 = rows(odd, j + 1)
                        let lanes = min(4, tc - j)
                        // (Bᵀ d) B per row: columns a0 − a2, a1 + a2, a2 − a1, a1 − a3
                        @inline(__always) func store(_ row: Int, _ a0: SIMD4<Float>, _ a1: SIMD4<Float>,
                                                     _ a2: SIMD4<Float>, _ a3: SIMD4<Float>) {
                            let p = o + 4 * row * stride + j
                            put(a0 - a2, p, lanes)
                            put(a1 + a2, p + stride, lanes)
                            put(a2 - a1, p + 2 * stride, lanes)
                            put(a1 - a3, p + 3 * stride, lanes)
                        }
                        store(0, q0.0, q1.0, q2.0, q3.0)
                        store(1, q0.1, q1.1, q2.1, q3.1)
                        store(2, q0.2, q1.2, q2.2, q3.2)
                        store(3, q0.3, q1.3, q2.3, q3.3)
                        j += 4
                    }
                }
            }
        }
    }

    /// The first `lanes` (1…4) lanes of x at p: a row of tiles' last, partial group of four
    /// (`Winograd4` too).
    @inline(__always)
    static func put(_ x: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>, _ lanes: Int) {
        let raw = UnsafeMutableRawPointer(p)
        switch lanes {
        case 4: raw.storeBytes(of: x, as: SIMD4<Float>.self)
        case 3: raw.storeBytes(of: x.lowHalf, as: SIMD2<Float>.self); p[2] = x[2]
        case 2: raw.storeBytes(of: x.lowHalf, as: SIMD2<Float>.self)
        default: p[0] = x[0]
        }
    }

    /// out[b,k] = Aᵀ M A for every tile, cut to H × W, then `epilogue`; M is M[ξ][k][t], the
    /// M[ξ] `stride` floats apart. Four neighbouring tiles at a time, as in `transformInput`.
    static func transformOutput(_ out: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, stride: Int,
                                _ shape: ActivationShape, outChannels K: Int, samples: Range<Int>,
                                epilogue: ChannelEpilogue) {
        let (H, W) = (shape.height, shape.width)
        let (tr, tc) = tiles(height: H, width: W)
        let perSample = tr * tc, T = samples.count * perSample
        for b in samples {
            for k in 0..<K {
                let y = out + (b * K + k) * H * W
                let base = m + k * T + (b - samples.lowerBound) * perSample
                for i in 0..<tr {
                    var j = 0
                    while j < tc {
                        let lanes = min(4, tc - j)
                        @inline(__always) func load(_ xi: Int) -> SIMD4<Float> {
                            let p = base + xi * stride + i * tc + j
                            if lanes == 4 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) }
                            var x = SIMD4<Float>()
                            for l in 0..<lanes { x[l] = p[l] }
                            return x
                        }
                        // Aᵀ M per column q: top = m0q + m1q + m2q, bottom = m1q − m2q − m3q
                        var top = (SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>())
                        var bottom = top
                        func column(_ q: Int) -> (SIMD4<Float>, SIMD4<Float>) {
                            let m0 = load(q), m1 = load(4 + q), m2 = load(8 + q), m3 = load(12 + q)
                            return (m0 + m1 + m2, m1 - m2 - m3)
                        }
                        (top.0, bottom.0) = column(0)
                        (top.1, bottom.1) = column(1)
                        (top.2, bottom.2) = column(2)
                        (top.3, bottom.3) = column(3)
                        // (Aᵀ M) A: output columns 2j' and 2j' + 1 of tiles j' = j…j+3
                        let count = min(2 * lanes, W - 2 * j)
                        writeRow(y + 2 * i * W + 2 * j, top.0 + top.1 + top.2, top.1 - top.2 - top.3, count)
                        if 2 * i + 1 < H {
                            writeRow(y + (2 * i + 1) * W + 2 * j, bottom.0 + bottom.1 + bottom.2,
                                     bottom.1 - bottom.2 - bottom.3, count)
                        }
                        j += 4
                    }
                }
                if !epilogue.isIdentity { epilogue.apply(y, channel: k, count: H * W) }
            }
        }
    }

    /// y[0…count) = left[0], right[0], left[1], right[1], …
    @inline(__always)
    private static func writeRow(_ y: UnsafeMutablePointer<Float>, _ left: SIMD4<Float>, _ right: SIMD4<Float>, _ count: Int) {
        if count == 8 {
            let pairs = SIMD8(left[0], right[0], left[1], right[1], left[2], right[2], left[3], right[3])
            UnsafeMutableRawPointer(y).storeBytes(of: pairs, as: SIMD8<Float>.self)
        } else {
            for n in 0..<count { y[n] = n % 2 == 0 ? left[n / 2] : right[n / 2] }
        }
    }
    /// Floats of the scratch `transformOutputGradient` needs: the gradient plane's even and odd columns.
    static func gradientScratch(height H: Int, width W: Int) -> Int {
        let (tr, tc) = tiles(height: H, width: W)
        return 2 * (2 * tr) * (tc + 4)
    }

    /// dM[ξ][k][t] = (A dY Aᵀ)[ξ] for the 2×2 output-gradient tiles dY of `samples` (zero outside
    /// the image), the dM[ξ] `stride` floats apart; `shape` is the output's. Four tiles at a time
    /// from the even and odd columns, as in `transformInput`.
    static func transformOutputGradient(_ m: UnsafeMutablePointer<Float>, stride: Int, _ dout: UnsafePointer<Float>,
                                        _ shape: ActivationShape, samples: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
        let (K, H, W) = (shape.channels, shape.height, shape.width)
        let (tr, tc) = tiles(height: H, width: W)
        let perSample = tr * tc, T = samples.count * perSample
        let Ws = tc + 4
        let even = scratch, odd = scratch + 2 * tr * Ws
        scratch.update(repeating: 0, count: gradientScratch(height: H, width: W))
        for b in samples {
            for k in 0..<K {
                let src = dout + (b * K + k) * H * W
                for h in 0..<H {
                    let e = even + h * Ws, o = odd + h * Ws, row = src + h * W
                    var w = 0
                    while w + 1 < W { e[w / 2] = row[w]; o[w / 2] = row[w + 1]; w += 2 }
                    if w < W { e[w / 2] = row[w] }
                }
                let base = m + k * T + (b - samples.lowerBound) * perSample
                for i in 0..<tr {
                    var j = 0
                    while j < tc {
                        @inline(__always) func load(_ plane: UnsafeMutablePointer<Float>, _ r: Int) -> SIMD4<Float> {
                            UnsafeRawPointer(plane + (2 * i + r) * Ws + j).loadUnaligned(as: SIMD4<Float>.self)
                        }
                        let a = load(even, 0), bb = load(odd, 0), c = load(even, 1), d = load(odd, 1)
                        let lanes = min(4, tc - j)
                        // A dY: rows (a, b), (a + c, b + d), (a − c, b − d), (−c, −d); each row
                        // (x, y) times Aᵀ: x, x + y, x − y, −y
                        @inline(__always) func store(_ row: Int, _ x: SIMD4<Float>, _ y: SIMD4<Float>) {
                            let p = base + 4 * row * stride + i * tc + j
                            put(x, p, lanes)
                            put(x + y, p + stride, lanes)
                            put(x - y, p + 2 * stride, lanes)
                            put(-y, p + 3 * stride, lanes)
                        }
                        store(0, a, bb)
                        store(1, a + c, bb + d)
                        store(2, a - c, bb - d)
                        store(3, -c, -d)
                        j += 4
                    }
                }
            }
        }
    }

    /// dw[k, c] += Gᵀ dU_kc G (3×3) from dU[ξ][k][c] (4×4 per kernel), the transpose of
    /// `transformWeights`.
    static func accumulateWeightGradient(_ dw: UnsafeMutablePointer<Float>, _ du: UnsafePointer<Float>,
                                         outChannels K: Int, inChannels C: Int) {
        let dwBox = SendablePointer(dw), duBox = SendablePointer(UnsafeMutablePointer(mutating: du))
        Parallel.forEachChunk(K, grain: max(1, 4096 / max(1, C))) { kernels in
            let dw = dwBox.pointer, du = duBox.pointer
            let half = SIMD4<Float>(repeating: 0.5)
            for k in kernels {
                for c in 0..<C {
                    @inline(__always) func row(_ i: Int) -> SIMD4<Float> {
                        SIMD4(du[((4 * i) * K + k) * C + c], du[((4 * i + 1) * K + k) * C + c],
                              du[((4 * i + 2) * K + k) * C + c], du[((4 * i + 3) * K + k) * C + c])
                    }
                    let u0 = row(0), u1 = row(1), u2 = row(2), u3 = row(3)
                    // Gᵀ u: rows u0 + ½(u1 + u2), ½(u1 − u2), ½(u1 + u2) + u3
                    let t = (u0 + half * (u1 + u2), half * (u1 - u2), half * (u1 + u2) + u3)
                    let g = dw + (k * C + c) * 9
                    // (Gᵀ u) G: the same combination across each row's columns
                    @inline(__always) func add(_ r: Int, _ v: SIMD4<Float>) {
                        g[3 * r] += v[0] + 0.5 * (v[1] + v[2])
                        g[3 * r + 1] += 0.5 * (v[1] - v[2])
                        g[3 * r + 2] += 0.5 * (v[1] + v[2]) + v[3]
                    }
                    add(0, t.0); add(1, t.1); add(2, t.2)
                }
            }
        }
    }
}
