import Foundation

/// One audio file and its tags, the path relative to the corpus's audio directory.
public struct LabeledTrack: Sendable, Equatable, Codable {
    public var path: String
    public var tags: [String]
    public init(path: String, tags: [String]) { self.path = path; self.tags = tags }
}

/// Where a corpus's labels come from (`timbre prepare --labels FILE | --labels-from folders|tags`).
public enum LabelSource: Sendable, Equatable {
    /// `path,tags` CSV with `;`-separated tags, or FMA's `tracks.csv`.
    case csv(path: String)
    /// GTZAN layout: the folder directly below the audio directory is the tag (`rock/x.wav`).
    case folders
    /// The genre tag inside each file (ID3 TCON, Vorbis GENRE, …); several may be `;`-separated.
    case fileTags
}

/// Problems found in a label file, all of them at once, each with its line number.
public struct LabelError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var problems: [String]
    public init(file: String, problems: [String]) { self.file = file; self.problems = problems }

    public var description: String {
        let shown = problems.prefix(20).map { "  - \($0)" }.joined(separator: "\n")
        let more = problems.count > 20 ? "\n  … and \(problems.count - 20) more" : ""
        return "\(file): \(problems.count) problem\(problems.count == 1 ? "" : "s") in the labels:\n\(shown)\(more)\n"
            + "Fix the file (header `path,tags`, one row per audio file, tags separated by ';') and run again."
    }
}

/// Normalised tag spelling: trimmed, lower-case, inner spaces as single hyphens
/// ("Hip Hop" → "hip-hop"), so sources that spell a tag differently agree.
public func normalizeTag(_ raw: String) -> String {
    raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        .split(whereSeparator: { $0 == " " || $0 == "_" }).joined(separator: "-")
}

public enum LabelTable {
    /// Reads a `path,tags` CSV (RFC 4180 quoting; header required; the path column may be
    /// named `path`, `file` or `filename`, the tags column `tags`, `genres` or `genre`).
    /// FMA's `tracks.csv` (three header rows) is recognised and read through `fmaTracks`.
    /// - Parameter audioDirectory: when given, every path must name an existing file in it.
    public static func read(csvAt file: String, audioDirectory: String?) throws(LabelError) -> [LabeledTrack] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw LabelError(file: file, problems: ["cannot be read as UTF-8 text"])
        }
        let rows = CSV.parse(text)
        guard let header = rows.first else { throw LabelError(file: file, problems: ["is empty"]) }
        if FMA.isTracksHeader(rows) {
            return try FMA.tracks(rows: rows, file: file, audioDirectory: audioDirectory)
        }
        let names = header.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let pathColumn = names.firstIndex(where: { ["path", "file", "filename"].contains($0) }),
              let tagColumn = names.firstIndex(where: { ["tags", "genres", "genre"].contains($0) }) else {
            throw LabelError(file: file, problems: ["line 1: the header must name a path column (path/file/filename) and a tags column (tags/genres/genre); found \(header)"])
        }
        var problems: [String] = []
        var seen: [String: Int] = [:]
        var tracks: [LabeledTrack] = []
        for (index, row) in rows.enumerated().dropFirst() {
            let line = index + 1
            if row.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            guard row.count > max(pathColumn, tagColumn) else {
                problems.append("line \(line): \(row.count) columns, expected at least \(max(pathColumn, tagColumn) + 1)")
                continue
            }
            let path = row[pathColumn].trimmingCharacters(in: .whitespaces)
            let tags = uniqueTags(row[tagColumn].split(separator: ";").map { normalizeTag(String($0)) })
            if path.isEmpty { problems.append("line \(line): empty path"); continue }
            if tags.isEmpty { problems.append("line \(line): \(path) has no tags") }
            if let first = seen[path] { problems.append("line \(line): \(path) is listed twice (first on line \(first))") }
            seen[path] = seen[path] ?? line
            if let dir = audioDirectory, !FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(path)) {
                problems.append("line \(line): \(path) is not a file under \(dir)")
            }
            tracks.append(LabeledTrack(path: path, tags: tags))
        }
        if tracks.isEmpty && problems.isEmpty { problems.append("no data rows after the header") }
        guard problems.isEmpty else { throw LabelError(file: file, problems: problems) }
        return tracks
    }

    /// GTZAN layout: `DIR/<tag>/<file>`; files directly in DIR (no folder) are an error.
    public static func fromFolders(audioDirectory: String, files: [String]) throws(LabelError) -> [LabeledTrack] {
        var problems: [String] = []
        var tracks: [LabeledTrack] = []
        for path in files {
            let parts = path.split(separator: "/")
            guard parts.count >= 2 else { problems.append("\(path) is not inside a tag folder"); continue }
            tracks.append(LabeledTrack(path: path, tags: [normalizeTag(String(parts[0]))]))
        }
        guard problems.isEmpty else { throw LabelError(file: audioDirectory, problems: problems) }
        return tracks
    }

    static func uniqueTags(_ tags: [String]) -> [String] {
        var seen = Set<String>()
        return tags.filter { !$0.isEmpty && seen.insert($0).inserted }
    }
}

/// A small RFC 4180 reader: commas, double quotes with "" escapes, CRLF or LF.
enum CSV {
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func endRow() { row.append(field); field = ""; rows.append(row); row = [] }
        while let c = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; pending = next }
                    } else { quoted = false }
                } else { field.unicodeScalars.append(c) }
                continue
            }
            switch c {
            case "\"": quoted = true
            case ",": row.append(field); field = ""
            case "\r": break
            case "\n": endRow()
            default: field.unicodeScalars.append(c)
            }
        }
        if !field.isEmpty || !row.isEmpty { endRow() }
        return rows
    }
}
