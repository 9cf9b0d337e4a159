import Foundation

/// One soundfont the corpus may render with, and the presets it holds (read from its
/// `phdr` chunk, without loading any sample data).
public struct SoundFontInfo: Sendable, Equatable {
    public var path: String
    /// The file name, as `production.csv` records it.
    public var name: String { (path as NSString).lastPathComponent }
    /// Presets as `bank << 8 | program`.
    var presets: Set<Int>

    func has(bank: Int, program: Int) -> Bool { presets.contains(bank << 8 | program) }

    /// Whether it can play some program of some instrument of the corpus (an SFX-only bank
    /// such as FluidR3_GS plays none; parts it cannot play go to the other fonts).
    var playsAnyCorpusInstrument: Bool {
        Instrument.allCases.contains { instrument in
            instrument.programs.contains { has(bank: instrument == .drums ? 128 : 0, program: $0) }
        }
    }
}

/// The soundfonts of a run: those given (`--soundfont`, several allowed), else
/// `TIMBRE_SOUNDFONT` (a path or a comma-separated list), else the default training set —
/// the Debian General MIDI fonts that are installed. Tracks choose among them per track and
/// per part (`FontAssignment`), so no tag rests on one font's timbres.
///
/// The default set is an allow-list: the files of the Debian packages the training corpus may
/// use, taken only as themselves (a default path that is a symbolic link is skipped, whatever
/// it points at). The soundfonts held out for evaluation are never in it; any font can still be
/// named with `--soundfont`, which is how a held-out evaluation corpus is rendered.
public struct SoundFontSet: Sendable, Equatable {
    /// The fonts the tracks render with, in the order given.
    public var fonts: [SoundFontInfo]
    /// Fonts of the default set or the list that are not used, with the reason.
    public var skipped: [(path: String, reason: String)]

    public static func == (a: SoundFontSet, b: SoundFontSet) -> Bool {
        a.fonts == b.fonts && a.skipped.map(\.path) == b.skipped.map(\.path) && a.skipped.map(\.reason) == b.skipped.map(\.reason)
    }

    /// The default training set, most faithful first (Debian package in the comment).
    public static let defaultTrainingPaths = [
        "/usr/share/sounds/sf2/FluidR3_GM.sf2",       // fluid-soundfont-gm
        "/usr/share/sounds/sf2/FluidR3_GS.sf2",       // fluid-soundfont-gs (GS sound-effect banks only)
        "/usr/share/fluidr3mono-gm-soundfont/FluidR3Mono_GM.sf3",  // fluidr3mono-gm-soundfont (the file, not its sf3/ link)
        "/usr/share/sounds/sf2/sf_GMbank.sf2",        // csound-soundfont
        "/usr/share/sounds/sf2/OPL-3_FM_128M.sf2",    // opl3-soundfont
    ]

    /// Whether `path` is a symbolic link (not followed): a default that is one is skipped, since
    /// a link such as `default-GM.sf2` may point at any font.
    static func isSymbolicLink(_ path: String) -> Bool {
        (try? FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType) == .typeSymbolicLink
    }

    /// Where the fonts come from: the explicit list, the environment, the default set.
    enum Origin: Equatable { case given, environment, defaults }

    /// - Parameter given: paths from the options (empty: environment, then defaults).
    static func resolve(given: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
                        defaults: [String] = defaultTrainingPaths) throws(DemoCorpusError) -> SoundFontSet {
        var paths = given.flatMap(splitList)
        var origin = Origin.given
        if paths.isEmpty, let variable = environment["TIMBRE_SOUNDFONT"] {
            paths = splitList(variable)
            origin = .environment
        }
        if paths.isEmpty {
            paths = defaults
            origin = .defaults
        }
        var fonts: [SoundFontInfo] = []
        var skipped: [(path: String, reason: String)] = []
        var seen = Set<String>()
        for path in paths where seen.insert(path).inserted {
            if origin == .defaults && isSymbolicLink(path) { skipped.append((path, "a symbolic link, not a training font itself")); continue }
            guard FileManager.default.fileExists(atPath: path) else {
                // A default font that is not installed is skipped; one the user named is an error.
                if origin == .defaults { skipped.append((path, "not installed")); continue }
                throw .soundFontMissing(path: path)
            }
            let presets = try SoundFontPresets.read(path)
            let font = SoundFontInfo(path: path, presets: presets)
            guard font.playsAnyCorpusInstrument else {
                skipped.append((path, "holds none of the corpus's General MIDI presets"))
                continue
            }
            fonts.append(font)
        }
        guard !fonts.isEmpty else {
            if origin == .defaults {
                throw .soundFontMissing(path: defaults.first ?? defaultTrainingPaths[0])
            }
            throw .invalidOptions("none of the soundfonts \(paths.joined(separator: ", ")) has General MIDI presets; give a General MIDI .sf2/.sf3 with --soundfont")
        }
        return SoundFontSet(fonts: fonts, skipped: skipped)
    }

