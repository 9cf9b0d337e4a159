import Foundation

/// A teacher's track embeddings (`timbre soft-labels --embeddings-out FILE`): one row per audio
/// file, `path,e0,e1,…`, every vector of the same length. Rows are L2-normalised on reading, so
/// only their directions (what cosine similarity ranks) count.
public struct TeacherEmbeddingTable: Sendable, Equatable {
    public var dimension: Int
    /// Per path, the unit vector.
    public var rows: [String: [Float]]

    public init(dimension: Int, rows: [String: [Float]]) { self.dimension = dimension; self.rows = rows }

    /// Reads one file; every problem is reported at once, with its line.
    public static func read(csvAt file: String) throws(LabelError) -> TeacherEmbeddingTable {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw LabelError(file: file, problems: ["cannot be read as UTF-8 text"])
        }
        let table = CSV.parse(text)
        guard let header = table.first else { throw LabelError(file: file, problems: ["is empty"]) }
        guard let first = header.first?.trimmingCharacters(in: .whitespaces).lowercased(), first == "path", header.count >= 2 else {
            throw LabelError(file: file, problems: ["line 1: the header must be path,e0,e1,… (the path, then one column per embedding dimension); found \(header.prefix(4))"])
        }
        let dimension = header.count - 1
        var rows: [String: [Float]] = [:]
        var problems: [String] = []
        for (index, row) in table.enumerated().dropFirst() {
            let line = index + 1
            if row.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            guard row.count == header.count else {
                problems.append("line \(line): \(row.count) columns, the header has \(header.count)")
                continue
            }
            let path = row[0].trimmingCharacters(in: .whitespaces)
            if path.isEmpty { problems.append("line \(line): empty path"); continue }
            if rows[path] != nil { problems.append("line \(line): \(path) is listed twice"); continue }
            let values = row.dropFirst().map { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard values.allSatisfy({ $0?.isFinite == true }) else {
                problems.append("line \(line): every value must be a finite number")
                continue
            }
            let vector = values.map { $0! }
            let norm = vector.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0 else { problems.append("line \(line): the vector is all zeros (no direction)"); continue }
            rows[path] = vector.map { $0 / norm }
        }
        if rows.isEmpty && problems.isEmpty { problems.append("no data rows after the header") }
        guard problems.isEmpty else { throw LabelError(file: file, problems: problems) }
        return TeacherEmbeddingTable(dimension: dimension, rows: rows)
    }

    /// The CSV `read` reads (six significant digits).
    public static func csvText(dimension: Int, rows: [(path: String, vector: [Float])]) -> String {
        var text = (["path"] + (0..<dimension).map { "e\($0)" }).joined(separator: ",") + "\n"
        for row in rows {
            text += ([SoftLabelTable.csvField(row.path)] + row.vector.map { String(format: "%.6g", $0) }).joined(separator: ",") + "\n"
        }
        return text
    }
}
