import Catalog

/// Who may call a route.
public enum Access: Sendable { case everyone, user, admin }

/// What a route's body may be, and so its size limit.
public enum BodyKind: Sendable { case none, json, audio }

/// What a handler knows besides the request: the caller, once authenticated.
public struct RequestContext: Sendable {
    public var user: User?
    public init(user: User? = nil) { self.user = user }

    /// The signed-in user; routes behind authentication always have one.
    public func caller() throws -> User {
        guard let user else { throw HTTPError(401, "sign in: send Authorization: Bearer <key>") }
        return user
    }
}

/// A handler: a plain function from a request and its context to a response.
public typealias Handler = @Sendable (Request, RequestContext) throws -> Response

/// Middleware is a value that wraps a handler (authentication, …), as Hummingbird's are.
public struct Middleware: Sendable {
    public let wrap: @Sendable (@escaping Handler) -> Handler
    public init(_ wrap: @escaping @Sendable (@escaping Handler) -> Handler) { self.wrap = wrap }
}

/// One route: a method and a path pattern of literal segments and `{name}` parameters.
public struct Route: Sendable {
    enum Segment: Sendable, Equatable { case literal(String), parameter(String) }
    public let method: String
    public let pattern: String
    public let access: Access
    public let body: BodyKind
    let segments: [Segment]
    let handler: Handler

    init(_ method: String, _ pattern: String, access: Access, body: BodyKind, handler: @escaping Handler) {
        self.method = method
        self.pattern = pattern
        self.access = access
        self.body = body
        segments = pattern.split(separator: "/", omittingEmptySubsequences: true).map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? .parameter(String(part.dropFirst().dropLast())) : .literal(String(part))
        }
        self.handler = handler
    }

    /// The path parameters when `path` matches, else nil.
    func match(_ parts: [Substring]) -> [String: String]? {
        guard parts.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case let .literal(text): guard part == text else { return nil }
            case let .parameter(name): parameters[name] = String(part)
            }
        }
        return parameters
    }
}

/// Finds the route for a request: 404 when no pattern matches the path, 405 (with `Allow`)
/// when some do but not for this method.
public struct Router: Sendable {
    public private(set) var routes: [Route] = []
    /// Applied to every route that needs a user (authentication, then the role check).
    var authenticated: [Middleware] = []

    public init() {}

    public mutating func add(_ method: String, _ pattern: String, access: Access = .user, body: BodyKind = .none,
                             _ handler: @escaping Handler) {
        routes.append(Route(method, pattern, access: access, body: body, handler: handler))
    }

    public func route(method: String, path: String) -> Result<(Route, [String: String]), HTTPError> {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        var allowed: [String] = []
        for route in routes {
            guard let parameters = route.match(parts) else { continue }
            if route.method == method || (method == "HEAD" && route.method == "GET") { return .success((route, parameters)) }
            allowed.append(route.method)
        }
        guard allowed.isEmpty else {
            var error = HTTPError(405, "\(method) is not allowed on \(path); use \(allowed.joined(separator: " or "))")
            error.headers = [("Allow", allowed.joined(separator: ", "))]
            return .failure(error)
        }
        return .failure(.notFound("there is nothing at \(path); see /api/v1/openapi.json for the routes"))
    }

    /// The route's handler wrapped in the middleware its access level needs.
    func handler(for route: Route) -> Handler {
        switch route.access {
        case .everyone: return route.handler
        case .user: return authenticated.reversed().reduce(route.handler) { $1.wrap($0) }
        case .admin: return (authenticated + [.requireAdmin]).reversed().reduce(route.handler) { $1.wrap($0) }
        }
    }
}
