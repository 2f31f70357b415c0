import Foundation

/// Writes queued byte blocks to a descriptor, in order, on its own thread, then
/// closes it. Callers never block on the child: a child that stops reading stalls only
/// this thread, and its death turns writes into EPIPE (never a SIGPIPE, see `Platform`).
final class PipeWriter: @unchecked Sendable {
    private let handle: FileHandle
    private let condition = NSCondition()
    private var queue: [Data] = []
    private var closing = false
    private var started = false
    private let done = DispatchSemaphore(value: 0)

    /// A writer for `handle`, which it closes when done.
    init(handle: FileHandle) {
        self.handle = handle
    }

    /// Queue `bytes`; dropped once the writer is closing.
    func enqueue(_ bytes: Data) {
        condition.withLock {
            guard !closing else { return }
            queue.append(bytes)
            startIfNeeded()
            condition.signal()
        }
    }

    /// Write what is queued, then close the descriptor. Idempotent.
    func close() {
        condition.withLock {
            guard !closing else { return }
            closing = true
            startIfNeeded()
            condition.signal()
        }
    }

    private func startIfNeeded() {
        guard !started else { return }
        started = true
        let thread = Thread { [self] in run() }
        thread.name = "plue-sidecar-stdin"
        thread.start()
    }

    private func run() {
        Platform.prepareWriterThread()
        var broken = false
        while true {
            let next: Data? = condition.withLock {
                while queue.isEmpty && !closing { condition.wait() }
                return queue.isEmpty ? nil : queue.removeFirst()
            }
            guard let next else { break }
            if broken { continue }
            if let failure = Platform.writeAll(handle.fileDescriptor, next) {
                broken = true
                if failure == Platform.brokenPipe { Platform.discardPendingSIGPIPE() }
                condition.withLock { queue.removeAll() }
            }
        }
        try? handle.close()
        done.signal()
    }

    /// Wait until the descriptor is closed (for tests).
    func waitUntilClosed(timeout: DispatchTime) -> Bool {
        done.wait(timeout: timeout) == .success
    }
}
