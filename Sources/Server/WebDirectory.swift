import Foundation

/// Finds the static web UI: `explicit`, else `$TIMBRE_WEB`, else a `web/` folder holding
/// index.html in the executable's folder or any folder above it (a checkout's `.build/…`
/// binary finds the repository's), else `share/timbre/web` beside an installed `bin/`.
public enum WebDirectory {
    public static func locate(explicit: String? = nil,
                              environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        if let explicit { return URL(fileURLWithPath: explicit) }
        if let path = environment["TIMBRE_WEB"], !path.isEmpty { return URL(fileURLWithPath: path) }
        var folder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        while folder.path != "/" {
            for candidate in [folder.appendingPathComponent("web"), folder.appendingPathComponent("share/timbre/web")]
            where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("index.html").path) {
                return candidate
            }
            folder.deleteLastPathComponent()
        }
        return nil
    }
}
