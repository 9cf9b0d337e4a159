import CMicroHTTPD

/// The libmicrohttpd the server answers HTTP with, for `timbre info --system`.
public enum MicroHTTPDLibrary {
    public static var version: String { String(cString: MHD_get_version()) }
}
