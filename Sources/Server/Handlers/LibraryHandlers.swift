import Catalog
import Foundation

extension TimbreServer {
    func addLibraryRoutes(_ router: inout Router) {
        router.add("GET", "/api/v1/libraries") { [unowned self] _, context in
            let user = try context.caller()
            let counts = try self.database.libraries.trackCounts()
            struct Answer: Encodable { let libraries: [LibraryDTO] }
            return try .json(Answer(libraries: try self.database.libraries.list(ownerID: user.id).map { Self.libraryDTO($0, counts: counts) }))
        }

        router.add("POST", "/api/v1/libraries", body: .json) { [unowned self] request, context in
            let user = try context.caller()
            struct Body: Decodable { let path: String }
            let body = try JSONBody.decode(Body.self, from: request, allowedKeys: ["path"])
            guard body.path.hasPrefix("/"), body.path.utf8.count <= 4096,
                  !body.path.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw HTTPError.badRequest("path must be an absolute folder path on the server, without control characters")
            }
            do {
                let library = try self.database.libraries.add(path: body.path, ownerID: user.id)
                return try .json(Self.libraryDTO(library, counts: [:]), status: 201)
            } catch let CatalogError.invalidArgument(message) {
                throw HTTPError(409, message)
            } catch let CatalogError.fileSystem(_, message) {
                throw HTTPError.unprocessable("\(body.path): \(message)")
            }
        }

        router.add("DELETE", "/api/v1/libraries/{id}") { [unowned self] request, context in
            let library = try self.ownedLibrary(request, context)
            try self.database.libraries.delete(id: library.id)
            return .noContent()
        }

        router.add("POST", "/api/v1/libraries/{id}/scan") { [unowned self] request, context in
            let library = try self.ownedLibrary(request, context)
            guard let jobID = try self.database.jobs.startScan(libraryID: library.id, owner: self.owner) else {
                throw HTTPError(409, "a scan of this library is running already; follow it in GET /api/v1/jobs")
            }
            self.runScan(library: library, jobID: jobID)
            guard let job = try self.database.jobs.record(id: jobID) else { throw HTTPError(500, "the scan job vanished") }
            struct Answer: Encodable { let job: JobDTO }
            return try .json(Answer(job: JobDTO(job)), status: 202)
        }

        router.add("GET", "/api/v1/jobs") { [unowned self] request, context in
            let user = try context.caller()
            var state: JobState?
            if let text = request.query["state"], !text.isEmpty {
                guard let parsed = JobState(rawValue: text) else {
                    throw HTTPError.badRequest("state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                state = parsed
            }
            var kind: String?
            if let text = request.query["kind"], !text.isEmpty {
                guard [JobKind.tag, JobKind.scan, "retrain"].contains(text) else { throw HTTPError.badRequest("kind must be tag, scan or retrain") }
                kind = text
            }
            let limit = try request.integer("limit", default: 50, in: 1...500)
            let jobs = try self.database.jobs.list(ownerID: user.id, includeCatalogJobs: user.isAdmin, state: state, kind: kind, limit: limit)
            let counts = try self.database.jobs.counts(ownerID: user.id, includeCatalogJobs: user.isAdmin)
            struct Answer: Encodable { let jobs: [JobDTO]; let counts: [String: Int] }
            return try .json(Answer(jobs: jobs.map(JobDTO.init),
                                    counts: Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, counts[$0] ?? 0) })))
        }
    }

    func ownedLibrary(_ request: Request, _ context: RequestContext) throws -> Library {
        let id = try request.id("id")
        guard let library = try database.libraries.find(id: id), library.ownerID == (try context.caller()).id else {
            throw HTTPError.notFound("there is no library \(id)")
        }
        return library
    }

    static func libraryDTO(_ library: Library, counts: [Int64: Int]) -> LibraryDTO {
        LibraryDTO(id: library.id, path: library.rootPath, created_at: library.createdAt, last_scanned_at: library.lastScannedAt,
                   track_count: counts[library.id] ?? 0)
    }
}
