/// Bilinear resizing of planes, as PyTorch's `F.interpolate(mode="bilinear", align_corners=False)`
/// with an output size (no `scale_factor`): output pixel centres are mapped back onto the input,
/// `src = (dst + ½)·(in / out) − ½`, clamped at 0, and the two neighbours on each axis are
/// mixed linearly (the last row and column repeat at the far edge). Forward only: it is a
/// picture operation here (upsampling a class-activation map), not a layer.
public enum BilinearResize {
    /// `input` is (N, H, W) row-major, the result (N, outHeight, outWidth).
    public static func resize(_ input: [Float], planes: Int, height: Int, width: Int,
                              toHeight outHeight: Int, width outWidth: Int) throws(ShapeError) -> [Float] {
        guard planes >= 0, height > 0, width > 0, outHeight > 0, outWidth > 0 else {
            throw ShapeError("BilinearResize: sizes must be positive, got \(planes) planes of \(height)×\(width) → \(outHeight)×\(outWidth)")
        }
        guard input.count == planes * height * width else {
            throw ShapeError("BilinearResize: \(input.count) values given for \(planes) planes of \(height)×\(width)")
        }
        let rows = taps(input: height, output: outHeight), columns = taps(input: width, output: outWidth)
        var out = [Float](repeating: 0, count: planes * outHeight * outWidth)
        input.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { y in
                for p in 0..<planes {
                    let src = x.baseAddress! + p * height * width, dst = y.baseAddress! + p * outHeight * outWidth
                    for (oh, r) in rows.enumerated() {
                        let top = src + r.low * width, bottom = src + r.high * width
                        for (ow, c) in columns.enumerated() {
                            let upper = c.lowWeight * top[c.low] + c.highWeight * top[c.high]
                            let lower = c.lowWeight * bottom[c.low] + c.highWeight * bottom[c.high]
                            dst[oh * outWidth + ow] = r.lowWeight * upper + r.highWeight * lower
                        }
                    }
                }
            }
        }
        return out
    }

    struct Tap { let low: Int; let high: Int; let lowWeight: Float; let highWeight: Float }

    /// For every output index: the two input indices and their weights (PyTorch's
    /// `area_pixel_compute_source_index` and `compute_indices_weights_linear`, in float).
    static func taps(input: Int, output: Int) -> [Tap] {
        let scale = Float(input) / Float(output)
        return (0..<output).map { o in
            let source = max(0, scale * (Float(o) + 0.5) - 0.5)
            let low = min(Int(source), input - 1)
            let high = low < input - 1 ? low + 1 : low
            let lambda = min(1, source - Float(low))
            return Tap(low: low, high: high, lowWeight: 1 - lambda, highWeight: lambda)
        }
    }
}
