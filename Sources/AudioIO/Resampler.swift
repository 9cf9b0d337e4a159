import Foundation

/// Band-limited sample-rate conversion with a Kaiser-windowed sinc (Smith, "Digital Audio
/// Resampling", ccrma.stanford.edu/~jos/resample; Kaiser & Schafer 1980), polyphase for
/// rational ratios.
///
/// With ratio L/M = `to`/`from` in lowest terms, output sample n sits at input position
/// x = n·M/L = i + p/L, and y[n] = Σ_k x[k]·h(x − k) with
/// h(t) = 2f_c·sinc(2f_c·t)·w(t/W), f_c the cutoff in cycles per input sample and w the Kaiser
/// window of half-width W input samples. The L phases p of h are tabulated once (filter bank),
/// so a sample costs one dot product of 2W taps (`GroupedPhases` computes four at a time).
/// Ratios whose L exceeds `maxExactPhases` (e.g. 44100 → 22051) interpolate linearly between
/// 1024 tabulated phases instead. Where the quality allows (see `Quality.stopband`),
/// halvings of the rate run first as half-band stages (`HalfBandDecimator`): 44.1 kHz →
/// 22.05 kHz is one such stage alone.
///
/// Default quality `.high`: flat to 0.85 of the lower Nyquist (≤ 3·10⁻⁵ ripple), 90 dB of
/// stop band from 1.15 of the lower Nyquist on; what lies between 1 and 1.15 of the output
/// Nyquist folds into the transition band above 0.85 (never into the pass band).
/// `.aliasFree` keeps 90 dB from the Nyquist frequency on, at 2–6× the work. For 44.1/48 kHz →
/// 22.05 kHz a sine from 20 Hz to 9.3 kHz comes out ≥ 80 dB above the error against the
/// analytic sine (`.high`, measured: 113–116 dB at 100 Hz, 109–111 dB at 1 kHz, 92–93 dB at
/// 5 kHz, 89–90 dB at 9 kHz; tests: `ResamplerTests`). Output length is ⌈n·to/from⌉; the
/// signal is taken as zero outside its ends, and the filter has no delay.
public struct Resampler: Sendable {
    public struct Quality: Sendable, Equatable {
        /// Fraction of the lower Nyquist frequency kept flat, in (0, 1).
        public var passband: Double
        /// Stop-band attenuation in dB (also sets the pass-band ripple, 10^(−A/20)).
        public var attenuation: Double
        /// Where the stop band starts when downsampling, as a fraction of the output Nyquist
        /// frequency, in [1, 2 − passband]. 1: nothing aliases. Above 1, what lies between the
        /// Nyquist frequency and this edge folds into the transition band (passband, 1] and
        /// no lower, which allows a filter about half as long and half-band stages.
        /// Upsampling always stops at the input Nyquist frequency (no images).
        public var stopband: Double
        public init(passband: Double, attenuation: Double, stopband: Double = 1) {
            self.passband = passband
            self.attenuation = attenuation
            self.stopband = stopband
        }
        /// Flat to 0.85·Nyquist, 90 dB down from 1.15·Nyquist: aliasing only above 0.85·Nyquist.
        public static let high = Quality(passband: 0.85, attenuation: 90, stopband: 1.15)
        /// As `.high`, but 90 dB down from the Nyquist frequency on: nothing aliases; about
        /// 2–4× the work of `.high` when downsampling.
        public static let aliasFree = Quality(passband: 0.85, attenuation: 90)
        /// About half the taps of `.aliasFree`: for previews, not for features.
        public static let fast = Quality(passband: 0.75, attenuation: 70)
    }

    public let inputRate: Int
    public let outputRate: Int
    /// Decimations by 2 run first (see `Quality.stopband`), then `bank` converts the rest.
    private let halfBands: [HalfBandDecimator]
    private let bank: FilterBank?  // nil when no rate change is left

    static let maxExactPhases = 1024
    static let maxTableFloats = 1 << 23

