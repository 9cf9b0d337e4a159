import Foundation

/// Stretches of one source decoded at the target rate: each equals the same stretch of the
/// whole file's decode (`AudioDecoder.decode`), up to the decoder's seek accuracy, while only
/// the stretches (and a short margin around each) are decoded.
public struct DecodedExcerpts: Sendable, Equatable {
    public struct Excerpt: Sendable, Equatable {
        /// Index of `samples[0]` in the whole decode.
        public var start: Int
        public var samples: [Float]
        public init(start: Int, samples: [Float]) {
            self.start = start
            self.samples = samples
        }
        public var range: Range<Int> { start..<(start + samples.count) }
    }

    /// In increasing order, never overlapping.
    public var excerpts: [Excerpt]
    /// Samples in the whole decode at `sampleRate`.
    public var totalSamples: Int
    public var sampleRate: Int
    public var sourceSampleRate: Int
    public var sourceChannels: Int
    public var sourceFormat: AudioFileFormat
    /// True when the whole file was decoded (no trusted length, or the stretches cover most
    /// of it); the excerpts are then cut from that decode, exactly.
    public var decodedWhole: Bool

    /// Seconds of the whole decode.
    public var duration: Double { sampleRate > 0 ? Double(totalSamples) / Double(sampleRate) : 0 }
}

extension AudioDecoder {
    /// Decodes only the stretches `select` asks for, given the length of the whole decode in
    /// samples at the target rate. For tagging long tracks from a few evenly spread windows:
    /// a 4-minute track analysed in 24 windows of 3 s decodes about a third of its audio.
    ///
    /// How: the decoder seeks to a little before each stretch and decodes a little past it;
    /// the resampler starts on an input sample that falls exactly on an output sample, so the
    /// margin (`excerptMargin` output samples, longer than the resampler's filter) makes the
    /// stretch equal that of the whole decode. WAV, AIFF and FLAC seek exactly; MP3 (after a
    /// scan of its frame headers), Vorbis and Opus seek with their decoders' pre-roll, which
    /// leaves differences at rounding level (tests: `ExcerptDecodingTests`).
    ///
    /// The whole file is decoded instead, and the stretches cut from it, when the source
    /// declares no length it can be trusted on, when the stretches cover more than half of
    /// it, or when a seek fails or a stretch comes back short (damaged files then give the
    /// same errors as `decode`); `select` is then asked again, with the length of that decode.
    /// `options.offset` and `options.duration` must be left unset. `options.maxDecodedBytes`
    /// caps the samples decoded: the excerpts' (with their margins and resampled output), or the
    /// whole file's when it is decoded whole — so a 10-hour mix still gives its excerpts under
    /// the default 2 GiB.
    public static func decodeExcerpts(path: String, options: DecodeOptions = .init(),
                                      select: (_ totalSamples: Int) -> [Range<Int>]) throws(AudioError) -> DecodedExcerpts {
        try checkExcerptOptions(options, name: path)
        return try decodeExcerpts(source: ByteSource(path: path), options: options, select: select)
    }

    /// `decodeExcerpts` of a file already open (a library file opened with
    /// `ReadOnlyFile(path:confinedTo:)`), read through its descriptor only.
    public static func decodeExcerpts(file: ReadOnlyFile, options: DecodeOptions = .init(),
                                      select: (_ totalSamples: Int) -> [Range<Int>]) throws(AudioError) -> DecodedExcerpts {
        try checkExcerptOptions(options, name: file.path)
        return try decodeExcerpts(source: ByteSource(file: file), options: options, select: select)
    }

    public static func decodeExcerpts(bytes: [UInt8], name: String = "<memory>", options: DecodeOptions = .init(),
                                      select: (_ totalSamples: Int) -> [Range<Int>]) throws(AudioError) -> DecodedExcerpts {
        try checkExcerptOptions(options, name: name)
        return try decodeExcerpts(source: ByteSource(bytes: bytes, name: name), options: options, select: select)
    }

    /// Output samples decoded before and after each stretch: the resampler's filters reach
    /// at most a few hundred samples, the decoders' pre-roll is their own.
    static let excerptMargin = 1024

    private static func checkExcerptOptions(_ options: DecodeOptions, name: String) throws(AudioError) {
        try options.validate(name: name)
        guard options.offset == 0, options.duration == nil else {
            throw .invalidParameters(path: name, reason: "excerpts take their positions from the selection, not from offset or duration")
        }
    }

