import Foundation

/// Everything `timbre writeback` refuses or fails at, each saying what to do.
public enum WritebackError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The library's owner has not switched write-back on.
    case notEnabled(libraryID: Int64, root: String)
    case invalidArgument(String)
    /// The file's size or mtime differ from what the last scan stored.
    case changedSinceScan(path: String, detail: String)
    /// Writing, verifying or replacing one file failed; the original is as it was.
    case fileFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notEnabled(id, root):
            return "library \(id) (\(root)) does not allow writing tags into its files; "
                + "switch it on with `timbre library set \(id) --writeback on`"
        case let .invalidArgument(message):
            return message
        case let .changedSinceScan(path, detail):
            return "\(path) changed since the last scan (\(detail)); not written. Run `timbre scan` first, then write back again"
        case let .fileFailed(path, reason):
            return "\(path): \(reason); the file was left as it was"
        }
    }
}
