import Foundation
import PlueSidecar

/// The sidecar the C API talks to, and the live session handles.
///
/// A handle is a key into this table, never a pointer to an object: a released,
/// deleted or stale handle is found missing and reported as an error, where a
/// dangling pointer would crash the editor. Keys are never reused.
final class HandleTable: @unchecked Sendable {
    static let shared = HandleTable()
    private let lock = NSLock()
    private var sidecar: Sidecar?
    private var sessions: [UInt: SessionID] = [:]
    private var nextKey: UInt = 1

    func current() throws -> Sidecar {
        guard let sidecar = lock.withLock({ sidecar }) else { throw CompatError.notInitialized }
        return sidecar
    }

    /// Install `sidecar` (or none); every handle is invalidated. Returns the previous one.
    func replace(with sidecar: Sidecar?) -> Sidecar? {
        lock.withLock {
            defer {
                self.sidecar = sidecar
                sessions.removeAll()
            }
            return self.sidecar
        }
    }

    func add(_ id: SessionID) -> OpaquePointer? {
        let key: UInt = lock.withLock {
            defer { nextKey += 1 }
            sessions[nextKey] = id
            return nextKey
        }
        return OpaquePointer(bitPattern: key)
    }

    /// The session a handle names, and the sidecar to ask.
    func lookup(_ handle: OpaquePointer?) throws -> (Sidecar, SessionID) {
        guard let handle else { throw CompatError.invalidArgument("the session handle is NULL") }
        let key = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle)))
        return try lock.withLock {
            guard let sidecar else { throw CompatError.notInitialized }
            guard let id = sessions[key] else {
                throw CompatError.invalidArgument(
                    "not a live session handle (destroyed, deleted, or from before plue_deinit)")
            }
            return (sidecar, id)
        }
    }

    /// Forget a handle; the session it named, if it was live.
    @discardableResult
    func release(_ handle: OpaquePointer) -> SessionID? {
        let key = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle)))
        return lock.withLock { sessions.removeValue(forKey: key) }
    }
}
