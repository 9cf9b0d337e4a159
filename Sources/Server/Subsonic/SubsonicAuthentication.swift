import Catalog
import Foundation

/// Who is calling, from Subsonic's own arguments (clients cannot send `Authorization`):
///
/// - `apiKey` (OpenSubsonic's `apiKeyAuthentication`): a Timbre API key, verified by its
///   SHA-256 as every key is; with `u` as well it is error 43, an unknown or revoked key 44.
/// - `u` + `t` + `s`: `t` must be md5(password + s) for the user's Subsonic password
///   (`timbre user subsonic-password NAME`); a user without one gets 41.
/// - `u` + `p` (plain, or `enc:` and hex): the user's Subsonic password, or one of the user's
///   Timbre API keys.
///
/// Anything else wrong is 40, the same answer for an unknown user as for a wrong password.
struct SubsonicAuthentication {
    let keys: KeyVerifier
    let database: Database

    func user(for request: SubsonicRequest) throws -> User {
        let name = request.value("u")
        if let key = request.value("apiKey") {
            guard name == nil, request.value("p") == nil, request.value("t") == nil else { throw SubsonicError.conflictingAuthentication }
            guard let user = try keys.user(forKey: key) else { throw SubsonicError.invalidAPIKey }
            return user
        }
        guard let name, !name.isEmpty else { throw SubsonicError.missing("u") }
        let token = request.value("t"), salt = request.value("s"), password = request.value("p")
        if token != nil, password != nil { throw SubsonicError.conflictingAuthentication }
        if let token {
            guard let salt, !salt.isEmpty else { throw SubsonicError.missing("s") }
            guard let user = try database.users.find(name: name) else { throw SubsonicError.wrongCredentials }
            guard let secret = try database.subsonicPasswords.password(userID: user.id) else { throw SubsonicError.tokenUnsupported(name) }
            guard Self.constantTimeEqual(MD5.hex(secret + salt), token.lowercased()) else { throw SubsonicError.wrongCredentials }
            return user
        }
        guard let password else { throw SubsonicError.missing("p") }
        let plain = Self.decoded(password)
        guard let user = try database.users.find(name: name) else { throw SubsonicError.wrongCredentials }
        if let secret = try database.subsonicPasswords.password(userID: user.id), Self.constantTimeEqual(secret, plain) { return user }
        if plain.hasPrefix("tmb_"), let owner = try keys.user(forKey: plain), owner.id == user.id { return user }
        throw SubsonicError.wrongCredentials
    }

    /// `enc:` + hex of the UTF-8 bytes, as Subsonic's clients "obfuscate" a password.
    static func decoded(_ password: String) -> String {
        guard password.hasPrefix("enc:") else { return password }
        let hex = Array(password.dropFirst(4).utf8)
        guard hex.count % 2 == 0 else { return password }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: hex.count, by: 2) {
            guard let byte = UInt8(String(decoding: hex[index..<index + 2], as: UTF8.self), radix: 16) else { return password }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
