/// Scales, chords and chord progressions, written in roman numerals so that the tables
/// read like a musician's chart (`"ii7 V7 Imaj7"`, the 12-bar blues).

/// A mode of the key: its scale degrees in semitones above the tonic.
enum Mode: Sendable {
    case major, minor, dorian, mixolydian, phrygian, harmonicMinor
    /// The minor blues scale over a major (mixolydian-harmony) blues: melodies only.
    case blues

    var intervals: [Int] {
        switch self {
        case .major: return [0, 2, 4, 5, 7, 9, 11]
        case .minor: return [0, 2, 3, 5, 7, 8, 10]
        case .dorian: return [0, 2, 3, 5, 7, 9, 10]
        case .mixolydian: return [0, 2, 4, 5, 7, 9, 10]
        case .phrygian: return [0, 1, 3, 5, 7, 8, 10]
        case .harmonicMinor: return [0, 2, 3, 5, 7, 8, 11]
        case .blues: return [0, 3, 5, 6, 7, 10]
        }
    }

    var isMinor: Bool { self != .major && self != .mixolydian && self != .blues }
}

enum ChordQuality: Sendable, Equatable {
    case major, minor, diminished, power, sus2, sus4
    case major7, minor7, dominant7, halfDiminished7, minor9, dominant9

    /// Chord tones in semitones above the root (Kostka & Payne, Tonal Harmony, ch. 4 & 13).
    var intervals: [Int] {
        switch self {
        case .major: return [0, 4, 7]
        case .minor: return [0, 3, 7]
        case .diminished: return [0, 3, 6]
        case .power: return [0, 7]
        case .sus2: return [0, 2, 7]
        case .sus4: return [0, 5, 7]
        case .major7: return [0, 4, 7, 11]
        case .minor7: return [0, 3, 7, 10]
        case .dominant7: return [0, 4, 7, 10]
        case .halfDiminished7: return [0, 3, 6, 10]
        case .minor9: return [0, 3, 7, 10, 14]
        case .dominant9: return [0, 4, 7, 10, 14]
        }
    }

    var isSeventh: Bool { intervals.count >= 4 }
}

/// A chord relative to the key: its root in semitones above the tonic and its quality.
struct Chord: Sendable, Equatable {
    var root: Int
    var quality: ChordQuality

    /// Parses a roman numeral: optional `b`/`#`, I–VII (upper case major, lower case minor),
    /// then a suffix: `7` (dominant on upper case, minor 7th on lower case), `maj7`, `ø7`,
    /// `°`, `5`, `sus2`, `sus4`, `9`. Returns nil for anything else.
    init?(roman: String) {
        var text = Substring(roman)
        var shift = 0
        if text.hasPrefix("b") { shift = -1; text = text.dropFirst() } else if text.hasPrefix("#") { shift = 1; text = text.dropFirst() }
        let numerals = ["vii", "iii", "vi", "iv", "ii", "v", "i"]
        let degreeOf = ["i": 0, "ii": 2, "iii": 4, "iv": 5, "v": 7, "vi": 9, "vii": 11]
        guard let numeral = numerals.first(where: { text.lowercased().hasPrefix($0) }),
              let degree = degreeOf[numeral] else { return nil }
        let written = text.prefix(numeral.count)
        let upper = written == written.uppercased()
        guard upper || written == written.lowercased() else { return nil }
        let suffix = String(text.dropFirst(numeral.count))
        let quality: ChordQuality
        switch (suffix, upper) {
        case ("", true): quality = .major
        case ("", false): quality = .minor
        case ("7", true): quality = .dominant7
        case ("7", false): quality = .minor7
        case ("maj7", _): quality = .major7
        case ("ø7", _): quality = .halfDiminished7
        case ("°", _): quality = .diminished
        case ("5", _): quality = .power
        case ("sus2", _): quality = .sus2
        case ("sus4", _): quality = .sus4
        case ("9", true): quality = .dominant9
        case ("9", false): quality = .minor9
        default: return nil
        }
        root = (degree + shift + 12) % 12
        self.quality = quality
    }

    init(root: Int, quality: ChordQuality) { self.root = root; self.quality = quality }

    /// Pitch classes (0–11, relative to C) of this chord in a key whose tonic is `tonic`.
    func pitchClasses(tonic: Int) -> [Int] { quality.intervals.map { (tonic + root + $0) % 12 } }

    /// The chord reduced to a plain triad, for styles that avoid extensions (folk).
    var triad: Chord {
        switch quality {
        case .major7, .dominant7, .dominant9: return Chord(root: root, quality: .major)
        case .minor7, .minor9: return Chord(root: root, quality: .minor)
        case .halfDiminished7: return Chord(root: root, quality: .diminished)
        default: return self
        }
    }

    /// The chord with a seventh added, for jazz blends of simpler styles.
    var withSeventh: Chord {
        switch quality {
        case .major: return Chord(root: root, quality: root == 7 || root == 10 ? .dominant7 : .major7)
        case .minor: return Chord(root: root, quality: .minor7)
        case .diminished: return Chord(root: root, quality: .halfDiminished7)
        default: return self
        }
    }
}

