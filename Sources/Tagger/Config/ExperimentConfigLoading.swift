import Foundation

extension ExperimentConfig {
    /// `configs/NAME.yaml` over the defaults.
    public static func load(_ path: String) throws -> ExperimentConfig {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(source: path, problems: ["cannot be read"])
        }
        return try ConfigLayering.load(yaml: text, over: ExperimentConfig(), source: path)
    }
}
