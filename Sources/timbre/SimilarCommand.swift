import ArgumentParser
import Catalog
import Foundation
import Service
import Similarity
import Tagger

/// `timbre similar TRACK`: "more like this" from the catalog, by cosine similarity of the
/// active model's track embeddings.
struct SimilarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "similar",
        abstract: "List the tracks most similar to a track (cosine similarity of embeddings, active model).",
        discussion: """
            TRACK is a track id, the path of a file in a library, or any other audio file \
            (embedded with the active model on the spot).
            """
    )

    @Argument(help: "Track id or audio file.") var track: String
    @Option(help: "Tracks to list.") var limit = 10
    @Option(help: "Tags shown per track.") var tags = 3
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var database: DatabaseOptions

    struct Entry: Encodable {
        let trackID: Int64
        let path: String
        let score: Float
        let tags: [String: Float]
        enum CodingKeys: String, CodingKey { case trackID = "track_id", path, score, tags }
    }

    struct Report: Encodable {
        let query: String
        let model: String
        let similar: [Entry]
    }

    func run() throws {
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        try database.withDatabase(schema: .readOnly) { db in
            guard let similarity = try SimilarityService.active(in: db) else { throw CommandFailure("\(SimilarityServiceError.noActiveModel)") }
            let model = similarity.model
            guard similarity.count > 0 else { throw CommandFailure("\(SimilarityServiceError.noEmbeddings(model: model.version))") }
            let everyone = SimilarityScope()

            let hits: [SimilarityHit]
            let query: String
            if let id = Int64(track), let found = try db.tracks.track(id: id) {
                guard similarity.contains(id) else {
                    throw CommandFailure("track \(id) (\(found.path)) has no embedding under model \(model.version) yet: it is \(found.status.rawValue)")
                }
                hits = try similarity.similar(toTrack: id, k: limit, scope: everyone)
                query = "track \(id)"
            } else {
                let path = URL(fileURLWithPath: track).standardizedFileURL.resolvingSymlinksInPath().path
                if let found = try db.tracks.track(absolutePath: path), similarity.contains(found.id) {
                    hits = try similarity.similar(toTrack: found.id, k: limit, scope: everyone)
                    query = "track \(found.id)"
                } else {
                    guard FileManager.default.fileExists(atPath: path) else {
                        throw CommandFailure("\(track) is neither a track id in the catalog nor a file")
                    }
                    // Not in the catalog (or not tagged yet): embed it now with the active model.
                    let predictor = try Predictor(bundle: try ModelBundle.read(from: model.filePath))
                    hits = try similarity.similar(toVector: try predictor.predict(file: path).embedding, k: limit, scope: everyone)
                    query = path
                }
            }

            let paths = try db.tracks.absolutePaths(trackIDs: hits.map(\.id))
            let probabilities = try db.predictions.probabilities(trackIDs: hits.map(\.id), modelID: model.id)
            let entries = hits.map { hit in
                let top = TrackTags(predicted: probabilities[hit.id] ?? [:], corrections: [:]).ranked.prefix(max(0, tags))
                return Entry(trackID: hit.id, path: paths[hit.id] ?? "?", score: hit.score,
                             tags: Dictionary(uniqueKeysWithValues: top.map { ($0.label, $0.probability) }))
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(Report(query: query, model: model.version, similar: entries)), as: UTF8.self))
                return
            }
            print("most similar to \(query) (model \(model.version), \(similarity.count) tracks):")
            for entry in entries {
                let shown = rankedTags(entry.tags)
                print(String(format: "%.3f  ", entry.score) + entry.path + (shown.isEmpty ? "" : "\n       \(shown)"))
            }
        }
    }
}
