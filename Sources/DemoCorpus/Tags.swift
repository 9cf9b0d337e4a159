/// The fixed tag vocabulary of the demo corpus: 12 genres, 13 instruments, 2 tempo tags.
/// The order of `DemoCorpus.tags` (genres, instruments, tempo) is part of the format:
/// models trained on the corpus index their outputs by it.
public enum Genre: String, CaseIterable, Sendable, Comparable {
    case rock, metal, pop, electronic
    case hipHop = "hip-hop"
    case jazz, blues, classical, ambient, folk, reggae, latin

    public static func < (a: Genre, b: Genre) -> Bool { a.order < b.order }
    var order: Int { Genre.allCases.firstIndex(of: self) ?? 0 }
}

/// An instrument tag; a track carries it only when that instrument plays notes at a
/// reasonable level for a good part of the track.
public enum Instrument: String, CaseIterable, Sendable, Comparable {
    case piano
    case acousticGuitar = "acoustic-guitar"
    case electricGuitar = "electric-guitar"
    case distortedGuitar = "distorted-guitar"
    case bass, drums, strings, brass, organ
    case synthLead = "synth-lead"
    case synthPad = "synth-pad"
    case flute, choir

    public static func < (a: Instrument, b: Instrument) -> Bool { a.order < b.order }
    var order: Int { Instrument.allCases.firstIndex(of: self) ?? 0 }

    /// General MIDI programs (0-based) that sound like this instrument in a GM soundfont.
    /// Programs that could pass for another tag (choir pad, synth strings, electric
    /// pianos) are deliberately left out so that what is heard is what is tagged.
    var programs: [Int] {
        switch self {
        case .piano: return [0, 1, 2]
        case .acousticGuitar: return [24, 25]
        case .electricGuitar: return [26, 27, 28]
        case .distortedGuitar: return [29, 30]
        case .bass: return [32, 33, 34, 35, 38, 39]
        case .drums: return [0, 8, 16, 24, 25, 32, 40]  // kits on bank 128
        case .strings: return [48, 49]
        case .brass: return [56, 57, 60, 61]
        case .organ: return [16, 17, 18, 19]
        case .synthLead: return [80, 81, 87]
        case .synthPad: return [88, 89, 90, 94, 95]
        case .flute: return [73, 75]
        case .choir: return [52, 53]
        }
    }
}

/// Tempo tags: `fast` at 130 BPM or more, `slow` at 85 BPM or less, none in between.
public enum TempoTag: String, CaseIterable, Sendable {
    case fast, slow

    static let fastThreshold = 130.0
    static let slowThreshold = 85.0

    init?(beatsPerMinute bpm: Double) {
        if bpm >= TempoTag.fastThreshold { self = .fast }
        else if bpm <= TempoTag.slowThreshold { self = .slow }
        else { return nil }
    }
}

/// The tags of one track, kept in vocabulary order.
public struct TrackLabels: Sendable, Equatable {
    public var genres: [Genre]
    public var instruments: [Instrument]
    public var tempo: TempoTag?

    public var tags: [String] {
        genres.sorted().map(\.rawValue) + instruments.sorted().map(\.rawValue) + (tempo.map { [$0.rawValue] } ?? [])
    }
}
