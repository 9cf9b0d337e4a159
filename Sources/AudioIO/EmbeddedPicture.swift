import CTagLibReadOnly
import Foundation

/// A picture stored inside an audio file (cover art), read through TagLib from the file's
/// read-only descriptor (`CTagLibReadOnly`), as its tags are.
public struct EmbeddedPicture: Sendable, Equatable {
    public var data: [UInt8]
    /// As the file declares it, or sniffed from the bytes when it declares none.
    public var mimeType: String

    /// Pictures larger than this are not read (a cover is rarely over a few MB).
    public static let maximumBytes = 32 << 20

    /// The file's front cover, else its first picture; nil when it holds none.
    public static func read(file: ReadOnlyFile) throws(AudioError) -> EmbeddedPicture? {
        let format = try AudioDecoder.format(of: ByteSource(file: file))
        let parser: TimbreTagFormat
        switch format {
        case .mp3: parser = TimbreTagFormatMPEG
        case .flac: parser = TimbreTagFormatFLAC
        case .ogg: parser = TimbreTagFormatVorbis
        case .opus: parser = TimbreTagFormatOpus
        case .wav: parser = TimbreTagFormatWAV
        case .aiff: parser = TimbreTagFormatAIFF
        }
        var picture = TimbreFilePicture()
        TagLibReader.lock.lock()
        let found = timbre_file_picture_read(file.descriptor, parser, UInt(maximumBytes), &picture) != 0
        TagLibReader.lock.unlock()
        guard found, let bytes = picture.data else { return nil }
        defer { timbre_file_picture_free(&picture) }
        let data = Array(UnsafeBufferPointer(start: bytes, count: Int(picture.size)))
        let declared = picture.mime_type.map { String(cString: $0).trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return EmbeddedPicture(data: data, mimeType: declared.contains("/") ? declared : sniffedType(data))
    }

    /// JPEG, PNG, GIF or WebP by their magic bytes.
    static func sniffedType(_ data: [UInt8]) -> String {
        if data.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if data.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "image/png" }
        if data.starts(with: Array("GIF8".utf8)) { return "image/gif" }
        if data.count >= 12, data.starts(with: Array("RIFF".utf8)), Array(data[8..<12]) == Array("WEBP".utf8) { return "image/webp" }
        return "application/octet-stream"
    }
}
