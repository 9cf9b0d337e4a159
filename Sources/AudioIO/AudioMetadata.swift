import CTagLib
import Foundation

/// What a file says about itself: tags (TagLib) and stream properties (from the decoders,
/// which see the real content even when the extension lies).
public struct AudioMetadata: Codable, Sendable, Equatable {
    public var title: String?
    public var artist: String?
    public var album: String?
    /// Read through TagLib 2's property map; nil with TagLib 1.x (Debian 12), whose C API
    /// has no album-artist accessor.
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
    /// by frame for an exact length when it has no Xing/LAME header).
    public static func read(path: String) throws(AudioError) -> AudioMetadata {
        let source = try ByteSource(path: path)
        let format = try AudioDecoder.format(of: source)
        let reader = try AudioDecoder.openReader(source, format: format, scanLength: true)
        var metadata = AudioMetadata(duration: reader.declaredDuration ?? 0, sampleRate: reader.sampleRate,
                                     channels: reader.channels, format: format.rawValue)
        TagLibReader.fill(&metadata, path: path, format: format)
        if metadata.bitrate == nil, metadata.duration > 0 {
            metadata.bitrate = Int((Double(source.length) * 8 / metadata.duration / 1000).rounded())
        }
        return metadata
    }
}

/// TagLib's C API keeps global state (string management, unicode flag) and is not
/// thread-safe, so every use goes through one lock.
private enum TagLibReader {
    static let lock = NSLock()

    static func fill(_ metadata: inout AudioMetadata, path: String, format: AudioFileFormat) {
        lock.lock()
        defer { lock.unlock() }
        // We free each string ourselves rather than through taglib_tag_free_strings,
        // which would free strings handed out to other callers.
        taglib_set_string_management_enabled(0)
        taglib_set_strings_unicode(1)
        let file: UnsafeMutablePointer<TagLib_File>?
        switch format {  // TagLib 1.x picks its parser from the extension unless told.
        case .mp3: file = taglib_file_new_type(path, TagLib_File_MPEG)
        case .flac: file = taglib_file_new_type(path, TagLib_File_FLAC)
        case .ogg: file = taglib_file_new_type(path, TagLib_File_OggVorbis)
        case .wav, .aiff, .opus: file = taglib_file_new(path)
        }
        guard let file else { return }
        defer { taglib_file_free(file) }
        guard taglib_file_is_valid(file) != 0 else { return }
        if let tag = taglib_file_tag(file) {
            metadata.title = take(taglib_tag_title(tag))
            metadata.artist = take(taglib_tag_artist(tag))
            metadata.album = take(taglib_tag_album(tag))
            metadata.genre = take(taglib_tag_genre(tag))
            let year = Int(taglib_tag_year(tag)), track = Int(taglib_tag_track(tag))
            metadata.year = year > 0 ? year : nil
            metadata.trackNumber = track > 0 ? track : nil
        }
        metadata.albumArtist = PropertyMap.value(file, "ALBUMARTIST")
        if let properties = taglib_file_audioproperties(file) {
            let bitrate = Int(taglib_audioproperties_bitrate(properties))
            if bitrate > 0 { metadata.bitrate = bitrate }
        }
    }

    /// Copies a TagLib string and frees it; empty strings become nil.
    private static func take(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        defer { taglib_free(pointer) }
        let text = String(cString: pointer).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}

/// TagLib ≥ 2.0's C property-map calls, looked up at run time so the same build works
/// with TagLib 1.x, which lacks them.
enum PropertyMap {
    typealias Get = @convention(c) (UnsafeRawPointer?, UnsafePointer<CChar>?) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
    typealias Free = @convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Void

    static let functions: (get: Get, free: Free)? = {
        guard let get = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "taglib_property_get"),
              let free = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "taglib_property_free") else { return nil }
        return (unsafeBitCast(get, to: Get.self), unsafeBitCast(free, to: Free.self))
    }()

    /// The first value of `key`, or nil. Call with TagLibReader's lock held.
    static func value(_ file: UnsafeMutablePointer<TagLib_File>, _ key: String) -> String? {
        guard let functions, let values = functions.get(UnsafeRawPointer(file), key) else { return nil }
        defer { functions.free(values) }
        guard let first = values[0] else { return nil }
        let text = String(cString: first).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
