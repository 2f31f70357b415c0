import Foundation
import PlueSidecar

/// The seed's JSON shapes: snake_case names in the seed's order, `share_info`, null
/// fields written as null, slashes not escaped.
enum SeedJSON {
    static func session(_ info: SessionInfo) throws -> String {
        try object([
            ("id", fragment(info.id.rawValue)),
            ("parent_id", fragment(info.parentId?.rawValue)),
            ("title", fragment(info.title)),
            ("created_at", fragment(info.createdAt)),
            ("updated_at", fragment(info.updatedAt)),
            ("message_count", fragment(info.messageCount)),
            ("is_aborted", fragment(info.isAborted)),
            ("share_info", info.share.map(share) ?? "null"),
        ])
    }

    static func share(_ share: ShareInfo) throws -> String {
        try object([
            ("url", fragment(share.url)),
            ("secret", fragment(share.secret)),
            ("created_at", fragment(share.createdAt)),
            ("expires_at", fragment(share.expiresAt)),
        ])
    }

    static func list(_ sessions: [SessionInfo]) throws -> String {
        "[" + (try sessions.map(session)).joined(separator: ",") + "]"
    }

    private static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// One JSON value (an optional's `nil` is `null`).
    private static func fragment<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// `make()` as a malloc'd C string, or NULL (with the error recorded).
func cString(_ make: () throws -> String) -> UnsafeMutablePointer<CChar>? {
    do {
        return strdup(try make())
    } catch {
        ThreadError.record(error)
        return nil
    }
}
