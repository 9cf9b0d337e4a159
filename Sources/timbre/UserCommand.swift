import ArgumentParser
import Catalog

struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage users and their API keys.",
        subcommands: [Add.self, List.self, Key.self, Revoke.self, SubsonicPassword.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user and print its API key (shown only this once).",
            discussion: "The first user of a catalog is an administrator; later ones are plain users unless --admin is given.")
        @Argument(help: "The user's name.") var name: String
        @Flag(help: "Make the user an administrator (users, models, retraining).") var admin = false
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let (user, key) = try database.withDatabase { try $0.users.add(name: name, admin: admin) }
            print("created \(user.role.rawValue) \(user.name) (id \(user.id))")
            print("API key (store it now; it cannot be shown again): \(key)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users and their keys (by prefix; keys themselves are never stored).")
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try database.withDatabase(schema: .readOnly) { db in
                for user in try db.users.list() {
                    let keys = try db.users.keys(userID: user.id)
                    let live = keys.filter { $0.revokedAt == nil }.map { $0.prefix.isEmpty ? "(first key)" : $0.prefix + "…" }
                    print("\(user.id)\t\(user.name)\t\(user.role.rawValue)\tcreated \(user.createdAt)\tkeys: \(live.isEmpty ? "none" : live.joined(separator: ", "))")
                }
            }
        }
    }

    struct Key: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue another API key for a user (shown only this once).")
        @Argument(help: "The user's name.") var name: String
        @Option(help: "What the key is for (shown by `user list`).") var label = ""
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let key = try database.withDatabase { db -> String in
                guard let user = try db.users.find(name: name) else { throw CommandFailure("there is no user \(name) (`timbre user list`)") }
                return try db.users.issueKey(userID: user.id, label: label)
            }
            print("API key for \(name) (store it now; it cannot be shown again): \(key)")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a user's API keys: the one starting with PREFIX, or all of them with --all.")
        @Argument(help: "The user's name.") var name: String
        @Argument(help: "The key, or its first characters (as `user list` shows, e.g. tmb_1a2b3c4d).") var prefix: String?
        @Flag(help: "Revoke every key of the user.") var all = false
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            guard (prefix != nil) != all else { throw ValidationError("give a key prefix or --all (not both)") }
            if let prefix, prefix.count < 8 { throw ValidationError("give at least 8 characters of the key (e.g. tmb_1a2b)") }
        }

        func run() throws {
            let revoked = try database.withDatabase { db -> Int in
                guard let user = try db.users.find(name: name) else { throw CommandFailure("there is no user \(name) (`timbre user list`)") }
                return try db.users.revokeKeys(userID: user.id, prefix: all ? "" : String((prefix ?? "").prefix(12)))
            }
            guard revoked > 0 else { throw CommandFailure("\(name) has no unrevoked key starting with \(prefix ?? "")") }
            print("revoked \(revoked) key\(revoked == 1 ? "" : "s") of \(name); requests with \(revoked == 1 ? "it" : "them") get 401 within 2 s")
        }
    }
}
