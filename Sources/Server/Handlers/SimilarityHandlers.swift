import Catalog
import Foundation
import Service
import Similarity

extension TimbreServer {
    func addSimilarityRoutes(_ router: inout Router) {
        router.add("GET", "/api/v1/tracks/{id}/similar") { [unowned self] request, context in
            let user = try context.caller()
            let track = try self.ownedTrack(request, context).track
            let k = try request.integer("k", default: 10, in: 1...500)
            let playlist = try self.playlistFormat(request)
            let scope = SimilarityScope(ownerID: user.id, excludeSameArtist: try request.flag("exclude_same_artist"),
                                        excludeSameAlbum: try request.flag("exclude_same_album"))
            let similarity = try self.similarity()
            let hits = try similarity.similar(toTrack: track.id, k: k, scope: scope)
            return try self.similarAnswer(hits, query: ["track_id": .number(Double(track.id))], similarity: similarity, user: user,
                                          playlist: playlist, name: "similar-\(track.id)")
        }

        // A playlist seed (the centroid of tracks), a vector, or an uploaded file (embedded with
        // the active model on the spot).
        router.add("POST", "/api/v1/similar", body: .audio) { [unowned self] request, context in
            let user = try context.caller()
            let playlist = try self.playlistFormat(request)
            if request.contentType != "application/json" {
                let k = try request.integer("k", default: 10, in: 1...500)
                let (bytes, name) = try Self.uploadedAudio(request)
                let similarity = try self.similarity()
                let model = similarity.model
                let embedding: [Float]
                do {
                    embedding = try self.predictions.with(model: model) { try $0.predict(bytes: bytes, name: name).embedding }
                } catch let error as HTTPError {
                    throw error
                } catch {
                    throw HTTPError.unprocessable("the upload could not be analysed as audio: \(error)")
                }
                let hits = try similarity.similar(toVector: embedding, k: k, scope: SimilarityScope(ownerID: user.id))
                return try self.similarAnswer(hits, query: ["file": .string(name)], similarity: similarity, user: user,
                                              playlist: playlist, name: "similar")
            }
            struct Body: Decodable { let track_ids: [Int64]?; let vector: [Float]?; let k: Int? }
            let body = try JSONBody.decode(Body.self, from: request, allowedKeys: ["track_ids", "vector", "k"])
            let k = body.k ?? 10
            guard (1...500).contains(k) else { throw HTTPError.badRequest("k must be from 1 to 500") }
            let similarity = try self.similarity()
            let scope = SimilarityScope(ownerID: user.id)
            switch (body.track_ids, body.vector) {
            case let (ids?, nil):
                guard !ids.isEmpty, ids.count <= 1000 else { throw HTTPError.badRequest("track_ids must hold 1 to 1000 ids") }
                let owned = try self.database.browser.owned(trackIDs: ids, ownerID: user.id)
                if let missing = ids.first(where: { owned[$0] == nil }) { throw HTTPError.notFound("there is no track \(missing)") }
                let hits = try similarity.similar(toVector: try similarity.centroid(of: ids), k: k, scope: scope, excluding: Set(ids))
                return try self.similarAnswer(hits, query: ["track_ids": .array(ids.map { .number(Double($0)) })],
                                              similarity: similarity, user: user, playlist: playlist, name: "similar")
            case let (nil, vector?):
                guard vector.allSatisfy(\.isFinite), vector.contains(where: { $0 != 0 }) else {
                    throw HTTPError.badRequest("vector must be finite numbers, not all zero")
                }
                let hits = try similarity.similar(toVector: vector, k: k, scope: scope)
                return try self.similarAnswer(hits, query: ["vector": .number(Double(vector.count))], similarity: similarity, user: user,
                                              playlist: playlist, name: "similar")
            default:
                throw HTTPError.badRequest("give either track_ids or vector")
            }
        }

        router.add("GET", "/api/v1/tracks/{a}/path/{b}") { [unowned self] request, context in
            let user = try context.caller()
            let a = try self.ownedTrack(request, context, parameter: "a").track
            let b = try self.ownedTrack(request, context, parameter: "b").track
            let steps = try request.integer("steps", default: 8, in: 2...50)
            let playlist = try self.playlistFormat(request)
            let similarity = try self.similarity()
            let hits = try similarity.path(from: a.id, to: b.id, steps: steps, scope: SimilarityScope(ownerID: user.id))
            if let playlist { return try self.playlistAnswer(hits.map(\.id), paths: playlist, user: user, name: "path-\(a.id)-\(b.id)") }
            let summaries = try self.summaries(hits.map(\.id), user: user, model: similarity.model)
            struct Step: Encodable { let track: TrackSummaryDTO; let score: Float }
            struct Answer: Encodable { let model_version: String; let tracks: [Step] }
            return try .json(Answer(model_version: similarity.model.version,
                                    tracks: hits.compactMap { hit in summaries[hit.id].map { Step(track: $0, score: hit.score) } }))
        }

        router.add("POST", "/api/v1/clusters", body: .json) { [unowned self] request, context in
            let user = try context.caller()
            struct Body: Decodable {
                let k: KValue?
                let seed: UInt64?
                enum KValue: Decodable {
                    case number(Int), auto
                    init(from decoder: any Decoder) throws {
                        let c = try decoder.singleValueContainer()
                        if let n = try? c.decode(Int.self) { self = .number(n); return }
                        guard (try? c.decode(String.self)) == "auto" else {
                            throw DecodingError.typeMismatch(Int.self, .init(codingPath: c.codingPath, debugDescription: "k is a number from 1 to 100 or \"auto\""))
                        }
                        self = .auto
                    }
                }
            }
            let body = try JSONBody.decode(Body.self, from: request, allowedKeys: ["k", "seed"])
            let count: GroupCount
            switch body.k {
            case nil: count = .heuristic
            case .auto?: count = .auto
            case let .number(n)?:
                guard (1...100).contains(n) else { throw HTTPError.badRequest("k must be from 1 to 100, or \"auto\"") }
                count = .fixed(n)
            }
            let similarity = try self.similarity()
            let mine = similarity.index.allIDs.filter { similarity.owner(of: $0)?.ownerID == user.id }
            // The request is fine; the catalog is not ready for it: 409, as the document says.
            guard mine.count >= 2 else {
                throw HTTPError(409, "fewer than two of your tracks have embeddings under model \(similarity.model.version): scan and tag more first")
            }
            let map = try LibraryMap.build(similarity: similarity, trackIDs: mine, count: count, seed: body.seed ?? 1, database: self.database)
            let summaries = try self.summaries(map.groups.flatMap(\.examples), user: user, model: similarity.model)
            let tracks = try self.database.browser.owned(trackIDs: map.points.map(\.trackID), ownerID: user.id)
            let members = map.groups.map { group in
                Playlist.orderedByCentre(map.points.filter { $0.cluster == group.id }.map(\.trackID), similarity: similarity)
            }
            let stored = try self.clusterings.add(ownerID: user.id, members: members) { id in
                Array(try Response.encoder.encode(ClusteringDTO(id: id, map: map, summaries: summaries, tracks: tracks)))
            }
            return Response(status: 201, headers: [("Content-Type", "application/json")], body: .bytes(stored.body))
        }

        router.add("GET", "/api/v1/clusters/{id}") { [unowned self] request, context in
            let id = try request.id("id")
            let user = try context.caller()
            let playlist = try self.playlistFormat(request)
            guard let found = self.clusterings.find(id: id, ownerID: user.id) else {
                throw HTTPError.notFound("there is no clustering \(id) (the server keeps the 32 most recent)")
            }
            if let playlist {
                let members = found.members
                guard request.query["cluster"] != nil, !members.isEmpty else {
                    throw HTTPError.badRequest("format=m3u8 needs cluster, the id of one of the clustering's clusters")
                }
                let cluster = try request.integer("cluster", default: 0, in: 0...(members.count - 1))
                return try self.playlistAnswer(members[cluster], paths: playlist, user: user, name: "cluster-\(id)-\(cluster)")
            }
            return Response(status: 200, headers: [("Content-Type", "application/json")], body: .bytes(found.body))
        }
    }

