import Foundation

/// Decodes audio files and uploads to mono Float32 at a target rate.
///
/// WAV, FLAC, OGG/Vorbis, Opus and AIFF go through libsndfile, MP3 through libmpg123
/// (gapless). The format is taken from the content (magic bytes), so a misnamed file still
/// decodes; the extension only serves as a hint for headerless MP3. Channels are averaged,
/// then `Resampler` converts the rate. Every failure is an `AudioError` naming the input.
/// Thread-safe: each call owns its decoder handles.
public enum AudioDecoder {
    /// File extensions (lower-case, no dot) worth offering to the decoder.
    public static let supportedExtensions: Set<String> = ["wav", "wave", "flac", "ogg", "oga", "opus", "aif", "aiff", "aifc", "mp3"]

    public static func decode(path: String, options: DecodeOptions = .init()) throws(AudioError) -> DecodedAudio {
        try options.validate(name: path)
        return try decode(source: ByteSource(path: path), options: options)
    }

    /// Decodes a file already open (a library file opened with `ReadOnlyFile(path:confinedTo:)`).
    public static func decode(file: ReadOnlyFile, options: DecodeOptions = .init()) throws(AudioError) -> DecodedAudio {
        try options.validate(name: file.path)
        return try decode(source: ByteSource(file: file), options: options)
    }

    public static func decode(bytes: [UInt8], name: String = "<memory>", options: DecodeOptions = .init()) throws(AudioError) -> DecodedAudio {
        try options.validate(name: name)
        return try decode(source: ByteSource(bytes: bytes, name: name), options: options)
    }

    /// The format of a file's content (see `AudioFileFormat.detect`), or a typed error.
    static func format(of source: ByteSource) throws(AudioError) -> AudioFileFormat {
        guard source.length > 0 else { throw .corrupt(path: source.name, reason: "the file is empty") }
        if let format = AudioFileFormat.detect(in: source) { return format }
        // Raw MPEG streams may start with junk before the first frame; mpg123 resyncs.
        if AudioFileFormat(path: source.name) == .mp3 { return .mp3 }
        let head = source.peek(at: 0, count: 12)
        if head.count < 12, ["RIFF", "RF64", "FORM", "fLaC", "OggS", "ID3"].contains(where: { magic in
            let prefix = Array(magic.utf8.prefix(head.count))
            return Array(head.prefix(prefix.count)) == prefix
        }) {
            throw .corrupt(path: source.name, reason: "only \(head.count) bytes: cut off inside the header")
        }
        let shown = head.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
        throw .unsupportedFormat(path: source.name, reason: "the content matches none of them (it starts with \(shown))")
    }

    /// With `mixToMono`, a decoder that can mix channels itself does (MP3: half the synthesis
    /// work); with `targetRate`, one that can decode at a lower rate keeping that band does (Opus).
    static func openReader(_ source: ByteSource, format: AudioFileFormat, scanLength: Bool = false,
                           mixToMono: Bool = false, targetRate: Int? = nil) throws(AudioError) -> any PCMStreamReader {
        format == .mp3 ? try MP3Reader(source: source, scanLength: scanLength, mixToMono: mixToMono)
                       : try SndFileReader(source: source, decodeRateAtLeast: targetRate)
    }

    static func decode(source: ByteSource, options: DecodeOptions) throws(AudioError) -> DecodedAudio {
        let format = try format(of: source)
        if let shortfall = TruncationCheck.pcmContainerShortfall(in: source, format: format) {
            throw .corrupt(path: source.name, reason: shortfall.reason)
        }
        let reader = try openReader(source, format: format, mixToMono: true, targetRate: options.targetSampleRate)
        let rate = Double(reader.sampleRate)
        let sourceChannels = reader.sourceChannels
        var budget = DecodeBudget(options: options, name: source.name, sourceRate: reader.sampleRate)
        let mono = try readMono(reader, name: source.name,
                                startFrame: frames(options.offset, rate),
                                wantedFrames: options.duration.map { frames($0, rate) },
                                budget: &budget,
                                trustsDeclaredLength: format != .mp3 || TruncationCheck.mp3HasExactLength(source))
        var samples = mono
        var outputRate = reader.sampleRate
        if let target = options.targetSampleRate, target != reader.sampleRate {
            samples = try ResamplerCache.shared.resampler(from: reader.sampleRate, to: target, quality: options.resamplerQuality).process(mono)
            outputRate = target
        }
        return DecodedAudio(samples: samples, sampleRate: outputRate, sourceSampleRate: reader.sourceSampleRate,
                            sourceChannels: sourceChannels, sourceFormat: format, sourceDuration: reader.declaredDuration)
    }

