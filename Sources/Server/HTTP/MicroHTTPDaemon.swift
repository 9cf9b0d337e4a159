import CMicroHTTPD
import Foundation

/// Body limits by kind of route: audio uploads may be large, JSON bodies not.
public struct BodyLimits: Sendable {
    public var json = 1 << 20
    public var audio = 200 << 20
    public init() {}
}

/// How the daemon asks the application what to do.
public protocol RequestHandling: AnyObject, Sendable {
    /// Which limit applies to a request's body (known from the method, the path and the
    /// declared media type, before any body is read).
    func bodyLimit(method: String, path: String, contentType: String?) -> Int
    /// Answers a complete request. Never throws: errors are answers too.
    func respond(to request: Request) -> Response
    /// Called once the answer is queued (for the access log and metrics).
    func completed(_ request: Request, _ response: Response, seconds: Double)
}

public enum DaemonError: Error, CustomStringConvertible {
    case badHost(String)
    case startFailed(host: String, port: Int)
    public var description: String {
        switch self {
        case let .badHost(host): return "cannot listen on \(host): give an IPv4 or IPv6 address such as 127.0.0.1, 0.0.0.0 or ::1"
        case let .startFailed(host, port):
            return "could not listen on \(host):\(port) (the port may be in use, or below 1024 without the right): choose another with --port"
        }
    }
}

/// libmicrohttpd's daemon: an internal thread pool, each thread with its own epoll set. The
/// access handler is called several times per request: first with the headers (a declared
/// `Content-Length` over the limit is answered 413 at once, before any body is read), then
/// with body chunks (appended, or fed to MHD's own multipart post processor; once the limit is
/// passed the rest is counted and dropped, never buffered), then with nothing, when the
/// request is complete and the application answers. One `RequestState` per request, owned
/// through `con_cls` and released in the completion callback.
public final class MicroHTTPDaemon: @unchecked Sendable {
    public let handler: RequestHandling
    public private(set) var port: Int = 0
    private var daemon: OpaquePointer?
    private let inFlightLock = NSLock()
    private var inFlight = 0

    public init(handler: RequestHandling) { self.handler = handler }

    deinit { stop(grace: 0) }

