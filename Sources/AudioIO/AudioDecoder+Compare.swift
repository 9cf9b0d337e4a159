#if canImport(Glibc)
import Glibc
#endif

extension AudioDecoder {
    /// Whether two files decode to the same stream: the same format, rate and channel count, and
    /// bit-identical interleaved samples of every channel at the source's own rate, to the same
    /// end. Compared block by block in constant memory (no decode cap applies), so it is what the
    /// tag write-back can afford on a ten-hour mix. Throws when either does not decode.
    public static func decodeIdentically(_ first: ReadOnlyFile, _ second: ReadOnlyFile) throws(AudioError) -> Bool {
        let a = try ComparedStream(first), b = try ComparedStream(second)
        guard a.format == b.format, a.reader.sampleRate == b.reader.sampleRate,
              a.reader.sourceSampleRate == b.reader.sourceSampleRate, a.reader.channels == b.reader.channels else { return false }
        while true {
            if a.isEmpty { try a.refill() }
            if b.isEmpty { try b.refill() }
            // After a refill, empty is the end of the stream: both must end together.
            if a.isEmpty || b.isEmpty { return a.isEmpty && b.isEmpty }
            guard a.channels == b.channels else { return false }
            let count = min(a.available, b.available)
            guard memcmp(a.samples + a.start, b.samples + b.start, count * MemoryLayout<Float>.size) == 0 else { return false }
            a.start += count
            b.start += count
        }
    }
}

/// One decoder and the samples it delivered that were not compared yet (the two decoders may
/// deliver blocks of different lengths: mpg123 returns what each MPEG frame holds).
private final class ComparedStream {
    static let blockFrames = 4096
    let format: AudioFileFormat
    let reader: any PCMStreamReader
    let samples: UnsafeMutablePointer<Float>
    private let capacity: Int
    var start = 0
    var end = 0
    var channels: Int

    init(_ file: ReadOnlyFile) throws(AudioError) {
        let source = ByteSource(file: file)
        format = try AudioDecoder.format(of: source)
        reader = try AudioDecoder.openReader(source, format: format)
        try reader.validate(name: file.path)
        channels = reader.channels
        // Room for a block at the most channels a stream may switch to.
        capacity = Self.blockFrames * StreamLimits.channels.upperBound
        samples = .allocate(capacity: capacity)
    }

    deinit { samples.deallocate() }

    var isEmpty: Bool { start == end }
    var available: Int { end - start }

    func refill() throws(AudioError) {
        let frames = try reader.read(into: samples, frames: Self.blockFrames)
        channels = reader.channels
        start = 0
        end = min(capacity, max(0, frames) * channels)
    }
}
