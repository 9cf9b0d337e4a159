import ArgumentParser
import Catalog

struct LibraryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "library",
        abstract: "Manage music libraries (folders Timbre scans; it writes into them only through `timbre writeback`, if allowed).",
        subcommands: [Add.self, List.self, Change.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a music folder as a library.")
        @Argument(help: "The folder; symlinks are resolved.") var path: String
        @Option(help: "Owner (default: the only user; with no users yet, a user `admin` is created).") var user: String?
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try database.withDatabase { db in
                let owner: User
                if let user {
                    guard let found = try db.users.find(name: user) else {
                        throw ValidationError("no user named \(user); create one with `timbre user add \(user)`")
                    }
                    owner = found
                } else {
                    let users = try db.users.list()
                    switch users.count {
                    case 0:
                        let (admin, key) = try db.users.add(name: "admin")
                        print("created user admin; API key (store it now; it cannot be shown again): \(key)")
                        owner = admin
                    case 1:
                        owner = users[0]
                    default:
                        throw ValidationError("several users exist; say whose library it is with --user NAME")
                    }
                }
                let library = try db.libraries.add(path: path, ownerID: owner.id)
                print("added library \(library.id): \(library.rootPath) (owner \(owner.name)); run `timbre scan` to index it")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List libraries with their track counts.")
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try database.withDatabase(schema: .readOnly) { db in
                let owners = Dictionary(uniqueKeysWithValues: try db.users.list().map { ($0.id, $0.name) })
                let libraries = try db.libraries.list()
                if libraries.isEmpty { print("no libraries; add one with `timbre library add PATH`") }
                for library in libraries {
                    let counts = try db.tracks.counts(libraryID: library.id)
                    let present = counts.filter { $0.key != .gone }.values.reduce(0, +)
                    let scanned = library.lastScannedAt.map { "scanned \($0)" } ?? "never scanned"
                    print("\(library.id)\t\(library.rootPath)\towner \(owners[library.ownerID] ?? "?")\t\(present) tracks "
                          + "(\(counts[.tagged] ?? 0) tagged, \(counts[.pending] ?? 0) pending, \(counts[.failed] ?? 0) failed)\t\(scanned)")
                }
            }
        }
    }
}
