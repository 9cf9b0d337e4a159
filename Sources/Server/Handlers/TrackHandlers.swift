import AudioIO
import Catalog
import Foundation
import Service

extension TimbreServer {
    func addTrackRoutes(_ router: inout Router) {
        router.add("GET", "/api/v1/tracks") { [unowned self] request, context in
            let user = try context.caller()
            var filter = TrackFilter()
            filter.limit = try request.integer("limit", default: 50, in: 1...500)
            let playlist = try self.playlistFormat(request)
            filter.minimumProbability = try request.number("min_probability", default: 0.5, in: 0...1)
            if let tag = request.query["tag"], !tag.isEmpty { filter.tag = try TagLabel.normalised(tag) }
            if let text = request.query["q"], !text.isEmpty {
                guard text.count <= 200 else { throw HTTPError.badRequest("q is at most 200 characters") }
                guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                    throw HTTPError.badRequest("q may not contain control characters")
                }
                filter.text = text
            }
            if request.query["library"] != nil {
                // Another user's library reads exactly like a missing one: 404, not an empty page.
                let id = Int64(try request.integer("library", default: 0, in: 1...Int.max))
                guard let library = try self.database.libraries.find(id: id), library.ownerID == user.id else {
                    throw HTTPError.notFound("there is no library \(id)")
                }
                filter.libraryID = library.id
            }
            if let status = request.query["status"], !status.isEmpty {
                guard let parsed = TrackStatus(rawValue: status) else {
                    throw HTTPError.badRequest("status must be one of \(TrackStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                filter.status = parsed
            }
            if let cursor = request.query["cursor"], !cursor.isEmpty {
                guard let after = Int64(cursor), after >= 0 else { throw HTTPError.badRequest("cursor must be a next_cursor this API gave") }
                filter.afterID = after
            }
            let model = try self.database.models.active()
            let page = try self.database.browser.page(ownerID: user.id, modelID: model?.id, filter: filter)
            if let playlist { return try self.playlistAnswer(page.tracks.map(\.id), paths: playlist, user: user, name: "tracks") }
            let tags = try self.tags(of: page.tracks.map(\.id), user: user, model: model)
            let summaries = page.tracks.map { TrackSummaryDTO($0, tags: tags[$0.id] ?? TrackTags(predicted: [:], corrections: [:])) }
            return try .json(TrackPageDTO(tracks: summaries, next_cursor: page.hasMore ? page.tracks.last.map { String($0.id) } : nil))
        }

        router.add("GET", "/api/v1/tracks/{id}") { [unowned self] request, context in
            try .json(try self.trackDetail(try self.ownedTrack(request, context).track, user: try context.caller()))
        }

        router.add("PUT", "/api/v1/tracks/{id}/tags", body: .json) { [unowned self] request, context in
            let user = try context.caller()
            let track = try self.ownedTrack(request, context).track
            struct Body: Decodable { let add: [String]?; let remove: [String]? }
            let body = try JSONBody.decode(Body.self, from: request, allowedKeys: ["add", "remove"])
            let add = body.add ?? [], remove = body.remove ?? []
            guard add.count + remove.count <= 200 else { throw HTTPError.badRequest("at most 200 labels per change") }
            try self.database.corrections.record(trackID: track.id, userID: user.id, add: add, remove: remove)
            // Enough new corrections since the last retraining start one (config: 50).
            do { _ = try Retraining.requestIfDue(database: self.database) } catch {
                self.logger.warning("could not queue a retraining: \(error)")
            }
            return try .json(try self.trackDetail(track, user: user))
        }

        router.add("GET", "/api/v1/tags") { [unowned self] _, context in
            let user = try context.caller()
            let model = try self.database.models.active()
            let predicted = try model.map { try self.database.predictions.labelCounts(ownerID: user.id, modelID: $0.id, threshold: TrackTags.defaultThreshold) } ?? [:]
            let corrected = try self.database.corrections.labelCounts(ownerID: user.id)
            let vocabulary = Set(model?.labels ?? [])
            struct Entry: Encodable { let label: String; let in_vocabulary: Bool; let predicted: Int; let added: Int; let removed: Int }
            struct Answer: Encodable { let tags: [Entry] }
            let labels = vocabulary.union(corrected.keys).sorted()
            return try .json(Answer(tags: labels.map { label in
                Entry(label: label, in_vocabulary: vocabulary.contains(label), predicted: predicted[label] ?? 0,
                      added: corrected[label]?.added ?? 0, removed: corrected[label]?.removed ?? 0)
            }))
        }

        router.add("GET", "/api/v1/tracks/{id}/audio") { [unowned self] request, context in
            let (track, path, root) = try self.ownedTrack(request, context)
            return try AudioFile.response(path: path, libraryRoot: root, format: track.metadata.format, range: request.header("range"))
        }

        router.add("GET", "/api/v1/tracks/{id}/spectrogram.png") { [unowned self] request, context in
            let (_, path, root) = try self.ownedTrack(request, context)
            let width = try request.integer("width", default: SpectrogramPicture.defaultWidth, in: 100...4000)
            let full = try request.flag("full")
            do {
                let file = try AudioFile.open(path: path, libraryRoot: root)
                let picture = try SpectrogramPicture.render(file: file, maximumWidth: full ? nil : width, axes: !full)
                return Response(status: 200, headers: [("Content-Type", "image/png")], body: .bytes(try picture.pngData()))
            } catch let error as HTTPError {
                throw error
            } catch let error as SpectrogramPictureError {
                throw HTTPError.unprocessable("\(error)")
            } catch {
                throw HTTPError.unprocessable("the track's file cannot be drawn: \(error)")
            }
        }
    }

    func trackDetail(_ track: Track, user: User) throws -> TrackDetailDTO {
        let model = try database.models.active()
        let tags = try tags(of: [track.id], user: user, model: model)[track.id] ?? TrackTags(predicted: [:], corrections: [:])
        let history = try database.corrections.list(trackID: track.id, userID: user.id)
        return TrackDetailDTO(
            summary: TrackSummaryDTO(track, tags: tags), genre: track.metadata.genre, year: track.metadata.year, last_error: track.lastError,
            model_version: tags.predicted.isEmpty ? nil : model?.version,
            predicted: tags.ranked.map { TagDTO(label: $0.label, probability: $0.probability) },
            corrections: history.map { CorrectionDTO(label: $0.label, action: $0.action.rawValue, created_at: $0.createdAt) },
            effective_tags: tags.effective.map(\.label))
    }
}

/// A library file sent to its owner, whole or by `Range: bytes=…` (one range; 206 with
/// `Content-Range`, 416 when unsatisfiable). Opened as every library file is (`ReadOnlyFile`:
/// read-only, non-blocking, a regular file whose real path is still inside its library).
enum AudioFile {
    static func open(path: String, libraryRoot: String) throws -> ReadOnlyFile {
        do {
            return try ReadOnlyFile(path: path, confinedTo: libraryRoot)
        } catch {
            throw HTTPError(409, "the track's file cannot be opened (\(error)); rescan its library", code: "conflict")
        }
    }

