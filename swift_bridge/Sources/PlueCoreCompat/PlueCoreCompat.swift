import Foundation
import PlueSidecar

// The seed's C API, declared in CPlueCore/include/plue_core.h. Every call runs on its
// caller's thread and blocks it on a semaphore that the sidecar's reader thread or a
// timer signals: nothing waits on Swift's cooperative pool, so calling from async code
// on every core at once cannot deadlock.

/// Run `body`, record the calling thread's error (or clear it), return its value.
func attempt<Value>(_ body: () throws -> Value) -> Value? {
    do {
        let value = try body()
        ThreadError.record(nil)
        return value
    } catch {
        ThreadError.record(error)
        return nil
    }
}

/// A C string as UTF-8 text; invalid UTF-8 is refused, never replaced.
func text(_ pointer: UnsafePointer<CChar>?, _ what: String) throws -> String {
    guard let pointer else { throw CompatError.invalidArgument("\(what) is NULL") }
    guard let value = String(validatingCString: pointer) else {
        throw CompatError.invalidArgument("\(what) is not valid UTF-8")
    }
    return value
}

struct CreateParams: Encodable, Sendable { let parentId: SessionID? }
struct SessionRef: Encodable, Sendable { let sessionId: SessionID }
struct TitleParams: Encodable, Sendable { let sessionId: SessionID; let title: String }
struct ListParams: Encodable, Sendable { let limit: Int; let cursor: String? }
struct Ignored: Decodable {}

/// `plue_init` of plue_core.h: launch the sidecar on a data directory.
@_cdecl("plue_init")
public func plue_init(_ dataDir: UnsafePointer<CChar>?) -> Int32 {
    let launched = attempt { () throws -> Sidecar in
        let directory = try dataDir.map { try text($0, "data_dir") }
        return try Sidecar.launchBlocking(SidecarConfiguration(dataDirectory: directory))
    }
    guard let launched else { return -1 }
    HandleTable.shared.replace(with: launched)?.shutdownBlocking()
    return 0
}

/// `plue_deinit` of plue_core.h: shut the sidecar down; every handle becomes invalid.
@_cdecl("plue_deinit")
public func plue_deinit() {
    HandleTable.shared.replace(with: nil)?.shutdownBlocking()
}

/// `plue_session_create` of plue_core.h: a new session; NULL or "" means no parent.
@_cdecl("plue_session_create")
public func plue_session_create(_ parentId: UnsafePointer<CChar>?) -> OpaquePointer? {
    attempt { () throws -> OpaquePointer? in
        let parent = try parentId.map { try text($0, "parent_id") }
        let sidecar = try HandleTable.shared.current()
        let info: SessionInfo = try sidecar.callBlocking(
            "session/create",
            CreateParams(parentId: parent.flatMap { $0.isEmpty ? nil : SessionID($0) }))
        return HandleTable.shared.add(info.id)
    } ?? nil
}

/// `plue_session_get_info` of plue_core.h: the session in the seed's JSON shape.
@_cdecl("plue_session_get_info")
public func plue_session_get_info(_ session: OpaquePointer?) -> UnsafeMutablePointer<CChar>? {
    attempt { () throws -> SessionInfo in
        let (sidecar, id) = try HandleTable.shared.lookup(session)
        return try sidecar.callBlocking("session/get", SessionRef(sessionId: id))
    }.flatMap { info in cString { try SeedJSON.session(info) } }
}

/// `plue_session_list` of plue_core.h: every session, newest first.
@_cdecl("plue_session_list")
public func plue_session_list() -> UnsafeMutablePointer<CChar>? {
    attempt { () throws -> [SessionInfo] in
        let sidecar = try HandleTable.shared.current()
        var sessions: [SessionInfo] = []
        var cursor: String?
        repeat {
            let page: SessionPage = try sidecar.callBlocking(
                "session/list", ListParams(limit: 1000, cursor: cursor))
            sessions += page.sessions
            cursor = page.nextCursor
        } while cursor != nil
        return sessions
    }.flatMap { sessions in cString { try SeedJSON.list(sessions) } }
}

/// `plue_session_update_title` of plue_core.h.
@_cdecl("plue_session_update_title")
public func plue_session_update_title(_ session: OpaquePointer?,
                                      _ title: UnsafePointer<CChar>?) -> Int32 {
    let done = attempt { () throws -> Bool in
        let (sidecar, id) = try HandleTable.shared.lookup(session)
        let newTitle = try text(title, "title")
        let _: Ignored = try sidecar.callBlocking("session/updateTitle",
                                                  TitleParams(sessionId: id, title: newTitle))
        return true
    }
    return done == nil ? -1 : 0
}

/// `plue_session_delete` of plue_core.h: deletes, and on success releases the handle.
@_cdecl("plue_session_delete")
public func plue_session_delete(_ session: OpaquePointer?) -> Int32 {
    let done = attempt { () throws -> Bool in
        let (sidecar, id) = try HandleTable.shared.lookup(session)
        let _: Ignored = try sidecar.callBlocking("session/delete", SessionRef(sessionId: id))
        if let session { HandleTable.shared.release(session) }
        return true
    }
    return done == nil ? -1 : 0
}

/// `plue_session_abort` of plue_core.h.
@_cdecl("plue_session_abort")
public func plue_session_abort(_ session: OpaquePointer?) -> Int32 {
    let done = attempt { () throws -> Bool in
        let (sidecar, id) = try HandleTable.shared.lookup(session)
        let _: Ignored = try sidecar.callBlocking("session/abort", SessionRef(sessionId: id))
        return true
    }
    return done == nil ? -1 : 0
}

/// `plue_session_create_share` of plue_core.h: the share in the seed's JSON shape.
@_cdecl("plue_session_create_share")
public func plue_session_create_share(_ session: OpaquePointer?) -> UnsafeMutablePointer<CChar>? {
    attempt { () throws -> ShareInfo in
        let (sidecar, id) = try HandleTable.shared.lookup(session)
        return try sidecar.callBlocking("session/share", SessionRef(sessionId: id))
    }.flatMap { share in cString { try SeedJSON.share(share) } }
}

/// `plue_session_destroy` of plue_core.h: releases the handle; deletes nothing.
@_cdecl("plue_session_destroy")
public func plue_session_destroy(_ session: OpaquePointer?) {
    guard let session else { return }
    guard let sidecar = try? HandleTable.shared.current(),
          let id = HandleTable.shared.release(session) else { return }
    // Fire and forget: releasing a handle never waits for the sidecar.
    sidecar.callInBackground("session/close", SessionRef(sessionId: id))
}

/// `plue_last_error` of plue_core.h: the calling thread's last error.
@_cdecl("plue_last_error")
public func plue_last_error() -> UnsafeMutablePointer<CChar>? {
    ThreadError.current().flatMap { strdup($0) }
}

/// `plue_free_string` of plue_core.h.
@_cdecl("plue_free_string")
public func plue_free_string(_ string: UnsafeMutablePointer<CChar>?) {
    free(string)
}
