import Foundation

/// How `timbre serve` runs; every value has a default and a command-line option.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8000
    /// libmicrohttpd's thread pool (each request is answered on one of these).
    public var threads = 32
    /// Seconds an idle connection stays open.
    public var connectionTimeout = 30
    public var limits = BodyLimits()
    /// Predictions (uploads analysed) at once; more wait their turn.
    public var concurrentPredictions = 2
    /// Seconds between looks for new embeddings (the similarity index) and a changed active model.
    public var indexRefreshInterval: TimeInterval = 2
    /// The static web UI (index.html, …) and openapi.json.
    public var webDirectory: URL?
    /// Debian's shared JavaScript folder (Chart.js), served under /vendor/.
    public var vendorDirectory = URL(fileURLWithPath: "/usr/share/javascript")
    /// Seconds to wait for requests in flight when stopping.
    public var shutdownGrace: TimeInterval = 10
    /// The newest migration this build knows: /readyz wants the catalog at least there.
    public var schemaVersion = 0
    /// Live prediction streams (WebSocket) open at once; one more is refused with a 503.
    public var maxStreams = 4
    /// Seconds a stream may stay silent before it is closed.
    public var streamIdleTimeout: TimeInterval = 30
    /// Seconds one message to a stream may take to leave (a client that stops reading is dropped).
    public var streamSendTimeout: TimeInterval = 10
    public init() {}
}
