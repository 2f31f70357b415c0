import Foundation

/// A `SidecarChannel` over a child process's stdin, stdout and stderr.
///
/// Four dedicated threads drive it, none from Swift's cooperative pool: one reads
/// stdout, one drains stderr (a full stderr pipe would stall the child), one writes
/// stdin in order (so a child that stops reading blocks no caller), and one waits for
/// the child to exit and reaps it.
public final class ProcessChannel: SidecarChannel, @unchecked Sendable {
    private let process: Process
    private let stdinPipe = Pipe()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let writer: PipeWriter
    private let log: @Sendable (String) -> Void
    private let lock = NSLock()
    private var stderrTail: [String] = []
    private var exited = false
    private let outputDone = DispatchSemaphore(value: 0)
    private var endedHandler: (@Sendable (ChannelEnd) -> Void)?
    private var finalEnd: ChannelEnd?

    /// Spawn `executable` (an absolute path, see `ExecutableResolver`) with `arguments`.
    /// Throws `SidecarError.launchFailed` when the process cannot be started.
    public init(executable: String, arguments: [String], environment: [String: String],
                log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        self.log = log
        Platform.disableSIGPIPE(on: stdinPipe.fileHandleForWriting.fileDescriptor)
        writer = PipeWriter(handle: stdinPipe.fileHandleForWriting)
        // The waiter thread spawns the child too: Process.run() ties the Process to the
        // calling thread's run loop until waitUntilExit() runs on it, so both happen on
        // a thread of ours rather than a pool thread (which would keep it, and leak).
        let launched = DispatchSemaphore(value: 0)
        let failure = LaunchOutcome()
        startThread("plue-sidecar-wait") { [self] in
            do {
                try process.run()
            } catch {
                failure.error = error
                launched.signal()
                return
            }
            launched.signal()
            waitForExit()
        }
        launched.wait()
        if let error = failure.error {
            writer.close()
            throw SidecarError.launchFailed(executable: executable, reason: "\(error)")
        }
    }

    /// The child's pid.
    public var processIdentifier: Int32? { process.processIdentifier }

    /// Whether the child has not exited yet.
    public var isRunning: Bool { lock.withLock { !exited } }

    /// Starts the stdout and stderr threads; see `SidecarChannel.start`.
    public func start(receive: @escaping @Sendable (Data) -> Void,
                      ended: @escaping @Sendable (ChannelEnd) -> Void) {
        let stdout = stdoutPipe.fileHandleForReading.fileDescriptor
        let stderr = stderrPipe.fileHandleForReading.fileDescriptor
        startThread("plue-sidecar-stdout") { [self] in
            readChunks(stdout) { receive($0) }
            outputDone.signal()
        }
        startThread("plue-sidecar-stderr") { [self] in
            var partial = Data()
            readChunks(stderr) { chunk in
                partial.append(chunk)
                while let newline = partial.firstIndex(of: 10) {
                    remember(String(decoding: partial[partial.startIndex..<newline], as: UTF8.self))
                    partial = Data(partial[(newline + 1)...])
                }
            }
            if !partial.isEmpty { remember(String(decoding: partial, as: UTF8.self)) }
            outputDone.signal()
        }
        let end = lock.withLock { () -> ChannelEnd? in
            endedHandler = ended
            return finalEnd
        }
        if let end { ended(end) }
    }

    private func waitForExit() {
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal
            ? 128 + process.terminationStatus : process.terminationStatus
        lock.withLock { exited = true }
        writer.close()
        // Deliver every byte the child wrote before reporting its end; a grandchild
        // holding the pipes open must not delay that for ever.
        _ = outputDone.wait(timeout: .now() + .seconds(2))
        _ = outputDone.wait(timeout: .now() + .milliseconds(100))
        let (end, handler) = lock.withLock { () -> (ChannelEnd, (@Sendable (ChannelEnd) -> Void)?) in
            let end = ChannelEnd(status: status, lastStderr: stderrTail)
            finalEnd = end
            return (end, endedHandler)
        }
        handler?(end)
    }

    /// Queues `bytes` for the child's stdin; never blocks.
    public func send(_ bytes: Data) { writer.enqueue(bytes) }

    /// Closes the child's stdin once what is queued is written.
    public func closeInput() { writer.close() }

    /// Closes stdin, then SIGTERM after `grace` and SIGKILL after twice `grace`.
    public func close(grace: Duration) {
        writer.close()
        let pid = process.processIdentifier
        let delay = DispatchTimeInterval.nanoseconds(grace.clampedNanoseconds)
        DispatchQueue.global().asyncAfter(deadline: .now() + delay) { [self] in
            guard isRunning else { return }
            Platform.send(Platform.sigterm, to: pid)
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) { [self] in
                if isRunning { Platform.send(Platform.sigkill, to: pid) }
            }
        }
    }

    /// SIGKILL the child now.
    public func kill() {
        if isRunning { Platform.send(Platform.sigkill, to: process.processIdentifier) }
    }

    private func remember(_ line: String) {
        lock.withLock {
            stderrTail.append(line)
            if stderrTail.count > 50 { stderrTail.removeFirst() }
        }
        log(line)
    }

    private func readChunks(_ descriptor: Int32, _ deliver: (Data) -> Void) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 1)
        defer { buffer.deallocate() }
        while true {
            let count = Platform.read(descriptor, into: buffer)
            if count <= 0 { return }
            deliver(Data(buffer[0..<count]))
        }
    }

    private func startThread(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        thread.start()
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to what `DispatchTimeInterval` can hold.
    var clampedNanoseconds: Int {
        let (seconds, attoseconds) = components
        if seconds <= 0 && attoseconds <= 0 { return 0 }
        if seconds >= Int64(Int.max / 1_000_000_000) - 1 { return Int.max / 2 }
        return Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
    }
}

/// How a spawn on the waiter thread went, read after its semaphore.
private final class LaunchOutcome: @unchecked Sendable {
    var error: Error?
}
