import Foundation

/// The last stage before a track is written: the track's production (EQ, compression,
/// width, noise: `ProductionChain`), short fades, gain to a target loudness and a look-ahead
/// peak limiter so that no sample exceeds the ceiling, whatever the mix.
enum Mastering {
    /// Ceiling below full scale: lossy encoders overshoot the source's peaks (measured at
    /// 22050 Hz: up to +0.8 dB for Vorbis, +2.1 dB for MP3 on limited, bass-heavy mixes),
    /// so leave 3 dB. One ceiling for every format, so that peaks say nothing about it.
    static let ceiling: Float = 0.708  // -3 dBFS

    /// - Parameters:
    ///   - samples: interleaved stereo, modified in place.
    ///   - loudness: target RMS in dBFS (before limiting, which only lowers peaks).
    ///   - fadeOut: seconds of fade at the end (a track ends by fading, not by a cut).
    ///   - production: the track's EQ, compression, width and noise (`.neutral`: none).
    ///   - noise: the random stream of the background noise.
    static func master(_ samples: inout [Float], sampleRate: Int, loudness: Double, fadeOut: Double = 1.5,
                       production: Production = .neutral, noise: SeededGenerator = SeededGenerator(seed: 0)) {
        let frames = samples.count / 2
        guard frames > 0 else { return }
        var noise = noise
        samples.withUnsafeMutableBufferPointer { buffer in
            ProductionChain.apply(production, to: buffer, frames: frames, sampleRate: sampleRate, noise: &noise)
            applyFades(buffer, frames: frames, fadeIn: min(Int(0.01 * Double(sampleRate)), frames),
                       fadeOut: min(Int(fadeOut * Double(sampleRate)), frames / 4))
            var sumOfSquares = 0.0
            for value in buffer { sumOfSquares += Double(value) * Double(value) }
            let rms = (sumOfSquares / Double(buffer.count)).squareRoot()
            guard rms > 1e-9 else { return }
            let gain = Float(pow(10, loudness / 20) / rms)
            for index in buffer.indices { buffer[index] *= gain }
            limit(buffer, frames: frames, sampleRate: sampleRate)
        }
    }

    /// Raised-cosine fade in and out.
    private static func applyFades(_ buffer: UnsafeMutableBufferPointer<Float>, frames: Int, fadeIn: Int, fadeOut: Int) {
        for frame in 0..<fadeIn {
            let g = Float(0.5 - 0.5 * cos(Double.pi * Double(frame) / Double(fadeIn)))
            buffer[2 * frame] *= g; buffer[2 * frame + 1] *= g
        }
        for index in 0..<fadeOut {
            let frame = frames - 1 - index
            let g = Float(0.5 - 0.5 * cos(Double.pi * Double(index) / Double(fadeOut)))
            buffer[2 * frame] *= g; buffer[2 * frame + 1] *= g
        }
    }

    /// A look-ahead limiter in two linear passes. The gain each frame needs is
    /// `min(1, ceiling / peak)`; a backward pass lets the gain ramp down over the
    /// attack time *before* a peak (the look-ahead), a forward pass lets it recover
    /// no faster than the release time. Both passes only lower the gain, so every
    /// output sample stays within the ceiling.
    static func limit(_ buffer: UnsafeMutableBufferPointer<Float>, frames: Int, sampleRate: Int,
                      attack: Double = 0.005, release: Double = 0.08) {
        var gain = [Float](repeating: 1, count: frames)
        var needed = false
        for frame in 0..<frames {
            let peak = max(abs(buffer[2 * frame]), abs(buffer[2 * frame + 1]))
            if peak > ceiling { gain[frame] = ceiling / peak; needed = true }
        }
        guard needed else { return }
        let attackStep = Float(1 / max(attack * Double(sampleRate), 1))
        let releaseStep = Float(1 / max(release * Double(sampleRate), 1))
        if frames > 1 {
            for frame in stride(from: frames - 2, through: 0, by: -1) { gain[frame] = min(gain[frame], gain[frame + 1] + attackStep) }
            for frame in 1..<frames { gain[frame] = min(gain[frame], gain[frame - 1] + releaseStep) }
        }
        for frame in 0..<frames {
            buffer[2 * frame] = min(max(buffer[2 * frame] * gain[frame], -ceiling), ceiling)
            buffer[2 * frame + 1] = min(max(buffer[2 * frame + 1] * gain[frame], -ceiling), ceiling)
        }
    }
}