    func similarAnswer(_ hits: [SimilarityHit], query: [String: JSONValue], similarity: SimilarityService, user: User,
                       playlist: PlaylistPaths? = nil, name: String = "similar") throws -> Response {
        if let playlist { return try playlistAnswer(hits.map(\.id), paths: playlist, user: user, name: name) }
        let summaries = try summaries(hits.map(\.id), user: user, model: similarity.model)
        struct Answer: Encodable { let model_version: String; let query: [String: JSONValue]; let results: [SimilarEntryDTO] }
        return try .json(Answer(model_version: similarity.model.version, query: query,
                                results: hits.compactMap { hit in summaries[hit.id].map { SimilarEntryDTO(track: $0, score: hit.score) } }))
    }
}

struct ClusteringDTO: Encodable {
    struct Group: Encodable { let id: Int; let size: Int; let tags: [TagDTO]; let examples: [TrackSummaryDTO] }
    struct Point: Encodable { let track_id: Int64; let title: String?; let path: String; let cluster: Int; let x: Float; let y: Float
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(track_id, forKey: .track_id); try c.encode(title, forKey: .title); try c.encode(path, forKey: .path)
            try c.encode(cluster, forKey: .cluster); try c.encode(x, forKey: .x); try c.encode(y, forKey: .y)
        }
        enum CodingKeys: String, CodingKey { case track_id, title, path, cluster, x, y }
    }
    let id: Int64
    let model_version: String
    let k: Int
    let inertia: Double
    let explained_variance_ratio: [Double]
    let clusters: [Group]
    let tracks: [Point]

    init(id: Int64, map: LibraryMap, summaries: [Int64: TrackSummaryDTO], tracks: [Int64: Track]) {
        self.id = id
        model_version = map.model.version
        k = map.k
        inertia = map.inertia
        explained_variance_ratio = map.explainedVarianceRatio
        clusters = map.groups.map { group in
            Group(id: group.id, size: group.size, tags: group.tags.map { TagDTO(label: $0.label, probability: $0.probability) },
                  examples: group.examples.compactMap { summaries[$0] })
        }
        self.tracks = map.points.compactMap { point in
            tracks[point.trackID].map { Point(track_id: point.trackID, title: $0.metadata.title, path: $0.path, cluster: point.cluster, x: point.x, y: point.y) }
        }
    }
}
