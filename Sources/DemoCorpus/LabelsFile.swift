import Foundation

/// `labels.csv`: header `path,tags`, then one row per track, the path relative to the CSV
/// and the tags `;`-separated in vocabulary order, quoted as RFC 4180 asks.
enum LabelsFile {
    static let header = "path,tags"

    struct Row: Equatable, Sendable {
        var path: String
        var tags: [String]
    }

    static func format(_ rows: [Row]) -> String {
        var text = header + "\n"
        for row in rows { text += quoted(row.path) + "," + quoted(row.tags.joined(separator: ";")) + "\n" }
        return text
    }

    /// The rows of an existing file; no file is an empty corpus.
    static func read(_ path: String) throws(DemoCorpusError) -> [Row] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw .labels(path: path, reason: "cannot be read as UTF-8 text; move it away to start the corpus afresh")
        }
        return try parse(text, path: path)
    }

    /// Writes through a temporary file and a rename, so a crash leaves the old file or the new one, never half of one.
    static func write(_ rows: [Row], to path: String) throws(DemoCorpusError) {
        do { try Data(format(rows).utf8).write(to: URL(fileURLWithPath: path), options: .atomic) }
        catch { throw .labels(path: path, reason: "cannot be written: \(error.localizedDescription)") }
    }

    static func parse(_ text: String, path: String) throws(DemoCorpusError) -> [Row] {
        let records = try splitRecords(text, path: path)
        guard let first = records.first, first == ["path", "tags"] else {
            throw .labels(path: path, reason: "does not start with the header `\(header)`; it is not a demo corpus labels file")
        }
        var rows: [Row] = []
        for (number, fields) in records.dropFirst().enumerated() {
            if fields == [""] { continue }
            guard fields.count == 2, !fields[0].isEmpty else {
                throw .labels(path: path, reason: "row \(number + 2) has \(fields.count) fields, expected `path,tags`")
            }
            rows.append(Row(path: fields[0], tags: fields[1].split(separator: ";").map(String.init)))
        }
        return rows
    }

    static func quoted(_ field: String) -> String {
        "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// RFC 4180 records: fields split on commas, quotes may hold commas, newlines and doubled quotes.
    static func splitRecords(_ text: String, path: String) throws(DemoCorpusError) -> [[String]] {
        var records: [[String]] = []
        var fields: [String] = []
        var field = ""
        var inQuotes = false
        var characters = Array(text).makeIterator()
        var pending: Character? = nil
        while let character = pending ?? characters.next() {
            pending = nil
            if inQuotes {
                if character == "\"" {
                    if let following = characters.next() {
                        if following == "\"" { field.append("\"") } else { inQuotes = false; pending = following }
                    } else { inQuotes = false }
                } else { field.append(character) }
                continue
            }
            switch character {
            case "\"": inQuotes = true
            case ",": fields.append(field); field = ""
            case "\n", "\r\n", "\r":
                fields.append(field); records.append(fields); fields = []; field = ""
            default: field.append(character)
            }
        }
        guard !inQuotes else { throw .labels(path: path, reason: "ends inside a quoted field; the file is truncated") }
        if !field.isEmpty || !fields.isEmpty { fields.append(field); records.append(fields) }
        return records
    }
}
