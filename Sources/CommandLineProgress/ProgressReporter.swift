import Foundation

/// Shows how far long CLI work has got, on stderr so stdout stays clean for results:
/// a bar redrawn in place on a terminal, plain lines (at most every 10 % or 5 s)
/// when stderr is a file or pipe, as in logs and CI.
///
/// Safe to call from several threads (files processed in parallel). Shared by the `timbre` and
/// `timbre-bench` executables.
public final class ProgressReporter: @unchecked Sendable {
    public enum Style {
        case bar, lines, silent
    }

    private let label: String
    private let total: Int?
    private let style: Style
    private let write: (String) -> Void
    private let lock = NSLock()
    private let start = DispatchTime.now()
    private var done = 0
    private var lastDrawn: UInt64 = 0
    private var lastReportedPercent = -1
    private var finished = false

    /// - Parameters:
    ///   - total: how many steps make 100 %; nil when unknown (a count is shown instead).
    ///   - style: nil picks a bar when stderr is a terminal, lines otherwise.
    ///   - write: where text goes; stderr by default.
    public init(label: String, total: Int?, style: Style? = nil, write: ((String) -> Void)? = nil) {
        self.label = label
        self.total = total.map { max($0, 0) }
        self.style = style ?? (isatty(STDERR_FILENO) == 1 ? .bar : .lines)
        self.write = write ?? { FileHandle.standardError.write(Data($0.utf8)) }
    }

    /// Records `steps` more steps done; `note` (e.g. the file just finished) is shown beside the count.
    public func advance(by steps: Int = 1, note: String? = nil) {
        lock.lock()
        defer { lock.unlock() }
        guard !finished else { return }
        done += steps
        let now = DispatchTime.now().uptimeNanoseconds
        switch style {
        case .silent:
            return
        case .bar:
            // Redrawing more than ~10 times a second only costs time.
            guard now - lastDrawn >= 100_000_000 || done == total else { return }
            lastDrawn = now
            write("\r\u{1B}[K" + barLine(note: note))
        case .lines:
            let percent = total.map { $0 > 0 ? done * 100 / $0 : 100 } ?? -1
            let stepDue = percent >= 0 && percent / 10 > lastReportedPercent / 10
            let timeDue = now - lastDrawn >= 5_000_000_000
            guard stepDue || timeDue else { return }
            lastDrawn = now
            lastReportedPercent = percent
            write(plainLine(note: note) + "\n")
        }
    }

    /// Ends the display: the bar is completed and followed by a newline; lines mode prints a summary.
    public func finish(note: String? = nil) {
        lock.lock()
        defer { lock.unlock() }
        guard !finished else { return }
        finished = true
        switch style {
        case .silent: return
        case .bar: write("\r\u{1B}[K" + barLine(note: note) + "\n")
        case .lines:
            // Skip the summary when the last line already said 100 %.
            if lastReportedPercent != 100 || note != nil { write(plainLine(note: note) + "\n") }
        }
    }

    private var elapsed: Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    private func barLine(note: String?) -> String {
        var line = label + " "
        if let total, total > 0 {
            let fraction = min(Double(done) / Double(total), 1)
            let width = 30
            let filled = Int(fraction * Double(width))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            line += "\(done)/\(total) \(Self.clock(elapsed))"
            if done > 0 && done < total {
                line += " eta \(Self.clock(elapsed / Double(done) * Double(total - done)))"
            }
        } else {
            line += "\(done) \(Self.clock(elapsed))"
        }
        if let note { line += "  " + note }
        return line
    }

    private func plainLine(note: String?) -> String {
        var line = "\(label): \(done)"
        if let total { line += "/\(total) (\(total > 0 ? done * 100 / total : 100)%)" }
        line += " after \(Self.clock(elapsed))"
        if let note { line += " — " + note }
        return line
    }

    /// `m:ss` (or `h:mm:ss`) for a duration in seconds.
    public static func clock(_ seconds: Double) -> String {
        let whole = max(0, Int(seconds.rounded()))
        let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
    }
}
