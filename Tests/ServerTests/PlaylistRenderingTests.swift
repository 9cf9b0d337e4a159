import Service
import XCTest

/// How `Playlist` writes M3U8: framing, #EXTINF names and durations, the three path styles.
final class PlaylistRenderingTests: XCTestCase {
    func entry(_ id: Int64, _ path: String, seconds: Double?, artist: String? = nil, title: String? = nil) -> PlaylistEntry {
        PlaylistEntry(trackID: id, absolutePath: "/music/lib/" + path, libraryPath: path, durationSeconds: seconds, artist: artist, title: title)
    }

    func testM3U8LinesInOrderWithEachPathStyle() {
        let playlist = Playlist(entries: [
            entry(1, "a/One.flac", seconds: 184.5, artist: "Ærø", title: "Ünïcode"),
            entry(2, "b/two.mp3", seconds: nil),
            entry(3, "b/three.ogg", seconds: 12.4, title: "Only\ta\ntitle"),
            entry(4, "bad\nname.flac", seconds: 3),
        ])
        XCTAssertEqual(playlist.m3u8(paths: .absolute), """
            #EXTM3U
            #EXTINF:185,Ærø - Ünïcode
            /music/lib/a/One.flac
            #EXTINF:-1,two
            /music/lib/b/two.mp3
            #EXTINF:12,Only a title
            /music/lib/b/three.ogg

            """)
        XCTAssertEqual(playlist.unrepresentable.map(\.trackID), [4], "a path with a line break cannot be written")
        XCTAssertEqual(playlist.m3u8(paths: .library).split(separator: "\n").filter { !$0.hasPrefix("#") },
                       ["a/One.flac", "b/two.mp3", "b/three.ogg"])
        XCTAssertEqual(playlist.m3u8(paths: .relative(to: "/music/lists")).split(separator: "\n").filter { !$0.hasPrefix("#") },
                       ["../lib/a/One.flac", "../lib/b/two.mp3", "../lib/b/three.ogg"])
    }

    func testRelativePaths() {
        XCTAssertEqual(Playlist.relativePath("/music/a/b.flac", from: "/music/a"), "b.flac")
        XCTAssertEqual(Playlist.relativePath("/music/a/b.flac", from: "/music/a/"), "b.flac")
        XCTAssertEqual(Playlist.relativePath("/music/a/b.flac", from: "/"), "music/a/b.flac")
        XCTAssertEqual(Playlist.relativePath("/music/a/b.flac", from: "/home/me/lists"), "../../../music/a/b.flac")
        XCTAssertEqual(Playlist.relativePath("/music/ab/c.flac", from: "/music/a"), "../ab/c.flac", "components, not characters")
    }
}
