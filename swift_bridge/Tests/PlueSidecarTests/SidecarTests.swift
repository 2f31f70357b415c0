import Foundation
import XCTest
@testable import PlueSidecar

final class SidecarTests: XCTestCase {
    func testEveryMethodThroughTheClient() async throws {
        let sidecar = try await launchSidecar()
        let root = try await sidecar.createSession(title: "root")
        let value1 = try await sidecar.session(root.id)
        XCTAssertEqual(value1, root)
        let child = try await sidecar.createSession(parentId: root.id)
        XCTAssertEqual(child.parentId, root.id)
        let children = try await sidecar.listSessions(parentId: root.id)
        XCTAssertEqual(children.sessions.map(\.id), [child.id])
        let value2 = try await sidecar.updateTitle(root.id, to: "renamed").title
        XCTAssertEqual(value2, "renamed")

        let share = try await sidecar.share(root.id)
        XCTAssertTrue(share.url.hasSuffix(share.secret))
        let value3 = try await sidecar.resolveShare(secret: share.secret).id
        XCTAssertEqual(value3, root.id)
        let value4 = try await sidecar.unshare(root.id).share
        XCTAssertNil(value4)
        await assertFails(with: .shareNotFound) {
            try await sidecar.resolveShare(secret: share.secret)
        }

        let message = try await sidecar.appendMessage(root.id, role: .user, parts: [.text("hi")])
        XCTAssertEqual(message.seq, 1)
        let value5 = try await sidecar.message(root.id, messageId: message.id)
        XCTAssertEqual(value5, message)
        let value6 = try await sidecar.listMessages(root.id).messages
        XCTAssertEqual(value6, [message])
        let fork = try await sidecar.fork(root.id, at: message.id)
        XCTAssertEqual(fork.messageCount, 1)
        try await sidecar.closeSession(root.id)
        let value7 = try await sidecar.abort(root.id).cancelled
        XCTAssertEqual(value7, 0)

        let deleted = try await sidecar.deleteSession(root.id)
        XCTAssertEqual(Set(deleted), [root.id, child.id, fork.id])
        await assertFails(with: .sessionNotFound) { try await sidecar.session(root.id) }
        await assertFails(with: .invalidParams) { try await sidecar.session("../etc") }
        await sidecar.shutdown()
    }

