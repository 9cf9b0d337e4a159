import AudioIO
import Foundation
import SeededRandom

/// One synthetic "track" of the benchmark corpus: a deterministic arrangement of
/// harmonic notes with ADSR envelopes (chords, a bass line), a kick drum and noise
/// hi-hats over a quiet noise floor, in stereo. Realistic enough that decoders,
/// resamplers and FFTs do the work they do on music (no digital silence, broadband
/// transients, tonal peaks), and identical on every machine.
struct BenchCorpusPiece: Sendable {
    let index: Int
    let format: AudioFileFormat
    let sampleRate: Int
    let seconds: Int

    var fileName: String {
        String(format: "piece-%02d-%dhz-%ds.", index, sampleRate, seconds) + format.rawValue
    }

    /// 30 pieces: WAV, FLAC and MP3 in turn, 44.1 and 48 kHz, 30–240 s spread evenly
    /// and shuffled so no format gets all the long ones.
    static let corpus: [BenchCorpusPiece] = (0..<30).map { i in
        let formats: [AudioFileFormat] = [.wav, .flac, .mp3]
        let lengthRank = (i * 7) % 30  // 7 is coprime with 30: a permutation
        return BenchCorpusPiece(index: i, format: formats[i % 3], sampleRate: (i / 3) % 2 == 0 ? 44100 : 48000,
                                seconds: 30 + lengthRank * 210 / 29)
    }

    /// A file already at the model's rate, so a comparison can leave resampling out.
    static let reference22050 = BenchCorpusPiece(index: 99, format: .wav, sampleRate: 22050, seconds: 60)

    /// Interleaved stereo samples in [-1, 1].
    func render() -> [Float] {
        let frames = seconds * sampleRate
        var out = [Float](repeating: 0, count: frames * 2)
        var random = SeededGenerator(seed: UInt64(index) &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        let rate = Double(sampleRate)
        let beat = 60.0 / (80 + random.nextUnitDouble() * 80)  // 80–160 bpm
        let root = 45 + Int(random.nextUnitDouble() * 12)        // MIDI A2…G#3
        let scale = [0, 2, 3, 5, 7, 8, 10, 12]            // natural minor
        out.withUnsafeMutableBufferPointer { buffer in
            var time = 0.0
            var bar = 0
            while time < Double(seconds) {
                // Four beats a bar: a chord held for the bar, a bass note and a kick each beat, hats off the beat.
                let degree = [0, 5, 3, 4][bar % 4] + Int(random.nextUnitDouble() * 2)
                for voice in 0..<3 {
                    let midi = root + 12 + scale[(degree + voice * 2) % scale.count] + (degree + voice * 2 >= scale.count ? 12 : 0)
                    addNote(buffer, rate: rate, start: time, length: beat * 4, midi: midi, gain: 0.09,
                            pan: 0.25 + 0.25 * Double(voice), partials: 5, random: &random)
                }
                for step in 0..<4 {
                    let t = time + Double(step) * beat
                    addNote(buffer, rate: rate, start: t, length: beat * 0.9, midi: root + scale[degree % scale.count] - 12,
                            gain: 0.16, pan: 0.5, partials: 3, random: &random)
                    addKick(buffer, rate: rate, start: t)
                    addHat(buffer, rate: rate, start: t + beat / 2, gain: 0.05 + 0.03 * random.nextUnitDouble(), random: &random)
                }
                time += beat * 4
                bar += 1
            }
            // A noise floor, as in any recording: no digital silence anywhere.
            var peak: Float = 0
            for i in 0..<buffer.count {
                buffer[i] += Float(random.nextUnitDouble() - 0.5) * 0.002
                peak = max(peak, abs(buffer[i]))
            }
            // Loud passages can stack up past full scale; bring the peak to -1 dBFS rather than clip.
            if peak > 0.89 {
                let gain = 0.89 / peak
                for i in 0..<buffer.count { buffer[i] *= gain }
            }
        }
        return out
    }

    /// A harmonic tone (partial k at k·f0, amplitude 1/k) with an attack–decay–sustain–release envelope.
    private func addNote(_ out: UnsafeMutableBufferPointer<Float>, rate: Double, start: Double, length: Double, midi: Int,
                         gain: Double, pan: Double, partials: Int, random: inout SeededGenerator) {
        let frequency = 440 * pow(2, Double(midi - 69) / 12) * (1 + (random.nextUnitDouble() - 0.5) * 0.004)
        let first = Int(start * rate), count = Int(length * rate)
        let frames = out.count / 2
        guard first < frames else { return }
        let end = min(first + count, frames)
        let attack = 0.01 * rate, decay = 0.15 * rate, release = 0.1 * rate
        let (left, right) = (Float(gain * (1 - pan)), Float(gain * pan))
        for k in 1...partials {
            let w = 2 * Double.pi * frequency * Double(k) / rate
            guard w < Double.pi * 0.95 else { break }  // keep partials below Nyquist
            // Rotating phasor: one complex multiply a sample instead of a sin call.
            let (c, s) = (cos(w), sin(w))
            var (x, y) = (1.0, 0.0)
            let amplitude = 1 / Double(k)
            for n in first..<end {
                let t = Double(n - first)
                let envelope = t < attack ? t / attack
                    : t < attack + decay ? 1 - 0.4 * (t - attack) / decay
                    : Double(count) - t < release ? 0.6 * (Double(count) - t) / release : 0.6
                let v = Float(y * amplitude * envelope)
                out[2 * n] += v * left
                out[2 * n + 1] += v * right
                (x, y) = (x * c - y * s, x * s + y * c)
            }
        }
    }

    /// A kick drum: a sine sweeping down from 120 to 45 Hz under a fast exponential decay.
    private func addKick(_ out: UnsafeMutableBufferPointer<Float>, rate: Double, start: Double) {
        let first = Int(start * rate), count = Int(0.25 * rate)
        let end = min(first + count, out.count / 2)
        guard first < end else { return }
        var phase = 0.0
        for n in first..<end {
            let t = Double(n - first) / rate
            phase += 2 * Double.pi * (45 + 75 * exp(-t * 30)) / rate
            let v = Float(sin(phase) * exp(-t * 12) * 0.3)
            out[2 * n] += v
            out[2 * n + 1] += v
        }
    }

    /// A hi-hat: white noise, first-differenced (a crude high-pass), decaying in ~30 ms.
    private func addHat(_ out: UnsafeMutableBufferPointer<Float>, rate: Double, start: Double, gain: Double, random: inout SeededGenerator) {
        let first = Int(start * rate), count = Int(0.08 * rate)
        let end = min(first + count, out.count / 2)
        guard first < end else { return }
        var previous = 0.0
        for n in first..<end {
            let noise = random.nextUnitDouble() - 0.5
            let v = Float((noise - previous) * gain * exp(-Double(n - first) / rate * 35))
            previous = noise
            out[2 * n] += v * 0.8
            out[2 * n + 1] += v
        }
    }
}
