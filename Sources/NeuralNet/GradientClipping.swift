import Foundation

/// Scales all gradients together so their global L2 norm is at most `maxNorm`, as
/// `torch.nn.utils.clip_grad_norm_` (norm_type 2): coefficient = maxNorm / (norm + 1e-6),
/// clamped to at most 1, applied to every gradient. Returns the norm before clipping.
///
/// Like torch, a non-finite norm (a NaN or infinite gradient) is returned as is and the
/// gradients become NaN or zero; a trainer should check the result and skip such a step.
@discardableResult
public func clipGradNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
    var sumOfSquares = 0.0
    for parameter in parameters {
        parameter.grad.data.withUnsafeBufferPointer { g in
            for value in g { sumOfSquares += Double(value) * Double(value) }
        }
    }
    let norm = Float(sumOfSquares.squareRoot())
    let coefficient = maxNorm / (norm + 1e-6)  // an infinite norm gives 0, a NaN norm NaN
    let clamped = coefficient.isNaN ? coefficient : min(coefficient, 1)
    guard clamped != 1 else { return norm }  // multiplying by 1 changes nothing
    for parameter in parameters {
        parameter.grad.data.withUnsafeMutableBufferPointer { g in
            for i in g.indices { g[i] *= clamped }
        }
    }
    return norm
}
