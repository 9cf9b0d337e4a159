import Catalog
import Foundation
import Similarity

/// Who may see which results of a similarity query.
public struct SimilarityScope: Sendable {
    /// Only this user's tracks (nil: every track, as the single-user CLI does).
    public var ownerID: Int64?
    /// Leave out tracks by the query track's artist, or from its album.
    public var excludeSameArtist = false
    public var excludeSameAlbum = false
    public init(ownerID: Int64? = nil, excludeSameArtist: Bool = false, excludeSameAlbum: Bool = false) {
        self.ownerID = ownerID; self.excludeSameArtist = excludeSameArtist; self.excludeSameAlbum = excludeSameAlbum
    }
}

public enum SimilarityServiceError: Error, CustomStringConvertible, Equatable {
    case noActiveModel
    case noEmbeddings(model: String)
    case notEmbedded(trackID: Int64, model: String)
    case invalid(String)

    public var description: String {
        switch self {
        case .noActiveModel: return "no active model yet: nothing has been tagged (scan a library first)"
        case let .noEmbeddings(model): return "no track has an embedding under model \(model) yet (scan a library and let it be tagged)"
        case let .notEmbedded(id, model): return "track \(id) has no embedding under model \(model) yet (it is not tagged)"
        case let .invalid(message): return message
        }
    }
}

/// "More like this" over one model's embeddings: the exact index (`EmbeddingIndex`) of every
/// track not gone, with each track's owner, artist and album, so one index serves every user
/// and each query sees only its user's tracks. One instance per model version: a server swaps
/// the whole instance when the active model changes, so answers never mix versions.
///
/// `refresh` adds embeddings stored since the last look (the worker upserts them with
/// `created_at = now()`) and reloads ownership, so the server stays in sync without a restart.
public final class SimilarityService: @unchecked Sendable {
    public let model: ModelVersion
    public let index: EmbeddingIndex
    private var ownership: [Int64: TrackOwnership] = [:]
    private var watermark: Int64?
    private var ownershipLoadedAt = Date.distantPast
    /// Seconds between full reloads of who owns which track.
    public var ownershipInterval: TimeInterval = 30
    private let lock = NSLock()

    /// Loads the active model's embeddings; nil when the catalog has no active model.
    public static func active(in database: Database) throws -> SimilarityService? {
        guard let model = try database.models.active() else { return nil }
        return try SimilarityService(model: model, database: database)
    }

    public init(model: ModelVersion, database: Database, dimension: Int? = nil) throws {
        self.model = model
        let startedAt = try database.pool.withConnection { try $0.query("SELECT (extract(epoch FROM now()) * 1000000)::bigint").int(0, 0) }
        let stored = try database.predictions.embeddings(modelID: model.id, since: nil)
        watermark = startedAt
        index = EmbeddingIndex(dimension: dimension ?? stored.first?.vector.count ?? 256)
        try apply(stored, ownership: database.browser.ownership())
    }

    public var count: Int { index.count }

    /// Picks up embeddings stored since the last refresh and tracks that went or came; returns
    /// how many embeddings were added or replaced.
    @discardableResult
    public func refresh(database: Database) throws -> Int {
        // The server's clock at the start of this look is the next look's starting point. A
        // worker's transaction stamps rows with its start time but commits a little later: look
        // back 10 s more (upserting a row again changes nothing).
        let since = lock.withLock { watermark.map { $0 - 10_000_000 } }
        let startedAt = try database.pool.withConnection { try $0.query("SELECT (extract(epoch FROM now()) * 1000000)::bigint").int(0, 0) }
        let stored = try database.predictions.embeddings(modelID: model.id, since: since)
        // Ownership (who owns a track, which are gone) is reloaded when tracks arrived, and at
        // least every `ownershipInterval` seconds for tracks that went or moved.
        let stale = lock.withLock { Date().timeIntervalSince(ownershipLoadedAt) > ownershipInterval }
        let newTracks = stored.contains { !index.contains($0.trackID) }
        try apply(stored, ownership: newTracks || stale ? database.browser.ownership() : nil)
        lock.withLock { watermark = startedAt }
        return stored.count
    }

    private func apply(_ stored: [(trackID: Int64, vector: [Float], storedAt: Int64)], ownership reloaded: [Int64: TrackOwnership]?) throws {
        let now = reloaded ?? lock.withLock { ownership }
        for (id, vector, _) in stored where now[id] != nil {
            // A damaged row must not hide the rest of the library.
            try? index.upsert(id: id, vector: vector)
        }
        if reloaded != nil { for id in index.allIDs where now[id] == nil { index.remove(id: id) } }
        lock.withLock {
            if reloaded != nil { ownershipLoadedAt = Date() }
            ownership = now
        }
    }

    public func owner(of trackID: Int64) -> TrackOwnership? { lock.withLock { ownership[trackID] } }

    public func contains(_ trackID: Int64) -> Bool { index.contains(trackID) }

    /// The `k` tracks nearest `trackID`'s embedding (without itself) within `scope`.
    public func similar(toTrack trackID: Int64, k: Int, scope: SimilarityScope) throws -> [SimilarityHit] {
        guard let vector = index.vector(id: trackID) else { throw SimilarityServiceError.notEmbedded(trackID: trackID, model: model.version) }
        let query = owner(of: trackID)
        var scope = scope
        if scope.excludeSameArtist, query?.artist == nil { scope.excludeSameArtist = false }
        if scope.excludeSameAlbum, query?.album == nil { scope.excludeSameAlbum = false }
        return try nearest(to: vector, k: k, scope: scope, excluding: [trackID], like: query)
    }

