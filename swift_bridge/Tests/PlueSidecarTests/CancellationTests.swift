import Foundation
import XCTest
@testable import PlueSidecar

/// Cancellation against the real sidecar: the call ends at once and the turn stops.
final class CancellationTests: XCTestCase {
    func testCancellingTheTaskAwaitingACallEndsItAtOnce() async throws {
        let sidecar = try await launchSidecar(arguments: ["--echo-delay-ms", "200"])
        let session = try await sidecar.createSession()
        let call = Task {
            let _: PromptResult = try await sidecar.call(
                "session/prompt", PromptParams(sessionId: session.id, parts: [.text("a b c d e f")]))
        }
        try await Task.sleep(for: .milliseconds(100))
        let started = ContinuousClock.now
        call.cancel()
        do {
            try await call.value
            XCTFail("the call was not cancelled")
        } catch is CancellationError {}
        XCTAssertLessThan(ContinuousClock.now - started, .milliseconds(500))
        try await assertTheTurnEndsAborted(sidecar, session.id)
        await sidecar.shutdown()
    }

    func testCancellingAPromptStreamsConsumerAbortsTheTurn() async throws {
        let sidecar = try await launchSidecar(arguments: ["--echo-delay-ms", "30"])
        let session = try await sidecar.createSession()
        let words = (0..<100).map { "w\($0)" }.joined(separator: " ")
        let consumer = Task { () async throws -> StopReason? in
            for try await event in sidecar.prompt(sessionId: session.id, parts: [.text(words)]) {
                if case .finished(let result) = event { return result.stopReason }
            }
            return nil
        }
        try await Task.sleep(for: .milliseconds(200))
        consumer.cancel()
        _ = try? await consumer.value
        try await assertTheTurnEndsAborted(sidecar, session.id)
        await sidecar.shutdown()
    }

    /// The turn's assistant message ends up stored as aborted, well before the 3 s
    /// (or more) the whole turn would take.
    private func assertTheTurnEndsAborted(_ sidecar: Sidecar, _ session: SessionID,
                                          file: StaticString = #filePath,
                                          line: UInt = #line) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        var status: MessageStatus?
        while ContinuousClock.now < deadline {
            let messages = try await sidecar.listMessages(session).messages
            status = messages.count == 2 ? messages.last?.status : nil
            if status != nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        XCTAssertEqual(status, .aborted, "the turn was left running", file: file, line: line)
    }
}
