import Foundation

/// `production.csv`, beside `labels.csv`: how each track was made, for whoever wants to
/// check that a tag does not follow a soundfont or a production choice. Header
/// `path,soundfonts,parts,production`; `soundfonts` the track's font file names (`;`-separated,
/// the main one first), `parts` `instrument=font` per part in channel order, `production`
/// `key=value;…` (EQ, compression, width, noise, reverb, loudness, encoding). A separate file,
/// so that `labels.csv` stays the plain `path,tags` that every reader of it expects.
enum ProductionFile {
    static let fileName = "production.csv"
    static let header = ["path", "soundfonts", "parts", "production"]

    struct Row: Equatable, Sendable {
        var path: String
        var soundFonts: [String]
        var parts: [String]
        var production: String
    }

    static func format(_ rows: [Row]) -> String {
        var text = header.joined(separator: ",") + "\n"
        for row in rows {
            text += [row.path, row.soundFonts.joined(separator: ";"), row.parts.joined(separator: ";"), row.production]
                .map(LabelsFile.quoted).joined(separator: ",") + "\n"
        }
        return text
    }

    /// The rows of an existing file; no file (a corpus of an earlier version) is no rows.
    static func read(_ path: String) throws(DemoCorpusError) -> [Row] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw .labels(path: path, reason: "cannot be read as UTF-8 text; move it away to start the corpus afresh")
        }
        return try parse(text, path: path)
    }

    static func write(_ rows: [Row], to path: String) throws(DemoCorpusError) {
        do { try Data(format(rows).utf8).write(to: URL(fileURLWithPath: path), options: .atomic) }
        catch { throw .labels(path: path, reason: "cannot be written: \(error.localizedDescription)") }
    }

    static func parse(_ text: String, path: String) throws(DemoCorpusError) -> [Row] {
        let records = try LabelsFile.splitRecords(text, path: path)
        guard let first = records.first, first == header else {
            throw .labels(path: path, reason: "does not start with the header `\(header.joined(separator: ","))`; it is not a demo corpus production file")
        }
        var rows: [Row] = []
        for (number, fields) in records.dropFirst().enumerated() {
            if fields == [""] { continue }
            guard fields.count == header.count, !fields[0].isEmpty else {
                throw .labels(path: path, reason: "row \(number + 2) has \(fields.count) fields, expected `\(header.joined(separator: ","))`")
            }
            func list(_ field: String) -> [String] { field.split(separator: ";").map(String.init) }
            rows.append(Row(path: fields[0], soundFonts: list(fields[1]), parts: list(fields[2]), production: fields[3]))
        }
        return rows
    }
}
