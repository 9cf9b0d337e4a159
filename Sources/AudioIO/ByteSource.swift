#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Random-access bytes (a file or an upload in memory) that libsndfile and libmpg123 read
/// through their replaceable I/O callbacks, so both inputs take the same decoding path.
/// The C callbacks reach it through an unretained pointer; the decoder that installs them
/// keeps a strong reference for as long as the C handle lives.
final class ByteSource {
    let name: String
    let length: Int64
    private(set) var position: Int64 = 0
    private let bytes: [UInt8]
    /// nil for memory.
    private let file: ReadOnlyFile?
    private var descriptor: Int32 { file?.descriptor ?? -1 }

    init(bytes: [UInt8], name: String) {
        self.bytes = bytes
        self.name = name
        self.length = Int64(bytes.count)
        self.file = nil
    }

    /// Reads an open file (its size as `fstat` gave it at open).
    init(file: ReadOnlyFile) {
        self.bytes = []
        self.name = file.path
        self.length = file.size
        self.file = file
    }

    /// Opens a file the user named read-only; directories, FIFOs, devices and missing files are refused.
    convenience init(path: String) throws(AudioError) {
        self.init(file: try ReadOnlyFile(path: path))
    }

    /// Copies up to `count` bytes from the current position; returns how many, or -1.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) -> Int {
        let wanted = Int(max(0, min(Int64(max(count, 0)), length - position)))
        guard wanted > 0 else { return 0 }
        let got = read(at: position, into: buffer, count: wanted)
        if got > 0 { position += Int64(got) }
        return got
    }

    /// Moves the position like lseek(2); returns the new position, or -1 if it would be negative.
    func seek(offset: Int64, whence: Int32) -> Int64 {
        let base: Int64
        switch whence {
        case SEEK_SET: base = 0
        case SEEK_CUR: base = position
        case SEEK_END: base = length
        default: return -1
        }
        let (target, overflow) = base.addingReportingOverflow(offset)
        guard !overflow, target >= 0 else { return -1 }
        position = target
        return target
    }

    /// Up to `count` bytes at `offset`, without moving the position (for format sniffing).
    func peek(at offset: Int64, count: Int) -> [UInt8] {
        guard offset >= 0, offset < length, count > 0 else { return [] }
        let wanted = Int(min(Int64(count), length - offset))
        var out = [UInt8](repeating: 0, count: wanted)
        let got = out.withUnsafeMutableBytes { read(at: offset, into: $0.baseAddress!, count: wanted) }
        return Array(out.prefix(max(got, 0)))
    }

    private func read(at offset: Int64, into buffer: UnsafeMutableRawPointer, count: Int) -> Int {
        if descriptor < 0 {
            return bytes.withUnsafeBytes { all in
                buffer.copyMemory(from: all.baseAddress! + Int(offset), byteCount: count)
                return count
            }
        }
        var done = 0
        while done < count {
            let n = pread(descriptor, buffer + done, count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return done > 0 ? done : -1 }
            if n == 0 { break }
            done += n
        }
        return done
    }
}

/// Sample-rate and channel bounds every decoder enforces before allocating anything.
enum StreamLimits {
    /// 1 kHz … 768 kHz covers every real recording; anything else is a damaged header.
    static let sampleRates = 1_000...768_000
    static let channels = 1...255
}
