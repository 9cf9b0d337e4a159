import ArgumentParser
import Catalog

extension UserCommand {
    struct SubsonicPassword: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "subsonic-password",
            abstract: "Give a user a new password for Subsonic clients (shown once), or remove it with --remove.",
            discussion: """
                Subsonic clients sign in at /rest/ with a user name and a password, usually as a token \
                (md5 of the password and a salt), which the server can only check if it holds the password \
                itself: this password is therefore stored as it is, made at random by Timbre and good for \
                the Subsonic endpoint only. Clients that support OpenSubsonic's apiKey need none: they use \
                a Timbre API key (`timbre user key NAME`).
                """)
        @Argument(help: "The user's name.") var name: String
        @Flag(help: "Remove the user's Subsonic password (Subsonic sign-in with a password stops; API keys still work).")
        var remove = false
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            let answer = try database.withDatabase { db -> String? in
                guard let user = try db.users.find(name: name) else { throw CommandFailure("there is no user \(name) (`timbre user list`)") }
                if remove {
                    guard try db.subsonicPasswords.remove(userID: user.id) else { throw CommandFailure("\(name) has no Subsonic password") }
                    return nil
                }
                return try db.subsonicPasswords.reset(userID: user.id)
            }
            if let answer {
                print("Subsonic password for \(name) (it replaces any earlier one; running this again makes another): \(answer)")
            } else {
                print("removed the Subsonic password of \(name)")
            }
        }
    }
}
