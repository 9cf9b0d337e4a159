import Catalog
import Foundation
import Service

// The API's wire shapes (docs/api.md). Property names are the JSON names, so what is written
// here is exactly what a client reads.

struct TagDTO: Codable, Equatable {
    let label: String
    let probability: Float
}

struct TrackSummaryDTO: Encodable {
    let id: Int64
    let library_id: Int64
    let path: String
    let title: String?
    let artist: String?
    let album: String?
    let duration_seconds: Double?
    let format: String?
    let status: String
    let top_tags: [TagDTO]

    init(_ track: Track, tags: TrackTags) {
        id = track.id
        library_id = track.libraryID
        path = track.path
        title = track.metadata.title
        artist = track.metadata.artist
        album = track.metadata.album
        duration_seconds = track.metadata.durationSeconds
        format = track.metadata.format
        status = track.status.rawValue
        top_tags = tags.top(3).map { TagDTO(label: $0.label, probability: $0.probability) }
    }

    /// Encodes nulls explicitly (the synthesised encoder leaves nil out).
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id); try c.encode(library_id, forKey: .library_id); try c.encode(path, forKey: .path)
        try c.encode(title, forKey: .title); try c.encode(artist, forKey: .artist); try c.encode(album, forKey: .album)
        try c.encode(duration_seconds, forKey: .duration_seconds); try c.encode(format, forKey: .format)
        try c.encode(status, forKey: .status); try c.encode(top_tags, forKey: .top_tags)
    }
    enum CodingKeys: String, CodingKey { case id, library_id, path, title, artist, album, duration_seconds, format, status, top_tags }
}

struct CorrectionDTO: Encodable {
    let label: String
    let action: String
    let created_at: Date
}

struct TrackDetailDTO: Encodable {
    let summary: TrackSummaryDTO
    let genre: String?
    let year: Int?
    let last_error: String?
    let model_version: String?
    let predicted: [TagDTO]
    let corrections: [CorrectionDTO]
    let effective_tags: [String]

    func encode(to encoder: any Encoder) throws {
        try summary.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(genre, forKey: .genre); try c.encode(year, forKey: .year); try c.encode(last_error, forKey: .last_error)
        try c.encode(model_version, forKey: .model_version); try c.encode(predicted, forKey: .predicted)
        try c.encode(corrections, forKey: .corrections); try c.encode(effective_tags, forKey: .effective_tags)
    }
    enum CodingKeys: String, CodingKey { case genre, year, last_error, model_version, predicted, corrections, effective_tags }
}

struct TrackPageDTO: Encodable {
    let tracks: [TrackSummaryDTO]
    let next_cursor: String?
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(tracks, forKey: .tracks); try c.encode(next_cursor, forKey: .next_cursor)
    }
    enum CodingKeys: String, CodingKey { case tracks, next_cursor }
}

struct UserDTO: Encodable {
    let id: Int64
    let name: String
    let role: String
    init(_ user: User) { id = user.id; name = user.name; role = user.role.rawValue }
}

struct LibraryDTO: Encodable {
    let id: Int64
    let path: String
    let created_at: Date
    let last_scanned_at: Date?
    let track_count: Int
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id); try c.encode(path, forKey: .path); try c.encode(created_at, forKey: .created_at)
        try c.encode(last_scanned_at, forKey: .last_scanned_at); try c.encode(track_count, forKey: .track_count)
    }
    enum CodingKeys: String, CodingKey { case id, path, created_at, last_scanned_at, track_count }
}

struct ProgressDTO: Encodable {
    let done: Int
    let total: Int
}

struct JobDTO: Encodable {
    let id: Int64
    let kind: String
    let state: String
    let track_id: Int64?
    let library_id: Int64?
    let attempts: Int
    let last_error: String?
    let created_at: Date
    let updated_at: Date
    let progress: ProgressDTO?

    init(_ job: JobRecord) {
        id = job.id; kind = job.kind; state = job.state.rawValue; track_id = job.trackID; library_id = job.libraryID
        attempts = job.attempts; last_error = job.lastError; created_at = job.createdAt; updated_at = job.updatedAt
        progress = job.progress.map { ProgressDTO(done: $0.done, total: $0.total) }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id); try c.encode(kind, forKey: .kind); try c.encode(state, forKey: .state)
        try c.encode(track_id, forKey: .track_id); try c.encode(library_id, forKey: .library_id)
        try c.encode(attempts, forKey: .attempts); try c.encode(last_error, forKey: .last_error)
        try c.encode(created_at, forKey: .created_at); try c.encode(updated_at, forKey: .updated_at)
        try c.encode(progress, forKey: .progress)
    }
    enum CodingKeys: String, CodingKey { case id, kind, state, track_id, library_id, attempts, last_error, created_at, updated_at, progress }
}

struct ModelDTO: Encodable {
    let version: String
    let state: String
    let labels: [String]
    let metrics: JSONValue
    let parent: String?
    let created_at: Date
    let activated_at: Date?
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version); try c.encode(state, forKey: .state); try c.encode(labels, forKey: .labels)
        try c.encode(metrics, forKey: .metrics); try c.encode(parent, forKey: .parent)
        try c.encode(created_at, forKey: .created_at); try c.encode(activated_at, forKey: .activated_at)
    }
    enum CodingKeys: String, CodingKey { case version, state, labels, metrics, parent, created_at, activated_at }
}

struct SimilarEntryDTO: Encodable {
    let track: TrackSummaryDTO
    let score: Float
}
