/// Whether a file ends before its header says it should. libsndfile quietly shortens
/// WAV/AIFF streams to the bytes present, and an MP3 without a Xing/Info/VBRI header has
/// only an estimated length, so the decoder asks here which declared lengths to trust.
enum TruncationCheck {
    /// For WAV and AIFF: the reason the sample-data chunk overruns the file, or nil.
    /// Sizes 0 and 0xFFFFFFFF mean "unknown" (streaming writers) and are accepted, and so
    /// is a shortfall under 1 % (at least 4 KiB).
    static func pcmContainerShortfall(in source: ByteSource, format: AudioFileFormat) -> String? {
        let (dataID, bigEndian): (String, Bool)
        switch format {
        case .wav: (dataID, bigEndian) = ("data", false)
        case .aiff: (dataID, bigEndian) = ("SSND", true)
        default: return nil
        }
        var offset: Int64 = 12
        // Bounded walk: hostile files may hold any number of chunks.
        for _ in 0..<64 {
            let header = source.peek(at: offset, count: 8)
            guard header.count == 8 else { return nil }
            let size = bigEndian
                ? header[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                : header[4..<8].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            if String(decoding: header[0..<4], as: UTF8.self) == dataID {
                guard size != 0, size != 0xFFFF_FFFF else { return nil }
                let end = offset + 8 + Int64(size)
                // Some writers miscount by a few bytes; a real cut loses far more.
                return end - source.length > max(Int64(size) / 100, 4096)
                    ? "truncated: the \(dataID) chunk declares \(size) bytes but the file ends \(end - source.length) bytes short"
                    : nil
            }
            offset += 8 + Int64(size) + Int64(size & 1)
        }
        return nil
    }

    /// True when an MP3's first frame carries a Xing, Info or VBRI header: then mpg123's
    /// length is the encoder's exact count rather than an estimate from the file size.
    static func mp3HasExactLength(_ source: ByteSource) -> Bool {
        var start: Int64 = 0
        for _ in 0..<4 {
            let head = source.peek(at: start, count: 10)
            guard head.count == 10, head.starts(with: [0x49, 0x44, 0x33]) else { break }
            start += 10 + head[6...9].reduce(Int64(0)) { ($0 << 7) | Int64($1 & 0x7F) } + ((head[5] & 0x10) != 0 ? 10 : 0)
        }
        let frame = source.peek(at: start, count: 64)
        for tag in ["Xing", "Info", "VBRI"] {
            let needle = Array(tag.utf8)
            if frame.count >= 4, (0...(frame.count - 4)).contains(where: { Array(frame[$0..<($0 + 4)]) == needle }) { return true }
        }
        return false
    }
}
