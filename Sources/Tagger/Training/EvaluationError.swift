/// Why a model cannot be scored on the data given: each case says what to do instead.
public enum EvaluationError: Error, CustomStringConvertible {
    case frontEndMismatch
    case labelMismatch(missing: [String])
    case emptySplit(String)

    public var description: String {
        switch self {
        case .frontEndMismatch:
            return "the prepared data was made with another audio front end than the model's; evaluate from audio (--audio-dir, --labels) instead"
        case .labelMismatch(let missing):
            return "the data has tags the model does not know: \(missing.joined(separator: ", "))"
        case .emptySplit(let split): return "the \(split) split has no tracks"
        }
    }
}
