import ArgumentParser
import Catalog
import Foundation
import Service

/// `timbre duplicates`: files that hold the same recording (another format, another bitrate),
/// found by their embeddings nearly coinciding and their durations agreeing (`DuplicateFinder`).
struct DuplicatesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duplicates",
        abstract: "List groups of tracks that are the same recording (embeddings nearly equal, same duration).",
        discussion: "Tracks are compared within each user's libraries. Nothing is changed or deleted."
    )

    @Option(help: "Smallest cosine of two embeddings that counts as the same recording.") var threshold: Float = DuplicateFinder.defaultThreshold
    @Option(name: .customLong("duration-tolerance"), help: "Largest difference of durations, seconds.")
    var durationTolerance: Double = DuplicateFinder.defaultDurationTolerance
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var database: DatabaseOptions

    struct Entry: Encodable {
        let trackID: Int64
        let path: String
        let format: String?
        let bitrateKbps: Double?
        let durationSeconds: Double?
        let sizeBytes: Int64
        enum CodingKeys: String, CodingKey {
            case trackID = "track_id", path, format, bitrateKbps = "bitrate_kbps", durationSeconds = "duration_seconds", sizeBytes = "size_bytes"
        }
    }

    struct Group: Encodable {
        let minScore: Float
        let maxScore: Float
        let tracks: [Entry]
        enum CodingKeys: String, CodingKey { case minScore = "min_score", maxScore = "max_score", tracks }
    }

    struct Report: Encodable {
        let model: String
        let threshold: Float
        let durationTolerance: Double
        let tracksCompared: Int
        let groups: [Group]
        enum CodingKeys: String, CodingKey {
            case model, threshold, groups, durationTolerance = "duration_tolerance", tracksCompared = "tracks_compared"
        }
    }

    func validate() throws {
        guard threshold.isFinite, (DuplicateFinder.minimumThreshold...1).contains(threshold) else {
            throw ValidationError("--threshold is a cosine from \(DuplicateFinder.minimumThreshold) to 1")
        }
        guard durationTolerance.isFinite, (0...600).contains(durationTolerance) else {
            throw ValidationError("--duration-tolerance is 0 to 600 seconds")
        }
    }

    func run() throws {
        try database.withDatabase(schema: .readOnly) { db in
            try db.withSimilarity { similarity in
                let report = try DuplicateFinder.find(similarity: similarity, ownerID: nil, threshold: threshold,
                                                      durationTolerance: durationTolerance, database: db)
                let groups = report.groups.map { group in
                    Group(minScore: group.minimumScore, maxScore: group.maximumScore, tracks: group.tracks.map {
                        Entry(trackID: $0.track.id, path: $0.absolutePath, format: $0.track.metadata.format,
                              bitrateKbps: $0.averageBitrateKbps.map { ($0 * 10).rounded() / 10 },
                              durationSeconds: $0.track.metadata.durationSeconds, sizeBytes: $0.track.size)
                    })
                }
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    let out = Report(model: report.model.version, threshold: report.threshold, durationTolerance: report.durationTolerance,
                                     tracksCompared: report.tracksCompared, groups: groups)
                    print(String(decoding: try encoder.encode(out), as: UTF8.self))
                    return
                }
                let files = groups.reduce(0) { $0 + $1.tracks.count }
                print("\(groups.count) group\(groups.count == 1 ? "" : "s") of duplicates (\(files) files) among \(report.tracksCompared) tracks "
                      + "(model \(report.model.version), cosine ≥ \(report.threshold), durations within \(report.durationTolerance) s):")
                for (n, group) in groups.enumerated() {
                    print("group \(n + 1) — \(group.tracks.count) files, cosine \(String(format: "%.4f", group.minScore))–\(String(format: "%.4f", group.maxScore)):")
                    for entry in group.tracks {
                        let rate = entry.bitrateKbps.map { String(format: "%5.0f kb/s", $0) } ?? "    ? kb/s"
                        let length = entry.durationSeconds.map { String(format: "%ld:%04.1f", Int($0) / 60, $0.truncatingRemainder(dividingBy: 60)) } ?? "?"
                        print("   \((entry.format ?? "?").padding(toLength: 5, withPad: " ", startingAt: 0)) \(rate)  \(length)  \(entry.path)")
                    }
                }
            }
        }
    }
}
