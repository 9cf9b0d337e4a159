/// Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray 2016), interpolation points 0, ±1, ±2
/// and ∞: 36 multiplies per 16 outputs instead of F(2×2, 3×3)'s 16 per 4, so the tile-position
/// GEMMs do 1.78× less work and read and write 1.78× fewer transformed floats. Same layout as
/// `Winograd`: U[ξ][k][c], V[ξ][c][t], M[ξ][k][t] with ξ one of the 36 positions of a 6×6 tile.
///
///     G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1⁄24 1⁄12 ⅙; 1⁄24 −1⁄12 ⅙; 0 0 1]
///     Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
///     Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
///
/// Its float32 rounding is about ten times F(2×2, 3×3)'s (a few 1e-6 of the output's scale,
/// `WinogradTests`), inside the PyTorch goldens' tolerances for evaluation. Training stays on
/// F(2×2, 3×3): AdamW divides each gradient by its own running scale, so the larger rounding of
/// small gradients would show in the weights after a few steps.
enum Winograd4 {
    /// The columns of G, lanes 0…5.
    private static let gColumns = (SIMD8<Float>(0.25, -1.0 / 6, -1.0 / 6, 1.0 / 24, 1.0 / 24, 0, 0, 0),
                                   SIMD8<Float>(0, -1.0 / 6, 1.0 / 6, 1.0 / 12, -1.0 / 12, 0, 0, 0),
                                   SIMD8<Float>(0, -1.0 / 6, -1.0 / 6, 1.0 / 6, 1.0 / 6, 1, 0, 0))

    /// Tiles per sample: ⌈H/4⌉ × ⌈W/4⌉.
    static func tiles(height H: Int, width W: Int) -> (rows: Int, columns: Int) { ((H + 3) / 4, (W + 3) / 4) }

    /// The 36 transformed kernels U[ξ][k][c] = (G g_kc Gᵀ)[ξ] of w (K, C, 3, 3), or with
    /// `transposed` of w (C, K, 3, 3) rotated by 180°, as in `Winograd.transformWeights`.
    static func transformWeights(_ u: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>, outChannels K: Int,
                                 inChannels C: Int, transposed: Bool = false) {
        let uBox = SendablePointer(u), wBox = SendablePointer(UnsafeMutablePointer(mutating: w))
        Parallel.forEachChunk(K, grain: max(1, 4096 / max(1, C))) { kernels in
            let u = uBox.pointer, w = wBox.pointer
            for k in kernels {
                for c in 0..<C {
                    let kernel = w + (transposed ? c * K + k : k * C + c) * 9
                    @inline(__always) func g(_ n: Int) -> Float { kernel[transposed ? 8 - n : n] }
                    // Column s of G·g, lane i: Σ_r G[i][r] g[r][s]
                    @inline(__always) func column(_ s: Int) -> SIMD8<Float> {
                        gColumns.0 * g(s) + gColumns.1 * g(3 + s) + gColumns.2 * g(6 + s)
                    }
                    let y0 = column(0), y1 = column(1), y2 = column(2)
                    // (G·g)·Gᵀ column j, lane i: Σ_s G[j][s] y_s[i], G's rows spelt out
                    let sixth: Float = 1.0 / 6, quarterY0 = 0.25 * y0
                    let z = (quarterY0, -sixth * (y0 + y1 + y2), -sixth * (y0 - y1 + y2),
                             sixth * (quarterY0 + y2) + y1 / 12, sixth * (quarterY0 + y2) - y1 / 12, y2)
                    for i in 0..<6 {
                        let row = u + (i * 6 * K + k) * C + c
                        row[0] = z.0[i]; row[K * C] = z.1[i]; row[2 * K * C] = z.2[i]
                        row[3 * K * C] = z.3[i]; row[4 * K * C] = z.4[i]; row[5 * K * C] = z.5[i]
                    }
                }
            }
        }
    }

    /// Floats of the scratch `transformInput` needs: the padded plane's four column phases.
    static func inputScratch(height H: Int, width W: Int) -> Int {
        let (tr, tc) = tiles(height: H, width: W)
        return 4 * (4 * tr + 2) * (tc + 5)
    }