    /// Starts listening. `threads` is the pool size; `connectionTimeout` closes idle connections.
    public func start(host: String, port: Int, threads: Int, connectionTimeout: Int = 30) throws {
        var storage = sockaddr_storage()
        var flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_EPOLL.rawValue | MHD_USE_ITC.rawValue
            | MHD_USE_ERROR_LOG.rawValue | MHD_ALLOW_UPGRADE.rawValue
        if host.contains(":") {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else { throw DaemonError.badHost(host) }
            withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: withUnsafeBytes(of: address) { Array($0) }) }
            flags |= MHD_USE_IPv6.rawValue
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else { throw DaemonError.badHost(host) }
            withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: withUnsafeBytes(of: address) { Array($0) }) }
        }
        let me = Unmanaged.passUnretained(self).toOpaque()
        let started: OpaquePointer? = withUnsafeMutablePointer(to: &storage) { address in
            address.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                var options: [MHD_OptionItem] = [
                    MHD_OptionItem(option: MHD_OPTION.THREAD_POOL_SIZE, value: max(1, threads), ptr_value: nil),
                    MHD_OptionItem(option: MHD_OPTION.CONNECTION_TIMEOUT, value: max(1, connectionTimeout), ptr_value: nil),
                    MHD_OptionItem(option: MHD_OPTION.CONNECTION_MEMORY_LIMIT, value: 256 << 10, ptr_value: nil),
                    MHD_OptionItem(option: MHD_OPTION.NOTIFY_COMPLETED, value: unsafeBitCast(requestCompleted, to: Int.self), ptr_value: me),
                    MHD_OptionItem(option: MHD_OPTION.UNESCAPE_CALLBACK, value: unsafeBitCast(unescape, to: Int.self), ptr_value: nil),
                    MHD_OptionItem(option: MHD_OPTION.SOCK_ADDR, value: 0, ptr_value: UnsafeMutableRawPointer(socketAddress)),
                    MHD_OptionItem(option: MHD_OPTION.END, value: 0, ptr_value: nil),
                ]
                return options.withUnsafeMutableBufferPointer { items in
                    withVaList([MHD_OPTION.ARRAY.rawValue, items.baseAddress!, MHD_OPTION.END.rawValue]) { arguments in
                        MHD_start_daemon_va(flags, UInt16(port), nil, nil, accessHandler, me, arguments)
                    }
                }
            }
        }
        guard let started else { throw DaemonError.startFailed(host: host, port: port) }
        daemon = started
        let bound = Int(timbre_mhd_bound_port(started))
        self.port = bound > 0 ? bound : port
    }

    /// Requests being answered now.
    public var requestsInFlight: Int { inFlightLock.withLock { inFlight } }

    /// Stops accepting connections, waits up to `grace` seconds for the requests in flight to be
    /// answered, then stops the daemon.
    public func stop(grace: TimeInterval) {
        guard let daemon else { return }
        let listener = MHD_quiesce_daemon(daemon)
        if listener >= 0 { close(listener) }
        let deadline = Date().addingTimeInterval(grace)
        while requestsInFlight > 0, Date() < deadline { usleep(20_000) }
        MHD_stop_daemon(daemon)
        self.daemon = nil
    }

    // MARK: The callbacks' Swift side

    fileprivate func handle(_ connection: OpaquePointer, _ url: String, _ method: String,
                            _ data: UnsafePointer<CChar>?, _ size: UnsafeMutablePointer<Int>,
                            _ context: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> MHD_Result {
        guard let existing = context.pointee else {
            // First call: the headers are in.
            let headers = values(connection, MHD_ValueKind.HEADER_KIND, lowercased: true)
            let limit = handler.bodyLimit(method: method, path: url, contentType: headers["content-type"])
            let state = RequestState(method: method, path: url, headers: headers, query: values(connection, MHD_ValueKind.GET_ARGUMENT_KIND),
                                     limit: limit)
            context.pointee = Unmanaged.passRetained(state).toOpaque()
            inFlightLock.withLock { inFlight += 1 }
            state.counted = true
            if let declared = headers["content-length"].flatMap(Int.init), declared > limit {
                state.answered = true
                return queue(tooLarge(limit), for: state, on: connection)
            }
            if let type = headers["content-type"]?.lowercased(), type.hasPrefix("multipart/form-data") {
                state.postProcessor = MHD_create_post_processor(connection, 64 << 10, postIterator, Unmanaged.passUnretained(state).toOpaque())
                if state.postProcessor == nil { state.malformed = "the multipart body has no boundary; send multipart/form-data with a boundary" }
            }
            return MHD_Result.YES
        }
        let state = Unmanaged<RequestState>.fromOpaque(existing).takeUnretainedValue()
        if state.answered {
            size.pointee = 0
            return MHD_Result.YES
        }
        if size.pointee > 0 {
            let count = size.pointee
            state.received += count
            if state.received > state.limit {
                state.overLimit = true
                // Past four times the limit, stop reading: close the connection.
                if state.received > 4 * state.limit + (1 << 20) { return MHD_Result.NO }
            } else if let data {
                if let processor = state.postProcessor {
                    if MHD_post_process(processor, data, count) != MHD_Result.YES { state.malformed = "the multipart body is malformed" }
                } else {
                    data.withMemoryRebound(to: UInt8.self, capacity: count) { state.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: count)) }
                }
            }
            size.pointee = 0
            return MHD_Result.YES
        }
        // Last call: the request is complete.
        let response: Response
        if state.overLimit {
            response = tooLarge(state.limit)
        } else if let malformed = state.malformed {
            response = .error(.badRequest(malformed))
        } else {
            response = handler.respond(to: state.request)
        }
        state.answered = true
        return queue(response, for: state, on: connection)
    }

    private func tooLarge(_ limit: Int) -> Response {
        .error(HTTPError(413, "the body is larger than the \(Self.formatBytes(limit)) this route accepts"))
    }

    private func queue(_ response: Response, for state: RequestState, on connection: OpaquePointer) -> MHD_Result {
        state.response = response
        let created: OpaquePointer?
        switch response.body {
        case let .bytes(bytes):
            created = bytes.withUnsafeBytes { raw in
                MHD_create_response_from_buffer(raw.count, UnsafeMutableRawPointer(mutating: raw.baseAddress), MHD_ResponseMemoryMode.RESPMEM_MUST_COPY)
            }
        case let .file(descriptor, offset, length):
            created = MHD_create_response_from_fd_at_offset64(UInt64(length), descriptor, UInt64(offset))
        case let .upgrade(upgrade):
            // Retained for MHD until the upgrade callback (see `ProtocolUpgrade`).
            created = MHD_create_response_for_upgrade(upgradeHandler, Unmanaged.passRetained(upgrade).toOpaque())
        }
        guard let created else { return MHD_Result.NO }
        defer { MHD_destroy_response(created) }
        for (name, value) in response.headers { _ = MHD_add_response_header(created, name, value) }
        return MHD_queue_response(connection, UInt32(response.status), created)
    }

    fileprivate func finished(_ context: UnsafeMutableRawPointer) {
        let state = Unmanaged<RequestState>.fromOpaque(context).takeRetainedValue()
        if let processor = state.postProcessor { _ = MHD_destroy_post_processor(processor) }
        if state.counted { inFlightLock.withLock { inFlight -= 1 } }
        if let response = state.response, case let .upgrade(upgrade) = response.body { upgrade.abandon() }
        if let response = state.response {
            handler.completed(state.request, response, seconds: Double(DispatchTime.now().uptimeNanoseconds - state.started) / 1e9)
        }
    }

    private func values(_ connection: OpaquePointer, _ kind: MHD_ValueKind, lowercased: Bool = false) -> [String: String] {
        let box = ValueBox(lowercased: lowercased)
        _ = MHD_get_connection_values(connection, kind, valueIterator, Unmanaged.passUnretained(box).toOpaque())
        return box.values
    }

    static func formatBytes(_ count: Int) -> String {
        count >= 1 << 20 ? "\(count >> 20) MB" : count >= 1 << 10 ? "\(count >> 10) KB" : "\(count) bytes"
    }
}

