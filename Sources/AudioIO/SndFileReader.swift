import CSndFile

/// WAV, FLAC, OGG/Vorbis, Opus and AIFF through libsndfile's virtual I/O, so files and
/// in-memory uploads share one path. Owns the SNDFILE handle and closes it once.
///
/// Opus always codes at 48 kHz but its decoder can synthesise at 8, 12, 16 or 24 kHz directly
/// (band-limited, at a fraction of the cost): given `decodeRateAtLeast`, the reader asks
/// libsndfile for the lowest of those rates that still keeps that rate's band.
final class SndFileReader: PCMStreamReader {
    let sampleRate: Int
    private(set) var channels: Int
    var sourceChannels: Int { channels }
    let sourceSampleRate: Int
    let declaredFrames: Int64?
    private let source: ByteSource
    private let file: OpaquePointer

    static let opusDecodeRates: [Int32] = [8000, 12000, 16000, 24000, 48000]

    init(source: ByteSource, decodeRateAtLeast wantedRate: Int? = nil) throws(AudioError) {
        self.source = source
        var io = SF_VIRTUAL_IO(
            get_filelen: { user in ByteSource.from(user).length },
            seek: { offset, whence, user in ByteSource.from(user).seek(offset: offset, whence: whence) },
            read: { buffer, count, user in
                guard let buffer else { return 0 }
                return sf_count_t(ByteSource.from(user).read(into: buffer, count: Int(clamping: count)))
            },
            write: { _, _, _ in 0 },
            tell: { user in ByteSource.from(user).position })
        var info = SF_INFO()
        guard let file = sf_open_virtual(&io, Int32(SFM_READ), &info, Unmanaged.passUnretained(source).toOpaque()) else {
            let reason = String(cString: sf_strerror(nil))
            throw source.length == 0 ? .corrupt(path: source.name, reason: "the file is empty")
                                     : .corrupt(path: source.name, reason: reason)
        }
        self.file = file
        sourceSampleRate = Int(info.samplerate)
        if let wantedRate, info.format & Int32(SF_FORMAT_SUBMASK) == Int32(SF_FORMAT_OPUS),
           var rate = Self.opusDecodeRates.first(where: { Int($0) >= wantedRate }), rate < info.samplerate,
           sf_command(file, Int32(SFC_SET_ORIGINAL_SAMPLERATE), &rate, Int32(MemoryLayout<Int32>.size)) == SF_TRUE {
            var current = SF_INFO()
            if sf_command(file, Int32(SFC_GET_CURRENT_SF_INFO), &current, Int32(MemoryLayout<SF_INFO>.size)) == 0,
               current.samplerate == rate {
                info = current
            }
        }
        self.sampleRate = Int(info.samplerate)
        self.channels = Int(info.channels)
        // libsndfile reports SF_COUNT_MAX when a stream's length is unknown.
        self.declaredFrames = info.frames > 0 && info.frames < Int64.max / 4 ? info.frames : nil
        try validate(name: source.name)
    }

    deinit { sf_close(file) }

    func seek(toFrame frame: Int64) -> Bool {
        sf_seek(file, frame, SEEK_SET) == frame
    }

    func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws(AudioError) -> Int {
        let got = sf_readf_float(file, buffer, sf_count_t(frames))
        if got <= 0 {
            let code = sf_error(file)
            if code != 0 { throw .corrupt(path: source.name, reason: String(cString: sf_error_number(code))) }
            return 0
        }
        return Int(got)
    }
}

extension ByteSource {
    /// The source behind a C callback's user pointer (installed unretained by its reader).
    static func from(_ user: UnsafeMutableRawPointer?) -> ByteSource {
        Unmanaged<ByteSource>.fromOpaque(user!).takeUnretainedValue()
    }
}