    func testTwoHundredConcurrentCallsAreAllAnsweredCorrectly() async throws {
        let sidecar = try await launchSidecar()
        let titles = (0..<200).map { "title \($0)" }
        let created = try await withThrowingTaskGroup(of: SessionInfo.self) { group in
            for title in titles {
                group.addTask { try await sidecar.createSession(title: title) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(Set(created.map(\.title)), Set(titles))
        XCTAssertEqual(Set(created.map(\.id)).count, 200)
        await sidecar.shutdown()
    }

    func testAStreamedEchoTurnAndAnAbortInTheMiddleOfOne() async throws {
        let sidecar = try await launchSidecar(arguments: ["--echo-delay-ms", "30"])
        let session = try await sidecar.createSession()
        var streamed = ""
        var finished: PromptResult?
        for try await event in sidecar.prompt(sessionId: session.id, parts: [.text("one two three")]) {
            switch event {
            case .update(let update):
                if case .text(let text) = update.delta { streamed += text }
            case .finished(let result):
                finished = result
            }
        }
        XCTAssertEqual(streamed, "one two three")
        XCTAssertEqual(finished?.stopReason, .endTurn)

        let words = (0..<200).map { "w\($0)" }.joined(separator: " ")
        var stopReason: StopReason?
        var aborted = false
        for try await event in sidecar.prompt(sessionId: session.id, parts: [.text(words)]) {
            switch event {
            case .update:
                if !aborted {
                    aborted = true
                    Task { _ = try await sidecar.abort(session.id) }
                }
            case .finished(let result):
                stopReason = result.stopReason
            }
        }
        XCTAssertEqual(stopReason, .aborted)
        let messages = try await sidecar.listMessages(session.id).messages
        XCTAssertEqual(messages.last?.status, .aborted)
        await sidecar.shutdown()
    }

    func testSessionChangesAreDelivered() async throws {
        let sidecar = try await launchSidecar()
        let events = sidecar.events()
        let created = try await sidecar.createSession(title: "watched")
        _ = try await sidecar.updateTitle(created.id, to: "changed")
        var seen: [SessionChangeKind] = []
        for await event in events {
            guard case .sessionChanged(let change) = event, change.sessionId == created.id else { continue }
            seen.append(change.change)
            if seen.count == 2 { break }
        }
        XCTAssertEqual(seen, [.created, .updated])
        await sidecar.shutdown()
    }

    func testAKilledSidecarFailsThePendingCallAndARelaunchKeepsEverything() async throws {
        let directory = temporaryDirectory()
        let sidecar = try await launchSidecar(dataDirectory: directory,
                                              arguments: ["--echo-delay-ms", "200"])
        let kept = try await sidecar.createSession(title: "kept")
        let words = (0..<100).map { "w\($0)" }.joined(separator: " ")
        let turn = sidecar.prompt(sessionId: kept.id, parts: [.text(words)])
        var failure: Error?
        do {
            for try await event in turn {
                if case .update = event { sidecar.kill() }
            }
        } catch {
            failure = error
        }
        guard case .sidecarTerminated? = failure as? SidecarError else {
            return XCTFail("expected sidecarTerminated, got \(String(describing: failure))")
        }
        do {
            _ = try await sidecar.session(kept.id)
            XCTFail("a call to a dead sidecar succeeded")
        } catch {}
        let relaunched = try await sidecar.relaunched()
        let value8 = try await relaunched.session(kept.id).title
        XCTAssertEqual(value8, "kept")
        await relaunched.shutdown()
    }

    func testAOneMebibyteMessageRoundTripsWithNonASCIIIntact() async throws {
        let sidecar = try await launchSidecar()
        let session = try await sidecar.createSession()
        let text = String(repeating: "héllo wörld 会话 🚀 ", count: 1024 * 1024 / 20 + 1)
        XCTAssertGreaterThan(text.utf8.count, 1024 * 1024)
        let stored = try await sidecar.appendMessage(session.id, role: .user, parts: [.text(text)])
        let fetched = try await sidecar.message(session.id, messageId: stored.id)
        XCTAssertEqual(fetched.parts, [.text(text)])
        await sidecar.shutdown()
    }

    func testACallAfterShutdownFailsCleanly() async throws {
        let sidecar = try await launchSidecar()
        await sidecar.shutdown()
        XCTAssertFalse(sidecar.isRunning)
        do {
            _ = try await sidecar.createSession()
            XCTFail("a call after shutdown succeeded")
        } catch let error as SidecarError {
            switch error {
            case .shutDown, .sidecarTerminated: break
            default: XCTFail("unexpected \(error)")
            }
        }
    }

    func testSessionHandlesCoverTheSeedOperations() async throws {
        let sidecar = try await launchSidecar()
        let handle = try await SessionHandle.create(on: sidecar, title: "handle")
        try await handle.updateTitle("renamed")
        let value9 = try await handle.info().title
        XCTAssertEqual(value9, "renamed")
        let value10 = try await handle.share().secret.isEmpty
        XCTAssertFalse(value10)
        let child = try await handle.fork()
        let value11 = try await child.info().parentId
        XCTAssertEqual(value11, handle.id)
        let value12 = try await handle.abort().cancelled
        XCTAssertEqual(value12, 0)
        var stop: StopReason?
        for try await event in handle.prompt("hello") {
            if case .finished(let result) = event { stop = result.stopReason }
        }
        XCTAssertEqual(stop, .endTurn)
        try await handle.close()
        let value13 = try await handle.delete().count
        XCTAssertEqual(value13, 2)
        await sidecar.shutdown()
    }
}

final class TimeoutTests: XCTestCase {
    func testACallThatTakesTooLongFailsWithTimedOut() async throws {
        let sidecar = try await launchSidecar(arguments: ["--echo-delay-ms", "500"])
        let session = try await sidecar.createSession()
        do {
            let _: PromptResult = try await sidecar.call(
                "session/prompt",
                PromptParams(sessionId: session.id, parts: [.text("slow words here")]),
                timeout: .milliseconds(100))
            XCTFail("the call did not time out")
        } catch SidecarError.timedOut(let method) {
            XCTAssertEqual(method, "session/prompt")
        }
        await sidecar.shutdown()
    }
}

final class SupervisorTests: XCTestCase {
    func testASupervisorRelaunchesADeadSidecarAndKeepsItsSessions() async throws {
        let supervisor = SidecarSupervisor(SidecarConfiguration(dataDirectory: temporaryDirectory()))
        let first = try await supervisor.sidecar()
        let kept = try await first.createSession(title: "survives")
        first.kill()
        while first.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        let second = try await supervisor.sidecar()
        XCTAssertFalse(first === second)
        let title = try await second.session(kept.id).title
        XCTAssertEqual(title, "survives")
        let launches = await supervisor.launches
        XCTAssertEqual(launches, 2)
        await supervisor.shutdown()
    }

    func testASidecarThatCannotStartFailsAfterTheLastAttempt() async throws {
        let supervisor = SidecarSupervisor(
            SidecarConfiguration(command: ["/nonexistent/plue-sidecar"]),
            firstDelay: .milliseconds(1), maximumAttempts: 3)
        do {
            _ = try await supervisor.sidecar()
            XCTFail("a missing executable launched")
        } catch {}
        let launches = await supervisor.launches
        XCTAssertEqual(launches, 0)
    }
}
