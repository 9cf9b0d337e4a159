import Catalog
import Foundation
import Logging

/// Watches every library's folders with inotify and asks for a scan of a library once its
/// folder has been quiet for `debounce` seconds after a change (a copy of an album is one
/// scan, not one per file). Folders created later are watched as they appear. inotify can
/// miss changes (an overflowing queue, network file systems, the watch limit): the server's
/// periodic full rescan is the safety net.
final class LibraryWatcher: @unchecked Sendable {
    private let descriptor: Int32
    private var libraryOfWatch: [Int32: (libraryID: Int64, path: String)] = [:]
    private var watchedLibraries: Set<Int64> = []
    private var pending: [Int64: Date] = [:]
    private let lock = NSLock()
    private let debounce: TimeInterval
    private let logger: Logger
    private let onChange: @Sendable (Int64) -> Void
    private var running = true

    /// nil when inotify is not available.
    init?(debounce: TimeInterval = 2, logger: Logger, onChange: @escaping @Sendable (Int64) -> Void) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        descriptor = fd
        self.debounce = debounce
        self.logger = logger
        self.onChange = onChange
    }

    deinit { close(descriptor) }

    /// Watches `library` (its root and every folder under it) unless it is watched already.
    func watch(_ library: Library) {
        guard lock.withLock({ watchedLibraries.insert(library.id).inserted }) else { return }
        addTree(library.rootPath, libraryID: library.id)
    }

    private func addTree(_ root: String, libraryID: Int64) {
        var stack = [root]
        var count = 0
        while let folder = stack.popLast() {
            let mask = UInt32(IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_ONLYDIR | IN_DONT_FOLLOW)
            let watch = inotify_add_watch(descriptor, folder, mask)
            guard watch >= 0 else {
                if errno == ENOSPC { logger.warning("inotify watch limit reached at \(folder); the periodic rescan covers the rest") }
                continue
            }
            count += 1
            lock.withLock { libraryOfWatch[watch] = (libraryID, folder) }
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            for entry in entries where !entry.hasPrefix(".") {
                let path = folder + "/" + entry
                var info = stat()
                if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { stack.append(path) }
            }
        }
        logger.info("watching \(count) folders of library \(libraryID) (\(root))")
    }

    /// Reads events until `stop`; call on a thread of its own.
    func run() {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        while lock.withLock({ running }) {
            if poll(&poller, 1, 250) > 0 {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count > 0 { handle(buffer, count: count) }
            }
            let now = Date()
            let due = lock.withLock { () -> [Int64] in
                let ready = pending.filter { now.timeIntervalSince($0.value) >= debounce }.map(\.key)
                for id in ready { pending.removeValue(forKey: id) }
                return ready
            }
            for id in due { onChange(id) }
        }
    }

    func stop() { lock.withLock { running = false } }

    private func handle(_ buffer: [UInt8], count: Int) {
        var offset = 0
        let header = MemoryLayout<inotify_event>.size
        while offset + header <= count {
            let (watch, mask, length) = buffer.withUnsafeBytes { raw -> (Int32, UInt32, Int) in
                let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                return (event.wd, event.mask, Int(event.len))
            }
            let nameBytes = buffer[(offset + header)..<min(count, offset + header + length)].prefix { $0 != 0 }
            offset += header + length
            if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                // Events were lost: rescan everything watched.
                lock.withLock { for id in watchedLibraries { pending[id] = Date() } }
                continue
            }
            guard let owner = lock.withLock({ libraryOfWatch[watch] }) else { continue }
            let name = String(decoding: nameBytes, as: UTF8.self)
            if name.hasPrefix(".") { continue }
            if mask & UInt32(IN_ISDIR) != 0, mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 {
                addTree(owner.path + "/" + name, libraryID: owner.libraryID)
            }
            if mask & UInt32(IN_IGNORED) != 0 { lock.withLock { _ = libraryOfWatch.removeValue(forKey: watch) } }
            lock.withLock { pending[owner.libraryID] = Date() }
        }
    }
}
