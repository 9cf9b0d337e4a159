import CSndFile

#if canImport(Glibc)
import Glibc
#endif

/// Writes interleaved Float32 samples to a file through libsndfile: WAV, AIFF and FLAC as
/// 16-bit PCM (clipped to [-1, 1], never wrapped), OGG/Vorbis, Opus, and MP3 through
/// libsndfile's LAME encoder (with a LAME/Xing header, so decoders cut the encoder delay).
/// Used for test material, the demo corpus and exports; Timbre never writes into a user's
/// library. The file is written beside `path` under a temporary name, flushed and renamed
/// over `path` (`rename(2)`): a file being replaced is never missing nor half written, and on
/// failure no partial file is left behind and the old one stays.
public enum AudioWriter {
    /// Rates Opus can store; others are resampled to 48 kHz (what opusenc does too).
    static let opusRates: Set<Int> = [8000, 12000, 16000, 24000, 48000]

    /// - Parameters:
    ///   - samples: interleaved frames, `channels` values per frame, nominally in [-1, 1].
    ///   - format: nil takes it from the path's extension.
    ///   - quality: for lossy formats, 0 (smallest) … 1 (best); ignored for PCM.
    public static func write(
        _ samples: [Float], sampleRate: Int, channels: Int = 1,
        to path: String, format: AudioFileFormat? = nil, quality: Double = 0.7
    ) throws(AudioError) {
        guard channels > 0, channels <= StreamLimits.channels.upperBound, samples.count % channels == 0 else {
            throw .invalidParameters(path: path, reason: "\(samples.count) samples do not split into \(channels) channels")
        }
        guard StreamLimits.sampleRates.contains(sampleRate) else {
            throw .invalidParameters(path: path, reason: "sample rate \(sampleRate) Hz is outside \(StreamLimits.sampleRates.lowerBound)…\(StreamLimits.sampleRates.upperBound) Hz")
        }
        guard let format = format ?? AudioFileFormat(path: path) else {
            throw .unsupportedFormat(path: path, reason: "cannot tell the format to write from the file name")
        }
        var samples = samples
        var rate = sampleRate
        if format == .opus && !opusRates.contains(sampleRate) {
            samples = try resampleInterleaved(samples, channels: channels, from: sampleRate, to: 48000)
            rate = 48000
        }
        // Into a temporary file beside `path`, renamed over it when complete (AtomicReplace).
        try AtomicReplace.replace(path) { temporary throws(AudioError) in
            try writeFile(samples, sampleRate: rate, channels: channels, to: temporary, reportedAs: path, format: format, quality: quality)
        }
    }

    private static func writeFile(_ samples: [Float], sampleRate rate: Int, channels: Int, to temporary: String,
                                  reportedAs path: String, format: AudioFileFormat, quality: Double) throws(AudioError) {
        var info = SF_INFO()
        info.samplerate = Int32(rate)
        info.channels = Int32(channels)
        info.format = format.sndfileFormat
        guard let file = sf_open(temporary, Int32(SFM_WRITE), &info) else {
            throw .writeFailed(path: path, reason: String(cString: sf_strerror(nil)))
        }
        if format.isLossy {
            var level = 1 - min(max(quality, 0), 1)  // libsndfile's knob is compression level: 0 is best quality
            _ = sf_command(file, Int32(SFC_SET_COMPRESSION_LEVEL), &level, Int32(MemoryLayout<Double>.size))
        } else {
            _ = sf_command(file, Int32(SFC_SET_CLIPPING), nil, Int32(SF_TRUE))
        }
        let frames = samples.count / channels
        // In blocks: libvorbis takes stack space in proportion to one call's frames, and a
        // minute in one call overflows a worker thread's stack.
        let block = 65536
        var written = 0
        samples.withUnsafeBufferPointer { buffer in
            while written < frames {
                let n = min(block, frames - written)
                let done = Int(sf_writef_float(file, buffer.baseAddress! + written * channels, sf_count_t(n)))
                written += done
                if done != n { break }
            }
        }
        let writeError = written == frames ? nil : String(cString: sf_strerror(file))
        let closed = sf_close(file)
        if let writeError {
            throw .writeFailed(path: path, reason: "wrote \(written) of \(frames) frames: \(writeError)")
        }
        if closed != 0 {
            throw .writeFailed(path: path, reason: String(cString: sf_error_number(closed)))
        }
    }

    private static func resampleInterleaved(_ samples: [Float], channels: Int, from: Int, to: Int) throws(AudioError) -> [Float] {
        let resampler = try Resampler(from: from, to: to)
        let frames = samples.count / channels
        let converted = (0..<channels).map { c in
            resampler.process((0..<frames).map { samples[$0 * channels + c] })
        }
        let outFrames = resampler.outputCount(for: frames)
        var out = [Float](repeating: 0, count: outFrames * channels)
        for c in 0..<channels { for i in 0..<outFrames { out[i * channels + c] = converted[c][i] } }
        return out
    }
}
