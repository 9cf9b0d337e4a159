import ArgumentParser
import NeuralNet

/// The `timbre` command: wiring only; each subcommand lives in its own file.
@main
struct Timbre: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timbre",
        abstract: "Self-hosted music auto-tagging and recommendation.",
        subcommands: [
            InfoCommand.self,
            SpectrogramCommand.self,
            DemoCorpusCommand.self,
            PrepareCommand.self,
            SoftLabelsCommand.self,
            TrainCommand.self,
            EvaluateCommand.self,
            EvaluateRetrievalCommand.self,
            PredictCommand.self,
            ExplainCommand.self,
            EmbedCommand.self,
            ExperimentsCommand.self,
            DatabaseCommand.self,
            UserCommand.self,
            LibraryCommand.self,
            ScanCommand.self,
            WorkerCommand.self,
            TagsCommand.self,
            SimilarCommand.self,
            ClustersCommand.self,
            PlaylistCommand.self,
            DuplicatesCommand.self,
            ServeCommand.self,
            TagCommand.self,
            RetrainCommand.self,
            ModelCommand.self,
            WritebackCommand.self,
        ]
    )

    /// First run on the best OpenBLAS kernels this CPU supports (which may execute this program
    /// again, silently, with OPENBLAS_CORETYPE set: see BLASKernel), then parse and run.
    static func main() {
        BLASKernel.selectBestCore()
        main(nil)
    }
}

/// A command's own failure (not a module's typed error): the message says what to do.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
