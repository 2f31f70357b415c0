import Foundation

/// Typed methods for everything in protocol.md.
extension Sidecar {
    public func createSession(parentId: String? = nil, title: String? = nil,
                              runner: String? = nil) async throws -> SessionInfo {
        try await call("session/create", CreateParams(parentId: parentId, title: title,
                                                      runner: runner))
    }

    public func session(_ sessionId: String) async throws -> SessionInfo {
        try await call("session/get", SessionRef(sessionId: sessionId))
    }

    public func listSessions(parentId: String? = nil, rootsOnly: Bool = false, limit: Int = 100,
                             cursor: String? = nil) async throws -> SessionPage {
        try await call("session/list", ListParams(parentId: parentId, rootsOnly: rootsOnly,
                                                  limit: limit, cursor: cursor))
    }

    public func updateTitle(_ sessionId: String, to title: String) async throws -> SessionInfo {
        try await call("session/updateTitle", TitleParams(sessionId: sessionId, title: title))
    }

    /// Deletes the session and its descendants; returns every id deleted.
    public func deleteSession(_ sessionId: String) async throws -> [String] {
        let result: DeleteResult = try await call("session/delete", SessionRef(sessionId: sessionId))
        return result.deleted
    }

    public func abort(_ sessionId: String) async throws -> AbortResult {
        try await call("session/abort", SessionRef(sessionId: sessionId))
    }

    public func share(_ sessionId: String, expiresInSeconds: Int? = nil) async throws -> ShareInfo {
        try await call("session/share", ShareParams(sessionId: sessionId,
                                                    expiresInSeconds: expiresInSeconds))
    }

    public func unshare(_ sessionId: String) async throws -> SessionInfo {
        try await call("session/unshare", SessionRef(sessionId: sessionId))
    }

    public func resolveShare(secret: String) async throws -> SessionInfo {
        let result: Resolved = try await call("share/resolve", SecretParams(secret: secret))
        return result.session
    }

    public func closeSession(_ sessionId: String) async throws {
        let _: JSONValue = try await call("session/close", SessionRef(sessionId: sessionId))
    }

    public func appendMessage(_ sessionId: String, role: Role, parts: [Part]) async throws -> Message {
        try await call("message/append", AppendParams(sessionId: sessionId, role: role, parts: parts))
    }

    public func listMessages(_ sessionId: String, afterSeq: Int = 0,
                             limit: Int = 200) async throws -> MessagePage {
        try await call("message/list", MessageListParams(sessionId: sessionId, afterSeq: afterSeq,
                                                         limit: limit))
    }

    public func message(_ sessionId: String, messageId: String) async throws -> Message {
        try await call("message/get", MessageRef(sessionId: sessionId, messageId: messageId))
    }

    public func fork(_ sessionId: String, at messageId: String? = nil,
                     title: String? = nil) async throws -> SessionInfo {
        try await call("session/fork", ForkParams(sessionId: sessionId, messageId: messageId,
                                                  title: title))
    }
}

struct SessionRef: Encodable, Sendable { let sessionId: String }
struct CreateParams: Encodable, Sendable {
    let parentId: String?
    let title: String?
    let runner: String?
}
struct ListParams: Encodable, Sendable {
    let parentId: String?
    let rootsOnly: Bool
    let limit: Int
    let cursor: String?
}
struct TitleParams: Encodable, Sendable {
    let sessionId: String
    let title: String
}
struct DeleteResult: Decodable { let deleted: [String] }
struct ShareParams: Encodable, Sendable {
    let sessionId: String
    let expiresInSeconds: Int?
}
struct SecretParams: Encodable, Sendable { let secret: String }
struct Resolved: Decodable { let session: SessionInfo }
struct AppendParams: Encodable, Sendable {
    let sessionId: String
    let role: Role
    let parts: [Part]
}
struct MessageListParams: Encodable, Sendable {
    let sessionId: String
    let afterSeq: Int
    let limit: Int
}
struct MessageRef: Encodable, Sendable {
    let sessionId: String
    let messageId: String
}
struct ForkParams: Encodable, Sendable {
    let sessionId: String
    let messageId: String?
    let title: String?
}
