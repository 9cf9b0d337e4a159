#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AudioIO
import Foundation

/// Where a Timbre server answers: `http://host[:port][/prefix]`, parsed once.
public struct ServerAddress: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: UInt16
    /// The path before `/api/v1/…` (empty, or `/timbre` behind a proxy that adds one).
    public let prefix: String

    /// Accepts `http://host:port`, with or without a trailing `/`, a path prefix, or the whole
    /// predict URL (`…/api/v1/analysis/predict`). `https://` is refused with a message: the
    /// built-in client speaks plain HTTP, as `timbre serve` does.
    public init(_ text: String) throws(RemoteInferenceError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased() else {
            throw .invalidServer(text, reason: "not a URL; give one like http://timbre.local:8000")
        }
        guard scheme == "http" else {
            throw .invalidServer(text, reason: scheme == "https"
                ? "https is not supported: `timbre serve` speaks plain HTTP, so give its own http:// address (in a cluster, its Service)"
                : "the scheme must be http, not \(scheme)")
        }
        var host = components.percentEncodedHost ?? ""
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw .invalidServer(text, reason: "there is no host name in it") }
        guard components.user == nil, components.password == nil else {
            throw .invalidServer(text, reason: "pass the API key with --api-key (or the *_KEY variable), not in the URL")
        }
        let port = components.port ?? 80
        guard (1...65535).contains(port) else { throw .invalidServer(text, reason: "port \(port) is out of range") }
        var path = components.percentEncodedPath
        for suffix in ["/api/v1/analysis/predict", "/"] where path.hasSuffix(suffix) { path.removeLast(suffix.count) }
        while path.hasSuffix("/") { path.removeLast() }
        self.host = host
        self.port = UInt16(port)
        prefix = path
    }

    /// The address as it is shown in messages and answers: `http://host:port[/prefix]`.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "http://\(shownHost):\(port)\(prefix)"
    }
}

/// A request body: bytes in memory, or a file read with `pread` (so a retry reads it again from
/// the start and a long track is never held in memory whole).
public enum RequestBody: Sendable {
    case bytes([UInt8])
    case file(ReadOnlyFile)

    public var count: Int64 {
        switch self {
        case let .bytes(bytes): return Int64(bytes.count)
        case let .file(file): return file.size
        }
    }
}

public struct HTTPRequest: Sendable {
    public var method: String
    /// Path and query, e.g. `/api/v1/analysis/predict?embedding=true`.
    public var target: String
    public var headers: [(name: String, value: String)]
    public var body: RequestBody

    public init(method: String, target: String, headers: [(name: String, value: String)], body: RequestBody) {
        self.method = method; self.target = target; self.headers = headers; self.body = body
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names lower-cased.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status; self.headers = headers; self.body = body
    }
}

/// Why a request got no HTTP answer.
public enum TransportError: Error, Sendable, CustomStringConvertible, Equatable {
    /// No connection: refused, unreachable, the name did not resolve.
    case connect(String)
    /// No connection within the connect timeout, or no whole answer within the total one.
    case timedOut(String)
    /// The connection broke, or the answer was not HTTP.
    case broken(String)
    /// The request could not even be sent (the body's file failed to read).
    case body(String)

    public var description: String {
        switch self {
        case let .connect(reason), let .timedOut(reason), let .broken(reason), let .body(reason): return reason
        }
    }
}

public struct HTTPTimeouts: Sendable, Equatable {
    /// Seconds to get a TCP connection.
    public var connect: TimeInterval
    /// Seconds from the start of the attempt to the last byte of the answer.
    public var total: TimeInterval

    public init(connect: TimeInterval, total: TimeInterval) {
        self.connect = connect; self.total = total
    }
}

/// Sends one request and reads its answer; the remote client retries on top. Tests plug in a
/// fake one.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest, to server: ServerAddress, timeouts: HTTPTimeouts) throws(TransportError) -> HTTPResponse
}

/// HTTP/1.1 over a plain TCP socket, one connection per request (`Connection: close`), every
/// wait bounded: a non-blocking `connect` polled for at most the connect timeout, then every read
/// and write polled against the attempt's deadline. We use this rather than FoundationNetworking's
/// URLSession because URLSession on Linux has no connect timeout (only an idle one) and would add
/// libcurl to what the binary loads; `timbre serve` speaks plain HTTP, which is all this needs.
public struct SocketHTTPTransport: HTTPTransport {
    /// The largest answer read (a prediction with its embedding is a few kilobytes).
    public var maximumAnswerBytes = 16 << 20