    /// V[ξ][c][t] = (Bᵀ d B)[ξ] for the 6×6 input tiles d of `samples` (zero outside the image),
    /// the V[ξ] `stride` floats apart. Four neighbouring tiles at a time on SIMD4 lanes: with the
    /// zero-padded plane split into its four column phases P₀…P₃ (padded column 4x + p is
    /// P_p[x]), column q of tiles j…j+3 is P_{q mod 4}[j + ⌊q/4⌋ …], one contiguous load.
    static func transformInput(_ v: UnsafeMutablePointer<Float>, stride: Int, _ inp: UnsafePointer<Float>,
                               _ shape: ActivationShape, samples: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
        let (C, H, W) = (shape.channels, shape.height, shape.width)
        let (tr, tc) = tiles(height: H, width: W)
        let perSample = tr * tc, T = samples.count * perSample
        // Padded row r holds input row r − 1, padded column x input column x − 1.
        let Hp = 4 * tr + 2, Ws = tc + 5, planeSize = Hp * Ws
        scratch.update(repeating: 0, count: 4 * planeSize)
        withUnsafeTemporaryAllocation(of: SIMD4<Float>.self, capacity: 36) { columns in
            for b in samples {
                for c in 0..<C {
                    let src = inp + (b * C + c) * H * W
                    for h in 0..<H {
                        splitPhases(src + h * W, count: W, scratch + (h + 1) * Ws, planeSize: planeSize)
                    }
                    let base = v + c * T + (b - samples.lowerBound) * perSample
                    for i in 0..<tr {
                        transformTileRow(base + i * tc, stride: stride, scratch + 4 * i * Ws, planeSize: planeSize,
                                         rowStride: Ws, tiles: tc, columns: columns.baseAddress!)
                    }
                }
            }
        }
    }

    /// Input columns 0…count−1 into the phase planes' row at `row`: column w is padded column
    /// w + 1, plane (w + 1) mod 4 at (w + 1) / 4, the planes `planeSize` floats apart.
    @inline(never)
    private static func splitPhases(_ src: UnsafePointer<Float>, count W: Int, _ row: UnsafeMutablePointer<Float>,
                                    planeSize: Int) {
        let p0 = row, p1 = row + planeSize, p2 = row + 2 * planeSize, p3 = row + 3 * planeSize
        var x = 0
        while 4 * x + 3 < W {
            let four = UnsafeRawPointer(src + 4 * x).loadUnaligned(as: SIMD4<Float>.self)
            p1[x] = four[0]; p2[x] = four[1]; p3[x] = four[2]; p0[x + 1] = four[3]
            x += 1
        }
        for w in 4 * x..<W {
            let column = w + 1
            row[(column & 3) * planeSize + column >> 2] = src[w]
        }
    }

    /// One row of tiles: Bᵀ d column by column into `columns` (36 vectors, column-major), then
    /// the same map across each of the six rows into V.
    @inline(never)
    private static func transformTileRow(_ o: UnsafeMutablePointer<Float>, stride: Int, _ planes: UnsafeMutablePointer<Float>,
                                         planeSize: Int, rowStride Ws: Int, tiles tc: Int,
                                         columns: UnsafeMutablePointer<SIMD4<Float>>) {
        var j = 0
        while j < tc {
            for q in 0..<6 {
                let plane = planes + (q & 3) * planeSize + j + q >> 2
                @inline(__always) func load(_ r: Int) -> SIMD4<Float> {
                    UnsafeRawPointer(plane + r * Ws).loadUnaligned(as: SIMD4<Float>.self)
                }
                let t = inputMap(load(0), load(1), load(2), load(3), load(4), load(5))
                let column = columns + 6 * q
                column[0] = t.0; column[1] = t.1; column[2] = t.2; column[3] = t.3; column[4] = t.4; column[5] = t.5
            }
            let lanes = min(4, tc - j)
            for r in 0..<6 {
                let t = inputMap(columns[r], columns[6 + r], columns[12 + r], columns[18 + r], columns[24 + r], columns[30 + r])
                let p = o + 6 * r * stride + j
                Winograd.put(t.0, p, lanes); Winograd.put(t.1, p + stride, lanes); Winograd.put(t.2, p + 2 * stride, lanes)
                Winograd.put(t.3, p + 3 * stride, lanes); Winograd.put(t.4, p + 4 * stride, lanes); Winograd.put(t.5, p + 5 * stride, lanes)
            }
            j += 4
        }
    }

    typealias Six = (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>)

    /// Bᵀ·(d0…d5), lane by lane.
    @inline(__always)
    private static func inputMap(_ d0: SIMD4<Float>, _ d1: SIMD4<Float>, _ d2: SIMD4<Float>, _ d3: SIMD4<Float>,
                                 _ d4: SIMD4<Float>, _ d5: SIMD4<Float>) -> Six {
        let four = SIMD4<Float>(repeating: 4), two = SIMD4<Float>(repeating: 2)
        let a = d4 - four * d2, b = d3 - four * d1       // rows 1 and 2: a ± b
        let c = d4 - d2, e = two * (d3 - d1)             // rows 3 and 4: c ± e
        return (four * d0 - 5 * d2 + d4, a + b, a - b, c + e, c - e, four * d1 - 5 * d3 + d5)
    }

