import Foundation

/// What part of a file to decode, and at which rate.
public struct DecodeOptions: Sendable, Equatable {
    /// Output rate in Hz; nil keeps the source rate. Default 22050 (the model front end's rate).
    public var targetSampleRate: Int?
    /// Seconds to skip at the start (seeks; the skipped part is not decoded). Default 0.
    public var offset: Double
    /// Seconds to decode from `offset`; nil reads to the end.
    public var duration: Double?
    /// Safety cap on the Float32 samples one decode produces, in bytes: every sample the decoder
    /// delivers (channels × frames, skipped ones included) plus every sample the resampler
    /// writes, at 4 bytes each. Samples, not seconds, so a 768 kHz or many-channel stream gets
    /// no more memory than a CD-quality one. Default `defaultMaxDecodedBytes`: 2 GiB, or
    /// `$TIMBRE_MAX_DECODED_BYTES`. A header that declares more is refused before anything is
    /// allocated; a stream whose length is unknown (or lies) fails once it passes the cap.
    public var maxDecodedBytes: Int
    /// Resampler quality (default `.high`: ≥ 80 dB SNR in the pass band).
    public var resamplerQuality: Resampler.Quality
    /// Why `$TIMBRE_MAX_DECODED_BYTES` could not be used, when the default came from it.
    private var environmentProblem: String?

    /// 2 GiB.
    public static let builtInMaxDecodedBytes = 2 << 30
    /// The environment variable that sets the default cap (bytes; K, M, G suffixes are binary).
    public static let maxDecodedBytesVariable = "TIMBRE_MAX_DECODED_BYTES"

    /// `$TIMBRE_MAX_DECODED_BYTES` when set and valid, else 2 GiB.
    public static var defaultMaxDecodedBytes: Int { (try? environmentLimit.get()) ?? builtInMaxDecodedBytes }

    /// The cap `$TIMBRE_MAX_DECODED_BYTES` sets, read once (nil when unset).
    private static let environmentLimit: Result<Int, LimitProblem> = {
        guard let text = ProcessInfo.processInfo.environment[maxDecodedBytesVariable] else { return .success(builtInMaxDecodedBytes) }
        if let bytes = parseByteCount(text) { return .success(bytes) }
        return .failure(LimitProblem(message: "\(maxDecodedBytesVariable)=\(text) is not a size in bytes > 0 (e.g. 2147483648, 512M or 4G)"))
    }()

    private struct LimitProblem: Error { let message: String }

    public init(targetSampleRate: Int? = 22050, offset: Double = 0, duration: Double? = nil,
                maxDecodedBytes: Int? = nil, resamplerQuality: Resampler.Quality = .high) {
        self.targetSampleRate = targetSampleRate
        self.offset = offset
        self.duration = duration
        if let maxDecodedBytes {
            self.maxDecodedBytes = maxDecodedBytes
        } else {
            switch Self.environmentLimit {
            case .success(let bytes): self.maxDecodedBytes = bytes
            case .failure(let problem):
                self.maxDecodedBytes = Self.builtInMaxDecodedBytes
                environmentProblem = problem.message
            }
        }
        self.resamplerQuality = resamplerQuality
    }

    /// "123456", "512K", "64M", "2G" (binary multiples; an optional "iB" or "B" after the letter).
    public static func parseByteCount(_ text: String) -> Int? {
        var digits = text.trimmingCharacters(in: .whitespaces).uppercased()
        for suffix in ["IB", "B"] where digits.hasSuffix(suffix) && digits.count > suffix.count {
            digits.removeLast(suffix.count)
            break
        }
        var scale = 1
        if let last = digits.last, let shift = ["K": 10, "M": 20, "G": 30, "T": 40][String(last)] {
            scale = 1 << shift
            digits.removeLast()
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = Int(digits), value > 0 else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: scale)
        return overflow ? nil : bytes
    }

    func validate(name: String) throws(AudioError) {
        if let environmentProblem { throw .invalidParameters(path: name, reason: environmentProblem) }
        if let rate = targetSampleRate, !StreamLimits.sampleRates.contains(rate) {
            throw .invalidParameters(path: name, reason: "target sample rate \(rate) Hz is outside \(StreamLimits.sampleRates.lowerBound)…\(StreamLimits.sampleRates.upperBound) Hz")
        }
        guard offset.isFinite, offset >= 0 else {
            throw .invalidParameters(path: name, reason: "offset \(offset) s must be a finite number ≥ 0")
        }
        if let duration, !(duration.isFinite && duration >= 0) {
            throw .invalidParameters(path: name, reason: "duration \(duration) s must be a finite number ≥ 0")
        }
        guard maxDecodedBytes > 0 else {
            throw .invalidParameters(path: name, reason: "maxDecodedBytes \(maxDecodedBytes) must be > 0")
        }
    }
}

/// Mono audio decoded from a file or upload, with what is known of its source.
public struct DecodedAudio: Sendable, Equatable {
    /// Mono samples (mean of the source channels), nominally in [-1, 1].
    public var samples: [Float]
    public var sampleRate: Int
    public var sourceSampleRate: Int
    public var sourceChannels: Int
    public var sourceFormat: AudioFileFormat
    /// Length of the whole source in seconds, when its header says (nil for some streams).
    public var sourceDuration: Double?

    public init(samples: [Float], sampleRate: Int, sourceSampleRate: Int, sourceChannels: Int,
                sourceFormat: AudioFileFormat, sourceDuration: Double?) {
        self.samples = samples
        self.sampleRate = sampleRate
        self.sourceSampleRate = sourceSampleRate
        self.sourceChannels = sourceChannels
        self.sourceFormat = sourceFormat
        self.sourceDuration = sourceDuration
    }

    /// Seconds of `samples`.
    public var duration: Double { sampleRate > 0 ? Double(samples.count) / Double(sampleRate) : 0 }
}
