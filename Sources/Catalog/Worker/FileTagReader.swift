import AudioIO
import Foundation

/// The crawler's `metadataReader`: a file's own tags (title, artist, album, genre, year) and
/// its duration and format, through TagLib without decoding the audio. The file is opened
/// read-only by descriptor, confined to its library (`ReadOnlyFile(path:confinedTo:)`), and
/// TagLib reads that descriptor: nothing opens the path for writing, nor by path again.
public enum FileTagReader {
    /// nil when the file's tags cannot be read; the track keeps NULLs then and is still tagged.
    public static let read: TrackMetadataReader = { path, libraryRoot in
        guard let tags = try? AudioMetadata.read(file: ReadOnlyFile(path: path, confinedTo: libraryRoot)) else { return nil }
        return TrackMetadata(format: tags.format, durationSeconds: tags.duration.isFinite && tags.duration >= 0 ? tags.duration : nil,
                             title: cleaned(tags.title), artist: cleaned(tags.artist), album: cleaned(tags.album),
                             genre: cleaned(tags.genre), year: tags.year.flatMap { $0 > 0 ? $0 : nil })
    }

    /// Empty tags are absent tags; PostgreSQL text cannot hold NUL.
    static func cleaned(_ value: String?) -> String? {
        guard let value else { return nil }
        let text = value.replacingOccurrences(of: "\u{0}", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}
