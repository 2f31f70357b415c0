import CPlueCore
import Foundation
import XCTest

/// The seed's C API, called through its C declarations in plue_core.h.
final class CompatTests: XCTestCase {
    private func take(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        defer { plue_free_string(pointer) }
        return String(cString: pointer)
    }

    private func object(_ text: String?) throws -> [String: Any] {
        let data = Data(try XCTUnwrap(text).utf8)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func testTheSeedFlowsThroughTheCSymbols() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("plue-c-\(UUID().uuidString)").path
        XCTAssertEqual(plue_init(directory), 0, take(plue_last_error()) ?? "")
        defer { plue_deinit() }

        let root = try XCTUnwrap(plue_session_create(nil), take(plue_last_error()) ?? "")
        let rootInfo = try object(take(plue_session_get_info(root)))
        let rootId = try XCTUnwrap(rootInfo["id"] as? String)
        let child = try XCTUnwrap(rootId.withCString { plue_session_create($0) })
        let childInfo = try object(take(plue_session_get_info(child)))
        XCTAssertEqual(childInfo["parentId"] as? String, rootId)

        XCTAssertEqual("retitled".withCString { plue_session_update_title(root, $0) }, 0)
        XCTAssertEqual(try object(take(plue_session_get_info(root)))["title"] as? String, "retitled")
        let share = try object(take(plue_session_create_share(root)))
        XCTAssertNotNil(share["secret"] as? String)
        XCTAssertEqual(plue_session_abort(root), 0)

        let listed = try XCTUnwrap(take(plue_session_list()))
        let sessions = try XCTUnwrap(
            JSONSerialization.jsonObject(with: Data(listed.utf8)) as? [[String: Any]])
        XCTAssertEqual(Set(sessions.compactMap { $0["id"] as? String }).count, 2)

        XCTAssertEqual(plue_session_delete(root), 0)
        XCTAssertNil(plue_session_get_info(child))
        XCTAssertTrue(take(plue_last_error())?.contains("session_not_found") ?? false)
        XCTAssertNil("session_1".withCString { plue_session_create($0) })
        XCTAssertNotNil(take(plue_last_error()))
        plue_session_destroy(child)
        plue_session_destroy(root)
    }
}
