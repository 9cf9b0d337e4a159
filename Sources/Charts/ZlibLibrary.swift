import CZlib

/// The zlib that compresses PNGs, for `timbre info --system`.
public enum ZlibLibrary {
    public static var version: String { String(cString: zlibVersion()) }
}
