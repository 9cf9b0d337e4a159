import Catalog
import Foundation
import Logging
import Metrics
import Service
import Similarity
import Tagger

/// The HTTP service: the catalog, the similarity index of the active model, the routes.
/// Handlers are thin: they parse, check ownership, call `Service`/`Catalog`, and encode.
public final class TimbreServer: RequestHandling, @unchecked Sendable {
    public let database: Database
    public let configuration: ServerConfiguration
    let logger: Logger
    let keys: KeyVerifier
    let metrics: ServerMetrics
    let logins = LoginTokens()
    let clusterings = ClusteringStore()
    let rescans = PendingRescans()
    let predictions: PredictorPool
    /// Live prediction streams (WebSocket), at most `configuration.maxStreams` at once.
    let streams: StreamRegistry
    private(set) var router = Router()
    private let similarityLock = NSLock()
    private var currentSimilarity: SimilarityService?
    private var indexLoaded = false
    /// The active model's index while it fills (after a promotion or rollback).
    private var pendingSimilarity: SimilarityService?
    private let refreshLock = NSLock()
    /// Names the server's own jobs (scans) in `jobs.lease_owner`.
    let owner = "\(ProcessInfo.processInfo.hostName):\(getpid()):server"

    public init(database: Database, configuration: ServerConfiguration, metrics: ServerMetrics,
                logger: Logger = Logger(label: "timbre.server")) {
        self.database = database
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        keys = KeyVerifier(users: database.users)
        predictions = PredictorPool(size: configuration.concurrentPredictions)
        streams = StreamRegistry(limit: configuration.maxStreams)
        router.authenticated = [.authentication(keys)]
        addRoutes()
    }

    // MARK: RequestHandling

    public func bodyLimit(method: String, path: String, contentType: String?) -> Int {
        // Unmatched requests get the JSON limit: their answer (404, 405) comes once the body is in.
        guard case let .success((route, _)) = router.route(method: method, path: path) else { return configuration.limits.json }
        switch route.body {
        case .none: return configuration.limits.json
        case .json: return configuration.limits.json
        case .audio:
            // An audio route that also takes JSON (POST /similar) gives JSON bodies the JSON limit.
            let type = contentType?.lowercased() ?? ""
            return type.hasPrefix("application/json") ? configuration.limits.json : configuration.limits.audio
        }
    }

    public func respond(to request: Request) -> Response {
        switch router.route(method: request.method, path: request.path) {
        case let .failure(error):
            return .error(error)
        case let .success((route, parameters)):
            var request = request
            request.parameters = parameters
            do {
                return try router.handler(for: route)(request, RequestContext())
            } catch let error as HTTPError {
                return .error(error)
            } catch let error as CatalogError {
                return .error(Self.httpError(error, logger: logger))
            } catch let error as SimilarityServiceError {
                switch error {
                case .invalid: return .error(.badRequest(error.description))
                case .noActiveModel, .noEmbeddings, .notEmbedded: return .error(HTTPError(409, error.description, code: "conflict"))
                }
            } catch {
                let reference = UUID().uuidString.prefix(8).lowercased()
                logger.error("request \(reference) \(request.method) \(request.path) failed: \(error)")
                return .error(HTTPError(500, "the server failed to answer (reference \(reference) in its log)"))
            }
        }
    }

    public func completed(_ request: Request, _ response: Response, seconds: Double) {
        let pattern: String
        if case let .success((route, _)) = router.route(method: request.method, path: request.path) { pattern = route.pattern } else { pattern = "unmatched" }
        metrics.recordRequest(method: request.method, route: pattern, status: response.status, seconds: seconds)
        // The query is left out of the log: it can carry search text; keys are never in URLs.
        logger.info("\(request.method) \(request.path) \(response.status) \(response.bodyLength) B \(String(format: "%.1f", seconds * 1000)) ms")
    }

    static func httpError(_ error: CatalogError, logger: Logger) -> HTTPError {
        switch error {
        case let .invalidArgument(message): return .badRequest(message)
        case let .notFound(what): return .notFound("\(what) does not exist")
        case let .fileSystem(path, message): return .badRequest("\(path): \(message)")
        case .connectionFailed, .connectionLost:
            logger.error("database unavailable: \(error)")
            return HTTPError(503, "the database is unavailable; retry in a moment")
        default:
            logger.error("catalog error: \(error)")
            return HTTPError(500, "the catalog failed to answer; see the server log")
        }
    }

    // MARK: The similarity index of the active model

