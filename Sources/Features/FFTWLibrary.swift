import CFFTW

/// The FFTW that computes the STFT, for `timbre info --system`.
public enum FFTWLibrary {
    /// FFTW's own version string, with the SIMD it was built for ("fftw-3.3.10-sse2-avx-avx2-avx2_128").
    public static var version: String { String(cString: timbre_fftwf_version()) }
}
