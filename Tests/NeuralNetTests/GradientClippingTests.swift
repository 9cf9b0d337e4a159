import XCTest
@testable import NeuralNet

final class GradientClippingTests: XCTestCase {
    func testMatchesClipGradNorm() throws {
        let fixture = try ModelFixtures.load("clip")
        for kind in ["clipped", "unclipped"] {
            let parameters = try (0..<2).map { i in
                let grad = try fixture.tensor(named: "\(kind).grad_in.\(i)")
                let parameter = Parameter(name: "p\(i)", value: Tensor(zeros: grad.shape))
                parameter.grad = grad
                return parameter
            }
            let maxNorm = try fixture.tensor(named: "\(kind).max_norm").data[0]
            let norm = clipGradNorm(parameters, maxNorm: maxNorm)
            let expected = try fixture.tensor(named: "\(kind).norm").data[0]
            XCTAssertEqual(norm, expected, accuracy: 1e-6 * expected, kind)
            for (i, parameter) in parameters.enumerated() {
                assertClose(parameter.grad, try fixture.tensor(named: "\(kind).grad_out.\(i)"), rel: 1e-6, "\(kind) grad \(i)")
            }
        }
    }

    func testNonFiniteGradientIsReported() throws {
        let parameter = Parameter(name: "p", value: Tensor(zeros: [2]))
        parameter.grad = try Tensor(shape: [2], data: [.nan, 1])
        XCTAssertTrue(clipGradNorm([parameter], maxNorm: 1).isNaN)
    }
}
