import Catalog
import Foundation
import Service

/// What an endpoint answers: fields for the `subsonic-response` envelope, or the bytes of a
/// file (stream, cover art) as they are.
enum SubsonicReply {
    case fields(SubsonicObject)
    case media(Response)
}

extension TimbreServer {
    static let subsonicAPIVersion = "1.16.1"

    /// The Subsonic REST API under `/rest/`: every endpoint as `/rest/NAME` and `/rest/NAME.view`,
    /// GET or form POST. Authentication is Subsonic's own (query or form arguments), so the
    /// routes are open to the router and each call is checked here (`SubsonicAuthentication`).
    func addSubsonicRoutes(_ router: inout Router) {
        func register(_ name: String, authenticate: Bool, _ endpoint: @escaping @Sendable (SubsonicRequest, User?) throws -> SubsonicReply) {
            for path in ["/rest/\(name)", "/rest/\(name).view"] {
                for method in ["GET", "POST"] {
                    router.add(method, path, access: .everyone) { [unowned self] request, _ in
                        self.answerSubsonic(request, authenticate: authenticate, endpoint)
                    }
                }
            }
        }
        func add(_ name: String, _ endpoint: @escaping @Sendable (SubsonicRequest, User) throws -> SubsonicReply) {
            register(name, authenticate: true) { request, user in
                guard let user else { throw SubsonicError.wrongCredentials }
                return try endpoint(request, user)
            }
        }

        // System.
        add("ping") { _, _ in .fields(SubsonicObject()) }
        add("getLicense") { _, _ in .fields(SubsonicObject(["license": .object(SubsonicObject(["valid": .boolean(true)]))])) }
        // The spec wants this one answered without credentials.
        register("getOpenSubsonicExtensions", authenticate: false) { _, _ in
            let extensions: [(String, [Int])] = [("apiKeyAuthentication", [1]), ("formPost", [1]), ("sonicSimilarity", [1])]
            return .fields(SubsonicObject(["openSubsonicExtensions": .list(extensions.map { name, versions in
                .object(SubsonicObject(["name": .string(name), "versions": .list(versions.map { .int($0) })]))
            })]))
        }
        add("getUser") { [unowned self] request, user in try self.subsonicUser(request, user) }

        // Browsing and searching.
        add("getMusicFolders") { [unowned self] _, user in try self.subsonicMusicFolders(user) }
        add("getArtists") { [unowned self] request, user in try self.subsonicArtists(request, user) }
        add("getIndexes") { [unowned self] request, user in try self.subsonicIndexes(request, user) }
        add("getMusicDirectory") { [unowned self] request, user in try self.subsonicMusicDirectory(request, user) }
        add("getArtist") { [unowned self] request, user in try self.subsonicArtist(request, user) }
        add("getAlbum") { [unowned self] request, user in try self.subsonicAlbum(request, user) }
        add("getAlbumList2") { [unowned self] request, user in try self.subsonicAlbumList(request, user) }
        add("getRandomSongs") { [unowned self] request, user in try self.subsonicRandomSongs(request, user) }
        add("getSong") { [unowned self] request, user in try self.subsonicSong(request, user) }
        add("getGenres") { [unowned self] request, user in try self.subsonicGenreList(request, user) }
        add("search3") { [unowned self] request, user in try self.subsonicSearch(request, user) }

        // Media.
        add("stream") { [unowned self] request, user in try self.subsonicStream(request, user) }
        add("download") { [unowned self] request, user in try self.subsonicStream(request, user) }
        add("getCoverArt") { [unowned self] request, user in try self.subsonicCoverArt(request, user) }

        // Sonic similarity (Timbre's embeddings).
        add("getSimilarSongs") { [unowned self] request, user in try self.subsonicSimilarSongs(request, user, key: "similarSongs") }
        add("getSimilarSongs2") { [unowned self] request, user in try self.subsonicSimilarSongs(request, user, key: "similarSongs2") }
        add("getSonicSimilarTracks") { [unowned self] request, user in try self.subsonicSonicSimilarTracks(request, user) }
        add("findSonicPath") { [unowned self] request, user in try self.subsonicSonicPath(request, user) }

        // What clients call besides and Timbre does not keep: answered truthfully, empty.
        add("getPlaylists") { _, _ in .fields(SubsonicObject(["playlists": .object(SubsonicObject(["playlist": .list([])]))])) }
        add("getStarred2") { _, _ in
            .fields(SubsonicObject(["starred2": .object(SubsonicObject(["artist": .list([]), "album": .list([]), "song": .list([])]))]))
        }
        // Play counts are not kept; a client's report is accepted and dropped.
        add("scrobble") { _, _ in .fields(SubsonicObject()) }

        // Any other /rest/ name: a Subsonic failure the client can read, not the JSON API's 404.
        // Added last, so every endpoint above matches first.
        for method in ["GET", "POST"] {
            router.add(method, "/rest/{endpoint}", access: .everyone) { [unowned self] request, _ in
                let name = request.parameters["endpoint"] ?? ""
                return self.answerSubsonic(request, authenticate: false) { _, _ in
                    throw SubsonicError(code: 0, message: "Timbre does not serve \(String(reflecting: String(name.prefix(60)))); see docs/api.md for the endpoints it does")
                }
            }
        }
    }

