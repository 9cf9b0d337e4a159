import ArgumentParser

/// The `timbre` command: wiring only; each subcommand lives in its own file.
@main
struct Timbre: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timbre",
        abstract: "Self-hosted music auto-tagging and recommendation.",
        subcommands: []
    )
}
