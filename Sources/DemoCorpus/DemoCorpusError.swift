import AudioIO

/// Why a demo corpus could not be generated; each case says what to do about it.
public enum DemoCorpusError: Error, CustomStringConvertible, Equatable {
    case invalidOptions(String)
    case soundFontMissing(path: String)
    case soundFontUnreadable(path: String)
    case synthesizer(String)
    case outputDirectory(path: String, reason: String)
    case audio(AudioError)
    case labels(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidOptions(let reason): return "invalid demo corpus options: \(reason)"
        case .soundFontMissing(let path):
            return "no General MIDI soundfont at \(path): install it (apt-get install fluid-soundfont-gm) or point TIMBRE_SOUNDFONT (or --soundfont) at .sf2/.sf3 files"
        case .soundFontUnreadable(let path):
            return "\(path) could not be loaded as a soundfont: check that it is an intact SoundFont 2 or 3 (.sf2, .sf3) file"
        case .synthesizer(let reason): return "the fluidsynth synthesizer failed: \(reason)"
        case .outputDirectory(let path, let reason):
            return "cannot write the corpus to \(path): \(reason); choose a writable directory with --out"
        case .audio(let error): return "cannot write a track: \(error)"
        case .labels(let path, let reason): return "\(path): \(reason)"
        }
    }
}
