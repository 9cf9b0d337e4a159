import AudioIO
import Catalog
import Features
import Foundation
import Logging
import Tagger

/// One live prediction stream over a WebSocket (`GET /api/v1/stream`, protocol in docs/api.md):
///
/// 1. the client's first message is JSON text `{"api_key"?, "sample_rate", "channels", "format":
///    "f32le"|"s16le", "hop_seconds"?, "threshold"?}`; the key may come instead as a
///    `tmb_…` entry of `Sec-WebSocket-Protocol` (never in the URL). No or a bad key: close 1008.
/// 2. the server answers `{"type":"ready", …}`; then binary messages carry interleaved PCM;
///    every chunk they complete (`StreamingFeatures`) goes through the network on the
///    predictor pool and is answered `{"type":"chunk", …}` then the running `{"type":"track", …}`
///    (the mean of the chunks so far: `TrackAggregate`, as `timbre predict` aggregates).
/// 3. `{"type":"end"}` gives the chunks only the end completes, the final track (`"final":
///    true`) and a close 1000.
///
/// `"format": "encoded"` instead sends a whole audio file (WAV, FLAC, Ogg, Opus, MP3, AIFF) in
/// binary messages, no rate or channels needed: a container decodes only whole, so its chunks
/// are all answered after `end`, from the same decode `timbre predict` runs (at most
/// `Settings.maxEncodedBytes`, else close 1009; a file that does not decode: close 1007).
///
/// Runs on its own thread (the upgrade's); the slot in `StreamRegistry` is released when `run`
/// returns, whatever ended the stream.
final class PredictionStream {
    struct Settings: Sendable {
        var limits = WebSocketLimits()
        /// Seconds without a message before the stream is closed (1001).
        var idleTimeout: TimeInterval = 30
        /// Seconds the start message may take.
        var startTimeout: TimeInterval = 10
        /// The most bytes of an encoded stream kept until its end.
        var maxEncodedBytes = 64 << 20
    }

    let server: TimbreServer
    let socket: UpgradedSocket
    let offeredProtocols: [String]
    let settings: Settings

    init(server: TimbreServer, socket: UpgradedSocket, offeredProtocols: [String], settings: Settings) {
        self.server = server
        self.socket = socket
        self.offeredProtocols = offeredProtocols
        self.settings = settings
    }

    func run() {
        defer { server.streams.release() }
        let connection = WebSocketConnection(socket: socket, limits: settings.limits)
        let streams = server.streams
        connection.shouldStop = { streams.isStopping }
        do {
            try serve(connection)
        } catch let error as WebSocketError {
            refuse(connection, error)
        } catch let error as WebSocketConnection.SendError {
            server.logger.info("stream dropped: \(error)")
            connection.abort()
        } catch {
            let reference = UUID().uuidString.prefix(8).lowercased()
            server.logger.error("stream \(reference) failed: \(error)")
            refuse(connection, WebSocketError(.internalError, "the server failed (reference \(reference) in its log)"))
        }
    }

    /// An error message the client can read, then the close with its code.
    private func refuse(_ connection: WebSocketConnection, _ error: WebSocketError) {
        if !connection.isClosed, let text = try? Self.json(StreamMessage.Failure(code: Int(error.code.rawValue), message: error.reason)) {
            try? connection.send(text: text)
        }
        connection.close(error.code, reason: error.reason)
    }