/// A progression: chords, each lasting `barsPerChord` bars (a 12-bar blues uses one bar each).
struct Progression: Sendable {
    var chords: [Chord]

    init(_ chart: String) {
        chords = chart.split(separator: " ").compactMap { Chord(roman: String($0)) }
    }

    /// Whether every symbol of the chart parsed: checked by the tests for every table.
    static func parsesCompletely(_ chart: String) -> Bool {
        chart.split(separator: " ").allSatisfy { Chord(roman: String($0)) != nil }
    }
}

/// The harmonic language of a style: its modes and the progressions it draws from.
enum HarmonyLanguage: Sendable {
    case pop, rock, metal, electronic, hipHop, jazz, blues, classical, ambient, folk, reggae, latin

    var modes: [Mode] {
        switch self {
        case .pop, .folk: return [.major, .major, .minor]
        case .rock: return [.major, .mixolydian, .minor]
        case .metal: return [.minor, .phrygian, .harmonicMinor]
        case .electronic: return [.minor, .minor, .major, .dorian]
        case .hipHop: return [.minor, .dorian]
        case .jazz: return [.major, .major, .minor]
        case .blues: return [.blues]
        case .classical: return [.major, .minor, .harmonicMinor]
        case .ambient: return [.major, .minor, .dorian]
        case .reggae: return [.major, .minor]
        case .latin: return [.major, .minor]
        }
    }

    /// Charts for a mode; minor-mode charts are written against the natural minor.
    func charts(minor: Bool) -> [String] {
        switch (self, minor) {
        case (.pop, false): return ["I V vi IV", "vi IV I V", "I IV vi V", "I vi IV V", "IV I V vi"]
        case (.pop, true): return ["i bVI bIII bVII", "i iv bVI bVII", "vi IV I V"]
        case (.rock, false): return ["I bVII IV I", "I IV V IV", "I V IV IV", "I IV I V"]
        case (.rock, true): return ["i bVII bVI bVII", "i iv bVII i", "i bIII bVII iv"]
        case (.metal, _): return ["i5 bVI5 bVII5 i5", "i5 bII5 i5 bVII5", "i5 iv5 bVI5 V5", "i5 i5 bVI5 bVII5"]
        case (.electronic, false): return ["vi IV I V", "I V vi IV", "IVmaj7 V vi7 vi7"]
        case (.electronic, true): return ["i bVI bIII bVII", "i i iv iv", "i7 bVImaj7 bVII i7", "i bVII bVI bVII"]
        case (.hipHop, _): return ["i7 iv7", "i7 bVImaj7 bVII7 i7", "ii7 V7 i7 i7", "i9 iv9"]
        case (.jazz, false): return ["ii7 V7 Imaj7 VI7", "Imaj7 vi7 ii7 V7", "iii7 VI7 ii7 V7", "Imaj7 IV7 iii7 VI7 ii7 V7 Imaj7 Imaj7"]
        case (.jazz, true): return ["iiø7 V7 i7 i7", "i7 iv7 iiø7 V7", "i7 bVI7 iiø7 V7"]
        case (.blues, _): return ["I7 I7 I7 I7 IV7 IV7 I7 I7 V7 IV7 I7 V7", "I7 IV7 I7 I7 IV7 IV7 I7 I7 V7 IV7 I7 V7"]
        case (.classical, false): return ["I IV V I", "I vi ii V", "I V vi iii IV I IV V", "I ii V I"]
        case (.classical, true): return ["i iv V i", "i bVI iv V", "i iv bVII bIII bVI iiø7 V i"]
        case (.ambient, _): return ["Imaj7 IVmaj7", "isus2 bVImaj7", "Isus2 vi7 IVmaj7 Isus4", "i9 bVIImaj7"]
        case (.folk, false): return ["I IV I V", "I V IV I", "I IV V I", "I vi IV V"]
        case (.folk, true): return ["i bVII i bVII", "i bIII bVII i", "i iv i V"]
        case (.reggae, false): return ["I IV", "I V vi IV", "I IV V IV", "ii V"]
        case (.reggae, true): return ["i iv", "i bVII", "i bVI bVII i"]
        case (.latin, false): return ["ii7 V7 Imaj7 Imaj7", "Imaj7 II7 ii7 V7", "I IV V IV", "Imaj7 vi7 ii7 V7"]
        case (.latin, true): return ["i7 iv7 V7 i7", "i iv V i", "iiø7 V7 i7 i7"]
        }
    }
}

/// A key: tonic pitch class and mode, with scale lookups for melodies.
struct Key: Sendable, Equatable {
    var tonic: Int
    var mode: Mode

    /// The scale degree nearest to `pitch` (MIDI note), moved by `steps` scale steps.
    func scaleNote(near pitch: Int, steps: Int) -> Int {
        let scale = mode.intervals.map { (tonic + $0) % 12 }
        var notes: [Int] = []
        for octave in 0...10 { for pc in scale.sorted() { notes.append(octave * 12 + pc) } }
        let nearest = notes.enumerated().min { abs($0.element - pitch) < abs($1.element - pitch) }?.offset ?? 0
        let index = min(max(nearest + steps, 0), notes.count - 1)
        return notes[index]
    }
}