    public init(from inputRate: Int, to outputRate: Int, quality: Quality = .high) throws(AudioError) {
        let name = "<resampler>"
        guard inputRate > 0, outputRate > 0, inputRate <= 10_000_000, outputRate <= 10_000_000 else {
            throw .invalidParameters(path: name, reason: "cannot resample \(inputRate) Hz → \(outputRate) Hz: rates must be in 1…10⁷ Hz")
        }
        guard quality.passband > 0, quality.passband < 1, quality.attenuation >= 20, quality.attenuation <= 200,
              quality.stopband >= 1, quality.stopband <= 2 - quality.passband + 1e-9 else {
            throw .invalidParameters(path: name, reason: "resampler quality needs 0 < passband < 1, 1 ≤ stopband ≤ 2 − passband and 20 ≤ attenuation ≤ 200 dB")
        }
        self.inputRate = inputRate
        self.outputRate = outputRate
        var quality = quality
        if outputRate >= inputRate { quality.stopband = 1 }
        // Halve the rate with half-band stages (a quarter of their kernel's taps per output)
        // where one keeps the stop band: its response is symmetric about the new Nyquist
        // frequency R/4, so what lies in [R/4, R/2 − P] folds onto [P, R/4] for a pass-band
        // edge P. Halving straight to the output rate (R/2 = to), P = R/2 − stopband·Nyquist
        // folds only the band (Nyquist, stopband·Nyquist] into the transition band. Before
        // further stages, P = stopband·Nyquist folds only into what those stages remove;
        // that needs P < R/4. Neither holds for 48 kHz → 22.05 kHz, which goes in one stage.
        var stages: [HalfBandDecimator] = []
        var rate = inputRate
        if quality.stopband > 1 {
            let nyquist = Double(outputRate) / 2
            while rate % 2 == 0, rate / 2 >= outputRate {
                let edge = rate / 2 == outputRate
                    ? max(quality.passband * nyquist, Double(rate) / 2 - quality.stopband * nyquist)
                    : quality.stopband * nyquist
                guard edge < Double(rate) / 4 else { break }
                stages.append(HalfBandDecimator(inputRate: rate, passbandHz: edge, attenuation: quality.attenuation))
                rate /= 2
            }
        }
        self.halfBands = stages
        if rate == outputRate { bank = nil; return }
        let divisor = gcd(rate, outputRate)
        let bank = FilterBank(up: outputRate / divisor, down: rate / divisor,
                              inputRate: rate, outputRate: outputRate, quality: quality)
        guard bank.table.count <= Self.maxTableFloats else {
            throw .invalidParameters(path: name, reason: "\(inputRate) Hz → \(outputRate) Hz needs a \(bank.table.count)-tap filter bank; the ratio is too extreme")
        }
        self.bank = bank
    }

    /// Floats in the tabulated filter bank (memory is 4 bytes each).
    public var filterBankSize: Int { (bank?.table.count ?? 0) + halfBands.reduce(0) { $0 + $1.coefficients.count } }

    /// Output length for `inputCount` samples: ⌈inputCount·to/from⌉.
    public func outputCount(for inputCount: Int) -> Int {
        (inputCount * outputRate + inputRate - 1) / inputRate
    }

    public func process(_ input: [Float]) -> [Float] {
        guard !input.isEmpty, inputRate != outputRate else { return input }
        var signal = input
        for stage in halfBands {
            signal = signal.withUnsafeBufferPointer { stage.process($0) }
        }
        // ⌈⌈n/2⌉/2…⌉ may round one sample past ⌈n·to/from⌉.
        let count = outputCount(for: input.count)
        guard let bank else {
            if signal.count > count { signal.removeLast(signal.count - count) }
            return signal
        }
        return bank.process(signal, count: count)
    }
}

