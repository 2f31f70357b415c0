import Foundation
import XCTest
@testable import PlueSidecar

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// The real child process: found before it is spawned, never left behind, and never
/// able to change the editor's process-wide signal handling.
final class ProcessLifecycleTests: XCTestCase {
    /// Waits until `pid` is gone (reaped, not a zombie), up to five seconds.
    private func waitUntilGone(_ pid: Int32) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while Platform.processExists(pid) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let gone = !Platform.processExists(pid)
        if !gone { Platform.send(Platform.sigkill, to: pid) }
        return gone
    }

    func testAMissingExecutableIsLaunchFailedNamingIt() async throws {
        for _ in 0..<5 {
            do {
                _ = try await Sidecar.launch(SidecarConfiguration(command: ["plue-sidecar-missing"]))
                XCTFail("a missing executable launched")
            } catch SidecarError.launchFailed(let executable, let reason) {
                XCTAssertEqual(executable, "plue-sidecar-missing")
                XCTAssertEqual(reason, "not found on PATH")
            }
        }
        do {
            _ = try await Sidecar.launch(SidecarConfiguration(command: ["/nonexistent/plue-sidecar"]))
            XCTFail("a missing executable launched")
        } catch SidecarError.launchFailed(let executable, _) {
            XCTAssertEqual(executable, "/nonexistent/plue-sidecar")
        }
    }

    func testAChildThatExitsAtOnceIsALaunchFailure() async throws {
        do {
            _ = try await Sidecar.launch(SidecarConfiguration(
                command: ["/bin/sh", "-c", "echo broken >&2; exit 3"]))
            XCTFail("launched")
        } catch SidecarError.launchFailed(let executable, let reason) {
            XCTAssertEqual(executable, "/bin/sh")
            XCTAssertTrue(reason.contains("status 3"), reason)
        }
    }

    func testALaunchTimeoutEndsTheChild() async throws {
        let pidFile = temporaryDirectory() + "/pid"
        do {
            _ = try await Sidecar.launch(SidecarConfiguration(
                command: ["/bin/sh", "-c", "echo $$ > \(pidFile); exec sleep 30"],
                launchTimeout: .milliseconds(500)))
            XCTFail("launched")
        } catch SidecarError.launchFailed(_, let reason) {
            XCTAssertTrue(reason.contains("initialize"), reason)
        }
        let text = try String(contentsOfFile: pidFile, encoding: .utf8)
        let pid = try XCTUnwrap(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        let gone = try await waitUntilGone(pid)
        XCTAssertTrue(gone, "child \(pid) outlived its failed launch")
    }

    func testDroppingTheLastReferenceEndsTheChild() async throws {
        var sidecar: Sidecar? = try await launchSidecar()
        let pid = try XCTUnwrap(sidecar?.processIdentifier)
        XCTAssertTrue(Platform.processExists(pid))
        sidecar = nil
        let gone = try await waitUntilGone(pid)
        XCTAssertTrue(gone, "child \(pid) outlived its Sidecar")
    }

    func testAShutDownSidecarFreesItsProcessAndItsThreadsEnd() async throws {
        var sidecar: Sidecar? = try await launchSidecar()
        weak let channel = sidecar?.channel as? ProcessChannel
        XCTAssertNotNil(channel)
        await sidecar?.shutdown()
        sidecar = nil
        let deadline = ContinuousClock.now + .seconds(5)
        while channel != nil && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertNil(channel, "the channel (and its Process) outlived the sidecar")
    }

    func testWritingToADeadChildNeitherRaisesSIGPIPENorChangesItsDisposition() async throws {
        let sidecar = try await launchSidecar()
        XCTAssertTrue(sigpipeHasItsDefaultDisposition(), "launch changed SIGPIPE process-wide")
        sidecar.kill()
        while sidecar.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        for _ in 0..<20 { try? sidecar.notify("exit", EmptyParams()) }
        do {
            _ = try await sidecar.createSession()
            XCTFail("a call to a dead sidecar succeeded")
        } catch SidecarError.sidecarTerminated {}
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertTrue(sigpipeHasItsDefaultDisposition())
    }

    func testWritingToAPipeWhoseReaderIsGoneFailsQuietly() throws {
        let pipe = Pipe()
        try pipe.fileHandleForReading.close()
        Platform.disableSIGPIPE(on: pipe.fileHandleForWriting.fileDescriptor)
        let writer = PipeWriter(handle: pipe.fileHandleForWriting)
        for _ in 0..<3 { writer.enqueue(Data(repeating: 1, count: 100_000)) }
        writer.close()
        XCTAssertTrue(writer.waitUntilClosed(timeout: .now() + 5))
        XCTAssertTrue(sigpipeHasItsDefaultDisposition())
    }
}

/// Whether SIGPIPE still has the default action in this process.
func sigpipeHasItsDefaultDisposition() -> Bool {
    var current = sigaction()
    sigaction(SIGPIPE, nil, &current)
    #if canImport(Darwin)
    return current.__sigaction_u.__sa_handler == nil
    #elseif canImport(Glibc)
    return current.__sigaction_handler.sa_handler == nil
    #endif
}