    public init() {}

    public func send(_ request: HTTPRequest, to server: ServerAddress, timeouts: HTTPTimeouts) throws(TransportError) -> HTTPResponse {
        let started = monotonic()
        let deadline = started + timeouts.total
        let socket = try connect(server, until: min(deadline, started + timeouts.connect), total: timeouts)
        defer { close(socket) }

        var head = "\(request.method) \(server.prefix)\(request.target) HTTP/1.1\r\n"
        let shownHost = server.host.contains(":") ? "[\(server.host)]" : server.host
        head += "Host: \(shownHost):\(server.port)\r\n"
        for (name, value) in request.headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(request.body.count)\r\nConnection: close\r\n\r\n"
        do throws(TransportError) {
            try write(Array(head.utf8), to: socket, until: deadline, timeout: timeouts.total)
            try writeBody(request.body, to: socket, until: deadline, timeout: timeouts.total)
        } catch {
            // The server may have answered before reading everything (413 for a body over its
            // limit) and closed: that answer is the one to report.
            if case .broken = error, let early = try? readResponse(socket, until: min(deadline, monotonic() + 1), timeout: timeouts.total) {
                return early
            }
            throw error
        }
        return try readResponse(socket, until: deadline, timeout: timeouts.total)
    }

    // MARK: Connecting

