import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// An SVG parsed with Foundation's XMLParser into a flat list of elements, so tests
/// check the chart as an XML reader sees it (well-formedness included).
struct SVGDocument {
    struct Element {
        let name: String
        let attributes: [String: String]
        /// Names of the enclosing elements' `class` attributes, outermost first.
        let classPath: [String]
        /// `data-name` of the enclosing series group, if any.
        let series: String?
        var text: String
    }

    private(set) var elements: [Element] = []

    init(_ svg: String) throws {
        let collector = Collector()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = collector
        guard parser.parse() else {
            throw ParseError(description: "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "unknown error") at line \(parser.lineNumber)")
        }
        elements = collector.elements
    }

    func all(_ name: String, inClass className: String? = nil) -> [Element] {
        elements.filter { $0.name == name && (className == nil || $0.classPath.contains(className!) || $0.attributes["class"] == className) }
    }

    struct ParseError: Error, CustomStringConvertible { let description: String }

    private final class Collector: NSObject, XMLParserDelegate {
        var elements: [Element] = []
        var stack: [(index: Int, className: String?, series: String?)] = []

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            let series = name == "g" && attributes["class"] == "series" ? attributes["data-name"] : stack.last?.series
            elements.append(Element(name: name, attributes: attributes, classPath: stack.compactMap(\.className), series: series, text: ""))
            stack.append((elements.count - 1, attributes["class"], series))
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            stack.removeLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if let top = stack.last { elements[top.index].text += string }
        }
    }
}
