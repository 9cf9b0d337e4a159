import Foundation

/// The Free Music Archive's metadata (`fma_metadata/tracks.csv`): three header rows
/// (`,album,…,track,…` / `,comments,…,genre_top,genres_all,…` / `track_id,,…`), audio at
/// `<audio dir>/<id/1000 as %03d>/<id as %06d>.mp3`. The tags are `track.genre_top`, plus the
/// names of `track.genres_all` when `genres.csv` sits beside `tracks.csv`.
enum FMA {
    static func isTracksHeader(_ rows: [[String]]) -> Bool {
        rows.count >= 3 && rows[0].first == "" && rows[0].contains("track")
            && rows[1].contains("genre_top") && rows[2].first == "track_id"
    }

    static func tracks(rows: [[String]], file: String, audioDirectory: String?) throws(LabelError) -> [LabeledTrack] {
        func column(_ group: String, _ name: String) -> Int? {
            rows[0].indices.first { rows[0][$0] == group && rows[1][$0] == name }
        }
        guard let top = column("track", "genre_top") else {
            throw LabelError(file: file, problems: ["FMA tracks.csv without a track.genre_top column"])
        }
        let all = column("track", "genres_all")
        let genreNames = readGenreNames(besides: file)
        var tracks: [LabeledTrack] = []
        var problems: [String] = []
        for (index, row) in rows.enumerated().dropFirst(3) where row.count > top {
            guard let id = Int(row[0]) else { problems.append("line \(index + 1): track id \(row[0]) is not a number"); continue }
            var tags = [normalizeTag(row[top])]
            if let all, row.count > all, let names = genreNames {
                let ids = row[all].split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
                tags += ids.compactMap { names[$0] }.map(normalizeTag)
            }
            tags = LabelTable.uniqueTags(tags)
            if tags.isEmpty { continue }  // FMA leaves genre_top empty for many tracks: they are unlabelled, not wrong
            let path = String(format: "%03d/%06d.mp3", id / 1000, id)
            if let dir = audioDirectory, !FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(path)) {
                continue  // tracks.csv covers the full archive; a subset (fma_small) holds only some files
            }
            tracks.append(LabeledTrack(path: path, tags: tags))
        }
        guard problems.isEmpty else { throw LabelError(file: file, problems: problems) }
        if tracks.isEmpty { throw LabelError(file: file, problems: ["no labelled FMA track has its audio file under the audio directory"]) }
        return tracks
    }

    /// `genres.csv`: `genre_id,#tracks,parent,title,top_level`.
    private static func readGenreNames(besides file: String) -> [Int: String]? {
        let path = ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent("genres.csv")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let rows = CSV.parse(text)
        guard let header = rows.first, let idColumn = header.firstIndex(of: "genre_id"),
              let titleColumn = header.firstIndex(of: "title") else { return nil }
        var names: [Int: String] = [:]
        for row in rows.dropFirst() where row.count > max(idColumn, titleColumn) {
            if let id = Int(row[idColumn]) { names[id] = row[titleColumn] }
        }
        return names
    }
}
