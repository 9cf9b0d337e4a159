import Foundation

extension TimbreServer {
    /// `GET /api/v1/stream`: the WebSocket of live predictions (`PredictionStream`). Public as an
    /// HTTP route: the key comes inside the protocol (start message or `Sec-WebSocket-Protocol`),
    /// since browsers cannot set `Authorization` on a WebSocket. Over `--max-streams`: 503 before
    /// any upgrade.
    func addStreamRoutes(_ router: inout Router) {
        router.add("GET", "/api/v1/stream", access: .everyone) { [unowned self] request, _ in
            let offered = WebSocketHandshake.offeredProtocols(request)
            let headers = try WebSocketHandshake.responseHeaders(for: request, subprotocol: "timbre")
            guard self.streams.acquire() else {
                var error = HTTPError(503, self.streams.isStopping ? "the server is shutting down"
                    : "\(self.streams.limit) streams are open, the most this server takes at once (--max-streams); retry later")
                error.headers = [("Retry-After", "5")]
                throw error
            }
            let settings = self.streamSettings
            let upgrade = ProtocolUpgrade(
                run: { [unowned self] socket in
                    PredictionStream(server: self, socket: socket, offeredProtocols: offered, settings: settings).run()
                },
                abandoned: { [streams = self.streams] in streams.release() })
            return Response(status: 101, headers: headers, body: .upgrade(upgrade))
        }
    }

    var streamSettings: PredictionStream.Settings {
        var settings = PredictionStream.Settings()
        settings.idleTimeout = configuration.streamIdleTimeout
        settings.startTimeout = min(10, configuration.streamIdleTimeout)
        settings.limits.sendTimeout = configuration.streamSendTimeout
        return settings
    }

    /// Closes every stream (1001) and waits up to `grace` seconds: before the daemon stops.
    public func stopStreams(grace: TimeInterval) { streams.stopAll(grace: grace) }
}