extension FilterBank {
    /// The first `count` outputs for `input`; the signal is zero outside its ends.
    func process(_ input: [Float], count: Int) -> [Float] {
        let bank = self
        // Zero padding at both ends keeps the inner loop free of bounds checks.
        var padded = [Float](repeating: 0, count: input.count + max(bank.stride, bank.grouped?.width ?? 0) + 2 * bank.halfTaps + 16)
        padded.withUnsafeMutableBufferPointer { p in
            input.withUnsafeBufferPointer { src in
                (p.baseAddress! + bank.halfTaps - 1).update(from: src.baseAddress!, count: src.count)
            }
        }
        // The folded (symmetric) kernel reads its mirrored taps forwards from a reversed copy.
        let reversed: [Float] = bank.folded.isEmpty ? [] : padded.reversed()
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            padded.withUnsafeBufferPointer { x in
                bank.table.withUnsafeBufferPointer { h in
                    reversed.withUnsafeBufferPointer { xr in
                        bank.folded.withUnsafeBufferPointer { g in
                          (bank.grouped?.rows ?? []).withUnsafeBufferPointer { rows in
                            let isFolded = !bank.folded.isEmpty
                            let buffers = Buffers(x: x.baseAddress!, h: h.baseAddress!, out: out.baseAddress!,
                                                  xr: isFolded ? xr.baseAddress : nil, g: isFolded ? g.baseAddress : nil,
                                                  paddedCount: x.count, rows: rows.baseAddress)
                            // Long signals (over ~6 s at 22 kHz) split into contiguous output blocks
                            // across cores; each block is independent since the input is read-only.
                            let blocks = max(1, min(ProcessInfo.processInfo.activeProcessorCount, count / (1 << 17)))
                            DispatchQueue.concurrentPerform(iterations: blocks) { block in
                                bank.run(buffers, outputs: (count * block / blocks)..<(count * (block + 1) / blocks))
                            }
                          }
                        }
                    }
                }
            }
            initialized = count
        }
    }
}

/// The tabulated phases of the windowed-sinc kernel, built once per rate pair.
final class FilterBank: Sendable {
    let up: Int, down: Int
    let halfTaps: Int   // K: taps on each side of the output position
    let stride: Int     // 2K rounded up to a multiple of 16 (zero-filled) for SIMD
    let phases: Int     // rows in `table`: `up`, or 1024 + 1 in interpolating mode
    let exact: Bool
    let table: [Float]
    /// For integer decimation (one phase) the kernel is even about tap K−1:
    /// y = h[K−1]·x[i+K−1] + Σ_{m<K−1} h[m]·(x[i+m] + x[i+2K−2−m]), half the multiplies and
    /// three loads per two taps instead of four. Empty when not applicable.
    let folded: [Float]
    let foldedStride: Int
    let center: Float
    /// Four outputs per pass for exact, unfolded banks of moderate size; nil otherwise.
    let grouped: GroupedPhases?

    init(up: Int, down: Int, inputRate: Int, outputRate: Int, quality: Resampler.Quality) {
        self.up = up
        self.down = down
        let lowerNyquist = Double(min(inputRate, outputRate)) / 2
        // Cutoff halfway through the transition band [passband, stopband]·lowerNyquist.
        let cutoff = (quality.stopband + quality.passband) / 2 * lowerNyquist / Double(inputRate)
        let transition = (quality.stopband - quality.passband) * lowerNyquist / Double(inputRate)
        // Kaiser's formulas: β from the attenuation, length N = (A − 7.95)/(2.285·2π·Δf) + 1.
        let a = quality.attenuation
        let beta = kaiserBeta(attenuation: a)
        let halfWidth = ((a - 7.95) / (2.285 * 2 * Double.pi * transition) + 1) / 2
        let k = Int(halfWidth.rounded(.up))
        halfTaps = k
        stride = (2 * k + 15) / 16 * 16
        exact = up <= Resampler.maxExactPhases
        phases = exact ? up : Resampler.maxExactPhases + 1
        let rowPositions = exact ? up : Resampler.maxExactPhases
        let i0Beta = besselI0(beta)
        var table = [Float](repeating: 0, count: phases * stride)
        for p in 0..<phases {
            let fraction = Double(p) / Double(rowPositions)
            var row = [Double](repeating: 0, count: 2 * k)
            for j in 0..<(2 * k) {
                let t = fraction + Double(k - 1 - j)  // distance from tap to output position
                guard abs(t) < halfWidth else { continue }
                let r = t / halfWidth
                let window = besselI0(beta * (1 - r * r).squareRoot()) / i0Beta
                row[j] = 2 * cutoff * sinc(2 * cutoff * t) * window
            }
            // Unit gain at DC for every phase.
            let sum = row.reduce(0, +)
            for j in 0..<(2 * k) { table[p * stride + j] = Float(row[j] / sum) }
        }
        self.table = table
        var symmetric = up == 1 && k >= 16 && table[2 * k - 1] == 0
        for m in 0..<(k - 1) where symmetric { symmetric = table[m] == table[2 * k - 2 - m] }
        foldedStride = (k - 1 + 15) / 16 * 16
        folded = symmetric ? Array(table[0..<(k - 1)]) + [Float](repeating: 0, count: foldedStride - (k - 1)) : []
        center = table[k - 1]
        grouped = exact && folded.isEmpty ? GroupedPhases(table: table, stride: stride, taps: 2 * k, up: up, down: down) : nil
    }