    /// out[b,k] = Aᵀ M A for every tile, cut to H × W, then `epilogue`; M is M[ξ][k][t], the
    /// M[ξ] `stride` floats apart. Four neighbouring tiles at a time, as in `transformInput`.
    static func transformOutput(_ out: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, stride: Int,
                                _ shape: ActivationShape, outChannels K: Int, samples: Range<Int>,
                                epilogue: ChannelEpilogue) {
        let (H, W) = (shape.height, shape.width)
        let (tr, tc) = tiles(height: H, width: W)
        let perSample = tr * tc, T = samples.count * perSample
        withUnsafeTemporaryAllocation(of: SIMD4<Float>.self, capacity: 24) { columns in
            for b in samples {
                for k in 0..<K {
                    let y = out + (b * K + k) * H * W
                    let base = m + k * T + (b - samples.lowerBound) * perSample
                    for i in 0..<tr {
                        untransformTileRow(y + 4 * i * W, rows: min(4, H - 4 * i), width: W, base + i * tc, stride: stride,
                                           tiles: tc, columns: columns.baseAddress!)
                    }
                    if !epilogue.isIdentity { epilogue.apply(y, channel: k, count: H * W) }
                }
            }
        }
    }

    /// One row of tiles: Aᵀ M column by column into `columns` (24 vectors, column-major), then the
    /// same map across each of the first `rows` rows into the output.
    @inline(never)
    private static func untransformTileRow(_ y: UnsafeMutablePointer<Float>, rows: Int, width W: Int,
                                           _ m: UnsafePointer<Float>, stride: Int, tiles tc: Int,
                                           columns: UnsafeMutablePointer<SIMD4<Float>>) {
        var j = 0
        while j < tc {
            let lanes = min(4, tc - j)
            // Four lanes even past the row's last tile: the lanes beyond are never written out,
            // and the 16 floats after each M[ξ] keep the load inside the buffer.
            @inline(__always) func load(_ xi: Int) -> SIMD4<Float> {
                UnsafeRawPointer(m + xi * stride + j).loadUnaligned(as: SIMD4<Float>.self)
            }
            for q in 0..<6 {
                let t = outputMap(load(q), load(6 + q), load(12 + q), load(18 + q), load(24 + q), load(30 + q))
                let column = columns + 4 * q
                column[0] = t.0; column[1] = t.1; column[2] = t.2; column[3] = t.3
            }
            let count = min(4 * lanes, W - 4 * j)
            for n in 0..<rows {
                let t = outputMap(columns[n], columns[4 + n], columns[8 + n], columns[12 + n], columns[16 + n], columns[20 + n])
                writeRow(y + n * W + 4 * j, t, count)
            }
            j += 4
        }
    }

    typealias Four = (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>)

    /// Aᵀ·(m0…m5), lane by lane.
    @inline(__always)
    private static func outputMap(_ m0: SIMD4<Float>, _ m1: SIMD4<Float>, _ m2: SIMD4<Float>, _ m3: SIMD4<Float>,
                                  _ m4: SIMD4<Float>, _ m5: SIMD4<Float>) -> Four {
        let sum12 = m1 + m2, diff12 = m1 - m2, sum34 = m3 + m4, diff34 = m3 - m4
        return (m0 + sum12 + sum34, diff12 + 2 * diff34, sum12 + 4 * sum34, diff12 + 8 * diff34 + m5)
    }

    /// y[0…count) = a.0[0], a.1[0], a.2[0], a.3[0], a.0[1], …: tile l's four columns after tile l − 1's.
    @inline(__always)
    private static func writeRow(_ y: UnsafeMutablePointer<Float>, _ a: Four, _ count: Int) {
        let raw = UnsafeMutableRawPointer(y)
        for lane in 0..<count / 4 {
            raw.storeBytes(of: SIMD4(a.0[lane], a.1[lane], a.2[lane], a.3[lane]), toByteOffset: 16 * lane, as: SIMD4<Float>.self)
        }
        let lane = count / 4
        switch count % 4 {
        case 3: y[4 * lane] = a.0[lane]; y[4 * lane + 1] = a.1[lane]; y[4 * lane + 2] = a.2[lane]
        case 2: y[4 * lane] = a.0[lane]; y[4 * lane + 1] = a.1[lane]
        case 1: y[4 * lane] = a.0[lane]
        default: break
        }
    }
}
