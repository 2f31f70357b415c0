import Foundation

/// Typed methods for everything in protocol.md.
extension Sidecar {
    /// A new session, a child of `parentId` when given.
    public func createSession(parentId: SessionID? = nil, title: String? = nil,
                              runner: String? = nil) async throws -> SessionInfo {
        try await call("session/create", CreateParams(parentId: parentId, title: title,
                                                      runner: runner))
    }

    /// One session's metadata.
    public func session(_ sessionId: SessionID) async throws -> SessionInfo {
        try await call("session/get", SessionRef(sessionId: sessionId))
    }

    /// One page of sessions, newest `updatedAt` first.
    public func listSessions(parentId: SessionID? = nil, rootsOnly: Bool = false,
                             limit: Int = 100, cursor: String? = nil) async throws -> SessionPage {
        try await call("session/list", ListParams(parentId: parentId, rootsOnly: rootsOnly,
                                                  limit: limit, cursor: cursor))
    }

    /// Set a session's title (trimmed; 1..200 characters).
    public func updateTitle(_ sessionId: SessionID, to title: String) async throws -> SessionInfo {
        try await call("session/updateTitle", TitleParams(sessionId: sessionId, title: title))
    }

    /// Deletes the session and its descendants; returns every id deleted.
    public func deleteSession(_ sessionId: SessionID) async throws -> [SessionID] {
        let result: DeleteResult = try await call("session/delete", SessionRef(sessionId: sessionId))
        return result.deleted
    }

    /// Abort whatever runs in the session.
    public func abort(_ sessionId: SessionID) async throws -> AbortResult {
        try await call("session/abort", SessionRef(sessionId: sessionId))
    }

    /// Share the session (or return its live share).
    public func share(_ sessionId: SessionID, expiresInSeconds: Int? = nil) async throws -> ShareInfo {
        try await call("session/share", ShareParams(sessionId: sessionId,
                                                    expiresInSeconds: expiresInSeconds))
    }

    /// Revoke the session's share.
    public func unshare(_ sessionId: SessionID) async throws -> SessionInfo {
        try await call("session/unshare", SessionRef(sessionId: sessionId))
    }

    /// The session a share secret names (its `share` is `nil`).
    public func resolveShare(secret: String) async throws -> SessionInfo {
        let result: Resolved = try await call("share/resolve", SecretParams(secret: secret))
        return result.session
    }

    /// Release what the sidecar keeps loaded for the session; deletes nothing.
    public func closeSession(_ sessionId: SessionID) async throws {
        let _: JSONValue = try await call("session/close", SessionRef(sessionId: sessionId))
    }

    /// Store a message written outside a turn.
    public func appendMessage(_ sessionId: SessionID, role: Role,
                              parts: [Part]) async throws -> Message {
        try await call("message/append", AppendParams(sessionId: sessionId, role: role, parts: parts))
    }

    /// Messages with `seq > afterSeq`, in order.
    public func listMessages(_ sessionId: SessionID, afterSeq: Int = 0,
                             limit: Int = 200) async throws -> MessagePage {
        try await call("message/list", MessageListParams(sessionId: sessionId, afterSeq: afterSeq,
                                                         limit: limit))
    }

    /// One message.
    public func message(_ sessionId: SessionID, messageId: MessageID) async throws -> Message {
        try await call("message/get", MessageRef(sessionId: sessionId, messageId: messageId))
    }

    /// A new session with the history up to `messageId` (all of it when `nil`).
    public func fork(_ sessionId: SessionID, at messageId: MessageID? = nil,
                     title: String? = nil) async throws -> SessionInfo {
        try await call("session/fork", ForkParams(sessionId: sessionId, messageId: messageId,
                                                  title: title))
    }
}

struct SessionRef: Encodable, Sendable { let sessionId: SessionID }
struct CreateParams: Encodable, Sendable {
    let parentId: SessionID?
    let title: String?
    let runner: String?
}
struct ListParams: Encodable, Sendable {
    let parentId: SessionID?
    let rootsOnly: Bool
    let limit: Int
    let cursor: String?
}
struct TitleParams: Encodable, Sendable {
    let sessionId: SessionID
    let title: String
}
struct DeleteResult: Decodable { let deleted: [SessionID] }
struct ShareParams: Encodable, Sendable {
    let sessionId: SessionID
    let expiresInSeconds: Int?
}
struct SecretParams: Encodable, Sendable { let secret: String }
struct Resolved: Decodable { let session: SessionInfo }
struct AppendParams: Encodable, Sendable {
    let sessionId: SessionID
    let role: Role
    let parts: [Part]
}
struct MessageListParams: Encodable, Sendable {
    let sessionId: SessionID
    let afterSeq: Int
    let limit: Int
}
struct MessageRef: Encodable, Sendable {
    let sessionId: SessionID
    let messageId: MessageID
}
struct ForkParams: Encodable, Sendable {
    let sessionId: SessionID
    let messageId: MessageID?
    let title: String?
}
