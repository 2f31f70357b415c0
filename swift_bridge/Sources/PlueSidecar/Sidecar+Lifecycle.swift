import Foundation

extension Sidecar {
    /// `shutdown`, then `exit`, then close the child's input; the child is
    /// terminated (SIGTERM, then SIGKILL) if it has not gone after `timeout`.
    public func shutdown(timeout: Duration = .seconds(5)) async {
        let deadline = ContinuousClock.now + timeout
        if isRunning {
            let _: JSONValue? = try? await call("shutdown", EmptyParams(), timeout: timeout)
        }
        beginExit()
        while !hasExited && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        endExit()
        let hardDeadline = ContinuousClock.now + .seconds(2)
        while !hasExited && ContinuousClock.now < hardDeadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// `shutdown()`, blocking the calling thread (for the C API).
    package func shutdownBlocking(timeout: Duration = .seconds(5)) {
        let deadline = ContinuousClock.now + timeout
        if isRunning {
            let _: JSONValue? = try? callBlocking("shutdown", EmptyParams(), timeout: timeout)
        }
        beginExit()
        while !hasExited && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        endExit()
        let hardDeadline = ContinuousClock.now + .seconds(2)
        while !hasExited && ContinuousClock.now < hardDeadline { Thread.sleep(forTimeInterval: 0.01) }
    }

    /// Kill the child at once (SIGKILL), as a crash would.
    public func kill() {
        channel.kill()
    }

    var hasExited: Bool { state.withLock { exited } }

    private func beginExit() {
        try? notify("exit", EmptyParams())
        channel.closeInput()
    }

    private func endExit() {
        if !hasExited { channel.close(grace: .milliseconds(200)) }
        failEverything(with: .shutDown, markExited: false)
    }
}
