import Foundation

/// A connection to one sidecar: frames requests, correlates answers, routes
/// notifications. Safe to call from many tasks and threads at once.
///
/// Nothing the child sends can trap, hang or leak here: bad frames are reported as
/// `SidecarEvent.streamProblem` and skipped, every call ends (answer, error, timeout
/// or cancellation), and the child is ended when the last reference to its `Sidecar`
/// goes away without `shutdown()`.
public final class Sidecar: @unchecked Sendable {
    /// What this sidecar was launched with.
    public let configuration: SidecarConfiguration
    let channel: any SidecarChannel
    let state = NSLock()
    var nextId = 1
    var pending: [Int: PendingCall] = [:]
    var ended: SidecarError?
    var exited = false
    var subscribers: [UUID: AsyncStream<SidecarEvent>.Continuation] = [:]
    let turns = TurnTable()
    /// Touched only by the channel's receiving thread.
    let reader: FrameReader
    static let timers = DispatchQueue(label: "plue-sidecar-timers")

    /// A connection over `channel`, not yet initialized: use `connect` or `launch`.
    init(configuration: SidecarConfiguration, channel: any SidecarChannel) {
        self.configuration = configuration
        self.channel = channel
        self.reader = FrameReader(maximumFrameBytes: configuration.maximumFrameBytes)
        // The channel's threads hold the Sidecar weakly: dropping the last reference
        // runs deinit, which ends the child.
        channel.start(
            receive: { [weak self] bytes in self?.receive(bytes) },
            ended: { [weak self] end in
                self?.channelEnded(SidecarError.sidecarTerminated(status: end.status,
                                                                  lastStderr: end.lastStderr))
            })
    }

    deinit {
        channel.close(grace: .seconds(1))
        failEverything(with: .shutDown, markExited: false)
    }

    /// The child's pid, when there is a child process.
    public var processIdentifier: Int32? { channel.processIdentifier }

    /// Whether calls can still be made: not shut down, and the child has not ended.
    public var isRunning: Bool { state.withLock { ended == nil } }

    // MARK: calls

    /// Send `method` with `params` and decode its result. `timeout` overrides the
    /// configuration's `callTimeout`. Cancelling the awaiting task ends the call at
    /// once with `CancellationError` and sends `$/cancelRequest`.
    public func call<Result: Decodable>(
        _ method: String, _ params: some Encodable & Sendable, timeout: Duration? = nil
    ) async throws -> Result {
        let body = try await send(method, params, timeout: timeout ?? configuration.callTimeout)
        return try Self.decodeResult(body)
    }

    /// The same call, blocking the calling thread (for the C API). It waits on a
    /// semaphore signalled from the channel's or the timer's thread, never on work
    /// scheduled on Swift's cooperative pool, so it cannot starve it.
    package func callBlocking<Result: Decodable>(
        _ method: String, _ params: some Encodable & Sendable, timeout: Duration? = nil
    ) throws -> Result {
        let done = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        _ = try start(method, params, timeout: timeout ?? configuration.callTimeout) { result in
            outcome.set(result)
            done.signal()
        }
        done.wait()
        return try Self.decodeResult(outcome.get())
    }

    func send(_ method: String, _ params: some Encodable & Sendable,
              timeout: Duration) async throws -> Data {
        try Task.checkCancellation()
        let ticket = CallTicket()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                do {
                    let id = try start(method, params, timeout: timeout) {
                        continuation.resume(with: $0)
                    }
                    if !ticket.register(id) { cancel(id) }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            if let id = ticket.cancel() { self.cancel(id) }
        }
    }

