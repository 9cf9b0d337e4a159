import CSndFile

/// Writes interleaved Float32 samples to a file through libsndfile (MP3 through
/// its LAME encoder). Used for test material, the demo corpus and exports; Timbre
/// never writes into a user's library.
public enum AudioWriter {
    /// - Parameters:
    ///   - samples: interleaved frames, `channels` values per frame, nominally in [-1, 1].
    ///   - quality: for lossy formats, 0 (smallest) … 1 (best); ignored for PCM.
    public static func write(
        _ samples: [Float], sampleRate: Int, channels: Int = 1,
        to path: String, format: AudioFileFormat? = nil, quality: Double = 0.7
    ) throws(AudioError) {
        guard channels > 0, samples.count % channels == 0 else {
            throw .invalidParameters(path: path, reason: "\(samples.count) samples do not split into \(channels) channels")
        }
        guard sampleRate > 0 else { throw .invalidParameters(path: path, reason: "sample rate \(sampleRate)") }
        let ext = path.split(separator: "/").last.flatMap { name in name.split(separator: ".").count > 1 ? name.split(separator: ".").last : nil }
        guard let format = format ?? ext.flatMap({ AudioFileFormat(pathExtension: String($0)) }) else {
            throw .unsupportedFormat(path: path, reason: "cannot tell the format to write from the file name")
        }
        var info = SF_INFO()
        info.samplerate = Int32(sampleRate)
        info.channels = Int32(channels)
        info.format = format.sndfileFormat
        guard let file = sf_open(path, Int32(SFM_WRITE), &info) else {
            throw .writeFailed(path: path, reason: String(cString: sf_strerror(nil)))
        }
        defer { sf_close(file) }
        if format != .wav && format != .flac && format != .aiff {
            var q = 1 - min(max(quality, 0), 1)  // libsndfile's knob is compression level: 0 best quality
            _ = sf_command(file, Int32(SFC_SET_COMPRESSION_LEVEL), &q, Int32(MemoryLayout<Double>.size))
        }
        let frames = samples.count / channels
        let written = samples.withUnsafeBufferPointer { sf_writef_float(file, $0.baseAddress, sf_count_t(frames)) }
        guard written == frames else {
            throw .writeFailed(path: path, reason: "wrote \(written) of \(frames) frames: \(String(cString: sf_strerror(file)))")
        }
    }
}