    private func serve(_ connection: WebSocketConnection) throws {
        let start: StreamStart
        switch connection.receive(timeout: settings.startTimeout) {
        case .timeout: throw WebSocketError(.policyViolation, "no start message within \(Int(settings.startTimeout)) s")
        case .closed: return
        case .message(.binary): throw WebSocketError(.unsupportedData, "the first message must be the JSON start message, not audio")
        case let .message(.text(text)): start = try StreamStart(parsing: text)
        }
        let user = try authenticate(start.apiKey ?? offeredProtocols.first { $0.hasPrefix("tmb_") })
        let model: ModelVersion
        do { model = try server.activeModel() } catch {
            throw WebSocketError(.internalError, "no active model to tag with yet")
        }
        let threshold = start.threshold ?? 0.5
        let (features, labels) = try server.predictions.with(model: model) { predictor -> (StreamingFeatures, [String]) in
            let spectrogram = predictor.bundle.frontEnd.spectrogram
            let hop = start.hopSeconds.map { max(1, Int(($0 * Double(spectrogram.sampleRate) / Double(spectrogram.hopLength)).rounded())) }
                ?? predictor.features.chunking.hop
            // An encoded file is decoded to the model's rate, mono, as `timbre predict` decodes it.
            let encoded = start.format == .encoded
            return (try StreamingFeatures(bundle: predictor.bundle, sampleRate: encoded ? spectrogram.sampleRate : start.sampleRate,
                                          channels: encoded ? 1 : start.channels, hop: hop),
                    predictor.labels)
        }
        server.logger.info("stream for \(user.name): \(start.sampleRate) Hz, \(start.channels) ch, \(start.format.rawValue), model \(model.version)")
        try connection.send(text: Self.json(StreamMessage.Ready(
            modelVersion: model.version, labels: labels, sampleRate: features.frontEnd.spectrogram.sampleRate,
            chunkSeconds: features.seconds(frame: features.frontEnd.chunkFrames), hopSeconds: features.seconds(frame: features.hop),
            hopFrames: features.hop)))

        var aggregate = TrackAggregate(labels: labels.count, embeddingDimension: 0)
        var chunks = 0
        var pending: [UInt8] = []
        let frameBytes = start.channels * start.format.bytesPerSample
        var encodedBytes: [UInt8] = []

        func answer(_ batch: ChunkBatch, isFinal: Bool) throws {
            var outputs: [ChunkPrediction] = []
            if batch.count > 0 { outputs = try server.predictions.with(model: model) { try $0.predictEach(chunks: batch) } }
            for (i, output) in outputs.enumerated() {
                var summary = output
                summary.embedding = []
                aggregate.add(summary)
                let first = batch.starts[i]
                try connection.send(text: Self.json(StreamMessage.Chunk(
                    index: chunks, startSeconds: features.seconds(frame: first),
                    endSeconds: features.seconds(frame: first + batch.frames),
                    predictions: StreamMessage.ranked(labels, output.probabilities))))
                chunks += 1
            }
            guard !outputs.isEmpty || isFinal else { return }
            let probabilities = aggregate.finished().probabilities
            try connection.send(text: Self.json(StreamMessage.Track(
                isFinal: isFinal, chunks: chunks, seconds: features.receivedSeconds, modelVersion: model.version,
                predictions: chunks == 0 ? [] : StreamMessage.ranked(labels, probabilities),
                tags: chunks == 0 ? [] : StreamMessage.ranked(labels, probabilities).filter { $0.probability >= threshold }.map(\.label))))
        }

        while true {
            switch connection.receive(timeout: settings.idleTimeout) {
            case .timeout:
                throw WebSocketError(.goingAway, "nothing received for \(Int(settings.idleTimeout)) s")
            case .closed:
                return
            case let .message(.binary(bytes)) where start.format == .encoded:
                guard encodedBytes.count + bytes.count <= settings.maxEncodedBytes else {
                    throw WebSocketError(.messageTooBig, "an encoded stream over \(settings.maxEncodedBytes >> 20) MiB; stream long audio as PCM")
                }
                encodedBytes += bytes
            case let .message(.binary(bytes)):
                pending += bytes
                let whole = pending.count / frameBytes * frameBytes
                guard whole > 0 else { continue }
                let samples = start.format.decode(pending[0..<whole])
                pending.removeFirst(whole)
                let batch = try samples.withUnsafeBufferPointer { try features.append(interleaved: $0) }
                try answer(batch, isFinal: false)
            case let .message(.text(text)):
                guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                      object["type"] as? String == "end" else {
                    throw WebSocketError(.unsupportedData, "after the start message, text must be {\"type\":\"end\"}; audio goes in binary messages")
                }
                if start.format == .encoded {
                    let decoded: DecodedAudio
                    do {
                        decoded = try AudioDecoder.decode(bytes: encodedBytes, name: "the stream",
                                                          options: DecodeOptions(targetSampleRate: features.frontEnd.spectrogram.sampleRate))
                    } catch {
                        throw WebSocketError(.invalidPayload, "the streamed file does not decode: \(error)")
                    }
                    encodedBytes = []
                    let batch = try decoded.samples.withUnsafeBufferPointer { try features.append(interleaved: $0) }
                    try answer(batch, isFinal: false)
                }
                try answer(try features.finish(), isFinal: true)
                connection.close(.normal, reason: "end of stream")
                return
            }
        }
    }

    private func authenticate(_ key: String?) throws -> User {
        guard let key, !key.isEmpty else {
            throw WebSocketError(.policyViolation, "send api_key in the start message (or a tmb_ key in Sec-WebSocket-Protocol)")
        }
        let user: User?
        do { user = try server.keys.user(forKey: key) } catch {
            throw WebSocketError(.internalError, "the catalog could not check the key; retry in a moment")
        }
        guard let user else { throw WebSocketError(.policyViolation, "the API key is unknown or revoked") }
        return user
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try Response.encoder.encode(value), as: UTF8.self)
    }
}

