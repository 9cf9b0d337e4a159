import NeuralNet

/// Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
/// Gradient-based Localization", ICCV 2017) for one label of a tagging network.
///
/// With A the output of a convolutional stage (default: the last one), (B, K, h, w), and y the
/// label's logit (before the sigmoid): channel weights αₖ = mean over (h, w) of ∂y/∂Aₖ, the map
/// is ReLU(Σₖ αₖ·Aₖ), (B, h, w), then resized to the input's (n_mels, frames) grid bilinearly
/// (`BilinearResize`, as `F.interpolate(mode="bilinear", align_corners=False)`). The network
/// runs in evaluation mode (running statistics, no dropout), through its general tap
/// (`forward(_:tappingStage:)`, `backwardToTap`); chunks of a batch are independent there, so
/// one backward from the sum of the chunks' logits gives every chunk's own gradient. The
/// reference is `grad_cam` in `tools/golden/make_model_fixtures.py` (PyTorch autograd).
public enum GradCAM {
    public struct Maps: Sendable {
        /// Index into the network's `stageNames`.
        public var stage: Int
        /// The label's logit for every chunk, (B).
        public var logits: [Float]
        /// The maps at the stage's resolution, (B, h, w) row-major.
        public var coarse: [Float]
        public var coarseHeight: Int, coarseWidth: Int
        /// The maps on the input grid, (B, H, W) row-major.
        public var upsampled: [Float]
        public var height: Int, width: Int
    }

    /// - Parameters:
    ///   - input: (B, C, H, W), normalised as the network expects.
    ///   - label: index of the logit to explain.
    ///   - stage: index into `network.stageNames`; nil for the last convolutional stage.
    /// Leaves the network's parameter gradients at zero.
    public static func maps(network: any TaggingNetwork, input: Tensor, label: Int, stage: Int? = nil) throws(ShapeError) -> Maps {
        let stage = stage ?? network.stageNames.count - 1
        let tapped = try network.forward(input, tappingStage: stage)
        let batch = input.shape[0], genres = tapped.output.logits.shape[1]
        guard (0..<genres).contains(label) else {
            throw ShapeError("GradCAM: label \(label) is not one of the network's \(genres) outputs")
        }
        var seed = Tensor(zeros: [batch, genres])
        for b in 0..<batch { seed.data[b * genres + label] = 1 }
        let gradient = try network.backwardToTap(seed)
        network.zeroGrad()
        let A = tapped.activation
        let (K, h, w) = (A.shape[1], A.shape[2], A.shape[3]), plane = h * w
        var coarse = [Float](repeating: 0, count: batch * plane)
        A.data.withUnsafeBufferPointer { a in
            gradient.data.withUnsafeBufferPointer { g in
                for b in 0..<batch {
                    for k in 0..<K {
                        let offset = (b * K + k) * plane
                        var alpha: Float = 0
                        for p in 0..<plane { alpha += g[offset + p] }
                        alpha /= Float(plane)
                        for p in 0..<plane { coarse[b * plane + p] += alpha * a[offset + p] }
                    }
                }
            }
        }
        for i in coarse.indices { coarse[i] = max(0, coarse[i]) }
        let (H, W) = (input.shape[2], input.shape[3])
        let upsampled = try BilinearResize.resize(coarse, planes: batch, height: h, width: w, toHeight: H, width: W)
        return Maps(stage: stage, logits: (0..<batch).map { tapped.output.logits.data[$0 * genres + label] },
                    coarse: coarse, coarseHeight: h, coarseWidth: w, upsampled: upsampled, height: H, width: W)
    }
}