    /// Reads frames [startFrame, startFrame + wantedFrames) and averages the channels.
    /// Never allocates from header sizes beyond the budget: a trusted declared length over the
    /// cap is refused before anything is read, and the output grows as frames arrive, each
    /// block counted (`DecodeBudget.spend`) before it is kept, its capacity never past the cap.
    private static func readMono(_ reader: any PCMStreamReader, name: String,
                                 startFrame: Int64, wantedFrames: Int64?, budget: inout DecodeBudget,
                                 trustsDeclaredLength: Bool) throws(AudioError) -> [Float] {
        if let declared = reader.declaredFrames, startFrame >= declared { return [] }
        if trustsDeclaredLength, let declared = reader.declaredFrames {
            let part = min(declared - startFrame, wantedFrames ?? Int64.max)
            try budget.checkDeclared(frames: part, channels: reader.channels,
                                     what: part == declared ? "the header declares" : "the part asked for holds")
        }
        let chunkFrames = 4096
        var scratch = [Float](repeating: 0, count: chunkFrames * max(reader.channels, 2))
        if startFrame > 0 && !reader.seek(toFrame: startFrame) {
            // Streams that cannot seek there: decode from the start and drop, still counted.
            guard reader.seek(toFrame: 0) else {
                throw .corrupt(path: name, reason: "cannot seek to \(startFrame) frames nor back to the start")
            }
            var skipped: Int64 = 0
            while skipped < startFrame {
                let n = try scratch.withUnsafeMutableBufferPointer { buffer throws(AudioError) in
                    try reader.read(into: buffer.baseAddress!, frames: Int(min(Int64(buffer.count / reader.channels), startFrame - skipped)))
                }
                if n == 0 { return [] }
                try budget.spend(frames: n, channels: reader.channels, kept: false)
                skipped += Int64(n)
            }
        }
        let limit = wantedFrames ?? Int64.max
        var mono: [Float] = []
        mono.reserveCapacity(Int(min(limit, reader.declaredFrames ?? 0, budget.remainingKeptFrames, 1 << 22)))
        var reachedEnd = false
        while Int64(mono.count) < limit {
            if scratch.count < chunkFrames * reader.channels {
                scratch = [Float](repeating: 0, count: chunkFrames * reader.channels)
            }
            let want = Int(min(Int64(chunkFrames), limit - Int64(mono.count)))
            let n = try scratch.withUnsafeMutableBufferPointer { buffer throws(AudioError) in
                let got = try reader.read(into: buffer.baseAddress!, frames: want)
                guard got > 0 else { return 0 }
                let ceiling = Int(min(Int64(Int.max / 2), Int64(mono.count) + budget.remainingKeptFrames))
                try budget.spend(frames: got, channels: reader.channels, kept: true)
                grow(&mono, toHold: mono.count + got, atMost: ceiling)
                appendDownmix(UnsafeBufferPointer(rebasing: buffer[0..<(got * reader.channels)]), channels: reader.channels, to: &mono)
                return got
            }
            if n == 0 { reachedEnd = true; break }
        }
        zeroNonFinite(&mono)
        if mono.isEmpty && startFrame == 0 && (wantedFrames ?? 1) > 0 {
            throw .corrupt(path: name, reason: "no audio frames could be decoded")
        }
        if reachedEnd, startFrame == 0, trustsDeclaredLength, let declared = reader.declaredFrames,
           Int64(mono.count) < declared - max(declared / 100, Int64(reader.sampleRate) / 10) {
            throw .corrupt(path: name, reason: "truncated: the header declares \(declared) frames but only \(mono.count) could be decoded")
        }
        return mono
    }

    /// Doubles `buffer`'s capacity as needed (as `append` would), but never past `ceiling`
    /// elements, so a buffer near the decode cap does not jump to twice the cap.
    static func grow(_ buffer: inout [Float], toHold count: Int, atMost ceiling: Int) {
        guard count > buffer.capacity else { return }
        buffer.reserveCapacity(max(count, min(max(buffer.capacity * 2, 4096), ceiling)))
    }

    /// Seconds to a frame count, saturating far beyond any real file instead of trapping.
    private static func frames(_ seconds: Double, _ rate: Double) -> Int64 {
        let value = (seconds * rate).rounded()
        return value < 1e15 ? Int64(value) : 1_000_000_000_000_000
    }

    /// Damaged float data must not carry NaN or infinity into the features.
    static func zeroNonFinite(_ mono: inout [Float]) {
        mono.withUnsafeMutableBufferPointer { values in
            for i in values.indices where !values[i].isFinite { values[i] = 0 }
        }
    }

    /// Appends the mean of each frame's channels.
    static func appendDownmix(_ frames: UnsafeBufferPointer<Float>, channels: Int, to mono: inout [Float]) {
        guard !frames.isEmpty else { return }
        let count = frames.count / channels
        let start = mono.count
        mono.append(contentsOf: repeatElement(0, count: count))
        mono.withUnsafeMutableBufferPointer { out in
            let dst = out.baseAddress! + start
            let src = frames.baseAddress!
            switch channels {
            case 1: dst.update(from: src, count: count)
            case 2: for i in 0..<count { dst[i] = (src[2 * i] + src[2 * i + 1]) * 0.5 }
            default:
                let scale = 1 / Float(channels)
                for i in 0..<count {
                    var sum: Float = 0
                    for c in 0..<channels { sum += src[i * channels + c] }
                    dst[i] = sum * scale
                }
            }
        }
    }
}

/// Filter banks are costly to build (Bessel series per tap) and few rate pairs occur,
/// so decoders share them.
final class ResamplerCache: @unchecked Sendable {
    static let shared = ResamplerCache()
    private let lock = NSLock()
    private var entries: [String: Resampler] = [:]

    func resampler(from: Int, to: Int, quality: Resampler.Quality) throws(AudioError) -> Resampler {
        let key = "\(from)>\(to)@\(quality.passband)/\(quality.attenuation)/\(quality.stopband)"
        lock.lock()
        defer { lock.unlock() }
        if let cached = entries[key] { return cached }
        let made = try Resampler(from: from, to: to, quality: quality)
        // Odd rates from damaged headers build large one-off banks: keep only small ones.
        guard made.filterBankSize <= 1 << 20 else { return made }
        if entries.count >= 16 { entries.removeAll() }
        entries[key] = made
        return made
    }
}
