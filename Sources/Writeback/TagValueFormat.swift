import Foundation

/// How Timbre's tags are spelled in a file: a template with `{tags}` once, the labels joined
/// by "; " (`Timbre: {tags}` → `Timbre: rock; electric-guitar`). The text around `{tags}` is
/// also how a value is recognised as Timbre's own, which write-back may replace without
/// `--replace`; a template with no text around `{tags}` recognises only the values the catalog
/// records having written.
public struct TagValueFormat: Sendable, Equatable {
    public static let defaultTemplate = "Timbre: {tags}"
    public static let separator = "; "

    public let template: String
    public let prefix: String
    public let suffix: String

    public init(_ template: String = TagValueFormat.defaultTemplate) throws(WritebackError) {
        let parts = template.components(separatedBy: "{tags}")
        guard parts.count == 2 else {
            throw .invalidArgument("--format \(template): put {tags} in it exactly once, e.g. '\(Self.defaultTemplate)'")
        }
        self.template = template
        prefix = parts[0]
        suffix = parts[1]
    }

    public func render(_ labels: [String]) -> String {
        prefix + labels.joined(separator: Self.separator) + suffix
    }

    /// Whether `value` has this format's shape (never, for a bare `{tags}`).
    public func matches(_ value: String) -> Bool {
        guard !prefix.isEmpty || !suffix.isEmpty else { return false }
        return value.utf8.count >= prefix.utf8.count + suffix.utf8.count && value.hasPrefix(prefix) && value.hasSuffix(suffix)
    }
}