    /// Register a call, write it, arm its timer; `complete` runs exactly once.
    /// Registration comes first, so no answer, timer or end can miss the call.
    @discardableResult
    func start(_ method: String, _ params: some Encodable & Sendable, timeout: Duration,
               complete: @escaping @Sendable (Result<Data, Error>) -> Void) throws -> Int {
        let id: Int = try state.withLock {
            if let ended { throw ended }
            defer { nextId += 1 }
            pending[nextId] = PendingCall(method: method, complete: complete)
            return nextId
        }
        let body: Data
        do {
            body = try JSONEncoder().encode(Request(id: id, method: method, params: params))
        } catch {
            _ = state.withLock { pending.removeValue(forKey: id) }
            throw error
        }
        channel.send(FrameDecoder.frame(body))
        let timer = DispatchWorkItem { [weak self] in
            self?.finish(id, with: .failure(SidecarError.timedOut(method: method)))
        }
        let armed = state.withLock { () -> Bool in
            guard pending[id] != nil else { return false }
            pending[id]?.timer = timer
            return true
        }
        if armed {
            Self.timers.asyncAfter(
                deadline: .now() + .nanoseconds(timeout.clampedNanoseconds), execute: timer)
        }
        return id
    }

    /// End call `id` now with `CancellationError` and tell the sidecar.
    func cancel(_ id: Int) {
        guard finish(id, with: .failure(CancellationError())) else { return }
        try? notify("$/cancelRequest", CancelParams(id: id))
    }

    /// Send a notification (no answer).
    public func notify(_ method: String, _ params: some Encodable & Sendable) throws {
        let body = try JSONEncoder().encode(Notification(method: method, params: params))
        channel.send(FrameDecoder.frame(body))
    }

    /// Complete call `id`; false when it had already ended.
    @discardableResult
    func finish(_ id: Int, with result: Result<Data, Error>) -> Bool {
        guard let call = state.withLock({ pending.removeValue(forKey: id) }) else { return false }
        call.timer?.cancel()
        call.complete(result)
        return true
    }

    /// Fail every pending call and end every stream; later calls fail with `error`.
    func failEverything(with error: SidecarError, markExited: Bool) {
        let (calls, streams, reason): ([PendingCall], [AsyncStream<SidecarEvent>.Continuation], SidecarError)
            = state.withLock {
                let reason = ended ?? error
                ended = reason
                if markExited { exited = true }
                defer {
                    pending.removeAll()
                    subscribers.removeAll()
                }
                return (Array(pending.values), Array(subscribers.values), reason)
            }
        for call in calls {
            call.timer?.cancel()
            call.complete(.failure(reason))
        }
        for stream in streams { stream.finish() }
    }

    func channelEnded(_ error: SidecarError) {
        failEverything(with: error, markExited: true)
    }

    static func decodeResult<Value: Decodable>(_ body: Data) throws -> Value {
        let head: ResponseHead
        do {
            head = try JSONDecoder().decode(ResponseHead.self, from: body)
        } catch {
            throw SidecarError.malformedResponse("\(error)")
        }
        if let error = head.error { throw SidecarError.rpc(error.rpcError) }
        do {
            return try JSONDecoder().decode(ResultBody<Value>.self, from: body).result
        } catch {
            throw SidecarError.malformedResponse("\(error)")
        }
    }
}

/// One call waiting for its answer.
struct PendingCall {
    let method: String
    let complete: @Sendable (Result<Data, Error>) -> Void
    var timer: DispatchWorkItem?
}

/// Links a task's cancellation to the id its call gets, whichever happens first.
final class CallTicket: @unchecked Sendable {
    private let lock = NSLock()
    private var id: Int?
    private var cancelled = false

    /// Record the call's id; false when the task was cancelled already.
    func register(_ id: Int) -> Bool {
        lock.withLock {
            self.id = id
            return !cancelled
        }
    }

    /// Mark cancelled; the id to cancel, when the call has one.
    func cancel() -> Int? {
        lock.withLock {
            cancelled = true
            return id
        }
    }
}

/// The result of a blocking call, handed from the completing thread to the caller.
final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Data, Error>?

    func set(_ value: Result<Data, Error>) { lock.withLock { result = value } }

    func get() throws -> Data {
        guard let result = lock.withLock({ result }) else {
            throw SidecarError.malformedResponse("no result")
        }
        return try result.get()
    }
}

extension Sidecar {
    /// Send a request whose answer nobody waits for (errors are dropped).
    package func callInBackground(_ method: String, _ params: some Encodable & Sendable) {
        _ = try? start(method, params, timeout: configuration.callTimeout) { _ in }
    }
}