    static func response(path: String, libraryRoot: String, format: String?, range: String?) throws -> Response {
        let file = try open(path: path, libraryRoot: libraryRoot)
        // The daemon closes the descriptor it is given once the answer is sent; `file` closes its own.
        let descriptor = dup(file.descriptor)
        guard descriptor >= 0 else { throw HTTPError(503, "the server is out of file descriptors; retry in a moment") }
        let size = file.size
        var headers = [("Content-Type", contentType(format)), ("Accept-Ranges", "bytes")]
        // RFC 9110 §14.2: a Range in a unit other than bytes is ignored, and so is a request for
        // several ranges (not served here): the whole file, 200.
        guard let range, range.prefix(6).lowercased() == "bytes=", !range.contains(",") else {
            return Response(status: 200, headers: headers, body: .file(descriptor: descriptor, offset: 0, length: size))
        }
        guard let (start, end) = parse(range, size: size) else {
            close(descriptor)
            var error = HTTPError(416, "the range \(String(range.prefix(60))) is not within the file's \(size) bytes")
            error.headers = [("Content-Range", "bytes */\(size)")]
            throw error
        }
        headers.append(("Content-Range", "bytes \(start)-\(end)/\(size)"))
        return Response(status: 206, headers: headers, body: .file(descriptor: descriptor, offset: start, length: end - start + 1))
    }

    /// One `bytes=a-b`, `bytes=a-` or `bytes=-n` range → inclusive (start, end); nil when unsatisfiable or malformed.
    static func parse(_ header: String, size: Int64) -> (Int64, Int64)? {
        guard header.prefix(6).lowercased() == "bytes=", size > 0 else { return nil }
        let spec = header.dropFirst(6)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces), last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            guard let suffix = Int64(last), suffix > 0 else { return nil }
            return (max(0, size - suffix), size - 1)
        }
        guard let start = Int64(first), start >= 0, start < size else { return nil }
        if last.isEmpty { return (start, size - 1) }
        guard let end = Int64(last), end >= start else { return nil }
        return (start, min(end, size - 1))
    }

    static func contentType(_ format: String?) -> String {
        switch format?.lowercased() {
        case "mp3": return "audio/mpeg"
        case "flac": return "audio/flac"
        case "ogg", "oga": return "audio/ogg"
        case "opus": return "audio/ogg; codecs=opus"
        case "wav": return "audio/wav"
        case "aif", "aiff": return "audio/aiff"
        case "m4a", "mp4": return "audio/mp4"
        default: return "application/octet-stream"
        }
    }
}
