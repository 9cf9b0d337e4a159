import Foundation
import Logging

/// A small blocking pool of `PostgresConnection`s shared by threads.
///
/// Connections are opened lazily up to `maximumConnections`; a caller that finds them all
/// busy waits. A connection found broken (server restart, killed backend) is reset before
/// reuse, and `withConnection(retryingOnConnectionLoss: true)` runs idempotent work a second
/// time on a fresh connection if the first one died mid-way.
public final class ConnectionPool: @unchecked Sendable {
    public let url: String
    public let database: String?
    public let maximumConnections: Int
    public let applicationName: String
    private let logger: Logger
    private let condition = NSCondition()
    private var idle: [PostgresConnection] = []
    private var openCount = 0
    private var closed = false

    public init(url: String, database: String? = nil, maximumConnections: Int = 4,
                applicationName: String = PostgresConnection.defaultApplicationName,
                logger: Logger = Logger(label: "timbre.catalog.pool")) {
        self.url = url
        self.applicationName = applicationName
        self.database = database
        self.maximumConnections = max(1, maximumConnections)
        self.logger = logger
    }

    /// Lends a connection to `body` and takes it back afterwards.
    ///
    /// - Parameter retryingOnConnectionLoss: run `body` once more on a new connection when
    ///   the connection died under it. Only for work that is safe to repeat (reads, upserts,
    ///   whole transactions that rolled back). The connection can die after the server committed
    ///   but before its answer arrived, so a body that must not take effect twice either passes
    ///   false or makes its second run find what the first one committed (`JobQueue`'s claim and
    ///   track-less enqueue carry a token for that).
    @discardableResult
    public func withConnection<T>(retryingOnConnectionLoss: Bool = true,
                                  _ body: (PostgresConnection) throws -> T) throws -> T {
        do {
            return try attempt(body)
        } catch let error as CatalogError where error.isConnectionLoss && retryingOnConnectionLoss {
            logger.warning("PostgreSQL connection lost; retrying once on a new connection", metadata: ["error": "\(error)"])
            return try attempt(body)
        }
    }

    /// `withConnection` + `withTransaction`: the whole transaction is retried once on connection loss.
    @discardableResult
    public func withTransaction<T>(retryingOnConnectionLoss: Bool = true,
                                   _ body: (PostgresConnection) throws -> T) throws -> T {
        try withConnection(retryingOnConnectionLoss: retryingOnConnectionLoss) { try $0.withTransaction(body) }
    }

    private func attempt<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try checkOut()
        do {
            let value = try body(connection)
            checkIn(connection)
            return value
        } catch {
            checkIn(connection)
            throw error
        }
    }

    private func checkOut() throws -> PostgresConnection {
        condition.lock()
        while idle.isEmpty && openCount >= maximumConnections && !closed { condition.wait() }
        if closed {
            condition.unlock()
            throw CatalogError.invalidArgument("the connection pool is closed")
        }
        if let connection = idle.popLast() {
            condition.unlock()
            if !connection.isHealthy {
                do { try connection.reset() } catch { discard(); throw error }
            }
            return connection
        }
        openCount += 1
        condition.unlock()
        do {
            return try PostgresConnection(url: url, database: database, applicationName: applicationName)
        } catch {
            discard()
            throw error
        }
    }

    private func checkIn(_ connection: PostgresConnection) {
        // A borrower that left a transaction open must not hand it to the next one.
        if connection.isHealthy && connection.isInTransaction { _ = try? connection.query("ROLLBACK") }
        condition.lock()
        if closed {
            openCount -= 1
        } else {
            idle.append(connection)
        }
        condition.signal()
        condition.unlock()
    }

    /// Forgets a connection slot whose connection could not be opened or reset.
    private func discard() {
        condition.lock()
        openCount -= 1
        condition.signal()
        condition.unlock()
    }

    /// Closes idle connections; connections still lent out close when they come back.
    public func close() {
        condition.lock()
        closed = true
        openCount -= idle.count
        idle.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
