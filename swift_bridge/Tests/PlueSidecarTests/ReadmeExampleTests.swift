import Foundation
import PlueSidecar
import XCTest

/// The README's Swift example, compiled and run as written there.
final class ReadmeExampleTests: XCTestCase {
    func testTheReadmeExampleRuns() async throws {
        let dataDirectory = temporaryDirectory()
        // README example begins
        let sidecar = try await Sidecar.launch(SidecarConfiguration(dataDirectory: dataDirectory))
        let session = try await SessionHandle.create(on: sidecar, title: "Fix the build")
        for try await event in session.prompt("hello world") {
            switch event {
            case .update(let update): print("streamed", update.delta)
            case .finished(let result): print("stopped:", result.stopReason)
            }
        }
        print(try await session.info().messageCount)  // 2
        await sidecar.shutdown()
        // README example ends
        XCTAssertFalse(sidecar.isRunning)
    }
}
