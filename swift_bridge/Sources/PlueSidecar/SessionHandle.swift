import Foundation

/// One session as an object. `destroy()` (or deinit) sends `session/close`, which
/// releases what the sidecar keeps loaded for it; it deletes nothing.
public final class SessionHandle: @unchecked Sendable {
    public let sidecar: Sidecar
    public let id: String
    private let closed = NSLock()
    private var isClosed = false

    public init(sidecar: Sidecar, id: String) {
        self.sidecar = sidecar
        self.id = id
    }

    public static func create(on sidecar: Sidecar, parentId: String? = nil,
                              title: String? = nil) async throws -> SessionHandle {
        let info = try await sidecar.createSession(parentId: parentId, title: title)
        return SessionHandle(sidecar: sidecar, id: info.id)
    }

    public func info() async throws -> SessionInfo { try await sidecar.session(id) }

    @discardableResult
    public func updateTitle(_ title: String) async throws -> SessionInfo {
        try await sidecar.updateTitle(id, to: title)
    }

    @discardableResult
    public func delete() async throws -> [String] { try await sidecar.deleteSession(id) }

    @discardableResult
    public func abort() async throws -> AbortResult { try await sidecar.abort(id) }

    public func createShare() async throws -> ShareInfo { try await sidecar.share(id) }

    public func fork(at messageId: String? = nil) async throws -> SessionHandle {
        let info = try await sidecar.fork(id, at: messageId)
        return SessionHandle(sidecar: sidecar, id: info.id)
    }

    public func prompt(_ text: String) -> AsyncThrowingStream<TurnEvent, Error> {
        sidecar.prompt(sessionId: id, parts: [.text(text)])
    }

    public func destroy() async throws {
        guard markClosed() else { return }
        try await sidecar.closeSession(id)
    }

    private func markClosed() -> Bool {
        closed.withLock {
            defer { isClosed = true }
            return !isClosed
        }
    }

    deinit {
        guard markClosed() else { return }
        let sidecar = self.sidecar, id = self.id
        Task { try? await sidecar.closeSession(id) }
    }
}
