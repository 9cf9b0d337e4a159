import Foundation

/// Counts the Float32 samples one decode produces against `DecodeOptions.maxDecodedBytes`:
/// every sample the decoder delivers (channels × frames, frames decoded only to be skipped
/// included) and every sample the resampler will write for the frames kept. A declared length
/// is checked before anything is read (`checkDeclared`); then each block is counted before it
/// is kept (`spend`), so a stream that goes on past the cap fails without its samples ever
/// being stored.
struct DecodeBudget {
    let limitBytes: Int64
    let name: String
    /// Source frames per second, for messages.
    let sampleRate: Int
    /// Output samples per kept frame: target rate / source rate, 1 when not resampled (the
    /// mono samples are the output), 0 when nothing is resampled nor kept.
    let outputPerFrame: Double
    let resampled: Bool
    private(set) var decodedSamples: Int64 = 0
    private(set) var keptFrames: Int64 = 0

    init(options: DecodeOptions, name: String, sourceRate: Int) {
        limitBytes = Int64(options.maxDecodedBytes)
        self.name = name
        sampleRate = sourceRate
        if let target = options.targetSampleRate, target != sourceRate {
            outputPerFrame = Double(target) / Double(sourceRate)
            resampled = true
        } else {
            outputPerFrame = 0
            resampled = false
        }
    }

    /// Bytes of `frames` frames of `channels` decoded samples, plus their resampled output if kept.
    func bytes(frames: Int64, channels: Int, kept: Bool) -> Double {
        let decoded = Double(frames) * Double(channels)
        let output = kept && resampled ? (Double(frames) * outputPerFrame).rounded(.up) : 0
        return 4 * (decoded + output)
    }

    /// Refuses, before anything is decoded, a part whose declared size is over the cap.
    func checkDeclared(frames: Int64, channels: Int, what: String = "the header declares") throws(AudioError) {
        let needed = bytes(frames: frames, channels: channels, kept: true)
        guard needed > Double(limitBytes) else { return }
        let seconds = Double(frames) / Double(sampleRate)
        throw .tooLarge(path: name, reason: "\(what) \(frames) frames × \(channels) channel\(channels == 1 ? "" : "s") at \(sampleRate) Hz (\(Self.clock(seconds))); decoding them takes \(Self.format(bytes: needed)) of Float32 samples\(resampled ? " with the resampled output" : ""), over the \(Self.format(bytes: Double(limitBytes))) limit. \(Self.advice)")
    }

    /// Counts a block just decoded; throws once the total would pass the cap.
    mutating func spend(frames: Int, channels: Int, kept: Bool) throws(AudioError) {
        let after = Double(decodedSamples + Int64(frames * channels)) * 4
            + (resampled ? (Double(keptFrames + (kept ? Int64(frames) : 0)) * outputPerFrame).rounded(.up) * 4 : 0)
        guard after <= Double(limitBytes) else {
            let seconds = Double(keptFrames) / Double(sampleRate)
            throw .tooLarge(path: name, reason: "the stream goes on past the \(Self.format(bytes: Double(limitBytes))) limit of decoded Float32 samples (stopped after \(decodedSamples) samples, \(Self.clock(seconds)) at \(sampleRate) Hz, × \(channels) channel\(channels == 1 ? "" : "s")). \(Self.advice)")
        }
        decodedSamples += Int64(frames * channels)
        if kept { keptFrames += Int64(frames) }
    }

    /// Frames of `channels` samples that still fit, kept (for reserving capacity).
    var remainingKeptFrames: Int64 {
        let left = Double(limitBytes) / 4 - Double(decodedSamples) - (resampled ? Double(keptFrames) * outputPerFrame : 0)
        return max(0, Int64(left / (1 + (resampled ? outputPerFrame : 0))))
    }

    static let advice = "Raise \(DecodeOptions.maxDecodedBytesVariable) (DecodeOptions.maxDecodedBytes) or decode a part (offset and duration)"

    /// "2.0 GiB", "512.0 MiB", "4.0 KiB", "100 bytes".
    static func format(bytes: Double) -> String {
        for (unit, scale) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] where bytes >= Double(1 << scale) {
            return String(format: "%.1f", bytes / Double(1 << scale)) + " " + unit
        }
        return "\(Int(bytes)) bytes"
    }

    /// h:mm:ss (or m:ss) of a duration.
    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let whole = Int(seconds.rounded(.down))
        let fraction = seconds - Double(whole)
        let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60)
        let tail = fraction >= 0.05 ? String(format: ".%d", Int(fraction * 10)) : ""
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) + tail : String(format: "%d:%02d", m, s) + tail
    }
}
