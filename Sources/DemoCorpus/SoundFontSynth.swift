import CFluidSynth
import Foundation

/// Renders compositions offline through libfluidsynth. The one owner of the fluidsynth
/// settings, synthesizer and loaded soundfonts (deleting the synthesizer unloads them);
/// each part plays through the font its `soundFont` names, selected per channel.
/// Not thread-safe by design: each rendering thread owns its own instance, which also lets
/// fluidsynth skip its internal locking.
///
/// A synthesizer keeps state across a reset (voice and effect internals), so a track
/// rendered on a used one differs slightly from the same track on a fresh one. The corpus
/// therefore renders every track on a fresh instance with just the fonts that track uses; that
/// is cheap (about 0.2 s a font) while another instance keeps their samples in fluidsynth's
/// sample cache.
final class SoundFontSynth {
    private let settings: OpaquePointer
    private let synth: OpaquePointer
    private let soundFonts: [Int32]
    let sampleRate: Int

    convenience init(soundFontPath path: String, sampleRate: Int) throws(DemoCorpusError) {
        try self.init(soundFontPaths: [path], sampleRate: sampleRate)
    }

    /// Loading a General MIDI soundfont the first time takes seconds (FluidR3Mono's
    /// compressed samples: about 8); while another instance holds it, fluidsynth's sample
    /// cache makes loading it again about 0.2 s.
    init(soundFontPaths paths: [String], sampleRate: Int) throws(DemoCorpusError) {
        guard !paths.isEmpty else { throw .invalidOptions("no soundfont to render with") }
        for path in paths where !FileManager.default.fileExists(atPath: path) { throw .soundFontMissing(path: path) }
        SoundFontSynth.silenceLibraryLog()
        guard let settings = new_fluid_settings() else { throw .synthesizer("could not allocate settings") }
        fluid_settings_setnum(settings, "synth.sample-rate", Double(sampleRate))
        fluid_settings_setint(settings, "synth.threadsafe-api", 0)
        fluid_settings_setint(settings, "synth.cpu-cores", 1)
        fluid_settings_setint(settings, "synth.polyphony", 256)
        fluid_settings_setint(settings, "synth.reverb.active", 1)
        fluid_settings_setint(settings, "synth.chorus.active", 1)
        // The master gain only scales; the mastering stage sets the loudness.
        fluid_settings_setnum(settings, "synth.gain", 0.5)
        guard let synth = new_fluid_synth(settings) else {
            delete_fluid_settings(settings)
            throw .synthesizer("could not create a synthesizer at \(sampleRate) Hz")
        }
        var ids: [Int32] = []
        for path in paths {
            let id = fluid_synth_sfload(synth, path, 1)
            guard id != FLUID_FAILED else {
                delete_fluid_synth(synth)
                delete_fluid_settings(settings)
                throw .soundFontUnreadable(path: path)
            }
            ids.append(id)
        }
        self.settings = settings
        self.synth = synth
        self.soundFonts = ids
        self.sampleRate = sampleRate
    }

    deinit {
        delete_fluid_synth(synth)
        delete_fluid_settings(settings)
    }

    /// fluidsynth logs warnings (e.g. missing presets) to stderr; the corpus progress
    /// output is what the user should see. Errors are still reported through return codes.
    private static func silenceLibraryLog() {
        for level in [FLUID_PANIC, FLUID_ERR, FLUID_WARN, FLUID_INFO, FLUID_DBG] {
            _ = fluid_set_log_function(Int32(level.rawValue), nil, nil)
        }
    }

