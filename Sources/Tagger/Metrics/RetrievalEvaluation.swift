import AudioIO
import Features
import Foundation

/// Same-group retrieval on a folder of audio: every first-level folder under the root is a
/// group (a soundtrack, an album), every audio file below it a track. Each method turns a
/// track into a vector; `RetrievalMetrics.precisionAtK` scores it leave-one-out. Methods run
/// on the same tracks: a track one method cannot read is left out of all.
public enum RetrievalEvaluation {
    public struct Track: Sendable, Equatable {
        /// Relative to the root.
        public var path: String
        public var group: String
    }

    /// The tracks under `directory`: audio files at least two levels down (group/…/file), sorted.
    public static func tracks(under directory: String) throws -> [Track] {
        try CorpusPreparer.audioFiles(under: directory).compactMap { path in
            let parts = path.split(separator: "/", omittingEmptySubsequences: true)
            return parts.count >= 2 ? Track(path: path, group: String(parts[0])) : nil
        }
    }

    /// A model's track embedding (the L2-normalised mean of its chunk embeddings, as tagging
    /// stores it); nil for a track it could not read, with the error.
    public static func modelEmbeddings(_ predictor: Predictor, root: String, tracks: [Track],
                                       each: (Int) -> Void = { _ in }) -> [Result<[Float], any Error>] {
        tracks.enumerated().map { i, track in
            defer { each(i) }
            return Result { try predictor.predict(file: root + "/" + track.path).embedding }
        }
    }

    /// The statistics baseline: per mel band, the mean and the standard deviation over the
    /// track's frames of its log-mel spectrogram (librosa's defaults: 22050 Hz, n_fft 2048,
    /// hop 512, 128 Slaney mels, dB with top_db 80), the first `maxSeconds` of audio.
    /// Standardise the vectors over the collection before comparing them (`standardised`).
    public static func logMelStatistics(root: String, tracks: [Track], config: SpectrogramConfig = SpectrogramConfig(),
                                        maxSeconds: Double = 600, each: (Int) -> Void = { _ in }) -> [Result<[Float], any Error>] {
        let frontEnd = Result { try LogMelSpectrogram(config) }
        return tracks.enumerated().map { i, track in
            defer { each(i) }
            return Result {
                let audio = try AudioDecoder.decode(path: root + "/" + track.path,
                                                    options: DecodeOptions(targetSampleRate: config.sampleRate, duration: maxSeconds))
                let spectrogram = try frontEnd.get().logMel(audio.samples)
                return statistics(spectrogram)
            }
        }
    }

    /// Mean then standard deviation of each band over the frames (bands × frames row-major).
    static func statistics(_ s: Spectrogram) -> [Float] {
        var mean = [Float](repeating: 0, count: s.nMels), std = [Float](repeating: 0, count: s.nMels)
        guard s.frames > 0 else { return mean + std }
        for m in 0..<s.nMels {
            var sum = 0.0, squares = 0.0
            for t in 0..<s.frames { let x = Double(s.values[m * s.frames + t]); sum += x; squares += x * x }
            let mu = sum / Double(s.frames)
            mean[m] = Float(mu)
            std[m] = Float(max(0, squares / Double(s.frames) - mu * mu).squareRoot())
        }
        return mean + std
    }
}
