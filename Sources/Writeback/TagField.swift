/// Which tag of a file `timbre writeback` writes: `genre`, `grouping`, `comment` or
/// `custom:NAME`, each one of TagLib's unified property keys, which TagLib maps to each format's
/// own place (ID3v2 TCON / TIT1 / COMM / TXXX:NAME; Vorbis comments GENRE / GROUPING / COMMENT /
/// NAME in FLAC and Ogg; RIFF INFO and an `id3 ` chunk in WAV; ID3v2 in AIFF).
public enum TagField: Equatable, Sendable, CustomStringConvertible {
    case genre, grouping, comment
    case custom(String)

    public init(parsing text: String) throws(WritebackError) {
        switch text.lowercased() {
        case "genre": self = .genre
        case "grouping": self = .grouping
        case "comment": self = .comment
        default:
            guard text.lowercased().hasPrefix("custom:") else {
                throw .invalidArgument("--field \(text): give genre, grouping, comment or custom:NAME")
            }
            let name = String(text.dropFirst("custom:".count))
            // Vorbis comment names are printable ASCII without '='; ID3v2 TXXX and MP4 freeform
            // names take anything: the common subset, so one name means one field everywhere.
            guard (1...64).contains(name.utf8.count),
                  name.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F || $0 == 0x2D }) else {
                throw .invalidArgument("--field \(text): a custom field's NAME is 1 to 64 letters, digits, '_' or '-'")
            }
            self = .custom(name.uppercased())
        }
    }

    /// TagLib's property key.
    public var tagKey: String {
        switch self {
        case .genre: return "GENRE"
        case .grouping: return "GROUPING"
        case .comment: return "COMMENT"
        case let .custom(name): return name
        }
    }

    public var description: String {
        switch self {
        case .genre: return "genre"
        case .grouping: return "grouping"
        case .comment: return "comment"
        case let .custom(name): return "custom:\(name)"
        }
    }
}