    /// Computes `out[n]` for n in `outputs`; input position of output n is n·down/up.
    func run(_ buffers: Buffers, outputs: Range<Int>) {
        var outputs = outputs
        if let rows = buffers.rows, let grouped {
            outputs = runGrouped(buffers, rows: rows, width: grouped.width, outputs: outputs)..<outputs.upperBound
        }
        let x = buffers.x, h = buffers.h, out = buffers.out
        let stepWhole = down / up, stepPhase = down % up
        var i = outputs.lowerBound * down / up, p = outputs.lowerBound * down % up
        if let xr = buffers.xr, let g = buffers.g {
            let k = halfTaps
            for n in outputs {
                // x[i + 2K − 2 − m] is xr[paddedCount − 1 − (i + 2K − 2 − m)], ascending in m.
                out[n] = center * x[i + k - 1] + foldedDot(g, x + i, xr + (buffers.paddedCount + 1 - 2 * k - i), foldedStride)
                i += down
            }
        } else if exact {
            for n in outputs {
                out[n] = dot(h + p * stride, x + i, stride)
                p += stepPhase
                if p >= up { p -= up; i += 1 }
                i += stepWhole
            }
        } else {
            let scale = Double(Resampler.maxExactPhases) / Double(up)
            for n in outputs {
                let position = Double(p) * scale
                let row = Int(position)
                let a = Float(position - Double(row))
                let lower = dot(h + row * stride, x + i, stride)
                let upper = dot(h + (row + 1) * stride, x + i, stride)
                out[n] = lower + a * (upper - lower)
                p += stepPhase
                if p >= up { p -= up; i += 1 }
                i += stepWhole
            }
        }
    }
}

/// The resampler's working memory, shared read-only (x, h) or by disjoint ranges (out)
/// between the threads of one `process` call.
struct Buffers: @unchecked Sendable {
    let x: UnsafePointer<Float>
    let h: UnsafePointer<Float>
    let out: UnsafeMutablePointer<Float>
    /// x reversed and the folded kernel, for integer decimation; nil otherwise.
    let xr: UnsafePointer<Float>?
    let g: UnsafePointer<Float>?
    let paddedCount: Int
    /// `GroupedPhases.rows`, when the bank has them.
    let rows: UnsafePointer<Float>?
}

/// Σ g[m]·(a[m] + b[m]) for `count` a multiple of 16.
@inline(__always)
private func foldedDot(_ g: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    let rg = UnsafeRawPointer(g), ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    var j = 0
    while j < count {
        acc0 += rg.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
            * (ra.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) + rb.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self))
        acc1 += rg.loadUnaligned(fromByteOffset: j * 4 + 32, as: SIMD8<Float>.self)
            * (ra.loadUnaligned(fromByteOffset: j * 4 + 32, as: SIMD8<Float>.self) + rb.loadUnaligned(fromByteOffset: j * 4 + 32, as: SIMD8<Float>.self))
        j += 16
    }
    return (acc0 + acc1).sum()
}

/// Σ a[j]·b[j] for `count` a multiple of 16, in two 8-wide accumulators.
@inline(__always)
private func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    var j = 0
    while j < count {
        acc0 += ra.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
            * rb.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
        acc1 += ra.loadUnaligned(fromByteOffset: j * 4 + 32, as: SIMD8<Float>.self)
            * rb.loadUnaligned(fromByteOffset: j * 4 + 32, as: SIMD8<Float>.self)
        j += 16
    }
    return (acc0 + acc1).sum()
}

private func sinc(_ x: Double) -> Double {
    x == 0 ? 1 : sin(Double.pi * x) / (Double.pi * x)
}

func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