    private func connect(_ server: ServerAddress, until connectDeadline: Double, total: HTTPTimeouts) throws(TransportError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = socketStream
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(server.host, String(server.port), &hints, &found)
        guard status == 0, let first = found else {
            throw .connect("the host name \(server.host) does not resolve (\(String(cString: gai_strerror(status))))")
        }
        defer { freeaddrinfo(first) }
        var reasons: [String] = []
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            candidate = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, socketStream | socketCloseOnExec, 0)
            guard fd >= 0 else { reasons.append(describe(errno)); continue }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            #if canImport(Darwin)
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
            #endif
            if systemConnect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return fd }
            let code = errno
            guard code == EINPROGRESS || code == EINTR else {
                close(fd)
                reasons.append(describe(code))
                continue
            }
            let ready = wait(fd, for: Int16(POLLOUT), until: connectDeadline)
            if ready == .timedOut {
                close(fd)
                throw .timedOut("no connection within \(seconds(min(total.connect, total.total))) (connect timeout)")
            }
            var failure: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length)
            if failure == 0, ready == .ready { return fd }
            close(fd)
            reasons.append(describe(failure == 0 ? EIO : failure))
        }
        throw .connect(Array(Set(reasons)).sorted().joined(separator: "; "))
    }

    // MARK: Writing

    private func write(_ bytes: [UInt8], to fd: Int32, until deadline: Double, timeout: TimeInterval) throws(TransportError) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { buffer in
                systemSend(fd, buffer.baseAddress! + offset, bytes.count - offset)
            }
            if sent > 0 { offset += sent; continue }
            let code = errno
            if sent < 0, code == EINTR { continue }
            if sent < 0, code == EAGAIN || code == EWOULDBLOCK {
                if wait(fd, for: Int16(POLLOUT), until: deadline) == .timedOut {
                    throw .timedOut("no whole answer within \(seconds(timeout)) (still sending the request)")
                }
                continue
            }
            throw .broken("the connection broke while sending (\(describe(code)))")
        }
    }

    private func writeBody(_ body: RequestBody, to fd: Int32, until deadline: Double, timeout: TimeInterval) throws(TransportError) {
        switch body {
        case let .bytes(bytes):
            try write(bytes, to: fd, until: deadline, timeout: timeout)
        case let .file(file):
            var buffer = [UInt8](repeating: 0, count: 256 << 10)
            var offset: Int64 = 0
            while offset < file.size {
                let wanted = Int(min(Int64(buffer.count), file.size - offset))
                let got = buffer.withUnsafeMutableBytes { pread(file.descriptor, $0.baseAddress, wanted, off_t(offset)) }
                if got < 0, errno == EINTR { continue }
                guard got > 0 else {
                    throw .body(got < 0 ? "\(file.path) could not be read: \(describe(errno))"
                                        : "\(file.path) became shorter while being sent")
                }
                try write(Array(buffer[0..<got]), to: fd, until: deadline, timeout: timeout)
                offset += Int64(got)
            }
        }
    }

    // MARK: Reading

    private func readResponse(_ fd: Int32, until deadline: Double, timeout: TimeInterval) throws(TransportError) -> HTTPResponse {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var finished = false
        /// Reads more; false at the end of the stream.
        func more() throws(TransportError) -> Bool {
            while true {
                let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if got > 0 {
                    data.append(contentsOf: buffer[0..<got])
                    guard data.count <= maximumAnswerBytes else { throw .broken("the answer is larger than \(maximumAnswerBytes >> 20) MiB") }
                    return true
                }
                if got == 0 { finished = true; return false }
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK {
                    if wait(fd, for: Int16(POLLIN), until: deadline) == .timedOut {
                        throw .timedOut("no whole answer within \(seconds(timeout))")
                    }
                    continue
                }
                throw .broken("the connection broke while reading the answer (\(describe(code)))")
            }
        }

        // Status line and headers.
        var headerEnd: Int?
        while headerEnd == nil {
            if let end = Self.find([13, 10, 13, 10], in: data) { headerEnd = end; break }
            guard data.count < 64 << 10 else { throw .broken("the answer's headers are longer than 64 KiB") }
            guard try more() else {
                throw .broken(data.isEmpty ? "the server closed the connection without answering" : "the answer ended inside its headers")
            }
        }
        let headText = String(decoding: data[0..<headerEnd!], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...599).contains(status) else {
            throw .broken("the answer is not HTTP/1.x (\(statusLine.prefix(60)))")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: colon)...]
                .trimmingCharacters(in: .whitespaces)
        }
        data.removeFirst(headerEnd! + 4)

        // The body: chunked, a declared length, or up to the end of the stream.
        var body: [UInt8]
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            body = []
            var position = 0
            while true {
                var lineEnd = Self.find([13, 10], in: data, from: position)
                while lineEnd == nil {
                    guard try more() else { throw .broken("the chunked answer ended early") }
                    lineEnd = Self.find([13, 10], in: data, from: position)
                }
                let sizeText = String(decoding: data[position..<lineEnd!], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else {
                    throw .broken("a chunk size is not a number")
                }
                position = lineEnd! + 2
                if size == 0 { break }
                while data.count < position + size + 2 {
                    guard try more() else { throw .broken("the chunked answer ended early") }
                }
                body.append(contentsOf: data[position..<(position + size)])
                position += size + 2
            }
        } else if let declared = headers["content-length"].flatMap({ Int($0) }) {
            guard declared <= maximumAnswerBytes else { throw .broken("the answer is larger than \(maximumAnswerBytes >> 20) MiB") }
            while data.count < declared {
                guard try more() else { throw .broken("the answer ended after \(data.count) of its \(declared) bytes") }
            }
            body = Array(data[0..<declared])
        } else {
            while !finished { _ = try more() }
            body = data
        }
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    // MARK: Helpers

    private enum Readiness { case ready, timedOut, failed }

    /// Polls `fd` for `events` until `deadline` (monotonic seconds).
    private func wait(_ fd: Int32, for events: Int16, until deadline: Double) -> Readiness {
        while true {
            let left = deadline - monotonic()
            guard left > 0 else { return .timedOut }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let result = poll(&entry, 1, Int32(min(left * 1000, 60_000).rounded(.up)))
            if result > 0 { return (entry.revents & Int16(POLLNVAL)) != 0 ? .failed : .ready }
            if result == 0 { continue }
            if errno == EINTR { continue }
            return .failed
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
        guard haystack.count >= needle.count + start else { return nil }
        var i = start
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0], Array(haystack[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }

    private func describe(_ code: Int32) -> String { String(cString: strerror(code)) }
    private func seconds(_ value: TimeInterval) -> String { String(format: value < 10 ? "%.1f s" : "%.0f s", value) }
    private func monotonic() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}

#if os(Linux)
private let socketStream = Int32(SOCK_STREAM.rawValue)
private let socketCloseOnExec = Int32(SOCK_CLOEXEC.rawValue)
private func systemConnect(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>!, _ length: socklen_t) -> Int32 {
    Glibc.connect(fd, address, length)
}
private func systemSend(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    Glibc.send(fd, pointer, count, Int32(MSG_NOSIGNAL))
}
#else
private let socketStream = SOCK_STREAM
private let socketCloseOnExec: Int32 = 0
private func systemConnect(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>!, _ length: socklen_t) -> Int32 {
    Darwin.connect(fd, address, length)
}
private func systemSend(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    Darwin.send(fd, pointer, count, 0)
}
#endif
