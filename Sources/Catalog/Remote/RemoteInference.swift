import Foundation

/// How to reach another Timbre server's `POST /api/v1/analysis/predict`, and how hard to try.
public struct RemoteInferenceSettings: Sendable, Equatable {
    /// `http://host:port` of a `timbre serve` (a path prefix, or the whole predict URL, is fine).
    public var server: String
    /// An API key of a user on that server (`Authorization: Bearer …`).
    public var apiKey: String?
    /// Seconds to get a connection.
    public var connectTimeout: TimeInterval = 5
    /// Seconds one attempt may take, from connecting to the last byte of the answer (the
    /// server decodes and runs the model in that time).
    public var timeout: TimeInterval = 60
    /// Further attempts after a connection error, a timeout, a 5xx or a 429 (never after
    /// another 4xx: the same request would be refused again).
    public var retries = 2
    /// Seconds before the first retry; each next one waits twice as long, up to `maximumBackoff`,
    /// with jitter (a random half to all of it) so that many workers do not retry in step.
    public var backoff: TimeInterval = 0.5
    public var maximumBackoff: TimeInterval = 8
    /// A `Retry-After` longer than this is not waited for: the call fails and says when to come back.
    public var maximumRetryAfter: TimeInterval = 30
    /// Failed attempts in a row that open the circuit.
    public var failureThreshold = 5
    /// Seconds the open circuit fails fast before one probe.
    public var coolDown: TimeInterval = 30

    public init(server: String, apiKey: String? = nil) {
        self.server = server
        self.apiKey = apiKey
    }
}

/// Why remote inference gave no prediction. `isAboutTheAudio` tells a file the server could not
/// use (it would fail anywhere) from a server that cannot be used now.
public enum RemoteInferenceError: Error, Sendable, CustomStringConvertible {
    case invalidServer(String, reason: String)
    /// No usable answer after every attempt: connection errors, timeouts, 5xx, 429.
    case unavailable(server: String, attempts: Int, reason: String)
    /// The circuit breaker is open: nothing was sent.
    case circuitOpen(server: String, retryIn: TimeInterval, reason: String)
    /// 401 or 403: the key is missing, wrong or revoked.
    case refused(server: String, status: Int, message: String)
    /// Another 4xx: the server understood and said no.
    case rejected(server: String, status: Int, code: String?, message: String)
    /// A 2xx whose body is not a Timbre prediction.
    case badAnswer(server: String, reason: String)

    /// The server is up and says this audio cannot be tagged (empty, too large for its upload
    /// limit, not audio): a job for it should fail, as a local decode error would.
    public var isAboutTheAudio: Bool {
        if case let .rejected(_, status, _, _) = self { return [400, 413, 422].contains(status) }
        return false
    }

    public var description: String {
        switch self {
        case let .invalidServer(text, reason):
            return "the server address \(text) cannot be used: \(reason)"
        case let .unavailable(server, attempts, reason):
            return "the server \(server) gave no answer after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(reason); "
                + "check that `timbre serve` is running there and reachable from here"
        case let .circuitOpen(server, retryIn, reason):
            return "not sending to \(server) for another \(String(format: "%.0f", retryIn.rounded(.up))) s: "
                + "its recent attempts all failed (last: \(reason))"
        case let .refused(server, status, message):
            return "the server \(server) refused the API key (\(status): \(message)); give a key of a user there "
                + "(`timbre user key NAME` on that server) with --api-key / $TIMBRE_API_KEY, or --remote-key / $TIMBRE_INFERENCE_REMOTE_KEY for a worker"
        case let .rejected(server, status, code, message):
            return "the server \(server) answered \(status)\(code.map { " \($0)" } ?? ""): \(message)"
        case let .badAnswer(server, reason):
            return "the server \(server) answered, but not with a Timbre prediction (\(reason)); is that address a `timbre serve`?"
        }
    }
}

