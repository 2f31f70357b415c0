import Foundation
import PlueSidecar

/// The seed's C API (declared in CPlueCore/include/plue_core.h) on top of `Sidecar`.
/// Each call blocks its C caller until the sidecar has answered; the work runs on a
/// detached task, never on the caller's thread.
final class CompatState: @unchecked Sendable {
    static let shared = CompatState()
    private let lock = NSLock()
    private var sidecar: Sidecar?
    private var lastError: String?

    func current() throws -> Sidecar {
        guard let sidecar = lock.withLock({ self.sidecar }) else {
            throw SidecarError.launchFailed("plue_init has not been called")
        }
        return sidecar
    }

    func replace(with sidecar: Sidecar?) -> Sidecar? {
        lock.withLock {
            defer { self.sidecar = sidecar }
            return self.sidecar
        }
    }

    func record(_ error: Error?) {
        lock.withLock { lastError = error.map { "\($0)" } }
    }

    func takeLastError() -> String? { lock.withLock { lastError } }
}

final class Outcome<Value: Sendable>: @unchecked Sendable {
    var result: Result<Value, Error>?
}

/// Run `body` to completion on a detached task and wait for it here.
func blocking<Value: Sendable>(_ body: @escaping @Sendable () async throws -> Value) -> Value? {
    let done = DispatchSemaphore(value: 0)
    let outcome = Outcome<Value>()
    Task.detached {
        do {
            outcome.result = .success(try await body())
        } catch {
            outcome.result = .failure(error)
        }
        done.signal()
    }
    done.wait()
    switch outcome.result {
    case .success(let value)?:
        CompatState.shared.record(nil)
        return value
    case .failure(let error)?:
        CompatState.shared.record(error)
        return nil
    case nil:
        return nil
    }
}

func json<Value: Encodable>(_ value: Value) -> UnsafeMutablePointer<CChar>? {
    guard let data = try? JSONEncoder().encode(value) else { return nil }
    return strdup(String(decoding: data, as: UTF8.self))
}

func handle(_ pointer: UnsafeMutableRawPointer?) -> SessionHandle? {
    guard let pointer else {
        CompatState.shared.record(SidecarError.launchFailed("a NULL session handle"))
        return nil
    }
    return Unmanaged<SessionHandle>.fromOpaque(pointer).takeUnretainedValue()
}

func status(_ done: Bool?) -> Int32 { done == nil ? -1 : 0 }

@_cdecl("plue_init")
public func plue_init(_ dataDir: UnsafePointer<CChar>?) -> Int32 {
    let directory = dataDir.map { String(cString: $0) }
    let sidecar = blocking {
        try await Sidecar.launch(SidecarConfiguration(dataDirectory: directory))
    }
    guard let sidecar else { return -1 }
    if let previous = CompatState.shared.replace(with: sidecar) {
        _ = blocking { await previous.shutdown() }
    }
    return 0
}

@_cdecl("plue_deinit")
public func plue_deinit() {
    guard let sidecar = CompatState.shared.replace(with: nil) else { return }
    _ = blocking { await sidecar.shutdown() }
}

@_cdecl("plue_session_create")
public func plue_session_create(_ parentId: UnsafePointer<CChar>?) -> UnsafeMutableRawPointer? {
    let parent = parentId.map { String(cString: $0) }
    let created = blocking {
        try await SessionHandle.create(on: CompatState.shared.current(), parentId: parent)
    }
    guard let created else { return nil }
    return Unmanaged.passRetained(created).toOpaque()
}

@_cdecl("plue_session_get_info")
public func plue_session_get_info(_ pointer: UnsafeMutableRawPointer?) -> UnsafeMutablePointer<CChar>? {
    guard let session = handle(pointer) else { return nil }
    return blocking { try await session.info() }.flatMap(json)
}

@_cdecl("plue_session_list")
public func plue_session_list() -> UnsafeMutablePointer<CChar>? {
    let all = blocking { () async throws -> [SessionInfo] in
        let sidecar = try CompatState.shared.current()
        var sessions: [SessionInfo] = []
        var cursor: String?
        repeat {
            let page = try await sidecar.listSessions(limit: 1000, cursor: cursor)
            sessions += page.sessions
            cursor = page.nextCursor
        } while cursor != nil
        return sessions
    }
    return all.flatMap(json)
}

@_cdecl("plue_session_update_title")
public func plue_session_update_title(_ pointer: UnsafeMutableRawPointer?,
                                      _ title: UnsafePointer<CChar>?) -> Int32 {
    guard let session = handle(pointer), let title else { return -1 }
    let text = String(cString: title)
    return status(blocking { _ = try await session.updateTitle(text); return true })
}

@_cdecl("plue_session_delete")
public func plue_session_delete(_ pointer: UnsafeMutableRawPointer?) -> Int32 {
    guard let session = handle(pointer) else { return -1 }
    return status(blocking { _ = try await session.delete(); return true })
}

@_cdecl("plue_session_abort")
public func plue_session_abort(_ pointer: UnsafeMutableRawPointer?) -> Int32 {
    guard let session = handle(pointer) else { return -1 }
    return status(blocking { _ = try await session.abort(); return true })
}

@_cdecl("plue_session_create_share")
public func plue_session_create_share(_ pointer: UnsafeMutableRawPointer?) -> UnsafeMutablePointer<CChar>? {
    guard let session = handle(pointer) else { return nil }
    return blocking { try await session.createShare() }.flatMap(json)
}

@_cdecl("plue_session_destroy")
public func plue_session_destroy(_ pointer: UnsafeMutableRawPointer?) {
    guard let pointer else { return }
    let session = Unmanaged<SessionHandle>.fromOpaque(pointer).takeRetainedValue()
    _ = blocking { try? await session.destroy(); return true }
}

@_cdecl("plue_last_error")
public func plue_last_error() -> UnsafeMutablePointer<CChar>? {
    CompatState.shared.takeLastError().flatMap { strdup($0) }
}

@_cdecl("plue_free_string")
public func plue_free_string(_ string: UnsafeMutablePointer<CChar>?) {
    free(string)
}
