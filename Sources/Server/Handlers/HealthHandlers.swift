import Catalog
import Foundation

extension TimbreServer {
    func addHealthRoutes(_ router: inout Router) {
        router.add("GET", "/healthz", access: .everyone) { _, _ in try .json(["status": "ok"]) }

        router.add("GET", "/readyz", access: .everyone) { [unowned self] _, _ in
            var checks: [String: String] = [:]
            var ready = true
            do {
                let applied = try self.database.pool.withConnection { connection in
                    try connection.query("SELECT coalesce(max(version), 0)::bigint FROM schema_migrations").int(0, 0)
                }
                checks["database"] = "ok"
                let current = applied >= Int64(self.configuration.schemaVersion)
                checks["migrations"] = current ? "ok" : "the catalog is at version \(applied), this server needs \(self.configuration.schemaVersion)"
                ready = ready && current
            } catch {
                checks["database"] = "unreachable: \(error)"
                ready = false
            }
            checks["index"] = self.indexIsLoaded ? "ok" : "loading"
            ready = ready && self.indexIsLoaded
            struct Ready: Encodable { let status: String; let checks: [String: String] }
            return try .json(Ready(status: ready ? "ready" : "not ready", checks: checks), status: ready ? 200 : 503)
        }

        router.add("GET", "/metrics", access: .everyone) { [unowned self] _, _ in
            self.metrics.sample(database: self.database, model: try? self.database.models.active())
            return .text(self.metrics.text(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }

        router.add("GET", "/api/v1/openapi.json", access: .everyone) { [unowned self] _, _ in
            guard let web = self.configuration.webDirectory,
                  let data = FileManager.default.contents(atPath: web.appendingPathComponent("openapi.json").path) else {
                throw HTTPError.notFound("this installation has no openapi.json (it lives in web/ beside the binary)")
            }
            return Response(status: 200, headers: [("Content-Type", "application/json")], body: .bytes(Array(data)))
        }
    }

    func addStaticRoutes(_ router: inout Router) {
        let serve: Handler = { [unowned self] request, _ in
            guard let web = self.configuration.webDirectory else {
                throw HTTPError.notFound("the web UI is not installed (web/ beside the binary, or --web DIR)")
            }
            var parts = request.path.split(separator: "/").map(String.init)
            if parts.isEmpty { parts = ["index.html"] }
            return try StaticFiles.response(root: web, parts: parts, allowSymlinks: false)
        }
        router.add("GET", "/", access: .everyone, serve)
        router.add("GET", "/{file}", access: .everyone, serve)
        router.add("GET", "/js/{file}", access: .everyone, serve)
        let vendor: Handler = { [unowned self] request, _ in
            let parts = request.path.split(separator: "/").dropFirst().map(String.init)
            return try StaticFiles.response(root: self.configuration.vendorDirectory, parts: parts, allowSymlinks: true)
        }
        router.add("GET", "/vendor/{package}/{file}", access: .everyone, vendor)
        router.add("GET", "/vendor/{package}/{folder}/{file}", access: .everyone, vendor)
    }
}

/// Files under a root, by name parts that are plain names (letters, digits, `.`, `_`, `-`, not
/// starting with a dot), so no request can climb out of the root.
enum StaticFiles {
    static func response(root: URL, parts: [String], allowSymlinks: Bool) throws -> Response {
        for part in parts {
            guard !part.isEmpty, !part.hasPrefix("."), part.count <= 128,
                  part.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0) }) else {
                throw HTTPError.notFound("no such file")
            }
        }
        let path = parts.reduce(root) { $0.appendingPathComponent($1) }.path
        // Symlinks (Debian's JavaScript packages use them) must still land under /usr/share.
        if allowSymlinks {
            guard let resolved = realpath(path, nil) else { throw HTTPError.notFound("no such file") }
            defer { free(resolved) }
            guard String(cString: resolved).hasPrefix("/usr/share/") || String(cString: resolved).hasPrefix(root.path + "/") else {
                throw HTTPError.notFound("no such file")
            }
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (allowSymlinks ? 0 : O_NOFOLLOW))
        guard descriptor >= 0 else { throw HTTPError.notFound("no such file") }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw HTTPError.notFound("no such file")
        }
        return Response(status: 200, headers: [("Content-Type", contentType(of: parts.last ?? "")), ("Cache-Control", "no-cache"),
                                               ("X-Content-Type-Options", "nosniff")],
                        body: .file(descriptor: descriptor, offset: 0, length: Int64(info.st_size)))
    }

    static func contentType(of name: String) -> String {
        switch (name as NSString).pathExtension.lowercased() {
        case "html": return "text/html; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "json", "map": return "application/json"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "ico": return "image/x-icon"
        default: return "application/octet-stream"
        }
    }
}
