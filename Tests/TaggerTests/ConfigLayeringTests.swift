import XCTest
@testable import Tagger

final class ConfigLayeringTests: XCTestCase {
    struct Inner: Codable, Equatable { var patience = 5; var metric = "pr_auc_macro" }
    struct Sample: Codable, Equatable {
        var epochs = 30
        var learning_rate: Double = 1e-3
        var schedule: String? = "cosine"
        var early_stopping = Inner()
        var blocks = [2, 3, 2]
    }

    func testFileOverridesOnlyWhatItNames() throws {
        let yaml = """
        epochs: 5
        early_stopping:
          patience: 2
        blocks: [1, 1]
        """
        let config = try ConfigLayering.load(yaml: yaml, over: Sample(), source: "x.yaml")
        XCTAssertEqual(config, Sample(epochs: 5, learning_rate: 1e-3, schedule: "cosine",
                                      early_stopping: Inner(patience: 2, metric: "pr_auc_macro"), blocks: [1, 1]))
    }

    func testEmptyFileGivesDefaults() throws {
        XCTAssertEqual(try ConfigLayering.load(yaml: "", over: Sample(), source: "x"), Sample())
    }

    /// A repeated key is a clear error naming the key (the parser refuses it), never a trap and
    /// never "the last one wins".
    func testRepeatedKeysAreReportedNotATrap() {
        let yaml = """
        epochs: 5
        early_stopping:
          patience: 2
          patience: 3
        """
        XCTAssertThrowsError(try ConfigLayering.load(yaml: yaml, over: Sample(), source: "d.yaml")) {
            let problems = ($0 as? ConfigError)?.problems ?? []
            XCTAssertEqual(problems.count, 1, "\($0)")
            XCTAssertTrue(problems.first?.contains("duplicated key(s): 'patience'") ?? false, "\($0)")
        }
        XCTAssertThrowsError(try ConfigLayering.load(yaml: "epochs: 5\nepochs: 6\n", over: Sample(), source: "d.yaml"))
    }

    func testUnknownKeysAndWrongTypesAreReported() {
        XCTAssertThrowsError(try ConfigLayering.load(yaml: "epoch: 5\nearly_stopping: {patients: 1}", over: Sample(), source: "c.yaml")) {
            let problems = ($0 as? ConfigError)?.problems ?? []
            XCTAssertEqual(problems.count, 2)
            XCTAssertTrue(problems[0].hasPrefix("early_stopping.patients: unknown key"))
            XCTAssertTrue(problems[1].hasPrefix("epoch: unknown key"))
        }
        XCTAssertThrowsError(try ConfigLayering.load(yaml: "epochs: many", over: Sample(), source: "c.yaml")) {
            XCTAssertEqual(($0 as? ConfigError)?.problems, ["epochs: expected a value of type Int"])
        }
        // An optional that defaults to nil can be set, and `null` clears one.
        struct WithOptional: Codable, Equatable { var fmax: Double? = nil; var top_db: Double? = 80 }
        XCTAssertEqual(try ConfigLayering.load(yaml: "fmax: 8000\ntop_db: null", over: WithOptional(), source: "o"),
                       WithOptional(fmax: 8000, top_db: nil))
        XCTAssertThrowsError(try ConfigLayering.load(yaml: "- a\n- b", over: Sample(), source: "c.yaml"))
        XCTAssertThrowsError(try ConfigLayering.load(yaml: "epochs: [1", over: Sample(), source: "c.yaml"))
    }

    func testYAMLRoundTrip() throws {
        let custom = Sample(epochs: 7, learning_rate: 0.5, schedule: nil, early_stopping: Inner(patience: 1, metric: "f1"), blocks: [3])
        let text = try ConfigLayering.yaml(custom, over: Sample())
        XCTAssertEqual(try ConfigLayering.load(yaml: text, over: Sample(), source: "roundtrip"), custom)
    }
}