    static func decodeExcerpts(source: ByteSource, options: DecodeOptions,
                               select: (Int) -> [Range<Int>]) throws(AudioError) -> DecodedExcerpts {
        let format = try format(of: source)
        if let shortfall = TruncationCheck.pcmContainerShortfall(in: source, format: format) {
            throw .corrupt(path: source.name, reason: shortfall.reason)
        }
        // An MP3 is scanned (frame headers only) for its exact length and a seek index.
        let reader = try openReader(source, format: format, scanLength: format == .mp3, mixToMono: true,
                                    targetRate: options.targetSampleRate)
        let inputRate = reader.sampleRate
        let outputRate = options.targetSampleRate ?? inputRate
        let resampler = outputRate == inputRate ? nil
            : try ResamplerCache.shared.resampler(from: inputRate, to: outputRate, quality: options.resamplerQuality)

        func whole() throws(AudioError) -> DecodedExcerpts {
            _ = source.seek(offset: 0, whence: SEEK_SET)
            let audio = try decode(source: source, options: options)
            let ranges = normalized(select(audio.samples.count), total: audio.samples.count)
            return DecodedExcerpts(excerpts: ranges.map { .init(start: $0.lowerBound, samples: Array(audio.samples[$0])) },
                                   totalSamples: audio.samples.count, sampleRate: audio.sampleRate,
                                   sourceSampleRate: audio.sourceSampleRate, sourceChannels: audio.sourceChannels,
                                   sourceFormat: format, decodedWhole: true)
        }
        guard let declared = reader.declaredFrames, declared > 0, declared < Int64(Int32.max) * 64 else { return try whole() }
        let total = resampler?.outputCount(for: Int(declared)) ?? Int(declared)
        // Stretches whose margins would overlap are decoded as one.
        let ranges = normalized(select(total), total: total, joiningWithin: 2 * excerptMargin)
        let wanted = ranges.reduce(0) { $0 + $1.count + 2 * excerptMargin }
        guard 2 * wanted < total else { return try whole() }
        // Output sample n sits on input sample n·from/to; it is a whole one when n is a
        // multiple of `step`.
        let divisor = gcd(inputRate, outputRate)
        let step = outputRate / divisor, inputStep = inputRate / divisor
        func inputSpan(_ range: Range<Int>) -> (start: Int64, end: Int64, outStart: Int) {
            let outStart = max(0, range.lowerBound - excerptMargin) / step * step
            let inStart = Int64(outStart / step) * Int64(inputStep)
            let outEnd = min(total, range.upperBound + excerptMargin)
            let inEnd = min(declared, (Int64(outEnd) * Int64(inputRate) + Int64(outputRate) - 1) / Int64(outputRate))
            return (inStart, max(inStart, inEnd), outStart)
        }
        // The cap bounds what is decoded: a track longer than it can still give short excerpts.
        var budget = DecodeBudget(options: options, name: source.name, sourceRate: inputRate)
        try budget.checkDeclared(frames: ranges.reduce(Int64(0)) { $0 + inputSpan($1).end - inputSpan($1).start },
                                 channels: reader.channels, what: "the excerpts asked for (with their margins) hold")

        var excerpts: [DecodedExcerpts.Excerpt] = []
        var scratch = [Float](repeating: 0, count: 4096 * max(reader.channels, 2))
        for range in ranges {
            let (inStart, inEnd, outStart) = inputSpan(range)
            guard reader.seek(toFrame: inStart) else { return try whole() }
            let want = Int(inEnd - inStart)
            var mono: [Float] = []
            mono.reserveCapacity(want)
            while mono.count < want {
                let frames = min(4096, want - mono.count)
                if scratch.count < frames * reader.channels { scratch = [Float](repeating: 0, count: frames * reader.channels) }
                let got = try scratch.withUnsafeMutableBufferPointer { buffer throws(AudioError) in
                    let n = try reader.read(into: buffer.baseAddress!, frames: frames)
                    try budget.spend(frames: n, channels: reader.channels, kept: true)
                    appendDownmix(UnsafeBufferPointer(rebasing: buffer[0..<(n * reader.channels)]), channels: reader.channels, to: &mono)
                    return n
                }
                if got == 0 { break }
            }
            // Short of the declared length: damaged; the whole decode says how.
            guard mono.count == want else { return try whole() }
            zeroNonFinite(&mono)
            let resampled = resampler?.process(mono) ?? mono
            let from = range.lowerBound - outStart
            let to = min(range.upperBound - outStart, resampled.count)
            guard from < to else { return try whole() }
            excerpts.append(.init(start: range.lowerBound, samples: Array(resampled[from..<to])))
        }
        return DecodedExcerpts(excerpts: excerpts, totalSamples: total, sampleRate: outputRate,
                               sourceSampleRate: reader.sourceSampleRate, sourceChannels: reader.sourceChannels,
                               sourceFormat: format, decodedWhole: false)
    }

    /// Clipped to `0..<total`, sorted, empty ones dropped, and ranges that overlap or lie
    /// within `gap` samples of each other joined.
    static func normalized(_ ranges: [Range<Int>], total: Int, joiningWithin gap: Int = 0) -> [Range<Int>] {
        var joined: [Range<Int>] = []
        for range in ranges.map({ max(0, $0.lowerBound)..<min(total, max($0.upperBound, 0)) })
            .filter({ !$0.isEmpty }).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = joined.last, range.lowerBound <= last.upperBound + gap {
                joined[joined.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                joined.append(range)
            }
        }
        return joined
    }
}
