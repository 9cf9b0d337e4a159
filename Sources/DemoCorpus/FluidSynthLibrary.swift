import CFluidSynth

/// The libfluidsynth that renders the demo corpus, for `timbre info --system`.
public enum FluidSynthLibrary {
    public static var version: String { String(cString: fluid_version_str()) }
}
