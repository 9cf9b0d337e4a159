import Foundation

/// `manifest.json`, the archive's first entry: what made the backup, the catalog's schema
/// version, its row counts, and every file in the archive with its size and SHA-256.
public struct BackupManifest: Codable, Sendable, Equatable {
    public static let formatName = "timbre-backup"
    public static let currentFormatVersion = 1
    /// The archive entry holding `pg_dump --format=custom` output.
    public static let catalogEntry = "catalog.dump"
    /// The build that writes backups; there is no other version number in Timbre yet.
    public static let timbreVersion = "0.1.0"

    public struct Migration: Codable, Sendable, Equatable {
        public let version: Int
        public let name: String
        public let checksum: String
    }

    public struct Schema: Codable, Sendable, Equatable {
        /// The highest applied migration.
        public let version: Int
        public let migrations: [Migration]
    }

    public struct Postgres: Codable, Sendable, Equatable {
        public let serverVersion: String
        public let dumpedWith: String
        public let dumpMajor: Int
        enum CodingKeys: String, CodingKey { case serverVersion = "server_version", dumpedWith = "dumped_with", dumpMajor = "dump_major" }
    }

    /// A file in the archive.
    public struct Entry: Codable, Sendable, Equatable {
        public let name: String
        public let size: UInt64
        public let sha256: String
    }

    /// A `models` row and the archive file holding its bytes.
    public struct Model: Codable, Sendable, Equatable {
        public let id: Int64
        public let version: String
        public let state: String
        /// `models.file_path` where the backup was made.
        public let originalPath: String
        public let file: String
        public let size: UInt64
        public let sha256: String
        enum CodingKeys: String, CodingKey { case id, version, state, originalPath = "original_path", file, size, sha256 }
    }

    public let format: String
    public let formatVersion: Int
    public let timbreVersion: String
    public let createdAt: Date
    /// Where the catalog was: "embedded cluster in …" or the URL without its password.
    public let source: String
    public let schema: Schema
    public let postgres: Postgres
    /// Rows per table of the `public` schema, counted in the dump's snapshot.
    public let tables: [String: Int64]
    public let models: [Model]
    /// `catalog.dump` first, then each model file once.
    public let entries: [Entry]

    enum CodingKeys: String, CodingKey {
        case format, formatVersion = "format_version", timbreVersion = "timbre_version", createdAt = "created_at", source,
             schema, postgres, tables, models, entries
    }

    public var catalog: Entry? { entries.first { $0.name == Self.catalogEntry } }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return Array(try encoder.encode(self)) + [UInt8(ascii: "\n")]
    }

    static func decoded(_ bytes: [UInt8], path: String) throws -> BackupManifest {
        // The format first, so that a newer layout is named as such rather than as damage.
        struct Header: Decodable {
            let format: String?
            let formatVersion: Int?
            enum CodingKeys: String, CodingKey { case format, formatVersion = "format_version" }
        }
        guard let header = try? JSONDecoder().decode(Header.self, from: Data(bytes)), header.format == formatName else {
            throw BackupError.notABackup(path: path, reason: "its manifest.json is not a Timbre backup manifest")
        }
        if let version = header.formatVersion, version > currentFormatVersion {
            throw BackupError.formatTooNew(path: path, version: version)
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(BackupManifest.self, from: Data(bytes))
        } catch {
            throw BackupError.corrupt(path: path, reason: "its manifest.json cannot be read (\(error))")
        }
    }
}
