import Foundation

/// A supported audio file found under a library root.
public struct FoundFile: Sendable {
    /// Relative to the root, '/'-separated.
    public let relativePath: String
    public let absolutePath: String
    public let size: Int64
    public let mtimeNanoseconds: Int64
}

/// Something the walk skipped, with the reason, for the scan report.
public struct SkippedEntry: Sendable, Equatable {
    public enum Reason: String, Sendable { case unreadable, outsideRoot, symlinkLoop, badName }
    public let relativePath: String
    public let reason: Reason
    public let message: String
}

/// Walks a folder tree with POSIX calls (one `fstatat` per entry), read-only.
///
/// Hidden entries (leading '.') and temporary files are skipped; symlinks are followed only
/// when their target lies inside the root; a directory reached twice (a symlink loop, or two
/// links to one folder) is walked once.
public struct FileWalker {
    public static let supportedExtensions: Set<String> = ["wav", "flac", "ogg", "oga", "opus", "aif", "aiff", "mp3"]
    public let root: String

    /// `root` must be canonical (see `LibraryRepository.canonicalPath`).
    public init(root: String) { self.root = root }

    public static func isTemporary(_ name: String) -> Bool {
        if name.hasPrefix("#") || name.hasPrefix("~$") || name.hasSuffix("~") { return true }
        let lower = name.lowercased()
        return [".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp"].contains { lower.hasSuffix($0) }
    }

    public static func isSupported(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return false }
        return supportedExtensions.contains(name[name.index(after: dot)...].lowercased())
    }

    public func walk(visit: (FoundFile) throws -> Void, skipped: (SkippedEntry) -> Void) throws {
        var rootInfo = stat()
        guard stat(root, &rootInfo) == 0, (rootInfo.st_mode & S_IFMT) == S_IFDIR else {
            throw CatalogError.fileSystem(path: root, message: "the library folder is missing or not a folder (unmounted disk?)")
        }
        var visited: Set<DirectoryIdentity> = [DirectoryIdentity(rootInfo)]
        var pending: [String] = [""] // relative directory paths
        // Folders reached through a symlink wait until every real folder is walked, so a folder
        // is always recorded under its real path, whatever order readdir gives.
        var linked: [String] = []
        while let (relativeDirectory, viaLink) = pending.popLast().map({ ($0, false) }) ?? linked.popLast().map({ ($0, true) }) {
            let directoryPath = relativeDirectory.isEmpty ? root : root + "/" + relativeDirectory
            if viaLink {
                var info = stat()
                guard stat(directoryPath, &info) == 0, visited.insert(DirectoryIdentity(info)).inserted else {
                    skipped(SkippedEntry(relativePath: relativeDirectory, reason: .symlinkLoop, message: "folder reached twice; walked once"))
                    continue
                }
            }
            guard let directory = opendir(directoryPath) else {
                skipped(SkippedEntry(relativePath: relativeDirectory, reason: .unreadable, message: String(cString: strerror(errno))))
                continue
            }
            defer { closedir(directory) }
            let descriptor = dirfd(directory)
            while let entry = readdir(directory) {
                let nameBytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
                guard let first = nameBytes.first, first != UInt8(ascii: ".") else { continue } // hidden, '.', '..'
                guard let name = String(validating: nameBytes, as: UTF8.self) else {
                    skipped(SkippedEntry(relativePath: relativeDirectory + "/" + String(decoding: nameBytes, as: UTF8.self),
                                         reason: .badName, message: "the name is not UTF-8; rename it"))
                    continue
                }
                if Self.isTemporary(name) { continue }
                let relativePath = relativeDirectory.isEmpty ? name : relativeDirectory + "/" + name
                var info = stat()
                guard fstatat(descriptor, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                    skipped(SkippedEntry(relativePath: relativePath, reason: .unreadable, message: String(cString: strerror(errno))))
                    continue
                }
                let isLink = (info.st_mode & S_IFMT) == S_IFLNK
                if isLink {
                    let fullPath = root + "/" + relativePath
                    guard let target = realpath(fullPath, nil) else {
                        if Self.isSupported(name) {
                            skipped(SkippedEntry(relativePath: relativePath, reason: .unreadable,
                                                 message: "broken symlink: " + String(cString: strerror(errno))))
                        }
                        continue
                    }
                    let targetPath = String(cString: target)
                    free(target)
                    guard targetPath == root || targetPath.hasPrefix(root + "/") else {
                        skipped(SkippedEntry(relativePath: relativePath, reason: .outsideRoot,
                                             message: "links to \(targetPath), outside the library; not followed"))
                        continue
                    }
                    guard stat(targetPath, &info) == 0 else {
                        skipped(SkippedEntry(relativePath: relativePath, reason: .unreadable, message: String(cString: strerror(errno))))
                        continue
                    }
                }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    if isLink {
                        linked.insert(relativePath, at: 0)
                    } else if visited.insert(DirectoryIdentity(info)).inserted {
                        pending.append(relativePath)
                    } else {
                        skipped(SkippedEntry(relativePath: relativePath, reason: .symlinkLoop, message: "folder reached twice; walked once"))
                    }
                case S_IFREG where Self.isSupported(name):
                    try visit(FoundFile(relativePath: relativePath, absolutePath: root + "/" + relativePath, size: Int64(info.st_size),
                                        mtimeNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)))
                default:
                    continue
                }
            }
        }
    }
}

/// A directory's (device, inode): the same folder however it was reached.
private struct DirectoryIdentity: Hashable {
    let device: UInt64
    let inode: UInt64
    init(_ info: stat) { device = UInt64(info.st_dev); inode = UInt64(info.st_ino) }
}
