import Foundation

/// Whether a file ends before its header says it should. libsndfile quietly shortens
/// WAV/AIFF streams to the bytes present, and an MP3 without a Xing/Info/VBRI header has
/// only an estimated length, so the decoder asks here which declared lengths to trust;
/// `AudioMetadata.read` asks `inspect` whether a file is cut short, without decoding it whole.
enum TruncationCheck {
    /// A WAV/AIFF sample-data chunk that overruns the file.
    struct PCMShortfall {
        let chunk: String
        /// Bytes the chunk header declares, and bytes of it the file holds.
        let declaredBytes: Int64
        let presentBytes: Int64
        var reason: String {
            "truncated: the \(chunk) chunk declares \(declaredBytes) bytes but the file ends \(declaredBytes - presentBytes) bytes short"
        }
    }

    /// For WAV and AIFF: the sample-data chunk's shortfall, or nil.
    /// Sizes 0 and 0xFFFFFFFF mean "unknown" (streaming writers) and are accepted, and so
    /// is a shortfall under 1 % (at least 4 KiB).
    static func pcmContainerShortfall(in source: ByteSource, format: AudioFileFormat) -> PCMShortfall? {
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
                guard end - source.length > max(Int64(size) / 100, 4096) else { return nil }
                return PCMShortfall(chunk: dataID, declaredBytes: Int64(size), presentBytes: max(0, source.length - offset - 8))
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

    /// Whether the file behind `reader` (opened on `source` for metadata, MP3s scanned) is cut
    /// short of what its header declares, and how much of it can be decoded; nil when it is
    /// whole or cannot be told. Cheap for a whole file: WAV/AIFF compare the data chunk with
    /// the file size, FLAC seeks to its last declared sample and reads it, MP3 compares the
    /// Xing/Info/VBRI frame count with the frames scanned, Ogg (Vorbis, Opus) looks for the
    /// end-of-stream flag on the last page. Only a FLAC found short is probed further (from
    /// the last frame header in its tail, or a binary search over seek positions).
    static func inspect(_ source: ByteSource, format: AudioFileFormat, reader: any PCMStreamReader) -> TruncationReport? {
        let rate = Double(reader.sampleRate)
        switch format {
        case .wav, .aiff:
            guard let shortfall = pcmContainerShortfall(in: source, format: format) else { return nil }
            // libsndfile counts the frames of the bytes present.
            let present = reader.declaredDuration ?? 0
            let declared = shortfall.presentBytes > 0
                ? present * Double(shortfall.declaredBytes) / Double(shortfall.presentBytes) : nil
            return TruncationReport(declaredDuration: declared, decodableDuration: present,
                                    reason: "the \(shortfall.chunk) chunk declares \(shortfall.declaredBytes) bytes; the file ends \(shortfall.declaredBytes - shortfall.presentBytes) bytes short")
        case .flac:
            guard let declared = reader.declaredFrames, declared > 0 else { return nil }
            if canRead(reader, at: declared - 1) { return nil }
            let decodable = flacDecodableFrames(source, declared: declared)
            return TruncationReport(declaredDuration: Double(declared) / rate, decodableDuration: Double(decodable) / rate,
                                    reason: "STREAMINFO declares \(declared) frames; \(decodable) can be decoded")
        case .mp3:
            guard mp3HasExactLength(source), let mp3 = reader as? MP3Reader, let header = mp3.headerFrames, let scanned = mp3.declaredFrames,
                  scanned < header - max(header / 100, Int64(reader.sampleRate) / 10) else { return nil }
            return TruncationReport(declaredDuration: Double(header) / rate, decodableDuration: Double(scanned) / rate,
                                    reason: "the Xing/Info/VBRI header declares \(header) samples; the frames present hold \(scanned)")
        case .ogg, .opus:
            guard let end = oggEnd(source), !end.endOfStream else { return nil }
            // The last whole page's granule position counts samples at 48 kHz for Opus.
            let granuleRate = format == .opus ? 48_000.0 : Double(reader.sourceSampleRate)
            let decodable = end.granule.map { max(0, Double($0) / granuleRate) }
            let tail = end.trailingBytes > 0 ? " and \(end.trailingBytes) bytes of a cut page follow it" : ""
            return TruncationReport(declaredDuration: nil, decodableDuration: decodable,
                                    reason: "the Ogg stream's last page lacks the end-of-stream flag\(tail)")
        }
    }

    /// Seeks to `frame` and reads one frame there.
    private static func canRead(_ reader: any PCMStreamReader, at frame: Int64) -> Bool {
        guard frame >= 0, reader.seek(toFrame: frame) else { return false }
        var scratch = [Float](repeating: 0, count: max(reader.channels, 2) * 2)
        let got = scratch.withUnsafeMutableBufferPointer { buffer in
            (try? reader.read(into: buffer.baseAddress!, frames: 1)) ?? 0
        }
        return got > 0
    }

    /// Frames a cut FLAC still decodes: from the last frame header found in the file's tail
    /// (`flacFrameStarts`), the frames a fresh decoder reads after seeking there; when no such
    /// header leads to a readable frame, the last frame a fresh decoder can seek to and read
    /// (binary search; a truncated file holds a prefix of its frames) and what follows it.
    private static func flacDecodableFrames(_ source: ByteSource, declared: Int64) -> Int64 {
        func fresh() -> (any PCMStreamReader)? {
            _ = source.seek(offset: 0, whence: SEEK_SET)
            return try? SndFileReader(source: source)
        }
        var start: Int64?
        for candidate in flacFrameStarts(source).prefix(8) where candidate < declared {
            if let probe = fresh(), canRead(probe, at: candidate) { start = candidate; break }
        }
        if start == nil {
            var low: Int64 = -1, high = declared - 1  // low readable (or -1), high not
            while high - low > 1 {
                let middle = low + (high - low) / 2
                guard let probe = fresh() else { return 0 }
                if canRead(probe, at: middle) { low = middle } else { high = middle }
            }
            start = low
        }
        guard let start, start >= 0, let reader = fresh(), reader.seek(toFrame: start) else { return 0 }
        var counted: Int64 = 0
        var scratch = [Float](repeating: 0, count: 4096 * max(reader.channels, 2))
        while start + counted < declared {
            let got = scratch.withUnsafeMutableBufferPointer { buffer in
                (try? reader.read(into: buffer.baseAddress!, frames: buffer.count / max(reader.channels, 2))) ?? 0
            }
            if got <= 0 { break }
            counted += Int64(got)
        }
        return min(declared, start + counted)
    }

    /// First samples of the FLAC frames whose headers (sync code, valid fields, CRC-8) lie in
    /// the file's last 256 KiB, the last first (RFC 9639 §9.1). A match inside compressed data is
    /// possible, so the caller checks each by seeking to it.
    static func flacFrameStarts(_ source: ByteSource) -> [Int64] {
        let info = source.peek(at: 0, count: 10)
        guard info.count == 10, info[4] & 0x7F == 0 else { return [] }  // STREAMINFO comes first
        let fixedBlock = Int64(info[8]) << 8 | Int64(info[9])
        let window = min(source.length, 256 << 10)
        let bytes = source.peek(at: source.length - window, count: Int(window))
        var starts: [Int64] = []
        var p = bytes.count - 6
        while p >= 0 && starts.count < 16 {
            defer { p -= 1 }
            guard bytes[p] == 0xFF, bytes[p + 1] & 0xFE == 0xF8 else { continue }
            let variable = bytes[p + 1] & 1 == 1
            let blockCode = bytes[p + 2] >> 4, rateCode = bytes[p + 2] & 0x0F
            let channels = bytes[p + 3] >> 4, depth = (bytes[p + 3] >> 1) & 7
            guard blockCode != 0, rateCode != 15, channels <= 10, depth != 3, bytes[p + 3] & 1 == 0 else { continue }
            // The frame or sample number, coded like UTF-8 (up to 7 bytes, 36 bits).
            let lead = bytes[p + 4]
            let length = lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : (lead & 0xF8) == 0xF0 ? 4
                : (lead & 0xFC) == 0xF8 ? 5 : (lead & 0xFE) == 0xFC ? 6 : lead == 0xFE ? 7 : 0
            guard length > 0, p + 4 + length < bytes.count else { continue }
            var number = Int64(length == 1 ? lead : lead & (0x7F >> UInt8(length)))
            var valid = true
            for i in 1..<length {
                let byte = bytes[p + 4 + i]
                if byte & 0xC0 != 0x80 { valid = false; break }
                number = number << 6 | Int64(byte & 0x3F)
            }
            guard valid else { continue }
            var q = p + 4 + length
            q += blockCode == 6 ? 1 : blockCode == 7 ? 2 : 0
            q += rateCode == 12 ? 1 : rateCode == 13 || rateCode == 14 ? 2 : 0
            guard q < bytes.count else { continue }
            var crc: UInt8 = 0
            for byte in bytes[p..<q] {
                crc ^= byte
                for _ in 0..<8 { crc = crc & 0x80 != 0 ? (crc << 1) ^ 0x07 : crc << 1 }
            }
            guard crc == bytes[q] else { continue }
            starts.append(variable ? number : number * fixedBlock)
        }
        return starts
    }

    /// The last whole Ogg page in the file's final 128 KiB: its end-of-stream flag, granule
    /// position (nil when -1) and how many bytes after it are not a whole page.
    static func oggEnd(_ source: ByteSource) -> (endOfStream: Bool, granule: Int64?, trailingBytes: Int64)? {
        let window = min(source.length, 128 << 10)
        let start = source.length - window
        let bytes = source.peek(at: start, count: Int(window))
        guard bytes.count >= 27 else { return nil }
        var position = bytes.count - 27
        while position >= 0 {
            if bytes[position] == 0x4F, bytes[position + 1] == 0x67, bytes[position + 2] == 0x67, bytes[position + 3] == 0x53,
               bytes[position + 4] == 0 {
                let segments = Int(bytes[position + 26])
                if position + 27 + segments <= bytes.count {
                    let body = bytes[(position + 27)..<(position + 27 + segments)].reduce(0) { $0 + Int($1) }
                    let end = position + 27 + segments + body
                    if end <= bytes.count {
                        let granule = bytes[(position + 6)..<(position + 14)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                        return ((bytes[position + 5] & 0x04) != 0, granule == UInt64.max ? nil : Int64(bitPattern: granule),
                                Int64(bytes.count - end))
                    }
                }
            }
            position -= 1
        }
        return nil
    }
}

/// A file that ends before its header says it should (`AudioMetadata.truncation`).
public struct TruncationReport: Codable, Sendable, Equatable {
    /// Seconds the header declares (nil where the format declares no total: Ogg).
    public var declaredDuration: Double?
    /// Seconds that can be decoded (nil where that cannot be told cheaply).
    public var decodableDuration: Double?
    /// What was found, in words.
    public var reason: String

    public init(declaredDuration: Double?, decodableDuration: Double?, reason: String) {
        self.declaredDuration = declaredDuration
        self.decodableDuration = decodableDuration
        self.reason = reason
    }

    /// "header says 3.00 s, 0.37 s decodable (…)".
    public var summary: String {
        var parts: [String] = []
        if let declaredDuration { parts.append("header says \(Self.seconds(declaredDuration))") }
        if let decodableDuration { parts.append("\(Self.seconds(decodableDuration)) decodable") }
        return (parts.isEmpty ? "" : parts.joined(separator: ", ") + " — ") + reason
    }

    static func seconds(_ value: Double) -> String {
        value.isFinite ? String(format: "%.2f s", value) : "? s"
    }
}
