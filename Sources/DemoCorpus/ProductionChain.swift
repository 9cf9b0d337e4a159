import Foundation

/// The per-track production of `Production`, applied to interleaved stereo before the
/// mastering gain and limiter: EQ (high-pass, low-pass, tilt), compression, stereo width,
/// background noise. Every stage is plain arithmetic in a fixed order over the samples, so a
/// track is byte-identical whichever thread renders it.
enum ProductionChain {
    static func apply(_ production: Production, to buffer: UnsafeMutableBufferPointer<Float>, frames: Int,
                      sampleRate: Int, noise: inout SeededGenerator) {
        let rate = Double(sampleRate)
        let nyquistSafe = 0.45 * rate
        var filters: [Biquad] = []
        if let f = production.highPass { filters.append(.highPass(frequency: min(f, nyquistSafe), sampleRate: rate)) }
        if let f = production.lowPass, f < nyquistSafe { filters.append(.lowPass(frequency: f, sampleRate: rate)) }
        if abs(production.tilt) > 0.05 {
            filters.append(.lowShelf(frequency: 250, gainDB: production.tilt / 2, sampleRate: rate))
            filters.append(.highShelf(frequency: min(3000, nyquistSafe), gainDB: -production.tilt / 2, sampleRate: rate))
        }
        for filter in filters {
            for channel in 0..<2 { filter.process(buffer, frames: frames, channel: channel) }
        }
        if production.compression > 0 { compress(buffer, frames: frames, amount: production.compression, sampleRate: rate) }
        if production.width != 1 {
            let side = Float(production.width)
            for frame in 0..<frames {
                let l = buffer[2 * frame], r = buffer[2 * frame + 1]
                let mid = 0.5 * (l + r), s = 0.5 * (l - r) * side
                buffer[2 * frame] = mid + s
                buffer[2 * frame + 1] = mid - s
            }
        }
        if let snr = production.noiseSNR { addNoise(buffer, snr: snr, pink: production.pinkNoise, rng: &noise) }
    }

    /// Feed-forward compressor with a stereo-linked mean-square detector (10 ms attack,
    /// 150 ms release; Giannoulis, Massberg & Reiss 2012, "Digital dynamic range compressor
    /// design", the smooth-branching detector). Threshold relative to the track's RMS, so the
    /// amount means the same on quiet and loud mixes: amount 1 is 5:1 from 4 dB under the RMS.
    static func compress(_ buffer: UnsafeMutableBufferPointer<Float>, frames: Int, amount: Double, sampleRate: Double) {
        guard frames > 0 else { return }
        var sum = 0.0
        for value in buffer { sum += Double(value) * Double(value) }
        let meanSquare = sum / Double(buffer.count)
        guard meanSquare > 1e-18 else { return }
        let threshold = 10 * log10(meanSquare) + 6 - 10 * amount
        let slope = 1 - 1 / (1 + 4 * amount)
        let attack = exp(-1 / (0.010 * sampleRate)), release = exp(-1 / (0.150 * sampleRate))
        var envelope = meanSquare
        for frame in 0..<frames {
            let l = Double(buffer[2 * frame]), r = Double(buffer[2 * frame + 1])
            let power = 0.5 * (l * l + r * r)
            let coefficient = power > envelope ? attack : release
            envelope = coefficient * envelope + (1 - coefficient) * power
            let over = 10 * log10(max(envelope, 1e-18)) - threshold
            guard over > 0 else { continue }
            let gain = Float(pow(10, -over * slope / 20))
            buffer[2 * frame] *= gain
            buffer[2 * frame + 1] *= gain
        }
    }