/// The client's start message, checked.
struct StreamStart {
    enum Format: String {
        case f32le, s16le, encoded
        var bytesPerSample: Int { self == .f32le ? 4 : self == .s16le ? 2 : 1 }

        /// Little-endian samples → Float; 16-bit as libsndfile reads it (x / 32768), so a WAV
        /// streamed as s16le gives the samples its decode gives.
        func decode(_ bytes: ArraySlice<UInt8>) -> [Float] {
            bytes.withUnsafeBytes { raw -> [Float] in
                switch self {
                case .f32le:
                    return (0..<(raw.count / 4)).map { i in
                        let value = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                        return value
                    }
                case .s16le:
                    return (0..<(raw.count / 2)).map { i in
                        Float(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) * (1 / 32768)
                    }
                case .encoded:
                    return []  // decoded whole at the end, not as PCM
                }
            }
        }
    }

    var apiKey: String?
    var sampleRate: Int
    var channels: Int
    var format: Format
    var hopSeconds: Double?
    var threshold: Float?

    init(parsing text: String) throws {
        func bad(_ message: String) -> WebSocketError { WebSocketError(.unsupportedData, message) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw bad("the start message must be a JSON object: {\"sample_rate\": 44100, \"channels\": 2, \"format\": \"f32le\"}")
        }
        if let key = object["api_key"] {
            guard let key = key as? String else { throw bad("api_key must be a string") }
            apiKey = key
        }
        guard let name = object["format"] as? String, let format = Format(rawValue: name) else {
            throw bad("format must be \"f32le\" or \"s16le\" (interleaved little-endian PCM), or \"encoded\" (an audio file)")
        }
        // An encoded file says its own rate and channels.
        let rate = format == .encoded ? (object["sample_rate"] as? Int ?? 22050) : object["sample_rate"] as? Int ?? 0
        let channels = format == .encoded ? (object["channels"] as? Int ?? 1) : object["channels"] as? Int ?? 0
        guard (1_000...768_000).contains(rate) else {
            throw bad("sample_rate must be an integer from 1000 to 768000 (Hz)")
        }
        guard (1...32).contains(channels) else {
            throw bad("channels must be an integer from 1 to 32")
        }
        if let hop = object["hop_seconds"] {
            guard let value = hop as? Double, value.isFinite, value > 0, value <= 60 else { throw bad("hop_seconds must be a number in (0, 60]") }
            hopSeconds = value
        }
        if let threshold = object["threshold"] {
            guard let value = threshold as? Double, (0...1).contains(value) else { throw bad("threshold must be a number from 0 to 1") }
            self.threshold = Float(value)
        }
        sampleRate = rate
        self.channels = channels
        self.format = format
    }
}

/// What the server sends.
enum StreamMessage {
    struct Label: Encodable { let label: String; let probability: Float }

    static func ranked(_ labels: [String], _ probabilities: [Float]) -> [Label] {
        zip(labels, probabilities).map { Label(label: $0, probability: $1) }
            .sorted { $0.probability != $1.probability ? $0.probability > $1.probability : $0.label < $1.label }
    }

    struct Ready: Encodable {
        let type = "ready"
        let modelVersion: String
        let labels: [String]
        let sampleRate: Int
        let chunkSeconds: Double
        let hopSeconds: Double
        let hopFrames: Int
        enum CodingKeys: String, CodingKey {
            case type, labels, modelVersion = "model_version", sampleRate = "sample_rate", chunkSeconds = "chunk_seconds",
                 hopSeconds = "hop_seconds", hopFrames = "hop_frames"
        }
    }

    struct Chunk: Encodable {
        let type = "chunk"
        let index: Int
        let startSeconds: Double
        let endSeconds: Double
        let predictions: [Label]
        enum CodingKeys: String, CodingKey { case type, index, predictions, startSeconds = "start_seconds", endSeconds = "end_seconds" }
    }

    struct Track: Encodable {
        let type = "track"
        let isFinal: Bool
        let chunks: Int
        let seconds: Double
        let modelVersion: String
        let predictions: [Label]
        let tags: [String]
        enum CodingKeys: String, CodingKey { case type, chunks, seconds, predictions, tags, isFinal = "final", modelVersion = "model_version" }
    }

    struct Failure: Encodable {
        let type = "error"
        let code: Int
        let message: String
    }
}