/// What a remote server predicted for one upload.
public struct RemotePrediction: Sendable, Equatable {
    /// The server, as `http://host:port`.
    public var server: String
    /// The server's active model when it answered.
    public var modelVersion: String
    public var probabilities: [String: Float]
    /// With `embedding: true` only.
    public var embedding: [Float]?
}

/// A client for another Timbre server's predict endpoint: the audio goes as the raw body
/// (`application/octet-stream`), the key as `Authorization: Bearer`. Each call is tried up to
/// `1 + retries` times with exponential back-off and jitter on connection errors, timeouts, 5xx
/// and 429 (whose `Retry-After` is honoured), never on another 4xx; a `CircuitBreaker` shared by
/// every call makes a dead server cost nothing after `failureThreshold` failures until its
/// cool-down is over. Thread-safe: workers send several tracks at once.
public final class RemoteInferenceClient: @unchecked Sendable {
    public let settings: RemoteInferenceSettings
    public let server: ServerAddress
    public let breaker: CircuitBreaker
    private let transport: any HTTPTransport
    private let sleep: @Sendable (TimeInterval) -> Void
    private let random: @Sendable () -> Double

    /// - Parameters:
    ///   - transport: how bytes travel (tests pass a fake one).
    ///   - breaker: shared state of the server's health (default: from the settings).
    ///   - sleep: waits between attempts (tests record instead of sleeping).
    ///   - random: uniform in [0, 1), for the jitter.
    public init(settings: RemoteInferenceSettings, transport: any HTTPTransport = SocketHTTPTransport(),
                breaker: CircuitBreaker? = nil,
                sleep: @escaping @Sendable (TimeInterval) -> Void = { Thread.sleep(forTimeInterval: $0) },
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) throws(RemoteInferenceError) {
        guard settings.connectTimeout > 0, settings.timeout > 0, settings.retries >= 0, settings.backoff >= 0,
              settings.failureThreshold >= 1, settings.coolDown >= 0 else {
            throw .invalidServer(settings.server, reason: "timeouts must be positive, retries and back-off at least 0, the failure threshold at least 1")
        }
        self.settings = settings
        server = try ServerAddress(settings.server)
        self.breaker = breaker ?? CircuitBreaker(threshold: settings.failureThreshold, coolDown: settings.coolDown)
        self.transport = transport
        self.sleep = sleep
        self.random = random
    }