    /// The index for the active model, loaded on first use; nil while nothing is tagged.
    func similarity() throws -> SimilarityService {
        if let current = similarityLock.withLock({ currentSimilarity }) { return current }
        try refreshIndex()
        guard let current = similarityLock.withLock({ currentSimilarity }) else { throw SimilarityServiceError.noActiveModel }
        return current
    }

    var indexIsLoaded: Bool { similarityLock.withLock { indexLoaded } }

    /// Brings the index up to date: a new active model gets a fresh index (never a mix of two
    /// versions); the same model gets the embeddings stored since the last look.
    public func refreshIndex() throws {
        // One refresh at a time (the index thread, scans and activations all ask).
        refreshLock.lock()
        defer { refreshLock.unlock() }
        let active = try database.models.active()
        let current = similarityLock.withLock { currentSimilarity }
        guard let active else {
            similarityLock.withLock { currentSimilarity = nil; indexLoaded = true }
            return
        }
        if let current, current.model.id == active.id {
            try current.refresh(database: database)
        } else if let pending = pendingSimilarity, pending.model.id == active.id {
            try pending.refresh(database: database)
            try promoteIfComplete(pending, replacing: current)
        } else {
            let fresh = try SimilarityService(model: active, database: database)
            pendingSimilarity = fresh
            try promoteIfComplete(fresh, replacing: current)
        }
        similarityLock.withLock { indexLoaded = true }
        metrics.indexSize.record(Double(similarityLock.withLock { currentSimilarity?.count ?? 0 }))
    }

    /// A new model's index replaces the old one only once its embeddings are complete (no
    /// tagging job open, or as many tracks as the old index): until then answers keep coming
    /// from the old version, whole, never a mix.
    private func promoteIfComplete(_ candidate: SimilarityService, replacing current: SimilarityService?) throws {
        let noTaggingLeft = try database.jobs.openCount(kind: JobKind.tag) == 0
        let complete = current == nil || candidate.count >= current!.count || noTaggingLeft
        guard complete else { return }
        similarityLock.withLock { currentSimilarity = candidate }
        pendingSimilarity = nil
        logger.info("similarity index: model \(candidate.model.version), \(candidate.count) tracks")
    }

    func activeModel() throws -> ModelVersion {
        guard let model = try database.models.active() else {
            throw HTTPError(409, "no active model yet: scan a library (the shipped model is registered on first tagging) or activate one",
                            code: "conflict")
        }
        return model
    }

    // MARK: Shared pieces of handlers

    /// The caller's track, or 404 (another user's track is exactly as absent as a missing one).
    func ownedTrack(_ request: Request, _ context: RequestContext, parameter: String = "id")
        throws -> (track: Track, absolutePath: String, libraryRoot: String) {
        let id = try request.id(parameter)
        guard let found = try database.browser.owned(trackID: id, ownerID: try context.caller().id) else {
            throw HTTPError.notFound("there is no track \(id)")
        }
        return found
    }

    /// The caller's tags of the given tracks under `model`.
    func tags(of trackIDs: [Int64], user: User, model: ModelVersion?) throws -> [Int64: TrackTags] {
        let predicted = try model.map { try database.predictions.probabilities(trackIDs: trackIDs, modelID: $0.id) } ?? [:]
        let corrections = try database.corrections.latest(trackIDs: trackIDs, userID: user.id)
        var result: [Int64: TrackTags] = [:]
        for id in trackIDs { result[id] = TrackTags(predicted: predicted[id] ?? [:], corrections: corrections[id] ?? [:]) }
        return result
    }

    func summaries(_ ids: [Int64], user: User, model: ModelVersion?) throws -> [Int64: TrackSummaryDTO] {
        let tracks = try database.browser.owned(trackIDs: ids, ownerID: user.id)
        let tags = try tags(of: Array(tracks.keys), user: user, model: model)
        return tracks.mapValues { TrackSummaryDTO($0, tags: tags[$0.id] ?? TrackTags(predicted: [:], corrections: [:])) }
    }

    // MARK: Routes

    private func addRoutes() {
        addHealthRoutes(&router)
        addAccountRoutes(&router)
        addAnalysisRoutes(&router)
        addTrackRoutes(&router)
        addExplanationRoutes(&router)
        addSimilarityRoutes(&router)
        addDuplicateRoutes(&router)
        addLibraryRoutes(&router)
        addModelRoutes(&router)
        addRetrainingRoutes(&router)
        addSubsonicRoutes(&router)
        addStaticRoutes(&router)
        addStreamRoutes(&router)
    }
}
