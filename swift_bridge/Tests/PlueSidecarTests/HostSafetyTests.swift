import Foundation
import XCTest
@testable import PlueSidecar

/// A misbehaving child, played by a fake channel: nothing it sends may trap, hang or
/// lose an answer in the host.
final class HostSafetyTests: XCTestCase {
    private func answer(_ id: Int, _ result: String = "{\"closed\":true}") -> String {
        "{\"jsonrpc\":\"2.0\",\"id\":\(id),\"result\":\(result)}"
    }

    private func requestId(_ channel: FakeChannel, _ method: String) throws -> Int {
        let message = try XCTUnwrap(channel.waitForMessage(method), "\(method) was never sent")
        return try XCTUnwrap(message.requestId, "\(method) has no integer id")
    }

    func testANegativeContentLengthIsSkippedAndTheNextAnswerArrives() async throws {
        let (sidecar, channel) = try await fakeSidecar()
        let closed = Task { try await sidecar.closeSession("session_1000000000000") }
        let id = try requestId(channel, "session/close")
        channel.deliver("Content-Length: -1\r\n\r\n")
        channel.deliverFrame(answer(id))
        try await within(.seconds(2)) { try await closed.value }
    }

    func testAHeaderClaiming2To62BytesEndsTheConnectionInsteadOfStallingIt() async throws {
        let (sidecar, channel) = try await fakeSidecar()
        let events = sidecar.events()
        let closed = Task { try await sidecar.closeSession("session_1000000000000") }
        _ = try requestId(channel, "session/close")
        channel.deliver("Content-Length: 4611686018427387904\r\n\r\n{\"jsonrpc\"")
        do {
            try await within(.seconds(2)) { try await closed.value }
            XCTFail("the call succeeded")
        } catch SidecarError.protocolViolation {}
        XCTAssertTrue(channel.waitUntilClosed(), "the child was not ended")
        var kinds: [StreamProblem.Kind] = []
        for await event in events {
            if case .streamProblem(let problem) = event { kinds.append(problem.kind) }
        }
        XCTAssertEqual(kinds, [.oversizedFrame])
    }

    func testAStrayStdoutLineIsReportedAndDoesNotLoseTheNextAnswer() async throws {
        let (sidecar, channel) = try await fakeSidecar()
        let events = sidecar.events()
        let closed = Task { try await sidecar.closeSession("session_1000000000000") }
        let id = try requestId(channel, "session/close")
        channel.deliver("debug: a print() from a handler\n")
        channel.deliverFrame(answer(id))
        try await within(.seconds(2)) { try await closed.value }
        for await event in events {
            if case .streamProblem(let problem) = event {
                XCTAssertEqual(problem.kind, .brokenHeader)
                break
            }
        }
    }

    func testAnAnswerWithANullIdFailsTheWaitingCallAtOnce() async throws {
        let (sidecar, channel) = try await fakeSidecar()
        let closed = Task { try await sidecar.closeSession("session_1000000000000") }
        _ = try requestId(channel, "session/close")
        channel.deliverFrame("""
            {"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error","data":{"kind":"parse_error"}}}
            """)
        do {
            try await within(.seconds(2)) { try await closed.value }
            XCTFail("the call succeeded")
        } catch let error as SidecarError {
            XCTAssertEqual(error.code, .parseError)
            XCTAssertEqual(error.kind, "parse_error")
        }
    }

    func testAnUndecodableAnswerFailsTheCallWhoseIdItCarries() async throws {
        let (sidecar, channel) = try await fakeSidecar()
        let closed = Task { try await sidecar.closeSession("session_1000000000000") }
        let id = try requestId(channel, "session/close")
        channel.deliverFrame("{\"jsonrpc\":\"2.0\",\"id\":\(id),\"result\":{\"closed\":tru")
        do {
            try await within(.seconds(2)) { try await closed.value }
            XCTFail("the call succeeded")
        } catch SidecarError.malformedResponse {}
    }

