import Foundation

/// One node of a Subsonic answer. The same tree is written as JSON or as XML (`f=json|xml`), by
/// the rules Subsonic servers follow: in XML a scalar field is an attribute, an object field a
/// child element named after the field, a list field one child element per item, and a scalar
/// field named `value` the element's text (JSON `{"value": "Rock", "songCount": 3}` is XML
/// `<genre songCount="3">Rock</genre>`).
indirect enum SubsonicValue: Sendable {
    case string(String)
    case integer(Int64)
    case number(Double)
    case boolean(Bool)
    case object(SubsonicObject)
    case list([SubsonicValue])

    static func int(_ value: Int) -> SubsonicValue { .integer(Int64(value)) }
}

/// Fields in the order they are written (clients don't care; people reading answers do).
struct SubsonicObject: Sendable {
    private(set) var fields: [(key: String, value: SubsonicValue)] = []

    init() {}

    /// Fields whose value is nil are left out (Subsonic omits what it does not know).
    init(_ fields: KeyValuePairs<String, SubsonicValue?>) {
        for (key, value) in fields { set(key, value) }
    }

    mutating func set(_ key: String, _ value: SubsonicValue?) {
        guard let value else { return }
        if let index = fields.firstIndex(where: { $0.key == key }) { fields[index].value = value } else { fields.append((key, value)) }
    }

    subscript(key: String) -> SubsonicValue? { fields.first { $0.key == key }?.value }
}

/// Writes a tree as JSON or XML.
enum SubsonicEncoder {
    static func json(root name: String, _ object: SubsonicObject) -> [UInt8] {
        var out = "{"
        appendJSONString(name, to: &out)
        out += ":"
        appendJSON(.object(object), to: &out)
        out += "}"
        return Array(out.utf8)
    }

    static func xml(root name: String, namespace: String, _ object: SubsonicObject) -> [UInt8] {
        var out = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        appendXMLElement(name, object, extraAttributes: [("xmlns", namespace)], to: &out)
        out += "\n"
        return Array(out.utf8)
    }

    // MARK: JSON

    private static func appendJSON(_ value: SubsonicValue, to out: inout String) {
        switch value {
        case let .string(text): appendJSONString(text, to: &out)
        case let .integer(number): out += String(number)
        case let .number(number): out += number.isFinite ? formatted(number) : "null"
        case let .boolean(flag): out += flag ? "true" : "false"
        case let .object(object):
            out += "{"
            for (index, field) in object.fields.enumerated() {
                if index > 0 { out += "," }
                appendJSONString(field.key, to: &out)
                out += ":"
                appendJSON(field.value, to: &out)
            }
            out += "}"
        case let .list(items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                appendJSON(item, to: &out)
            }
            out += "]"
        }
    }

    /// The shortest decimal that reads back as the same Double (Swift's own description).
    private static func formatted(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? String(format: "%.1f", number) : "\(number)"
    }

    private static func appendJSONString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        out += "\""
    }

    // MARK: XML

    private static func appendXMLElement(_ name: String, _ object: SubsonicObject, extraAttributes: [(String, String)] = [],
                                         to out: inout String) {
        out += "<" + name
        for (key, value) in extraAttributes { out += " \(key)=\"\(escapedXML(value))\"" }
        var text: String?
        var children: [(String, SubsonicValue)] = []
        for (key, value) in object.fields {
            switch value {
            case .object, .list: children.append((key, value))
            default:
                if key == "value" { text = scalarText(value) } else { out += " \(key)=\"\(escapedXML(scalarText(value)))\"" }
            }
        }
        if children.isEmpty, text == nil {
            out += "/>"
            return
        }
        out += ">"
        if let text { out += escapedXML(text) }
        for (key, value) in children { appendXMLChild(key, value, to: &out) }
        out += "</\(name)>"
    }

    private static func appendXMLChild(_ name: String, _ value: SubsonicValue, to out: inout String) {
        switch value {
        case let .object(object): appendXMLElement(name, object, to: &out)
        case let .list(items): for item in items { appendXMLChild(name, item, to: &out) }
        default: out += "<\(name)>\(escapedXML(scalarText(value)))</\(name)>"
        }
    }

    private static func scalarText(_ value: SubsonicValue) -> String {
        switch value {
        case let .string(text): return text
        case let .integer(number): return String(number)
        case let .number(number): return number.isFinite ? formatted(number) : "NaN"
        case let .boolean(flag): return flag ? "true" : "false"
        case .object, .list: return ""
        }
    }

    /// XML 1.0 cannot hold most control characters at all: they are dropped.
    private static func escapedXML(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n": out += "&#10;"
            case "\t": out += "&#9;"
            case "\r": out += "&#13;"
            default:
                if scalar.value >= 0x20, scalar.value != 0xFFFE, scalar.value != 0xFFFF { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }
}