    /// White or pink noise (Paul Kellet's economy filter, −3 dB/octave within ±0.5 dB above
    /// 40 Hz) at `snr` dB under the music's RMS, independent in each channel.
    static func addNoise(_ buffer: UnsafeMutableBufferPointer<Float>, snr: Double, pink: Bool, rng: inout SeededGenerator) {
        var sum = 0.0
        for value in buffer { sum += Double(value) * Double(value) }
        let signal = (sum / Double(max(buffer.count, 1))).squareRoot()
        guard signal > 1e-9 else { return }
        var noise = [Float](repeating: 0, count: buffer.count)
        // Filter state per channel (left, right).
        var p0 = (0.0, 0.0), p1 = (0.0, 0.0), p2 = (0.0, 0.0)
        for index in noise.indices {
            let white = Double(rng.next() >> 40) / Double(1 << 24) * 2 - 1
            guard pink else { noise[index] = Float(white); continue }
            if index & 1 == 0 {
                p0.0 = 0.99765 * p0.0 + white * 0.0990460
                p1.0 = 0.96300 * p1.0 + white * 0.2965164
                p2.0 = 0.57000 * p2.0 + white * 1.0526913
                noise[index] = Float(p0.0 + p1.0 + p2.0 + white * 0.1848)
            } else {
                p0.1 = 0.99765 * p0.1 + white * 0.0990460
                p1.1 = 0.96300 * p1.1 + white * 0.2965164
                p2.1 = 0.57000 * p2.1 + white * 1.0526913
                noise[index] = Float(p0.1 + p1.1 + p2.1 + white * 0.1848)
            }
        }
        var noiseSum = 0.0
        for value in noise { noiseSum += Double(value) * Double(value) }
        let level = (noiseSum / Double(noise.count)).squareRoot()
        guard level > 0 else { return }
        let gain = Float(signal / pow(10, snr / 20) / level)
        for index in buffer.indices { buffer[index] += noise[index] * gain }
    }
}

/// A second-order IIR section in direct form I, coefficients from Robert Bristow-Johnson's
/// "Cookbook formulae for audio EQ biquad filter coefficients" (Butterworth Q = 1/√2; shelf slope S = 1, so
/// α = sin ω / 2 · √2).
struct Biquad {
    var b0, b1, b2, a1, a2: Double

    private init(b0: Double, b1: Double, b2: Double, a0: Double, a1: Double, a2: Double) {
        self.b0 = b0 / a0; self.b1 = b1 / a0; self.b2 = b2 / a0; self.a1 = a1 / a0; self.a2 = a2 / a0
    }

    static func lowPass(frequency: Double, sampleRate: Double) -> Biquad {
        let w = 2 * Double.pi * frequency / sampleRate, alpha = sin(w) / (2 * butterworthQ)
        let c = cos(w)
        return Biquad(b0: (1 - c) / 2, b1: 1 - c, b2: (1 - c) / 2, a0: 1 + alpha, a1: -2 * c, a2: 1 - alpha)
    }

    static func highPass(frequency: Double, sampleRate: Double) -> Biquad {
        let w = 2 * Double.pi * frequency / sampleRate, alpha = sin(w) / (2 * butterworthQ)
        let c = cos(w)
        return Biquad(b0: (1 + c) / 2, b1: -(1 + c), b2: (1 + c) / 2, a0: 1 + alpha, a1: -2 * c, a2: 1 - alpha)
    }

    static func lowShelf(frequency: Double, gainDB: Double, sampleRate: Double) -> Biquad {
        let a = pow(10, gainDB / 40), w = 2 * Double.pi * frequency / sampleRate
        let c = cos(w), alpha = sin(w) / 2 * 2.0.squareRoot(), root = 2 * a.squareRoot() * alpha
        return Biquad(b0: a * ((a + 1) - (a - 1) * c + root), b1: 2 * a * ((a - 1) - (a + 1) * c),
                      b2: a * ((a + 1) - (a - 1) * c - root), a0: (a + 1) + (a - 1) * c + root,
                      a1: -2 * ((a - 1) + (a + 1) * c), a2: (a + 1) + (a - 1) * c - root)
    }

    static func highShelf(frequency: Double, gainDB: Double, sampleRate: Double) -> Biquad {
        let a = pow(10, gainDB / 40), w = 2 * Double.pi * frequency / sampleRate
        let c = cos(w), alpha = sin(w) / 2 * 2.0.squareRoot(), root = 2 * a.squareRoot() * alpha
        return Biquad(b0: a * ((a + 1) + (a - 1) * c + root), b1: -2 * a * ((a - 1) + (a + 1) * c),
                      b2: a * ((a + 1) + (a - 1) * c - root), a0: (a + 1) - (a - 1) * c + root,
                      a1: 2 * ((a - 1) - (a + 1) * c), a2: (a + 1) - (a - 1) * c - root)
    }

    static let butterworthQ = 1 / 2.0.squareRoot()

    /// Filters one channel of interleaved stereo in place.
    func process(_ buffer: UnsafeMutableBufferPointer<Float>, frames: Int, channel: Int) {
        var x1 = 0.0, x2 = 0.0, y1 = 0.0, y2 = 0.0
        for frame in 0..<frames {
            let index = 2 * frame + channel
            let x = Double(buffer[index])
            let y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            x2 = x1; x1 = x; y2 = y1; y1 = y
            buffer[index] = Float(y)
        }
    }
}
