/// A decoder positioned in a stream of interleaved Float32 frames. Implemented over
/// libsndfile and libmpg123; `AudioDecoder` drives it (seek, read, down-mix, resample).
protocol PCMStreamReader: AnyObject {
    var sampleRate: Int { get }
    var channels: Int { get }
    /// Channels in the source, when the decoder mixes them before `read` (else `channels`).
    var sourceChannels: Int { get }
    /// The source's rate, when the decoder delivers another (else `sampleRate`).
    var sourceSampleRate: Int { get }
    /// Frames the header declares, if it declares any. Never trusted for allocation.
    var declaredFrames: Int64? { get }
    /// Moves to `frame`; false when the stream cannot seek there.
    func seek(toFrame frame: Int64) -> Bool
    /// Fills up to `frames` interleaved frames; 0 means the end of the stream.
    /// `channels` may change after a call (MP3 streams may switch mono/stereo).
    func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws(AudioError) -> Int
}

extension PCMStreamReader {
    /// Checks the stream parameters before anything is allocated from them.
    func validate(name: String) throws(AudioError) {
        guard StreamLimits.sampleRates.contains(sampleRate) else {
            throw .invalidParameters(path: name, reason: "sample rate \(sampleRate) Hz is outside \(StreamLimits.sampleRates.lowerBound)…\(StreamLimits.sampleRates.upperBound) Hz")
        }
        guard StreamLimits.channels.contains(channels) else {
            throw .invalidParameters(path: name, reason: "\(channels) channels (expected \(StreamLimits.channels.lowerBound)…\(StreamLimits.channels.upperBound))")
        }
    }

    var declaredDuration: Double? { declaredFrames.map { Double($0) / Double(sampleRate) } }
}