/// One request's state between the daemon's calls.
final class RequestState: @unchecked Sendable {
    let method: String
    let path: String
    let headers: [String: String]
    let query: [String: String]
    let limit: Int
    let started = DispatchTime.now().uptimeNanoseconds
    var body: [UInt8] = []
    var parts: [String: UploadedPart] = [:]
    var received = 0
    var overLimit = false
    var malformed: String?
    var answered = false
    var counted = false
    var postProcessor: OpaquePointer?
    var response: Response?

    init(method: String, path: String, headers: [String: String], query: [String: String], limit: Int) {
        self.method = method; self.path = path; self.headers = headers; self.query = query; self.limit = limit
    }

    var request: Request { Request(method: method, path: path, query: query, headers: headers, body: body, parts: parts) }
}

private final class ValueBox {
    let lowercased: Bool
    var values: [String: String] = [:]
    init(lowercased: Bool) { self.lowercased = lowercased }
}

private let valueIterator: MHD_KeyValueIterator = { cls, _, key, value in
    guard let cls, let key else { return MHD_Result.YES }
    let box = Unmanaged<ValueBox>.fromOpaque(cls).takeUnretainedValue()
    let name = String(cString: key)
    box.values[box.lowercased ? name.lowercased() : name] = value.map { String(cString: $0) } ?? ""
    return MHD_Result.YES
}

/// Percent-decoding of the path and the query, in place, as MHD's own — except that `%00` becomes
/// U+FFFD: a NUL would end the C string and cut the path or value short (`/tracks/1%00/similar`
/// must not read as `/tracks/1`).
private let unescape: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafeMutablePointer<CChar>?) -> Int = { _, _, text in
    guard let text else { return 0 }
    func hex(_ c: CChar) -> UInt8? {
        switch UInt8(bitPattern: c) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt8(bitPattern: c) - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt8(bitPattern: c) - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt8(bitPattern: c) - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
    var read = 0, write = 0
    while text[read] != 0 {
        if text[read] == 37, let high = hex(text[read + 1]), let low = hex(text[read + 2]) {
            let byte = high << 4 | low
            if byte == 0 {
                for replacement: UInt8 in [0xEF, 0xBF, 0xBD] { text[write] = CChar(bitPattern: replacement); write += 1 }
            } else {
                text[write] = CChar(bitPattern: byte)
                write += 1
            }
            read += 3
        } else {
            text[write] = text[read]
            write += 1
            read += 1
        }
    }
    text[write] = 0
    return write
}

private let accessHandler: MHD_AccessHandlerCallback = { cls, connection, url, method, _, data, size, context in
    guard let cls, let connection, let url, let method, let size, let context else { return MHD_Result.NO }
    let daemon = Unmanaged<MicroHTTPDaemon>.fromOpaque(cls).takeUnretainedValue()
    return daemon.handle(connection, String(cString: url), String(cString: method), data, size, context)
}

private let requestCompleted: MHD_RequestCompletedCallback = { cls, _, context, _ in
    guard let cls, let context, let state = context.pointee else { return }
    Unmanaged<MicroHTTPDaemon>.fromOpaque(cls).takeUnretainedValue().finished(state)
    context.pointee = nil
}

private let postIterator: MHD_PostDataIterator = { cls, _, key, filename, contentType, _, data, _, size in
    guard let cls, let key else { return MHD_Result.YES }
    let state = Unmanaged<RequestState>.fromOpaque(cls).takeUnretainedValue()
    let name = String(cString: key)
    var part = state.parts[name] ?? UploadedPart()
    if part.filename == nil, let filename { part.filename = String(cString: filename) }
    if part.contentType == nil, let contentType { part.contentType = String(cString: contentType) }
    if let data, size > 0 {
        data.withMemoryRebound(to: UInt8.self, capacity: size) { part.data.append(contentsOf: UnsafeBufferPointer(start: $0, count: size)) }
    }
    state.parts[name] = part
    return MHD_Result.YES
}
