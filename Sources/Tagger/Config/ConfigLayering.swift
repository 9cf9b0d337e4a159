import Foundation
import Yams

/// A YAML file layered over a typed default: keys the file leaves out keep their
/// default, keys the defaults don't know are an error (a typo such as `learnig_rate`
/// must not be silently ignored), and the result is the typed value.
///
/// It works on the JSON form of the type (its `Codable` keys), so every config type
/// needs only its defaults and its coding keys, not a hand-written decoder.
public enum ConfigLayering {
    public static func load<T: Codable>(yaml: String, over defaults: T, source: String) throws(ConfigError) -> T {
        let loaded: Any?
        do { loaded = try Yams.load(yaml: yaml) } catch {
            throw ConfigError(source: source, problems: ["not valid YAML: \(error)"])
        }
        guard let overrides = loaded.map(jsonCompatible) ?? [String: Any]() as Any?,
              let overrideTable = overrides as? [String: Any] else {
            throw ConfigError(source: source, problems: ["the top level must be a mapping of keys to values"])
        }
        return try apply(overrideTable, over: defaults, source: source)
    }

    /// Applies key → value overrides (already JSON-compatible; `NSNull` sets an optional to nil)
    /// to `defaults`.
    public static func apply<T: Codable>(_ overrides: [String: Any], over defaults: T, source: String) throws(ConfigError) -> T {
        let base = try jsonObject(defaults, source: source)
        let merged = merge(overrides, into: base)
        let value: T
        do {
            let data = try JSONSerialization.data(withJSONObject: merged)
            value = try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ConfigError(source: source, problems: ["\(key): expected a value of type \(type)"])
        } catch let DecodingError.dataCorrupted(context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ConfigError(source: source, problems: ["\(key): \(context.debugDescription)"])
        } catch {
            throw ConfigError(source: source, problems: ["\(error)"])
        }
        // A key the type does not know is dropped by decoding: find the overrides that did not
        // survive the round trip. (Defaults alone can't tell, as nil optionals are not encoded.)
        var problems: [String] = []
        findUnknown(overrides, in: try jsonObject(value, source: source), path: "", problems: &problems)
        guard problems.isEmpty else { throw ConfigError(source: source, problems: problems) }
        return value
    }

    /// Writes a config as YAML (sorted keys), e.g. the resolved `config.yaml` of a run;
    /// optionals that are nil but not nil in `defaults` are written as `null`, so loading the
    /// file over the same defaults gives the same value back.
    public static func yaml<T: Encodable>(_ value: T, over defaults: T) throws -> String {
        let object = addNulls(try jsonObject(value, source: "config"), defaults: try jsonObject(defaults, source: "defaults"))
        return try Yams.dump(object: nativeScalars(object), sortKeys: true)
    }

    /// JSONSerialization's numbers as Swift `Bool`, `Int`, `UInt64` or `Double`: Yams writes any
    /// `NSNumber` as a 7-digit float, so `true` became `1.0e+0` (which does not load back as a
    /// Bool) and a large seed lost digits. A JSON boolean is the NSNumber of type `c`.
    private static func nativeScalars(_ value: Any) -> Any {
        switch value {
        case let table as [String: Any]: return table.mapValues(nativeScalars)
        case let list as [Any]: return list.map(nativeScalars)
        case let number as NSNumber:
            switch UInt8(bitPattern: number.objCType.pointee) {
            case UInt8(ascii: "c"), UInt8(ascii: "B"): return number.boolValue
            case UInt8(ascii: "d"), UInt8(ascii: "f"): return number.doubleValue
            case UInt8(ascii: "Q"), UInt8(ascii: "L"), UInt8(ascii: "I"), UInt8(ascii: "S"), UInt8(ascii: "C"): return number.uint64Value
            default: return number.int64Value
            }
        default: return value
        }
    }

    private static func jsonObject<T: Encodable>(_ value: T, source: String) throws(ConfigError) -> [String: Any] {
        do {
            let data = try JSONEncoder().encode(value)
            guard let table = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ConfigError(source: source, problems: ["a configuration must encode as a mapping"])
            }
            return table
        } catch let error as ConfigError { throw error } catch {
            throw ConfigError(source: source, problems: ["cannot encode: \(error)"])
        }
    }

    private static func merge(_ overrides: [String: Any], into base: [String: Any]) -> [String: Any] {
        var result = base
        for (key, value) in overrides {
            if let table = value as? [String: Any], let baseTable = base[key] as? [String: Any] {
                result[key] = merge(table, into: baseTable)
            } else {
                result[key] = value
            }
        }
        return result
    }

    private static func findUnknown(_ overrides: [String: Any], in decoded: [String: Any], path: String, problems: inout [String]) {
        for (key, value) in overrides.sorted(by: { $0.key < $1.key }) {
            let name = path.isEmpty ? key : "\(path).\(key)"
            if let table = value as? [String: Any], let decodedTable = decoded[key] as? [String: Any] {
                findUnknown(table, in: decodedTable, path: name, problems: &problems)
            } else if decoded[key] == nil && !(value is NSNull) {
                problems.append("\(name): unknown key (known here: \(decoded.keys.sorted().joined(separator: ", ")))")
            }
        }
    }

    private static func addNulls(_ value: [String: Any], defaults: [String: Any]) -> [String: Any] {
        var result = value
        for (key, defaultValue) in defaults {
            if let table = value[key] as? [String: Any], let defaultTable = defaultValue as? [String: Any] {
                result[key] = addNulls(table, defaults: defaultTable)
            } else if value[key] == nil {
                result[key] = NSNull()
            }
        }
        return result
    }

    /// YAML scalars as JSON scalars: Yams gives Int/Double/Bool/String, arrays and mappings.
    private static func jsonCompatible(_ value: Any) -> Any {
        switch value {
        case let table as [String: Any]: return table.mapValues(jsonCompatible)
        case let table as [AnyHashable: Any]:
            return Dictionary(uniqueKeysWithValues: table.map { ("\($0.key)", jsonCompatible($0.value)) })
        case let list as [Any]: return list.map(jsonCompatible)
        default: return value
        }
    }
}

public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public var source: String
    public var problems: [String]
    public var description: String {
        "\(source): invalid configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}
