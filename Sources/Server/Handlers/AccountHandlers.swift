import Catalog
import Foundation

extension TimbreServer {
    func addAccountRoutes(_ router: inout Router) {
        // The web UI trades the one-time token from `timbre serve`'s URL for a key of its own.
        router.add("POST", "/api/v1/login", access: .everyone, body: .json) { [unowned self] request, _ in
            struct Body: Decodable { let token: String }
            let body = try JSONBody.decode(Body.self, from: request, allowedKeys: ["token"])
            guard let userID = self.logins.redeem(body.token), let user = try self.database.users.find(id: userID) else {
                throw HTTPError(401, "this login link was used already or has expired; restart `timbre serve` for a new one, or paste an API key")
            }
            let key = try self.database.users.issueKey(userID: user.id, label: "web login")
            struct Answer: Encodable { let key: String; let user: UserDTO }
            return try .json(Answer(key: key, user: UserDTO(user)))
        }

        router.add("GET", "/api/v1/me") { request, context in try .json(UserDTO(try context.caller())) }

        router.add("GET", "/api/v1/users", access: .admin) { [unowned self] _, _ in
            struct Answer: Encodable { let users: [UserDTO] }
            return try .json(Answer(users: try self.database.users.list().map(UserDTO.init)))
        }

        router.add("POST", "/api/v1/users", access: .admin, body: .json) { [unowned self] request, _ in
            struct Body: Decodable { let name: String; let admin: Bool? }
            let body = try JSONBody.decode(Body.self, from: request, allowedKeys: ["name", "admin"])
            do {
                let (user, key) = try self.database.users.add(name: body.name, admin: body.admin ?? false)
                struct Answer: Encodable { let user: UserDTO; let key: String }
                return try .json(Answer(user: UserDTO(user), key: key), status: 201)
            } catch let CatalogError.invalidArgument(message) where message.contains("exists already") {
                throw HTTPError(409, message)
            }
        }
    }

    /// A login link for the first admin (creating one named "admin" on an empty catalog).
    public func loginToken() throws -> (user: User, token: String) {
        let admin: User
        if let existing = try database.users.firstAdmin() {
            admin = existing
        } else {
            admin = try database.users.add(name: "admin", admin: true).user
        }
        return (admin, logins.issue(userID: admin.id))
    }
}
