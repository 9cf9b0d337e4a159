import ArgumentParser
import Catalog

struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage users and their API keys.",
        subcommands: [Add.self, List.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user and print its API key (shown only this once).")
        @Argument(help: "The user's name.") var name: String
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let (user, key) = try database.withDatabase { try $0.users.add(name: name) }
            print("created user \(user.name) (id \(user.id))")
            print("API key (store it now; it cannot be shown again): \(key)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            for user in try database.withDatabase({ try $0.users.list() }) {
                print("\(user.id)\t\(user.name)\tcreated \(user.createdAt)")
            }
        }
    }
}
