/// Timbre's labelled demo corpus: procedurally composed pieces in 12 genres, rendered
/// through General MIDI soundfonts, with the tags of each track in `labels.csv` and how it
/// was made (fonts per part, production) in `production.csv`.
public enum DemoCorpus {
    /// The 27 tags, in the fixed order models index their outputs by: genres, instruments, tempo.
    public static let tags: [String] =
        Genre.allCases.map(\.rawValue) + Instrument.allCases.map(\.rawValue) + TempoTag.allCases.map(\.rawValue)

    /// Generates (or completes) a corpus in `options.outputDirectory`: audio files under
    /// `audio/` and `labels.csv` beside them. Tracks already present with the same tags are
    /// kept, so a second run with the same seed resumes an interrupted one.
    /// - Parameter progress: (tracks done, tracks in the corpus), called on the calling thread.
    public static func generate(_ options: DemoCorpusOptions,
                                progress: (Int, Int) -> Void = { _, _ in }) throws(DemoCorpusError) -> DemoCorpusSummary {
        try CorpusWriter(options: options).run(progress: progress)
    }
}