    /// Interleaved stereo samples of exactly `composition.duration` seconds. The synthesizer
    /// is reset first so that a track never hears the tail of a previous one.
    func render(_ composition: Composition) -> [Float] {
        fluid_synth_system_reset(synth)
        // The reset reaches the voices and effects through fluidsynth's event queue, which
        // is only processed when audio is rendered: render (and drop) a few blocks first.
        var scratch = [Float](repeating: 0, count: 8 * SoundFontSynth.blockSize)
        scratch.withUnsafeMutableBufferPointer { buffer in
            _ = fluid_synth_write_float(synth, Int32(4 * SoundFontSynth.blockSize), buffer.baseAddress, 0, 2, buffer.baseAddress, 1, 2)
        }
        let group: Int32 = -1  // all effect groups
        fluid_synth_set_reverb_group_roomsize(synth, group, composition.reverb.roomSize)
        fluid_synth_set_reverb_group_damp(synth, group, composition.reverb.damping)
        fluid_synth_set_reverb_group_width(synth, group, composition.reverb.width * 100)
        fluid_synth_set_reverb_group_level(synth, group, composition.reverb.level)
        for part in composition.parts {
            let channel = Int32(part.channel)
            let font = soundFonts[min(max(part.soundFont, 0), soundFonts.count - 1)]
            fluid_synth_program_select(synth, channel, font, Int32(part.bank), Int32(part.program))
            fluid_synth_cc(synth, channel, 7, Int32(part.volume))
            fluid_synth_cc(synth, channel, 10, Int32(part.pan))
            fluid_synth_cc(synth, channel, 91, Int32(part.reverbSend))
            fluid_synth_cc(synth, channel, 93, Int32(part.chorusSend))
        }

        let wanted = max(Int(composition.duration * Double(sampleRate)), 1)
        // fluidsynth renders in blocks of 64 frames and remembers where it is inside the
        // current block; rendering whole blocks keeps every track aligned the same way,
        // so a track sounds identical whatever was rendered before it.
        let frameCount = (wanted + SoundFontSynth.blockSize - 1) / SoundFontSynth.blockSize * SoundFontSynth.blockSize
        let lastBeat = composition.parts.flatMap { $0.notes.map { $0.start + $0.duration } }.max() ?? 0
        let clock = composition.clock(untilBeat: lastBeat)
        let events = ScheduledEvent.schedule(composition.parts, clock: clock, sampleRate: Double(sampleRate), frameCount: frameCount)
        var output = [Float](repeating: 0, count: frameCount * 2)
        output.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var frame = 0
            var next = 0
            while frame < frameCount {
                while next < events.count && events[next].frame <= frame {
                    let event = events[next]
                    if event.velocity > 0 {
                        fluid_synth_noteon(synth, event.channel, event.key, event.velocity)
                    } else {
                        fluid_synth_noteoff(synth, event.channel, event.key)
                    }
                    next += 1
                }
                let until = next < events.count ? min(events[next].frame, frameCount) : frameCount
                let length = Int32(until - frame)
                fluid_synth_write_float(synth, length, base, Int32(2 * frame), 2, base, Int32(2 * frame + 1), 2)
                frame = until
            }
        }
        output.removeLast(2 * (frameCount - wanted))
        return output
    }

    /// fluidsynth's internal block (FLUID_BUFSIZE).
    static let blockSize = 64
}

/// A note-on (velocity > 0) or note-off at a sample frame.
struct ScheduledEvent {
    var frame: Int
    var channel: Int32
    var key: Int32
    var velocity: Int32

    /// All events of the parts in time order; at equal times note-offs come first so that
    /// a repeated key re-strikes instead of being cut by its own previous note.
    static func schedule(_ parts: [Part], clock: BeatClock, sampleRate: Double, frameCount: Int) -> [ScheduledEvent] {
        var events: [ScheduledEvent] = []
        events.reserveCapacity(parts.reduce(0) { $0 + 2 * $1.notes.count })
        for part in parts {
            for note in part.notes {
                let on = Int((clock.seconds(atBeat: note.start) * sampleRate).rounded())
                guard on < frameCount else { continue }
                let off = max(Int((clock.seconds(atBeat: note.start + note.duration) * sampleRate).rounded()), on + 1)
                events.append(ScheduledEvent(frame: on, channel: Int32(part.channel), key: Int32(note.key), velocity: Int32(note.velocity)))
                events.append(ScheduledEvent(frame: off, channel: Int32(part.channel), key: Int32(note.key), velocity: 0))
            }
        }
        events.sort { $0.frame != $1.frame ? $0.frame < $1.frame : $0.velocity < $1.velocity }
        return events
    }
}
