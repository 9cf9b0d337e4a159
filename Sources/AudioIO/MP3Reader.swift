import CMpg123

#if canImport(Glibc)
import Glibc
#endif

/// MPEG audio (MP3) through libmpg123 with Float32 output and gapless decoding: the
/// encoder delay and padding announced in the LAME/Xing tag are cut, so the decoded
/// length equals what was encoded. Reads through a replaced reader over `ByteSource`.
/// With `mixToMono`, mpg123 mixes the channels' spectra before its synthesis filter bank
/// (MPG123_MONO_MIX), so a stereo file costs one synthesis instead of two; the filter bank is
/// linear, so this equals decoding both channels and averaging, up to rounding.
/// Owns the mpg123 handle and deletes it once.
final class MP3Reader: PCMStreamReader {
    private(set) var sampleRate: Int
    private(set) var channels: Int
    private(set) var declaredFrames: Int64?
    /// With `scanLength`: the length mpg123 gave before scanning the frames (the Xing/Info/VBRI
    /// header's count when there is one), for telling a cut file from a whole one.
    private(set) var headerFrames: Int64?
    /// Channels in the stream (2 for stereo even when mixed to mono).
    private(set) var sourceChannels: Int
    var sourceSampleRate: Int { sampleRate }
    private let source: ByteSource
    private let handle: OpaquePointer
    /// Consecutive reads that produced nothing; bounds the loop on hostile streams.
    private var idleReads = 0

    init(source: ByteSource, scanLength: Bool = false, mixToMono: Bool = false) throws(AudioError) {
        self.source = source
        var err: Int32 = 0
        guard let handle = mpg123_new(nil, &err) else {
            throw .unreadable(path: source.name, reason: "cannot start the MP3 decoder: \(String(cString: mpg123_plain_strerror(err)))")
        }
        self.handle = handle
        // From here on `deinit` owns the handle, so early throws still release it.
        self.sampleRate = 0; self.channels = 0; self.declaredFrames = nil; self.headerFrames = nil; self.sourceChannels = 0
        let mix = mixToMono ? MPG123_MONO_MIX.rawValue : 0
        _ = mpg123_param2(handle, Int32(MPG123_FLAGS.rawValue), Int(MPG123_GAPLESS.rawValue | MPG123_QUIET.rawValue | mix), 0)
        // Layer III frames borrow bits from bytes before them (the bit
        // reservoir), so after a seek mpg123 must decode frames ahead unheard; LAME VBR
        // files measured here needed 8 (fewer leave silence after the seek point).
        _ = mpg123_param2(handle, Int32(MPG123_PREFRAMES.rawValue), 10, 0)
        _ = mpg123_format_none(handle)
        var rates: UnsafePointer<Int>? = nil
        var rateCount = 0
        mpg123_rates(&rates, &rateCount)
        for i in 0..<rateCount {
            let layouts = mixToMono ? MPG123_MONO.rawValue : MPG123_MONO.rawValue | MPG123_STEREO.rawValue
            _ = mpg123_format(handle, rates![i], Int32(layouts), Int32(MPG123_ENC_FLOAT_32.rawValue))
        }
        let installed = mpg123_replace_reader_handle(handle, { user, buffer, count in
            guard let buffer else { return -1 }
            return ByteSource.from(user).read(into: buffer, count: count)
        }, { user, offset, whence in
            off_t(ByteSource.from(user).seek(offset: Int64(offset), whence: whence))
        }, nil)
        guard installed == MPG123_OK.rawValue,
              mpg123_open_handle(handle, Unmanaged.passUnretained(source).toOpaque()) == MPG123_OK.rawValue else {
            throw .unreadable(path: source.name, reason: String(cString: mpg123_strerror(handle)))
        }
        var rate = 0, ch: Int32 = 0, encoding: Int32 = 0
        guard mpg123_getformat(handle, &rate, &ch, &encoding) == MPG123_OK.rawValue else {
            let reason = source.length == 0 ? "the file is empty" : "no MPEG audio frame found: \(String(cString: mpg123_strerror(handle)))"
            throw .corrupt(path: source.name, reason: reason)
        }
        self.sampleRate = rate
        self.channels = Int(ch)
        var frame = mpg123_frameinfo2()
        let stereo = mpg123_info2(handle, &frame) == MPG123_OK.rawValue && frame.mode != Int32(MPG123_M_MONO.rawValue)
        self.sourceChannels = mixToMono ? (stereo ? 2 : 1) : Int(ch)
        if scanLength {
            // Before the scan: the Xing/Info/VBRI count when there is one, else an estimate.
            let announced = mpg123_length(handle)
            headerFrames = announced > 0 ? Int64(announced) : nil
            _ = mpg123_scan(handle)
        }
        let length = mpg123_length(handle)
        self.declaredFrames = length > 0 ? Int64(length) : nil
        try validate(name: source.name)
    }

    deinit {
        mpg123_close(handle)
        mpg123_delete(handle)
    }

    func seek(toFrame frame: Int64) -> Bool {
        mpg123_seek(handle, off_t(frame), SEEK_SET) == off_t(frame)
    }

    func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws(AudioError) -> Int {
        // The caller sized `buffer` for the current layout; a switch to more channels
        // must not write past it.
        let bytes = frames * channels * MemoryLayout<Float>.size
        while true {
            var done = 0
            let status = mpg123_read(handle, UnsafeMutableRawPointer(buffer), bytes, &done)
            switch status {
            case MPG123_OK.rawValue, MPG123_DONE.rawValue, MPG123_NEW_FORMAT.rawValue:
                if status == MPG123_NEW_FORMAT.rawValue {
                    var rate = 0, ch: Int32 = 0, encoding: Int32 = 0
                    _ = mpg123_getformat(handle, &rate, &ch, &encoding)
                    guard rate == sampleRate, StreamLimits.channels.contains(Int(ch)) else {
                        throw .corrupt(path: source.name, reason: "the stream switches from \(sampleRate) Hz to \(rate) Hz")
                    }
                    // Whatever came with the switch has an unclear layout: drop it.
                    channels = Int(ch)
                    idleReads += 1
                    if idleReads > 10_000 { throw .corrupt(path: source.name, reason: "the decoder makes no progress") }
                    continue
                }
                let frameBytes = channels * MemoryLayout<Float>.size
                if done >= frameBytes { idleReads = 0; return done / frameBytes }
                if status == MPG123_DONE.rawValue { return 0 }
                idleReads += 1
                if idleReads > 10_000 { throw .corrupt(path: source.name, reason: "the decoder makes no progress") }
            default:
                throw .corrupt(path: source.name, reason: String(cString: mpg123_strerror(handle)))
            }
        }
    }
}
