import Foundation

/// Soft targets for distillation (`timbre prepare --soft-labels FILE`): a wide CSV, one row per
/// audio file, a column per tag, each value a probability in [0, 1] — typically a teacher
/// model's predictions (`timbre soft-labels`). The header is `path,<tag>,<tag>,…`; an empty
/// cell is an unknown value (the tag is not learnt from that track).
///
/// A file listed here but not in the hard labels is prepared too, as a track whose hard tags
/// are unknown: it teaches only the soft tags. Soft tags are separate outputs: a name may not
/// also be a hard tag (prefix them, as `timbre soft-labels --prefix mtt:` does).
public struct SoftLabelTable: Sendable, Equatable {
    /// The tag columns, in file order (normalised as hard tags are).
    public var labels: [String]
    /// Per path, the known values.
    public var rows: [String: [String: Float]]

    public init(labels: [String], rows: [String: [String: Float]]) { self.labels = labels; self.rows = rows }

    /// Reads one file; every problem is reported at once, with its line.
    public static func read(csvAt file: String) throws(LabelError) -> SoftLabelTable {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw LabelError(file: file, problems: ["cannot be read as UTF-8 text"])
        }
        let table = CSV.parse(text)
        guard let header = table.first else { throw LabelError(file: file, problems: ["is empty"]) }
        let names = header.map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = names.first?.lowercased(), ["path", "file", "filename"].contains(first), names.count >= 2 else {
            throw LabelError(file: file, problems: ["line 1: the header must be path,<tag>,<tag>,… (the first column the path, then one column per soft tag); found \(header)"])
        }
        let labels = names.dropFirst().map(normalizeTag)
        var problems: [String] = []
        var seenLabels = Set<String>()
        for (column, label) in labels.enumerated() {
            if label.isEmpty { problems.append("line 1: column \(column + 2) has no tag name") }
            else if !seenLabels.insert(label).inserted { problems.append("line 1: the tag \(label) is a column twice") }
        }
        var rows: [String: [String: Float]] = [:]
        var firstLine: [String: Int] = [:]
        for (index, row) in table.enumerated().dropFirst() {
            let line = index + 1
            if row.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            guard row.count == names.count else {
                problems.append("line \(line): \(row.count) columns, the header has \(names.count)")
                continue
            }
            let path = row[0].trimmingCharacters(in: .whitespaces)
            if path.isEmpty { problems.append("line \(line): empty path"); continue }
            if let earlier = firstLine[path] { problems.append("line \(line): \(path) is listed twice (first on line \(earlier))"); continue }
            firstLine[path] = line
            var values: [String: Float] = [:]
            for (column, cell) in row.dropFirst().enumerated() {
                let text = cell.trimmingCharacters(in: .whitespaces)
                if text.isEmpty { continue }
                guard let value = Float(text), value.isFinite, value >= 0, value <= 1 else {
                    problems.append("line \(line): \(labels[column]) is \(text), not a probability in [0, 1]")
                    continue
                }
                values[labels[column]] = value
            }
            rows[path] = values
        }
        if rows.isEmpty && problems.isEmpty { problems.append("no data rows after the header") }
        guard problems.isEmpty else { throw LabelError(file: file, problems: problems) }
        return SoftLabelTable(labels: labels, rows: rows)
    }

    /// Several files as one: their columns are united (first appearance order); a path in two
    /// files has both files' values; a tag given twice for a path is an error.
    public static func merged(_ tables: [(file: String, table: SoftLabelTable)]) throws(LabelError) -> SoftLabelTable {
        var labels: [String] = []
        var rows: [String: [String: Float]] = [:]
        var problems: [String] = []
        for (file, table) in tables {
            for label in table.labels where !labels.contains(label) { labels.append(label) }
            for (path, values) in table.rows {
                for (tag, value) in values {
                    if rows[path]?[tag] != nil { problems.append("\(file): \(path) gives \(tag) again (another soft-label file has it)") }
                    rows[path, default: [:]][tag] = value
                }
                if rows[path] == nil { rows[path] = [:] }
            }
        }
        guard problems.isEmpty else { throw LabelError(file: tables.map(\.file).joined(separator: ", "), problems: problems) }
        return SoftLabelTable(labels: labels, rows: rows)
    }

    /// Writes the wide CSV `read` reads (values with four decimals; an unknown value empty).
    public static func csvText(labels: [String], rows: [(path: String, values: [Float?])]) -> String {
        var text = (["path"] + labels).map(csvField).joined(separator: ",") + "\n"
        for row in rows {
            text += ([csvField(row.path)] + row.values.map { $0.map { String(format: "%.4f", $0) } ?? "" }).joined(separator: ",") + "\n"
        }
        return text
    }

    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
