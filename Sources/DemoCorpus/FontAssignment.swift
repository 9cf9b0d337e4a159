/// Which soundfont plays each part of a track. A track has a main font; half the tracks
/// (when there are several fonts) also take a second one that about half of their parts
/// play through (drums from one, bass from another…). At most two fonts per track keeps a
/// track's fresh synthesizer cheap to load. Drawn from its own random stream, so the music,
/// the tags and the production do not depend on the fonts.
enum FontAssignment {
    static let stream: UInt64 = 4

    /// The composition with every part's `soundFont` set (an index into the returned fonts,
    /// which are indices into `set.fonts`, in load order). A part whose font lacks its preset
    /// moves to a font that has it; where none has that program, another program of the same
    /// instrument is taken, so what is heard is still what is tagged.
    static func assign(_ composition: Composition, fonts set: [SoundFontInfo], seed: UInt64,
                       track: Int) throws(DemoCorpusError) -> (composition: Composition, fonts: [Int]) {
        guard !set.isEmpty else { return (composition, []) }
        var rng = SeededGenerator(seed: seed, track: track, stream: stream)
        let all = Array(set.indices)
        let main = rng.pick(all)
        let second: Int? = all.count > 1 && rng.chance(0.5) ? rng.pick(all.filter { $0 != main }) : nil
        var used: [Int] = [main]
        var composition = composition
        for index in composition.parts.indices {
            let part = composition.parts[index]
            let wanted = second.map { rng.chance(0.5) ? $0 : main } ?? main
            let preference = [wanted, main, second].compactMap { $0 } + all
            var choice: (font: Int, program: Int)?
            if let font = preference.first(where: { set[$0].has(bank: part.bank, program: part.program) }) {
                choice = (font, part.program)
            } else {
                for font in preference {
                    if let program = part.instrument.programs.first(where: { set[font].has(bank: part.bank, program: $0) }) {
                        choice = (font, program)
                        break
                    }
                }
            }
            guard let choice else {
                throw .invalidOptions("none of the soundfonts (\(set.map(\.name).joined(separator: ", "))) has a \(part.instrument.rawValue) preset (bank \(part.bank), programs \(part.instrument.programs.map(String.init).joined(separator: " "))); add a General MIDI soundfont")
            }
            if !used.contains(choice.font) { used.append(choice.font) }
            composition.parts[index].program = choice.program
            composition.parts[index].soundFont = used.firstIndex(of: choice.font) ?? 0
        }
        return (composition, used)
    }
}
