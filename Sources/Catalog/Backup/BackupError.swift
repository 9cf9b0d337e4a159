/// What can go wrong making or restoring a backup, each case saying what to do.
public enum BackupError: Error, CustomStringConvertible, Sendable {
    case clientMissing(tool: String, searched: [String])
    case clientTooOld(tool: String, found: String, needed: Int, purpose: String)
    case clientFailed(tool: String, status: Int32, output: String)
    case destinationExists(path: String)
    /// Each missing file as "version at path".
    case modelFilesMissing([String])
    case notACatalog(target: String)
    case catalogNewerThanBinary(version: Int, name: String, known: Int)
    case backupNewerThanBinary(version: Int, name: String, known: Int)
    case migrationDiffers(version: Int, name: String)
    case formatTooNew(path: String, version: Int)
    case notABackup(path: String, reason: String)
    case truncated(path: String, reason: String)
    case corrupt(path: String, reason: String)
    case targetHasData(target: String, contents: String)
    case othersConnected(target: String, count: Int)
    case restoreFailed(target: String, output: String)
    case restoredCatalogDiffers(reason: String)

    public var description: String {
        switch self {
        case let .clientMissing(tool, searched):
            return "\(tool) was not found (looked in \(searched.joined(separator: ", ")), …): "
                + "install the PostgreSQL client programs (apt-get install postgresql-client-15)"
        case let .clientTooOld(tool, found, needed, purpose):
            return "\(tool) must be from PostgreSQL \(needed) or newer to \(purpose), but the newest found is \(found): "
                + "install postgresql-client-\(needed)"
        case let .clientFailed(tool, status, output):
            return "\(tool) failed (exit status \(status)): \(output.trimmed)"
        case let .destinationExists(path):
            return "\(path) exists already; pass --force to replace it, or choose another file"
        case let .modelFilesMissing(models):
            return "the catalog references model files that are missing or unreadable: \(models.joined(separator: "; ")). "
                + "Put each file back where the catalog says (or remove that version's row) and back up again"
        case let .notACatalog(target):
            return "\(target) holds no Timbre catalog (no schema_migrations table); run `timbre db migrate` or check the database URL"
        case let .catalogNewerThanBinary(version, name, known):
            return "the catalog is at migration \(version) (\(name)), newer than this timbre, which knows migrations up to \(known): "
                + "back it up with the newer timbre that migrated it"
        case let .backupNewerThanBinary(version, name, known):
            return "the backup's catalog is at migration \(version) (\(name)), newer than this timbre, which knows migrations up to \(known): "
                + "restore it with a timbre at least as new as the one that made it"
        case let .migrationDiffers(version, name):
            return "the backup's migration \(version) (\(name)) is not this timbre's file of that number: "
                + "restore it with the timbre that made it"
        case let .formatTooNew(path, version):
            return "\(path) is a backup of format \(version), newer than this timbre reads (\(BackupManifest.currentFormatVersion)): use a newer timbre"
        case let .notABackup(path, reason):
            return "\(path) is not a Timbre backup: \(reason)"
        case let .truncated(path, reason):
            return "\(path) is truncated: \(reason); nothing was restored. Use a complete copy of the backup"
        case let .corrupt(path, reason):
            return "\(path) is damaged: \(reason); nothing was restored. Use another copy of the backup"
        case let .targetHasData(target, contents):
            return "\(target) already holds a catalog (\(contents)); pass --force to replace it with the backup"
        case let .othersConnected(target, count):
            return "\(count) other Timbre process(es) (timbre serve, workers) are connected to \(target); stop them before restoring"
        case let .restoreFailed(target, output):
            return "restoring into \(target) failed and was rolled back (the catalog is as it was): \(output.trimmed)"
        case let .restoredCatalogDiffers(reason):
            return "the restored catalog does not match the backup: \(reason)"
        }
    }
}
