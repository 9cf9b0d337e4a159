import CMpg123
import CSndFile

/// The versions of the C libraries AudioIO decodes with, for `timbre info --system`.
public enum AudioLibraries {
    /// libsndfile's own version string ("libsndfile-1.2.0"); libmpg123 1.31 has no run-time
    /// version call (`mpg123_libversion` arrived in 1.32), so its header's API version stands in;
    /// TagLib's C API has none.
    public static var versions: [String: String] {
        [
            "libsndfile": String(cString: sf_version_string()),
            "libmpg123": "API \(MPG123_API_VERSION) (header)",
        ]
    }
}
