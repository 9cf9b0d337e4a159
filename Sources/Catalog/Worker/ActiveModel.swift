import Foundation
import Tagger

/// The model the worker tags with: its catalog row and its loaded bundle.
public struct LoadedModel {
    public let version: ModelVersion
    public let bundle: ModelBundle
}

public enum ActiveModelError: Error, CustomStringConvertible {
    case noModel(searched: [String])
    case unreadable(path: String, version: String, reason: String)
    case labelsDiffer(version: String, catalog: [String], file: [String])

    public var description: String {
        switch self {
        case let .noModel(searched):
            return "no model to tag with: the catalog has no active model and there is no model file at "
                + searched.joined(separator: " or ")
                + ". Train one with `timbre train` (see the README: it writes models/default/model.safetensors), "
                + "or point at one with --model PATH or $TIMBRE_MODEL"
        case let .unreadable(path, version, reason):
            return "the active model \(version) at \(path) cannot be loaded (\(reason)); restore the file or promote another model"
        case let .labelsDiffer(version, catalog, file):
            return "model \(version): the catalog lists labels \(catalog) but its file has \(file); register the file as a new version"
        }
    }
}

/// Finds the active model, registering and promoting the shipped default when the catalog has none.
public enum ActiveModel {
    /// The catalog's active model; else `defaultPath` (when the file exists) registered as
    /// version "default-<first 12 hex digits of its SHA-256>" and promoted. Several workers
    /// starting at once agree: the version name is the file's content, and a lost race to
    /// register or promote finds the winner's row.
    public static func load(models: ModelRepository, defaultPath: String?, searched: [String]? = nil) throws -> LoadedModel {
        if let active = try models.active() { return try open(active) }
        guard let defaultPath, FileManager.default.fileExists(atPath: defaultPath) else {
            throw ActiveModelError.noModel(searched: searched ?? [defaultPath].compactMap { $0 })
        }
        let path = URL(fileURLWithPath: defaultPath).standardizedFileURL.resolvingSymlinksInPath().path
        let version = "default-" + String(try fileDigest(path).hexString.prefix(12))
        let bundle: ModelBundle
        do { bundle = try ModelBundle.read(from: path) } catch {
            throw ActiveModelError.unreadable(path: path, version: version, reason: "\(error)")
        }
        var row = try models.find(version: version)
        if row == nil {
            do {
                row = try models.register(version: version, filePath: path, labels: bundle.labels,
                                          metrics: #"{"source": "shipped default"}"#)
            } catch {
                // Another worker registered the same file a moment earlier.
                guard let existing = try models.find(version: version) else { throw error }
                row = existing
            }
        }
        guard let row else { throw ActiveModelError.noModel(searched: [path]) }
        if let active = try models.active() { return try open(active) }
        do { try models.promote(id: row.id) } catch {
            if let active = try models.active() { return try open(active) }
            throw error
        }
        guard let active = try models.active() else { throw ActiveModelError.noModel(searched: [path]) }
        return active.id == row.id ? try checked(LoadedModel(version: active, bundle: bundle)) : try open(active)
    }

    static func open(_ version: ModelVersion) throws -> LoadedModel {
        do {
            return try checked(LoadedModel(version: version, bundle: try ModelBundle.read(from: version.filePath)))
        } catch let error as ActiveModelError {
            throw error
        } catch {
            throw ActiveModelError.unreadable(path: version.filePath, version: version.version, reason: "\(error)")
        }
    }

    static func checked(_ model: LoadedModel) throws -> LoadedModel {
        guard model.version.labels == model.bundle.labels else {
            throw ActiveModelError.labelsDiffer(version: model.version.version, catalog: model.version.labels, file: model.bundle.labels)
        }
        return model
    }

    /// SHA-256 of the whole file, read in 1 MiB blocks.
    static func fileDigest(_ path: String) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CatalogError.fileSystem(path: path, message: "cannot open the model file")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let block = try handle.read(upToCount: 1 << 20) ?? Data()
            if block.isEmpty { break }
            hasher.update([UInt8](block))
        }
        return hasher.finalize()
    }
}
