import CFFTW
import Foundation

/// FFTW's planner is not thread-safe (only `fftwf_execute*` is), so every plan creation
/// and destruction in the process goes through this one lock.
private let fftwPlannerLock = NSLock()

/// Single-precision real FFT of one size, on FFTW. Forward is r2c (`n` reals to `n/2+1`
/// complex, unnormalised, as numpy's `rfft`); inverse is c2r (unnormalised: divide by `n`
/// to get numpy's `irfft`).
///
/// The plans are made once per size (see `shared(size:)`) and executed with the new-array
/// functions (`fftwf_execute_dft_r2c` / `_c2r`), which are thread-safe, so any number of
/// threads may share one instance as long as each passes its own `FFTWBuffer`s.
/// `FFTW_ESTIMATE` is used so that planning is quick and the chosen algorithm, and hence
/// the rounding of every result, is the same in every process.
final class RealFFT: @unchecked Sendable {
    let size: Int
    private let forwardPlan: OpaquePointer
    private let inversePlan: OpaquePointer

    private init?(size: Int) {
        self.size = size
        // Plans are made on fftwf_malloc'd arrays so that the SIMD alignment of the buffers
        // later passed to the new-array execute functions matches the plan's.
        let real = FFTWBuffer(count: size)
        let complex = FFTWBuffer(count: 2 * (size / 2 + 1))
        let flags = UInt32(FFTW_ESTIMATE)
        fftwPlannerLock.lock()
        defer { fftwPlannerLock.unlock() }
        let forward = complex.withComplexPointer { c in
            fftwf_plan_dft_r2c_1d(Int32(size), real.pointer, c, flags)
        }
        let inverse = complex.withComplexPointer { c in
            fftwf_plan_dft_c2r_1d(Int32(size), c, real.pointer, flags | UInt32(FFTW_DESTROY_INPUT))
        }
        guard let forward, let inverse else {
            if let forward { fftwf_destroy_plan(forward) }
            if let inverse { fftwf_destroy_plan(inverse) }
            return nil
        }
        forwardPlan = forward
        inversePlan = inverse
    }

    deinit {
        fftwPlannerLock.lock()
        fftwf_destroy_plan(forwardPlan)
        fftwf_destroy_plan(inversePlan)
        fftwPlannerLock.unlock()
    }

    /// `spectrum` (2*(n/2+1) floats, interleaved re/im) = rfft(`input`) (n floats).
    /// Both buffers must come from `FFTWBuffer` (for alignment).
    func forward(_ input: FFTWBuffer, _ spectrum: FFTWBuffer) {
        spectrum.withComplexPointer { c in fftwf_execute_dft_r2c(forwardPlan, input.pointer, c) }
    }

    /// `output` (n floats) = n · irfft(`spectrum`). Destroys `spectrum`.
    func inverse(_ spectrum: FFTWBuffer, _ output: FFTWBuffer) {
        spectrum.withComplexPointer { c in fftwf_execute_dft_c2r(inversePlan, c, output.pointer) }
    }

    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var cache: [Int: RealFFT] = [:]

    /// The process-wide instance for `size`, planned on first use. Cached plans live for the
    /// process (one per size in use, a few kilobytes each). Returns nil if FFTW cannot plan.
    static func shared(size: Int) -> RealFFT? {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let fft = cache[size] { return fft }
        guard let fft = RealFFT(size: size) else { return nil }
        cache[size] = fft
        return fft
    }
}

/// Floats from `fftwf_malloc` (SIMD-aligned), zero-filled, freed by their one owner on
/// deinit. Not shared between threads: each computation allocates its own scratch buffers.
final class FFTWBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        let bytes = max(1, count) * MemoryLayout<Float>.stride
        guard let raw = fftwf_malloc(bytes) else {
            // Out of memory: as for any Swift allocation, there is nothing sensible to do.
            fatalError("fftwf_malloc(\(bytes)) failed: out of memory")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    deinit { fftwf_free(pointer) }

    var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }

    /// The same memory seen as FFTW's interleaved complex numbers (`float[2]`).
    func withComplexPointer<R>(_ body: (UnsafeMutablePointer<fftwf_complex>) -> R) -> R {
        body(UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: fftwf_complex.self))
    }
}