    /// The `k` tracks nearest a vector (an uploaded file's embedding, a centroid) within `scope`.
    public func similar(toVector vector: [Float], k: Int, scope: SimilarityScope, excluding: Set<Int64> = []) throws -> [SimilarityHit] {
        guard vector.count == index.dimension else {
            throw SimilarityServiceError.invalid("the vector has \(vector.count) values; model \(model.version) makes \(index.dimension)-d embeddings")
        }
        return try nearest(to: vector, k: k, scope: SimilarityScope(ownerID: scope.ownerID), excluding: excluding, like: nil)
    }

    /// The normalised mean of the tracks' embeddings: a playlist's centre.
    public func centroid(of trackIDs: [Int64]) throws -> [Float] {
        var sum = [Float](repeating: 0, count: index.dimension)
        for id in trackIDs {
            guard let vector = index.vector(id: id) else { throw SimilarityServiceError.notEmbedded(trackID: id, model: model.version) }
            for j in sum.indices { sum[j] += vector[j] }
        }
        let norm = sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
        guard norm > 0 else { throw SimilarityServiceError.invalid("the tracks' embeddings cancel out; give other tracks") }
        return sum.map { $0 / norm }
    }

    /// A "song path": `steps` tracks from `start` to `end` (both included, no track twice), each
    /// the unused track nearest the next point on the straight line between the two embeddings
    /// (renormalised), so the sound moves evenly from one to the other. Scores are each track's
    /// cosine to the one before it (1 for the first).
    public func path(from start: Int64, to end: Int64, steps: Int, scope: SimilarityScope) throws -> [SimilarityHit] {
        guard steps >= 2 else { throw SimilarityServiceError.invalid("a path has at least 2 steps (its two ends)") }
        guard let a = index.vector(id: start) else { throw SimilarityServiceError.notEmbedded(trackID: start, model: model.version) }
        guard let b = index.vector(id: end) else { throw SimilarityServiceError.notEmbedded(trackID: end, model: model.version) }
        var used: Set<Int64> = [start, end]
        var chosen: [Int64] = [start]
        for step in 1..<(steps - 1) {
            let t = Float(step) / Float(steps - 1)
            var point = zip(a, b).map { (1 - t) * $0 + t * $1 }
            let norm = point.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 0 { point = point.map { $0 / norm } } else { point = t < 0.5 ? a : b }
            guard let next = try nearest(to: point, k: 1, scope: SimilarityScope(ownerID: scope.ownerID), excluding: used, like: nil).first else { break }
            used.insert(next.id)
            chosen.append(next.id)
        }
        chosen.append(end)
        var hits: [SimilarityHit] = []
        var previous: [Float]?
        for id in chosen {
            let vector = index.vector(id: id) ?? a
            let score = previous.map { p in min(1, max(-1, zip(p, vector).reduce(0) { $0 + $1.0 * $1.1 })) } ?? 1
            hits.append(SimilarityHit(id: id, score: score))
            previous = vector
        }
        return hits
    }

    private func nearest(to vector: [Float], k: Int, scope: SimilarityScope, excluding: Set<Int64>,
                         like query: TrackOwnership?) throws -> [SimilarityHit] {
        let owners = lock.withLock { ownership }
        let artist = scope.excludeSameArtist ? query?.artist?.lowercased() : nil
        let album = scope.excludeSameAlbum ? query?.album?.lowercased() : nil
        let allowed: (Int64) -> Bool = { id in
            guard !excluding.contains(id), let info = owners[id] else { return false }
            if let ownerID = scope.ownerID, info.ownerID != ownerID { return false }
            if let artist, info.artist?.lowercased() == artist { return false }
            if let album, info.album?.lowercased() == album { return false }
            return true
        }
        return try batcher.run(PendingQuery(vector: vector, k: k, allowed: allowed), on: index)
    }

    private let batcher = QueryBatcher()
}

/// One query waiting for its turn.
final class PendingQuery: @unchecked Sendable {
    let vector: [Float]
    let k: Int
    let allowed: (Int64) -> Bool
    var result: Result<[SimilarityHit], any Error>?
    init(vector: [Float], k: Int, allowed: @escaping (Int64) -> Bool) { self.vector = vector; self.k = k; self.allowed = allowed }
}

/// Concurrent queries share one pass over the matrix (flat combining): a query that arrives
/// while none is running runs at once; those that arrive meanwhile queue, and when the pass
/// ends one of them takes every queued query (up to `maximumBatch`) into one `sgemm`. A lone
/// query costs what it did before; 64 at once cost little more than one.
final class QueryBatcher: @unchecked Sendable {
    private let condition = NSCondition()
    private var queued: [PendingQuery] = []
    private var running = false
    var maximumBatch = 64

    func run(_ query: PendingQuery, on index: EmbeddingIndex) throws -> [SimilarityHit] {
        condition.lock()
        queued.append(query)
        while query.result == nil {
            if running {
                condition.wait()
                continue
            }
            running = true
            let batch = Array(queued.prefix(maximumBatch))
            queued.removeFirst(batch.count)
            condition.unlock()
            let results: [Result<[SimilarityHit], any Error>]
            let k = batch.map(\.k).max() ?? 0
            do {
                let hits = try index.nearest(batch: batch.map(\.vector), k: k, where: batch.map(\.allowed))
                results = zip(batch, hits).map { .success(Array($1.prefix($0.k))) }
            } catch {
                // One bad query (a wrong dimension) must not fail the others: run them alone.
                results = batch.map { query in Result { try index.nearest(to: query.vector, k: query.k, where: query.allowed) } }
            }
            condition.lock()
            for (query, result) in zip(batch, results) { query.result = result }
            running = false
            condition.broadcast()
        }
        condition.unlock()
        return try query.result!.get()
    }
}
