import Foundation

/// `Resampler` over a signal that arrives in pieces (a live stream): the samples it gives equal
/// those of `Resampler.process` over the whole signal at once, as they become final.
///
/// How: output sample n sits on input sample n·from/to, a whole one when n is a multiple of
/// `step`; each call resamples the input kept from such an aligned sample on, and delivers the
/// outputs that lie at least `margin` output samples inside both ends of what it holds (the
/// filters reach a few hundred samples; the same margin makes `decodeExcerpts` exact). Input
/// older than `margin` before the next output to deliver is dropped, so memory stays bounded
/// whatever the stream's length. `finish()` resamples the rest with the signal's true end (zero
/// beyond it, as `process` takes it). The cost is the margin resampled again on each call.
public struct StreamingResampler: Sendable {
    public let inputRate: Int
    public let outputRate: Int
    private let resampler: Resampler?
    private let step: Int
    private let inputStep: Int
    /// Output samples resampled again on each call, on each side.
    public static let margin = 1024
    /// Input kept, from input sample `inputBase` (a multiple of `inputStep`) on.
    private var input: [Float] = []
    private var inputBase = 0
    /// Input samples received, and output samples delivered, so far.
    public private(set) var inputCount = 0
    public private(set) var outputCount = 0

    public init(from inputRate: Int, to outputRate: Int, quality: Resampler.Quality = .high) throws(AudioError) {
        self.inputRate = inputRate
        self.outputRate = outputRate
        resampler = inputRate == outputRate ? nil : try ResamplerCache.shared.resampler(from: inputRate, to: outputRate, quality: quality)
        let divisor = gcd(inputRate, outputRate)
        step = outputRate / divisor
        inputStep = inputRate / divisor
    }

    /// Appends input samples; returns the output samples that became final (maybe none).
    public mutating func append(_ samples: [Float]) -> [Float] {
        guard let resampler else {
            inputCount += samples.count
            outputCount += samples.count
            return samples
        }
        input += samples
        inputCount += samples.count
        // Outputs below `ready` read only input already here (with the margin to spare).
        let ready = inputCount * outputRate / inputRate - Self.margin
        guard ready > outputCount else { return [] }
        let outStart = inputBase / inputStep * step
        let resampled = resampler.process(input)
        let delivered = Array(resampled[(outputCount - outStart)..<(ready - outStart)])
        outputCount = ready
        // Keep the input from an aligned sample at least `margin` outputs before the next one.
        let keepFrom = max(0, outputCount - Self.margin) / step * step
        let newBase = keepFrom / step * inputStep
        if newBase > inputBase {
            input.removeFirst(newBase - inputBase)
            inputBase = newBase
        }
        return delivered
    }

    /// The remaining output samples, the signal ending after the last input sample.
    public mutating func finish() -> [Float] {
        guard let resampler else { return [] }
        let total = resampler.outputCount(for: inputCount)
        guard total > outputCount else { return [] }
        let outStart = inputBase / inputStep * step
        let resampled = resampler.process(input)
        let delivered = Array(resampled[(outputCount - outStart)..<min(resampled.count, total - outStart)])
        outputCount = total
        input = []
        inputBase = inputCount / inputStep * inputStep
        return delivered
    }
}

extension AudioDecoder {
    /// Interleaved frames → their mean per frame (mono) appended to `mono`, non-finite samples as
    /// zero: the down-mix every decode applies, for callers that bring their own PCM.
    public static func appendMonoMix(_ frames: UnsafeBufferPointer<Float>, channels: Int, to mono: inout [Float]) {
        let start = mono.count
        appendDownmix(frames, channels: channels, to: &mono)
        mono.withUnsafeMutableBufferPointer { values in
            for i in start..<values.count where !values[i].isFinite { values[i] = 0 }
        }
    }
}
