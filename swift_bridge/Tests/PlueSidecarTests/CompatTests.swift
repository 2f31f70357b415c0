import CPlueCore
import Foundation
import SeedFlowC
import XCTest

/// The seed's C API, called through its C declarations in plue_core.h.
final class CompatTests: XCTestCase {
    private func take(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        defer { plue_free_string(pointer) }
        return String(cString: pointer)
    }

    private func lastError() -> String { take(plue_last_error()) ?? "" }

    private func start() throws {
        XCTAssertEqual(plue_init(temporaryDirectory()), 0, lastError())
    }

    func testTheSeedFlowWrittenInCRunsAsTheSeedSays() {
        var failure = [CChar](repeating: 0, count: 1024)
        let status = seed_flow_run(temporaryDirectory(), &failure, failure.count)
        let text = String(decoding: failure.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        XCTAssertEqual(status, 0, text)
    }

    func testSeedJSONHasTheSeedsFieldsWithNullsPresent() throws {
        try start()
        defer { plue_deinit() }
        let session = try XCTUnwrap(plue_session_create(""), lastError())
        defer { plue_session_destroy(session) }
        let json = try XCTUnwrap(take(plue_session_get_info(session)))
        let object = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["id", "parent_id", "title", "created_at", "updated_at",
                                          "message_count", "is_aborted", "share_info"])
        XCTAssertTrue(object["parent_id"] is NSNull)
        XCTAssertTrue(object["share_info"] is NSNull)
        let share = try XCTUnwrap(take(plue_session_create_share(session)))
        XCTAssertFalse(share.contains("\\/"), share)
        let shareObject = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(share.utf8)) as? [String: Any])
        XCTAssertEqual(Set(shareObject.keys), ["url", "secret", "created_at", "expires_at"])
    }

    func testDeleteReleasesTheHandleAndAReleasedHandleIsAnErrorNotACrash() throws {
        try start()
        defer { plue_deinit() }
        let session = try XCTUnwrap(plue_session_create(nil), lastError())
        XCTAssertEqual(plue_session_delete(session), 0, lastError())
        XCTAssertEqual(plue_session_delete(session), -1)
        XCTAssertTrue(lastError().contains("invalid argument"))
        plue_session_destroy(session)  // what a caller of the old header did: harmless
        XCTAssertNil(plue_session_get_info(session))
    }

    func testANullArgumentIsAnInvalidArgumentError() throws {
        try start()
        defer { plue_deinit() }
        XCTAssertNil(plue_session_get_info(nil))
        XCTAssertTrue(lastError().hasPrefix("invalid argument"), lastError())
        let session = try XCTUnwrap(plue_session_create(nil), lastError())
        defer { plue_session_destroy(session) }
        XCTAssertEqual(plue_session_update_title(session, nil), -1)
        XCTAssertTrue(lastError().hasPrefix("invalid argument"), lastError())
        XCTAssertFalse(lastError().contains("launch"))
    }

    func testInvalidUTF8InATitleIsRefused() throws {
        try start()
        defer { plue_deinit() }
        let session = try XCTUnwrap(plue_session_create(nil), lastError())
        defer { plue_session_destroy(session) }
        let invalid: [CChar] = [0x41, CChar(bitPattern: 0xFF), 0x42, 0]
        XCTAssertEqual(plue_session_update_title(session, invalid), -1)
        XCTAssertTrue(lastError().contains("not valid UTF-8"), lastError())
        let info = try XCTUnwrap(take(plue_session_get_info(session)))
        XCTAssertTrue(info.contains("\"title\":\"New Session\""), info)
    }

    func testATitleAboveTheSidecarsLimitSaysSo() throws {
        try start()
        defer { plue_deinit() }
        let session = try XCTUnwrap(plue_session_create(nil), lastError())
        defer { plue_session_destroy(session) }
        XCTAssertEqual(plue_session_update_title(session, String(repeating: "t", count: 201)), -1)
        XCTAssertTrue(lastError().contains("200 characters"), lastError())
    }

    func testLastErrorIsPerThread() throws {
        try start()
        defer { plue_deinit() }
        let session = try XCTUnwrap(plue_session_create(nil), lastError())
        defer { plue_session_destroy(session) }
        let address = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(session)))
        let lost = LockedCounter()
        let group = DispatchGroup()
        for failing in [true, false] {
            group.enter()
            let thread = Thread {
                for _ in 0..<200 {
                    if failing {
                        _ = plue_session_get_info(nil)
                        let error = plue_last_error()
                        if error == nil { lost.increment() }
                        plue_free_string(error)
                    } else {
                        plue_free_string(plue_session_get_info(OpaquePointer(bitPattern: address)))
                    }
                }
                group.leave()
            }
            thread.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(lost.value, 0, "a failing thread lost its own error")
    }

    func testBlockingCallsFromEveryCooperativeThreadDoNotDeadlock() async throws {
        XCTAssertEqual(plue_init(temporaryDirectory()), 0)
        let tasks = 2 * ProcessInfo.processInfo.activeProcessorCount
        let finished = expectation(description: "every task finished")
        finished.expectedFulfillmentCount = tasks
        for _ in 0..<tasks {
            Task.detached {
                for _ in 0..<5 {
                    if let session = plue_session_create(nil) {
                        plue_free_string(plue_session_get_info(session))
                        plue_session_destroy(session)
                    }
                }
                finished.fulfill()
            }
        }
        await fulfillment(of: [finished], timeout: 60)
        plue_deinit()
    }

    func testCallsBeforeInitFailWithNotInitialized() {
        XCTAssertNil(plue_session_create(nil))
        XCTAssertTrue(lastError().contains("not initialized"), lastError())
        XCTAssertNil(plue_session_list())
    }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
