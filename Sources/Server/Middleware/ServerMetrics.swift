import Catalog
import CoreMetrics
import Foundation
import Prometheus

/// The server's metrics, in swift-metrics types backed by swift-prometheus's registry (passed
/// as the factory rather than bootstrapped globally, so several servers — tests — can live in
/// one process). `/metrics` is the registry's own Prometheus text.
public final class ServerMetrics: @unchecked Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    let indexSize: CoreMetrics.Gauge
    let tracksTagged: CoreMetrics.Gauge
    let tracksFailed: CoreMetrics.Gauge
    let residentBytes: CoreMetrics.Gauge

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                                                   .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                                                   .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10)]
        self.factory = factory
        indexSize = CoreMetrics.Gauge(label: "timbre_similarity_index_tracks", factory: factory)
        tracksTagged = CoreMetrics.Gauge(label: "timbre_tracks_tagged", factory: factory)
        tracksFailed = CoreMetrics.Gauge(label: "timbre_tracks_failed", factory: factory)
        residentBytes = CoreMetrics.Gauge(label: "timbre_process_resident_memory_bytes", factory: factory)
    }

    func recordRequest(method: String, route: String, status: Int, seconds: Double) {
        let dimensions = [("method", method), ("route", route), ("status", String(status))]
        CoreMetrics.Counter(label: "timbre_http_requests_total", dimensions: dimensions, factory: factory).increment()
        CoreMetrics.Timer(label: "timbre_http_request_duration_seconds", dimensions: [("method", method), ("route", route)], factory: factory)
            .recordNanoseconds(Int64(seconds * 1e9))
    }

    /// Catalog-wide figures, read when /metrics is asked for.
    func sample(database: Database, model: ModelVersion?) {
        if let counts = try? database.jobs.counts() {
            for state in JobState.allCases {
                CoreMetrics.Gauge(label: "timbre_jobs", dimensions: [("state", state.rawValue)], factory: factory).record(Double(counts[state] ?? 0))
            }
        }
        if let counts = try? database.tracks.counts() {
            tracksTagged.record(Double(counts[.tagged] ?? 0))
            tracksFailed.record(Double(counts[.failed] ?? 0))
        }
        if let model {
            CoreMetrics.Gauge(label: "timbre_model_info", dimensions: [("version", model.version)], factory: factory).record(1)
        }
        residentBytes.record(Double(Self.residentBytes()))
    }

    /// VmRSS from /proc/self/status.
    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kilobytes * 1024
    }

    func text() -> String { registry.emitToString() }
}
