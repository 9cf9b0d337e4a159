import AudioIO
import CTagLibReadOnly
import CTagLibWriter
import Foundation

/// One property's values in a file, read through the read-only shim (`CTagLibReadOnly`, a
/// read-only duplicate of a descriptor) and written through `CTagLibWriter` (a read-write
/// descriptor, only ever of a temporary copy). TagLib shares state between files (frame
/// factories, string conversion), so calls are serialised.
enum TagValues {
    private static let lock = NSLock()

    static func parser(for format: AudioFileFormat) -> TimbreTagFormat {
        switch format {
        case .mp3: return TimbreTagFormatMPEG
        case .flac: return TimbreTagFormatFLAC
        case .ogg: return TimbreTagFormatVorbis
        case .opus: return TimbreTagFormatOpus
        case .wav: return TimbreTagFormatWAV
        case .aiff: return TimbreTagFormatAIFF
        }
    }

    /// nil when TagLib cannot parse the file.
    static func read(descriptor: Int32, format: AudioFileFormat, key: String) -> [String]? {
        var values = TimbreTagValues()
        lock.lock()
        let parsed = timbre_tag_values_read(descriptor, parser(for: format), key, &values) != 0
        lock.unlock()
        guard parsed else { return nil }
        defer { timbre_tag_values_free(&values) }
        return (0..<Int(values.count)).map { index in values.values[index].map { String(cString: $0) } ?? "" }
    }

    static func write(descriptor: Int32, format: AudioFileFormat, key: String, values: [String], path: String) throws(WritebackError) {
        var error: UnsafeMutablePointer<CChar>?
        let written: Bool = withCStrings(values) { pointers in
            lock.lock()
            defer { lock.unlock() }
            return timbre_tag_values_write(descriptor, parser(for: format), key, pointers.baseAddress, UInt32(values.count), &error) != 0
        }
        guard written else {
            let reason = error.map { String(cString: $0) } ?? "TagLib could not write the tags"
            free(error)
            throw .fileFailed(path: path, reason: "cannot write \(key): \(reason)")
        }
    }

    private static func withCStrings<T>(_ strings: [String], _ body: (UnsafeBufferPointer<UnsafePointer<CChar>?>) -> T) -> T {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { UnsafePointer($0) }
        return pointers.withUnsafeBufferPointer(body)
    }
}