    func answerSubsonic(_ http: Request, authenticate: Bool, _ endpoint: (SubsonicRequest, User?) throws -> SubsonicReply) -> Response {
        let request = SubsonicRequest(http)
        do {
            let user = authenticate ? try SubsonicAuthentication(keys: keys, database: database).user(for: request) : nil
            switch try endpoint(request, user) {
            case let .fields(object): return Self.subsonicResponse(request.format, failure: nil, object)
            case let .media(response): return response
            }
        } catch let error as SubsonicError {
            return Self.subsonicResponse(request.format, failure: error, SubsonicObject())
        } catch let error as HTTPError {
            // A range outside the file is HTTP's own answer (416 with Content-Range).
            if error.status == 416 { return .error(error) }
            return Self.subsonicResponse(request.format, failure: SubsonicError(code: error.status == 404 ? 70 : 0, message: error.message), SubsonicObject())
        } catch let error as SimilarityServiceError {
            let code: Int
            switch error {
            case .notEmbedded: code = 70
            case .noActiveModel, .noEmbeddings, .invalid: code = 0
            }
            return Self.subsonicResponse(request.format, failure: SubsonicError(code: code, message: error.description), SubsonicObject())
        } catch let error as CatalogError {
            let answer = Self.httpError(error, logger: logger)
            return Self.subsonicResponse(request.format, failure: .generic(answer.message), SubsonicObject())
        } catch {
            let reference = UUID().uuidString.prefix(8).lowercased()
            logger.error("request \(reference) \(http.method) \(http.path) failed: \(error)")
            return Self.subsonicResponse(request.format, failure: .generic("the server failed to answer (reference \(reference) in its log)"), SubsonicObject())
        }
    }

    /// The `subsonic-response` envelope (OpenSubsonic: type, serverVersion, openSubsonic), always
    /// HTTP 200: a failure is `status="failed"` with `error {code, message}`.
    static func subsonicResponse(_ format: SubsonicRequest.Format, failure: SubsonicError?, _ payload: SubsonicObject) -> Response {
        var root = SubsonicObject([
            "status": .string(failure == nil ? "ok" : "failed"),
            "version": .string(subsonicAPIVersion),
            "type": .string("timbre"),
            "serverVersion": .string(BackupManifest.timbreVersion),
            "openSubsonic": .boolean(true),
        ])
        if let failure {
            root.set("error", .object(SubsonicObject(["code": .int(failure.code), "message": .string(failure.message)])))
        }
        for field in payload.fields { root.set(field.key, field.value) }
        switch format {
        case .xml:
            return Response(status: 200, headers: [("Content-Type", "text/xml; charset=utf-8")],
                            body: .bytes(SubsonicEncoder.xml(root: "subsonic-response", namespace: "http://subsonic.org/restapi", root)))
        case .json:
            return Response(status: 200, headers: [("Content-Type", "application/json")], body: .bytes(SubsonicEncoder.json(root: "subsonic-response", root)))
        case let .jsonp(callback):
            return Response(status: 200, headers: [("Content-Type", "application/javascript")],
                            body: .bytes(Array((callback + "(").utf8) + SubsonicEncoder.json(root: "subsonic-response", root) + Array(");".utf8)))
        }
    }
}