    /// Tags `audio` on the server; with `embedding`, the answer carries the track's embedding too.
    public func predict(audio: RequestBody, embedding: Bool = false) throws(RemoteInferenceError) -> RemotePrediction {
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/octet-stream"), ("Accept", "application/json"), ("User-Agent", "timbre"),
        ]
        if let key = settings.apiKey, !key.isEmpty { headers.append(("Authorization", "Bearer \(key)")) }
        let request = HTTPRequest(method: "POST", target: "/api/v1/analysis/predict" + (embedding ? "?embedding=true" : ""),
                                  headers: headers, body: audio)
        let response = try send(request)
        return try decode(response, embedding: embedding)
    }

    /// Seconds to wait before retry number `retry` (1, 2, …): `backoff · 2^(retry-1)`, capped, times
    /// a random factor in [½, 1).
    func delay(beforeRetry retry: Int) -> TimeInterval {
        let base = min(settings.maximumBackoff, settings.backoff * pow(2, Double(max(0, retry - 1))))
        return base * (0.5 + 0.5 * random())
    }

    /// The attempts, the back-off and the circuit.
    private func send(_ request: HTTPRequest) throws(RemoteInferenceError) -> HTTPResponse {
        let shown = server.description
        let timeouts = HTTPTimeouts(connect: min(settings.connectTimeout, settings.timeout), total: settings.timeout)
        var attempts = 0
        while true {
            if case let .rejected(retryIn) = breaker.permit() {
                if attempts > 0 {
                    // The circuit opened during this call's retries.
                    throw .unavailable(server: shown, attempts: attempts, reason: breaker.lastFailure ?? "failed")
                }
                throw .circuitOpen(server: shown, retryIn: retryIn, reason: breaker.lastFailure ?? "failed")
            }
            attempts += 1
            var failure: String
            var retryAfter: TimeInterval?
            do {
                let response = try transport.send(request, to: server, timeouts: timeouts)
                switch response.status {
                case 200..<300:
                    breaker.recordSuccess()
                    return response
                case 429, 500...599:
                    let message = Self.errorMessage(response)
                    failure = "\(response.status)\(message.code.map { " \($0)" } ?? ""): \(message.text)"
                    retryAfter = response.headers["retry-after"].flatMap(Self.retryAfter)
                    breaker.recordFailure(failure)
                default:
                    // The server is up; the request is at fault and would be refused again.
                    breaker.recordSuccess()
                    let message = Self.errorMessage(response)
                    if response.status == 401 || response.status == 403 {
                        throw RemoteInferenceError.refused(server: shown, status: response.status, message: message.text)
                    }
                    throw RemoteInferenceError.rejected(server: shown, status: response.status, code: message.code, message: message.text)
                }
            } catch let error as RemoteInferenceError {
                throw error
            } catch let error as TransportError {
                if case let .body(reason) = error {
                    // Our side could not read the audio: not the server's health.
                    throw .rejected(server: shown, status: 400, code: "unreadable", message: reason)
                }
                failure = error.description
                breaker.recordFailure(failure)
            } catch {
                failure = "\(error)"
                breaker.recordFailure(failure)
            }
            guard attempts <= settings.retries else {
                throw .unavailable(server: shown, attempts: attempts, reason: failure)
            }
            var wait = delay(beforeRetry: attempts)
            if let retryAfter {
                guard retryAfter <= settings.maximumRetryAfter else {
                    throw .unavailable(server: shown, attempts: attempts,
                                       reason: failure + "; it asks to retry after \(Int(retryAfter.rounded(.up))) s")
                }
                wait = max(wait, retryAfter)
            }
            sleep(wait)
        }
    }

    private struct Answer: Decodable {
        let model_version: String
        let all_probabilities: [String: Float]
        let embedding: [Float]?
    }

    private func decode(_ response: HTTPResponse, embedding: Bool) throws(RemoteInferenceError) -> RemotePrediction {
        let answer: Answer
        do { answer = try JSONDecoder().decode(Answer.self, from: Data(response.body)) } catch {
            breaker.recordFailure("an answer that is not a prediction")
            throw .badAnswer(server: server.description, reason: "the JSON has no model_version and all_probabilities")
        }
        guard !answer.all_probabilities.isEmpty else {
            throw .badAnswer(server: server.description, reason: "no probabilities")
        }
        if embedding, answer.embedding?.isEmpty ?? true {
            throw .badAnswer(server: server.description, reason: "no embedding, though one was asked for (an older server?)")
        }
        return RemotePrediction(server: server.description, modelVersion: answer.model_version,
                                probabilities: answer.all_probabilities, embedding: answer.embedding)
    }

    /// A Timbre error body's code and message, else the start of the body as text.
    static func errorMessage(_ response: HTTPResponse) -> (code: String?, text: String) {
        struct Body: Decodable {
            struct Inner: Decodable { let code: String?; let message: String? }
            let error: Inner
        }
        if let body = try? JSONDecoder().decode(Body.self, from: Data(response.body)) {
            return (body.error.code, body.error.message ?? "(no message)")
        }
        let text = String(decoding: response.body.prefix(200), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return (nil, text.isEmpty ? "(an empty answer)" : text)
    }

    /// `Retry-After`: seconds, or an HTTP date.
    static func retryAfter(_ value: String) -> TimeInterval? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed), seconds >= 0 { return seconds }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return max(0, date.timeIntervalSinceNow)
    }
}