    func testCancellingTheAwaitingTaskEndsTheCallAtOnceAndTellsTheSidecar() async throws {
        let (sidecar, channel) = try await fakeSidecar()
        let call = Task { try await sidecar.closeSession("session_1000000000000") }
        let id = try requestId(channel, "session/close")
        let started = ContinuousClock.now
        call.cancel()
        do {
            try await call.value
            XCTFail("the call was not cancelled")
        } catch is CancellationError {}
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(1))
        let cancel = channel.waitForMessage("$/cancelRequest") { $0["params"]?["id"] == .number(Double(id)) }
        XCTAssertNotNil(cancel, "no $/cancelRequest for id \(id)")
    }

    func testACallFromAnAlreadyCancelledTaskSendsNothing() async throws {
        let (sidecar, channel) = try await fakeSidecar()
        let call = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await sidecar.closeSession("session_1000000000000")
        }
        do {
            try await call.value
            XCTFail("the call was not cancelled")
        } catch is CancellationError {}
        XCTAssertNil(channel.waitForMessage("session/close", seconds: 0.2))
    }

    func testEndingAPromptStreamsConsumerCancelsTheTurn() async throws {
        let channel = FakeChannel()
        channel.respond = { channel, message in
            guard let id = message.requestId else { return }
            switch message["method"]?.stringValue {
            case "initialize": channel.answer(id, result: .object([:]))
            case "session/prompt":
                channel.deliverFrame("""
                    {"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"session_1000000000000","messageId":"msg_1","seq":2,"delta":{"type":"text","text":"one"}}}
                    """)
            default: break
            }
        }
        let (sidecar, _) = try await fakeSidecar(channel)
        for try await event in sidecar.prompt(sessionId: "session_1000000000000", parts: [.text("x")]) {
            if case .update = event { break }
        }
        let prompt = try requestId(channel, "session/prompt")
        let cancel = channel.waitForMessage("$/cancelRequest") { $0["params"]?["id"] == .number(Double(prompt)) }
        XCTAssertNotNil(cancel, "the turn was left running")
    }

    func testAZeroTimeoutFailsAtOnceInsteadOfHanging() async throws {
        let (sidecar, _) = try await fakeSidecar()
        for timeout: Duration in [.zero, .milliseconds(-5), .nanoseconds(1)] {
            do {
                try await within(.seconds(2)) {
                    let _: JSONValue = try await sidecar.call("session/close", EmptyParams(), timeout: timeout)
                }
                XCTFail("a call with timeout \(timeout) succeeded")
            } catch SidecarError.timedOut {}
        }
    }

    func testBlockingCallsTimeOutWhileTheyHoldEveryCooperativeThread() async throws {
        let (sidecar, _) = try await fakeSidecar()
        let tasks = 2 * ProcessInfo.processInfo.activeProcessorCount
        let timedOut = expectation(description: "every blocking call timed out")
        timedOut.expectedFulfillmentCount = tasks
        for _ in 0..<tasks {
            Task.detached {
                do {
                    let _: JSONValue = try sidecar.callBlocking(
                        "session/close", EmptyParams(), timeout: .milliseconds(200))
                } catch SidecarError.timedOut {
                    timedOut.fulfill()
                } catch {}
            }
        }
        await fulfillment(of: [timedOut], timeout: 10)
    }

    func testAChildThatExitsFailsEveryPendingCall() async throws {
        let (sidecar, channel) = try await fakeSidecar()
        let closed = Task { try await sidecar.closeSession("session_1000000000000") }
        _ = try requestId(channel, "session/close")
        channel.end(status: 3)
        do {
            try await within(.seconds(2)) { try await closed.value }
            XCTFail("the call succeeded")
        } catch SidecarError.sidecarTerminated(let status, _) {
            XCTAssertEqual(status, 3)
        }
        XCTAssertFalse(sidecar.isRunning)
    }

    func testDroppingTheLastReferenceClosesTheChannel() async throws {
        let channel = FakeChannel()
        var sidecar: Sidecar? = try await fakeSidecar(channel).0
        XCTAssertNotNil(sidecar)
        sidecar = nil
        XCTAssertTrue(channel.waitUntilClosed(), "the Sidecar was not released, or left its child")
    }

    func testErrorsKeepTheSidecarsDataAndCodesAreAnEnum() async throws {
        let channel = FakeChannel()
        channel.respond = { channel, message in
            guard let id = message.requestId else { return }
            if message["method"]?.stringValue == "initialize" {
                return channel.answer(id, result: .object([:]))
            }
            channel.deliverFrame("""
                {"jsonrpc":"2.0","id":\(id),"error":{"code":-32015,"message":"locked","data":{"kind":"storage_unavailable","reason":"locked","field":"dataDir"}}}
                """)
        }
        let (sidecar, _) = try await fakeSidecar(channel)
        do {
            try await sidecar.closeSession("session_1000000000000")
            XCTFail("no error")
        } catch let error as SidecarError {
            let rpc = try XCTUnwrap(error.rpcError)
            XCTAssertEqual(rpc.code, .storageUnavailable)
            XCTAssertEqual(rpc.kind, "storage_unavailable")
            XCTAssertEqual(rpc.reason, "locked")
            XCTAssertEqual(rpc.field, "dataDir")
        }
        XCTAssertEqual(RPCErrorCode(rawValue: -32099), .other(-32099))
        XCTAssertEqual(RPCErrorCode.sessionNotFound.rawValue, -32010)
    }

    func testEventsUseABoundedBuffer() async throws {
        let (sidecar, channel) = try await fakeSidecar()
        let events = sidecar.events(bufferingPolicy: .bufferingNewest(2))
        for seq in 1...5 {
            channel.deliverFrame("""
                {"jsonrpc":"2.0","method":"session/didChange","params":{"change":"deleted","sessionId":"session_100000000000\(seq)"}}
                """)
        }
        let closed = Task { try await sidecar.closeSession("session_1000000000000") }
        let id = try requestId(channel, "session/close")
        channel.deliverFrame(answer(id))
        try await closed.value
        channel.end(status: 0)
        var seen: [SessionID] = []
        for await event in events {
            if case .sessionChanged(let change) = event { seen.append(change.sessionId) }
        }
        XCTAssertEqual(seen, ["session_1000000000004", "session_1000000000005"])
    }
}
