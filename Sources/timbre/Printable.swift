/// A file name or message as it may be printed on a terminal: control characters (a newline
/// in a file name, an escape sequence) are written as Swift escapes, so a name cannot break a
/// line of output or drive the terminal. Everything else, non-ASCII letters included, is kept.
func printable(_ text: String) -> String {
    var result = ""
    result.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case "\\": result += "\\\\"
        default:
            if scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) || scalar.properties.generalCategory == .format
                && !(0x200c...0x200d).contains(scalar.value) {
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
    }
    return result
}
