import ArgumentParser
import Catalog
import Foundation
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
        try database.withDatabase { db in
            guard let model = try db.models.active() else {
                throw CommandFailure("no active model yet: nothing has been tagged (run `timbre scan`)")
            }
            let stored = try db.predictions.embeddings(modelID: model.id)
            guard let dimension = stored.first?.vector.count else {
                throw CommandFailure("no track has an embedding under model \(model.version) yet (run `timbre scan`)")
            }
            let index = EmbeddingIndex(dimension: dimension)
            for (id, vector) in stored {
                // A damaged row must not hide the rest of the library.
                do { try index.upsert(id: id, vector: vector) } catch {
                    FileHandle.standardError.write(Data("timbre similar: skipping track \(id): \(error)\n".utf8))
                }
            }

            let hits: [SimilarityHit]
            let query: String
            if let id = Int64(track), let found = try db.tracks.track(id: id) {
                guard index.contains(id) else {
                    throw CommandFailure("track \(id) (\(found.path)) has no embedding under model \(model.version) yet: it is \(found.status.rawValue)")
                }
                hits = try index.nearest(toID: id, k: limit)
                query = "track \(id)"
            } else {
                let path = URL(fileURLWithPath: track).standardizedFileURL.resolvingSymlinksInPath().path
                if let found = try db.tracks.track(absolutePath: path), index.contains(found.id) {
                    hits = try index.nearest(toID: found.id, k: limit)
                    query = "track \(found.id)"
                } else {
                    guard FileManager.default.fileExists(atPath: path) else {
                        throw CommandFailure("\(track) is neither a track id in the catalog nor a file")
                    }
                    // Not in the catalog (or not tagged yet): embed it now with the active model.
                    let predictor = try Predictor(bundle: try ModelBundle.read(from: model.filePath))
                    hits = try index.nearest(to: try predictor.predict(file: path).embedding, k: limit)
                    query = path
                }
            }

            let paths = try db.tracks.absolutePaths(trackIDs: hits.map(\.id))
            var entries: [Entry] = []
            for hit in hits {
                let probabilities = try db.predictions.probabilities(trackID: hit.id, modelID: model.id)
                let top = probabilities.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(max(0, tags))
                entries.append(Entry(trackID: hit.id, path: paths[hit.id] ?? "?", score: hit.score,
                                     tags: Dictionary(uniqueKeysWithValues: top.map { ($0.key, $0.value) })))
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(Report(query: query, model: model.version, similar: entries)), as: UTF8.self))
                return
            }
            print("most similar to \(query) (model \(model.version), \(index.count) tracks):")
            for entry in entries {
                let shown = rankedTags(entry.tags)
                print(String(format: "%.3f  ", entry.score) + entry.path + (shown.isEmpty ? "" : "\n       \(shown)"))
            }
        }
    }
}
