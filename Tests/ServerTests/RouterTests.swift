@testable import Server
import XCTest

final class RouterTests: XCTestCase {
    func testRoutesMatchParametersAndAnswer404Or405() throws {
        var router = Router()
        router.add("GET", "/api/v1/tracks/{id}", access: .everyone) { request, _ in .text(request.parameters["id"] ?? "") }
        router.add("PUT", "/api/v1/tracks/{id}/tags", access: .everyone) { _, _ in .noContent() }
        guard case let .success((route, parameters)) = router.route(method: "GET", path: "/api/v1/tracks/12") else {
            return XCTFail("GET /api/v1/tracks/12 should match")
        }
        XCTAssertEqual(route.pattern, "/api/v1/tracks/{id}")
        XCTAssertEqual(parameters, ["id": "12"])
        guard case let .failure(notAllowed) = router.route(method: "DELETE", path: "/api/v1/tracks/12") else { return XCTFail("405 expected") }
        XCTAssertEqual(notAllowed.status, 405)
        XCTAssertEqual(notAllowed.headers.first?.1, "GET")
        guard case let .failure(missing) = router.route(method: "GET", path: "/api/v1/tracks/12/nothing") else { return XCTFail("404 expected") }
        XCTAssertEqual(missing.status, 404)
    }

    func testRangeHeadersParseAsRFC7233Says() {
        XCTAssertEqual(AudioFile.parse("bytes=0-99", size: 1000).map { [$0.0, $0.1] }, [0, 99])
        XCTAssertEqual(AudioFile.parse("bytes=900-", size: 1000).map { [$0.0, $0.1] }, [900, 999])
        XCTAssertEqual(AudioFile.parse("bytes=-100", size: 1000).map { [$0.0, $0.1] }, [900, 999])
        XCTAssertEqual(AudioFile.parse("bytes=990-5000", size: 1000).map { [$0.0, $0.1] }, [990, 999])
        XCTAssertNil(AudioFile.parse("bytes=1000-", size: 1000))
        XCTAssertNil(AudioFile.parse("bytes=5-2", size: 1000))
        XCTAssertNil(AudioFile.parse("bytes=0-1,5-6", size: 1000))
        XCTAssertNil(AudioFile.parse("items=0-1", size: 1000))
    }
}
