import Foundation

/// How one track is produced after synthesis: the things a tag must not depend on (EQ,
/// compression, stereo width, background noise, encoder quality), drawn per track from
/// their own random stream, so they are independent of the genre, the instruments and the
/// tempo. Gentle enough that every tag stays audible: ±4 dB of tilt, a low-pass no lower
/// than 5.5 kHz, noise at least 30 dB under the music.
struct Production: Sendable, Equatable {
    /// 2nd-order Butterworth high-pass (rumble cut / thin mix), Hz; nil: none.
    var highPass: Double?
    /// 2nd-order Butterworth low-pass (dull, band-limited mix), Hz; nil: none.
    var lowPass: Double?
    /// Spectral tilt in dB: low shelf at 250 Hz by +tilt/2, high shelf at 3 kHz by −tilt/2
    /// (positive: warmer and darker, negative: brighter and thinner).
    var tilt: Double
    /// Compression amount 0 (none) … 1 (ratio 5:1, threshold 4 dB under the track's RMS).
    var compression: Double
    /// Side-signal gain of a mid/side matrix: < 1 narrower, > 1 wider.
    var width: Double
    /// Signal-to-noise ratio of added background noise, dB; nil: none.
    var noiseSNR: Double?
    var pinkNoise: Bool
    /// Encoder quality for lossy formats, 0 (smallest) … 1 (best): most tracks 0.4–0.9, a
    /// quarter low-bitrate (0–0.2) with audible codec artefacts.
    var quality: Double

    static let neutral = Production(highPass: nil, lowPass: nil, tilt: 0, compression: 0, width: 1,
                                    noiseSNR: nil, pinkNoise: false, quality: 0.7)

    static let stream: UInt64 = 5

    static func draw(seed: UInt64, track: Int) -> Production {
        var rng = SeededGenerator(seed: seed, track: track, stream: stream)
        let highPass: Double? = rng.chance(0.5) ? rng.uniform(30...120).rounded() : nil
        let lowPass: Double? = rng.chance(0.35) ? (rng.uniform(5500...10000) / 50).rounded() * 50 : nil
        let tilt = rng.uniform(-4...4)
        let compression = rng.chance(0.3) ? 0 : rng.uniform(0.1...1)
        let width = rng.uniform(0.6...1.3)
        let noise: Double? = rng.chance(0.5) ? rng.uniform(30...60) : nil
        let pink = rng.chance(0.5)
        let quality = rng.chance(0.25) ? rng.uniform(0...0.2) : rng.uniform(0.4...0.9)
        return Production(highPass: highPass, lowPass: lowPass, tilt: tilt, compression: compression, width: width,
                          noiseSNR: noise, pinkNoise: pink, quality: quality)
    }

    /// `key=value;…` for `production.csv`.
    func summary(format: String, loudness: Double, reverb: ReverbSettings) -> String {
        func number(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }
        let lossy = ["ogg", "mp3", "opus"].contains(format)
        return [
            "highpass=" + (highPass.map { number($0, 0) + "Hz" } ?? "none"),
            "lowpass=" + (lowPass.map { number($0, 0) + "Hz" } ?? "none"),
            "tilt=" + number(tilt) + "dB",
            "compression=" + number(compression),
            "width=" + number(width),
            "noise=" + (noiseSNR.map { number($0, 1) + "dB" + (pinkNoise ? "-pink" : "-white") } ?? "none"),
            "reverb=room" + number(reverb.roomSize) + "-level" + number(reverb.level),
            "loudness=" + number(loudness, 1) + "dBFS",
            "encoding=" + format + (lossy ? "@" + number(quality) : ""),
        ].joined(separator: ";")
    }
}
