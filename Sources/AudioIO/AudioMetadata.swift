import CTagLibReadOnly
import Foundation

/// What a file says about itself: tags (TagLib) and stream properties (from the decoders,
/// which see the real content even when the extension lies).
public struct AudioMetadata: Codable, Sendable, Equatable {
    public var title: String?
    public var artist: String?
    public var album: String?
    /// From TagLib's property map (ALBUMARTIST).
    public var albumArtist: String?
    public var genre: String?
    public var year: Int?
    public var trackNumber: Int?
    /// Seconds.
    public var duration: Double
    public var sampleRate: Int
    public var channels: Int
    /// kbit/s, as TagLib reports it, else file size over duration.
    public var bitrate: Int?
    /// `AudioFileFormat` raw value detected from content: wav, flac, ogg, opus, aiff, mp3.
    public var format: String
    /// Set when the file ends before its header says it should (then `duration` is the
    /// header's); nil for a whole file, or where that cannot be told (FLAC without a declared length).
    public var truncation: TruncationReport?

    public init(title: String? = nil, artist: String? = nil, album: String? = nil, albumArtist: String? = nil,
                genre: String? = nil, year: Int? = nil, trackNumber: Int? = nil, duration: Double,
                sampleRate: Int, channels: Int, bitrate: Int? = nil, format: String) {
        self.title = title; self.artist = artist; self.album = album; self.albumArtist = albumArtist
        self.genre = genre; self.year = year; self.trackNumber = trackNumber; self.duration = duration
        self.sampleRate = sampleRate; self.channels = channels; self.bitrate = bitrate; self.format = format
    }
}

extension AudioMetadata {
    /// Reads tags and stream properties without decoding the audio (an MP3 is scanned frame
    /// by frame for an exact length when it has no Xing/LAME header), and checks that the
    /// file is not cut short (`truncation`, see `TruncationCheck.inspect`).
    public static func read(path: String) throws(AudioError) -> AudioMetadata {
        try read(file: ReadOnlyFile(path: path))
    }

    /// `read(path:)` of a file already open: the decoders and TagLib read its descriptor only.
    public static func read(file: ReadOnlyFile) throws(AudioError) -> AudioMetadata {
        let source = ByteSource(file: file)
        let format = try AudioDecoder.format(of: source)
        let reader = try AudioDecoder.openReader(source, format: format, scanLength: true)
        var metadata = AudioMetadata(duration: reader.declaredDuration ?? 0, sampleRate: reader.sampleRate,
                                     channels: reader.channels, format: format.rawValue)
        metadata.truncation = TruncationCheck.inspect(source, format: format, reader: reader)
        TagLibReader.fill(&metadata, descriptor: file.descriptor, format: format)
        if metadata.bitrate == nil, metadata.duration > 0 {
            metadata.bitrate = Int((Double(source.length) * 8 / metadata.duration / 1000).rounded())
        }
        return metadata
    }
}

/// TagLib's C++ API through `CTagLibReadOnly`, on a duplicate of the file's descriptor opened
/// "rb": TagLib never opens a path and never asks for write access. TagLib shares some state
/// between files (frame factories, string conversion), so calls are serialised.
enum TagLibReader {
    static let lock = NSLock()

    static func fill(_ metadata: inout AudioMetadata, descriptor: Int32, format: AudioFileFormat) {
        let parser: TimbreTagFormat
        switch format {  // the content's format, not the name's
        case .mp3: parser = TimbreTagFormatMPEG
        case .flac: parser = TimbreTagFormatFLAC
        case .ogg: parser = TimbreTagFormatVorbis
        case .opus: parser = TimbreTagFormatOpus
        case .wav: parser = TimbreTagFormatWAV
        case .aiff: parser = TimbreTagFormatAIFF
        }
        var tags = TimbreFileTags()
        lock.lock()
        let parsed = timbre_file_tags_read(descriptor, parser, &tags) != 0
        lock.unlock()
        guard parsed else { return }
        defer { timbre_file_tags_free(&tags) }
        metadata.title = text(tags.title)
        metadata.artist = text(tags.artist)
        metadata.album = text(tags.album)
        metadata.albumArtist = text(tags.album_artist)
        metadata.genre = text(tags.genre)
        metadata.year = tags.year > 0 ? Int(tags.year) : nil
        metadata.trackNumber = tags.track > 0 ? Int(tags.track) : nil
        if tags.bitrate > 0 { metadata.bitrate = Int(tags.bitrate) }
    }

    /// Empty strings become nil.
    private static func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        let text = String(cString: pointer).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
