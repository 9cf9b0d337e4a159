import ArgumentParser
import Catalog
import Writeback

extension LibraryCommand {
    /// `timbre library set L --writeback on|off`: a library's settings.
    struct Change: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set", abstract: "Change a library's settings.")
        @Argument(help: "A library id or a path inside a library.") var library: String
        @Option(help: "Let `timbre writeback` write tags into this library's files: on or off (default off).") var writeback: Switch?
        @OptionGroup var database: DatabaseOptions

        enum Switch: String, ExpressibleByArgument { case on, off }

        func run() throws {
            guard let writeback else { throw ValidationError("nothing to set: give --writeback on|off") }
            try database.withDatabase { db in
                let match: Library?
                if let id = Int64(library) { match = try db.libraries.find(id: id) } else { match = try db.libraries.find(containing: library) }
                guard let found = match else { throw ValidationError("\(library) is neither a library id nor inside a library") }
                try WritebackRepository(pool: db.pool).setEnabled(libraryID: found.id, writeback == .on)
                print("library \(found.id) (\(printable(found.rootPath))): writeback \(writeback.rawValue)"
                      + (writeback == .on ? "; `timbre writeback \(found.id)` may now write tags into its files" : "; Timbre will not write into its files"))
            }
        }
    }
}