    static func splitList(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// Reads the preset headers (`pdta/phdr`) of a SoundFont 2 or 3 file: RIFF `sfbk`, three LIST
/// chunks (INFO, sdta, pdta), the sample data skipped over (SoundFont 2.04 spec, §4–§7).
enum SoundFontPresets {
    static func read(_ path: String) throws(DemoCorpusError) -> Set<Int> {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw .soundFontUnreadable(path: path) }
        defer { try? handle.close() }
        func bytes(_ count: Int) -> [UInt8]? {
            guard let data = try? handle.read(upToCount: count), data.count == count else { return nil }
            return [UInt8](data)
        }
        func le32(_ b: [UInt8], _ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 | Int(b[at + 2]) << 16 | Int(b[at + 3]) << 24 }
        guard let header = bytes(12), String(decoding: header[0..<4], as: UTF8.self) == "RIFF",
              String(decoding: header[8..<12], as: UTF8.self) == "sfbk" else { throw .soundFontUnreadable(path: path) }
        let end = UInt64(min(le32(header, 4) + 8, Int(UInt32.max)))
        var offset: UInt64 = 12
        while offset + 12 <= end {
            guard (try? handle.seek(toOffset: offset)) != nil, let chunk = bytes(12) else { break }
            let size = UInt64(le32(chunk, 4))
            if String(decoding: chunk[0..<4], as: UTF8.self) == "LIST", String(decoding: chunk[8..<12], as: UTF8.self) == "pdta" {
                return try presets(handle, from: offset + 12, to: offset + 8 + size, path: path)
            }
            // Chunks are padded to even sizes, but some writers (FluidR3Mono's sf3) leave the pad out.
            offset += 8 + size
            if size & 1 == 1, (try? handle.seek(toOffset: offset)) != nil,
               let next = bytes(4), String(decoding: next, as: UTF8.self) != "LIST" { offset += 1 }
        }
        throw .soundFontUnreadable(path: path)
    }

    private static func presets(_ handle: FileHandle, from start: UInt64, to end: UInt64, path: String) throws(DemoCorpusError) -> Set<Int> {
        var offset = start
        while offset + 8 <= end {
            guard (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.read(upToCount: 8), data.count == 8 else { break }
            let chunk = [UInt8](data)
            let size = Int(chunk[4]) | Int(chunk[5]) << 8 | Int(chunk[6]) << 16 | Int(chunk[7]) << 24
            if String(decoding: chunk[0..<4], as: UTF8.self) == "phdr" {
                // 38-byte records: name[20], preset, bank, bag index (u16 each), 3 × u32; the last is the terminal EOP.
                guard size % 38 == 0, size >= 76, size < 38 * 70000,
                      let body = try? handle.read(upToCount: size), body.count == size else { break }
                let records = [UInt8](body)
                var result = Set<Int>()
                for index in 0..<(size / 38 - 1) {
                    let base = index * 38
                    let program = Int(records[base + 20]) | Int(records[base + 21]) << 8
                    let bank = Int(records[base + 22]) | Int(records[base + 23]) << 8
                    if program < 128 && bank <= 128 { result.insert(bank << 8 | program) }
                }
                return result
            }
            offset += 8 + UInt64(size) + UInt64(size & 1)
        }
        throw .soundFontUnreadable(path: path)
    }
}
