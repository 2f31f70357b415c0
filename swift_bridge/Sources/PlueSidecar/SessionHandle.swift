import Foundation

/// One session as an object. `close()` (or deinit) sends `session/close`, which
/// releases what the sidecar keeps loaded for it; it deletes nothing.
public final class SessionHandle: @unchecked Sendable {
    /// The sidecar the session lives in.
    public let sidecar: Sidecar
    /// The session's id.
    public let id: SessionID
    private let lock = NSLock()
    private var isClosed = false

    /// A handle for an existing session.
    public init(sidecar: Sidecar, id: SessionID) {
        self.sidecar = sidecar
        self.id = id
    }

    /// Create a session and return its handle.
    public static func create(on sidecar: Sidecar, parentId: SessionID? = nil,
                              title: String? = nil) async throws -> SessionHandle {
        let info = try await sidecar.createSession(parentId: parentId, title: title)
        return SessionHandle(sidecar: sidecar, id: info.id)
    }

    /// The session's metadata.
    public func info() async throws -> SessionInfo { try await sidecar.session(id) }

    /// Set the title (trimmed; 1..200 characters).
    @discardableResult
    public func updateTitle(_ title: String) async throws -> SessionInfo {
        try await sidecar.updateTitle(id, to: title)
    }

    /// Delete the session and its descendants; returns every id deleted.
    @discardableResult
    public func delete() async throws -> [SessionID] { try await sidecar.deleteSession(id) }

    /// Abort whatever runs in the session.
    @discardableResult
    public func abort() async throws -> AbortResult { try await sidecar.abort(id) }

    /// Share the session (or return its live share).
    public func share(expiresInSeconds: Int? = nil) async throws -> ShareInfo {
        try await sidecar.share(id, expiresInSeconds: expiresInSeconds)
    }

    /// A new session with this one's history up to `messageId`.
    public func fork(at messageId: MessageID? = nil) async throws -> SessionHandle {
        let info = try await sidecar.fork(id, at: messageId)
        return SessionHandle(sidecar: sidecar, id: info.id)
    }

    /// Run a turn with `text` as the user message.
    public func prompt(_ text: String) -> AsyncThrowingStream<TurnEvent, Error> {
        sidecar.prompt(sessionId: id, parts: [.text(text)])
    }

    /// Release what the sidecar keeps loaded for the session; deletes nothing.
    /// Later calls on the handle still work (the sidecar reloads the session).
    public func close() async throws {
        guard markClosed() else { return }
        try await sidecar.closeSession(id)
    }

    private func markClosed() -> Bool {
        lock.withLock {
            defer { isClosed = true }
            return !isClosed
        }
    }

    deinit {
        guard markClosed(), sidecar.isRunning else { return }
        let sidecar = self.sidecar, id = self.id
        Task { try? await sidecar.closeSession(id) }
    }
}
