import CSndFile

/// The container and codec of an audio file, as written by `AudioWriter` and detected
/// from content by `AudioDecoder`.
public enum AudioFileFormat: String, CaseIterable, Sendable, Codable {
    case wav, flac, ogg, opus, aiff, mp3

    /// The format a file name's extension asks for, if any.
    public init?(pathExtension: String) {
        switch pathExtension.lowercased() {
        case "wav", "wave": self = .wav
        case "flac": self = .flac
        case "ogg", "oga": self = .ogg
        case "opus": self = .opus
        case "aif", "aiff", "aifc": self = .aiff
        case "mp3": self = .mp3
        default: return nil
        }
    }

    /// The format a path's extension asks for, if any.
    init?(path: String) {
        let name = path.split(separator: "/").last ?? ""
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count > 1, let ext = parts.last else { return nil }
        self.init(pathExtension: String(ext))
    }

    var sndfileFormat: Int32 {
        switch self {
        case .wav: return Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
        case .flac: return Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_16)
        case .ogg: return Int32(SF_FORMAT_OGG | SF_FORMAT_VORBIS)
        case .opus: return Int32(SF_FORMAT_OGG | SF_FORMAT_OPUS)
        case .aiff: return Int32(SF_FORMAT_AIFF | SF_FORMAT_PCM_16)
        case .mp3: return Int32(SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III)
        }
    }

    var isLossy: Bool { self == .ogg || self == .opus || self == .mp3 }
}

extension AudioFileFormat {
    /// The format that a file's first bytes announce, or nil when they match none we decode.
    /// Magic numbers: RIFF/RF64…WAVE, FORM…AIFF/AIFC, fLaC, OggS with an OpusHead or
    /// \u{1}vorbis first packet, ID3v2 tag or MPEG audio frame sync (ISO 11172-3 §2.4.2.3).
    static func detect(in source: ByteSource) -> AudioFileFormat? {
        var start: Int64 = 0
        var sawID3 = false
        // Tags may be stacked; a handful is plenty and bounds the work on hostile input.
        for _ in 0..<4 {
            let head = source.peek(at: start, count: 10)
            guard head.count == 10, head[0] == 0x49, head[1] == 0x44, head[2] == 0x33 else { break }
            sawID3 = true
            let size = head[6...9].reduce(Int64(0)) { ($0 << 7) | Int64($1 & 0x7F) }
            start += 10 + size + ((head[5] & 0x10) != 0 ? 10 : 0)
        }
        let b = source.peek(at: start, count: 40)
        func ascii(_ offset: Int, _ text: String) -> Bool {
            let want = Array(text.utf8)
            return b.count >= offset + want.count && Array(b[offset..<offset + want.count]) == want
        }
        if ascii(0, "fLaC") { return .flac }
        if !sawID3 {
            if (ascii(0, "RIFF") || ascii(0, "RF64")) && ascii(8, "WAVE") { return .wav }
            if ascii(0, "FORM") && (ascii(8, "AIFF") || ascii(8, "AIFC")) { return .aiff }
            if ascii(0, "OggS") {
                if ascii(28, "OpusHead") { return .opus }
                return .ogg  // Vorbis, or an Ogg stream libsndfile will judge itself.
            }
        }
        if b.count >= 4, isMPEGAudioFrameHeader(b[0], b[1], b[2]) { return .mp3 }
        return sawID3 ? .mp3 : nil
    }

    /// Frame sync (11 bits set) with no reserved version, layer, bitrate or rate index.
    private static func isMPEGAudioFrameHeader(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8) -> Bool {
        b0 == 0xFF && (b1 & 0xE0) == 0xE0 && (b1 >> 3) & 3 != 1 && (b1 >> 1) & 3 != 0
            && b2 >> 4 != 15 && (b2 >> 2) & 3 != 3
    }
}
