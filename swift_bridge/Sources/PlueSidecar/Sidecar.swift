import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A running sidecar: spawns the process, frames requests, correlates answers, and
/// routes notifications. Safe to call from many tasks at once.
public final class Sidecar: @unchecked Sendable {
    public let configuration: SidecarConfiguration
    private let process: Process
    private let input: FileHandle
    private let state = NSLock()
    private let writing = NSLock()
    private var nextId = 1
    private var pending: [Int: CheckedContinuation<Data, Error>] = [:]
    private var ended: SidecarError?
    private var stderrTail: [String] = []
    private var changeSubscribers: [UUID: AsyncStream<SessionChange>.Continuation] = [:]
    /// The running turn of each session, with a token so that a finished turn never
    /// unregisters the next one.
    private var turns: [String: (token: UUID, stream: AsyncThrowingStream<TurnEvent, Error>.Continuation)] = [:]

    private init(configuration: SidecarConfiguration, process: Process, input: FileHandle) {
        self.configuration = configuration
        self.process = process
        self.input = input
    }

    /// Spawn the sidecar and perform `initialize` with this process's pid.
    public static func launch(_ configuration: SidecarConfiguration = SidecarConfiguration())
        async throws -> Sidecar
    {
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        var command = configuration.resolvedCommand() + configuration.arguments
        if let dataDirectory = configuration.dataDirectory {
            command += ["--data-dir", dataDirectory]
        }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.environment = ProcessInfo.processInfo.environment
            .merging(configuration.environment) { _, new in new }
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let sidecar = Sidecar(configuration: configuration, process: process,
                              input: stdin.fileHandleForWriting)
        process.terminationHandler = { [weak sidecar] ended in
            sidecar?.processEnded(status: ended.terminationStatus)
        }
        do {
            try process.run()
        } catch {
            throw SidecarError.launchFailed("\(command.joined(separator: " ")): \(error)")
        }
        sidecar.startReading(stdout.fileHandleForReading.fileDescriptor)
        sidecar.startDraining(stderr.fileHandleForReading.fileDescriptor)
        let _: JSONValue = try await sidecar.call(
            "initialize",
            InitializeParams(processId: Int(ProcessInfo.processInfo.processIdentifier),
                             clientInfo: .init(name: "PlueSidecar", version: "1"))
        )
        return sidecar
    }

    /// A new sidecar with the same configuration (after this one terminated).
    public func relaunched() async throws -> Sidecar {
        try await Sidecar.launch(configuration)
    }

    public var processIdentifier: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    // MARK: calls

    /// Send `method` with `params` and decode its result. `timeout` overrides the
    /// configuration's `callTimeout` for this call.
    public func call<Result: Decodable>(
        _ method: String, _ params: some Encodable & Sendable, timeout: Duration? = nil
    ) async throws -> Result {
        let body = try await send(method, params, timeout: timeout ?? configuration.callTimeout)
        return try Self.decodeResult(body)
    }

    private func send(
        _ method: String, _ params: some Encodable & Sendable, timeout: Duration
    ) async throws -> Data {
        let id: Int = try state.withLock {
            if let ended { throw ended }
            defer { nextId += 1 }
            return nextId
        }
        let frame = try FrameDecoder.frame(
            JSONEncoder().encode(Request(id: id, method: method, params: params))
        )
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            self?.finish(id, with: .failure(SidecarError.timedOut(method: method)))
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            let failure: SidecarError? = state.withLock {
                if let ended { return ended }
                pending[id] = continuation
                return nil
            }
            if let failure {
                continuation.resume(throwing: failure)
                return
            }
            do {
                try writing.withLock { try input.write(contentsOf: frame) }
            } catch {
                finish(id, with: .failure(error))
            }
        }
    }

    /// Send a notification (no answer).
    public func notify(_ method: String, _ params: some Encodable & Sendable) throws {
        let frame = try FrameDecoder.frame(
            JSONEncoder().encode(Notification(method: method, params: params))
        )
        try writing.withLock { try input.write(contentsOf: frame) }
    }

    private func finish(_ id: Int, with result: Result<Data, Error>) {
        let continuation = state.withLock { pending.removeValue(forKey: id) }
        continuation?.resume(with: result)
    }

    private static func decodeResult<Value: Decodable>(_ body: Data) throws -> Value {
        let envelope = try JSONDecoder().decode(ResponseHead.self, from: body)
        if let error = envelope.error {
            throw SidecarError.rpc(code: error.code, kind: error.data?.kind ?? "unknown",
                                   message: error.message)
        }
        do {
            return try JSONDecoder().decode(ResultBody<Value>.self, from: body).result
        } catch {
            throw SidecarError.malformedResponse("\(error)")
        }
    }

    // MARK: notifications

    /// Every `session/didChange` from now on. Each access is a new subscription.
    public var sessionChanges: AsyncStream<SessionChange> {
        AsyncStream { continuation in
            let key = UUID()
            state.withLock { changeSubscribers[key] = continuation }
            continuation.onTermination = { [weak self] _ in
                self?.state.withLock { _ = self?.changeSubscribers.removeValue(forKey: key) }
            }
        }
    }

    /// Run a turn: the streamed updates, then `.finished` with the stop reason.
    public func prompt(sessionId: String, parts: [Part]) -> AsyncThrowingStream<TurnEvent, Error> {
        AsyncThrowingStream { continuation in
            let token = UUID()
            state.withLock { turns[sessionId] = (token, continuation) }
            Task {
                do {
                    let result: PromptResult = try await self.call(
                        "session/prompt", PromptParams(sessionId: sessionId, parts: parts))
                    continuation.yield(.finished(result))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
                self.state.withLock {
                    if self.turns[sessionId]?.token == token {
                        self.turns.removeValue(forKey: sessionId)
                    }
                }
            }
        }
    }

    // MARK: reading

    private func startReading(_ descriptor: Int32) {
        let thread = Thread { [self] in
            var decoder = FrameDecoder()
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, 65536) }
                if count <= 0 { break }
                for body in decoder.feed(buffer[0..<count]) {
                    dispatch(body)
                }
            }
        }
        thread.name = "plue-sidecar-stdout"
        thread.start()
    }

    private func startDraining(_ descriptor: Int32) {
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 16384)
            var partial = ""
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, 16384) }
                if count <= 0 { break }
                partial += String(decoding: buffer[0..<count], as: UTF8.self)
                var lines = partial.components(separatedBy: "\n")
                partial = lines.removeLast()
                for line in lines {
                    state.withLock {
                        stderrTail.append(line)
                        if stderrTail.count > 50 { stderrTail.removeFirst() }
                    }
                    configuration.log(line)
                }
            }
        }
        thread.name = "plue-sidecar-stderr"
        thread.start()
    }

    private func dispatch(_ body: Data) {
        guard let head = try? JSONDecoder().decode(MessageHead.self, from: body) else {
            configuration.log("undecodable message from the sidecar")
            return
        }
        if let method = head.method {
            route(method, body)
        } else if let id = head.id {
            finish(id, with: .success(body))
        }
    }

    private func route(_ method: String, _ body: Data) {
        switch method {
        case "session/didChange":
            guard let change = try? JSONDecoder().decode(NotificationBody<SessionChange>.self,
                                                         from: body).params else { return }
            let subscribers = state.withLock { Array(changeSubscribers.values) }
            for subscriber in subscribers { subscriber.yield(change) }
        case "session/update":
            guard let update = try? JSONDecoder().decode(NotificationBody<SessionUpdate>.self,
                                                         from: body).params else { return }
            let turn = state.withLock { turns[update.sessionId]?.stream }
            turn?.yield(.update(update))
        default:
            break
        }
    }

    private func processEnded(status: Int32) {
        let (waiting, subscribers, running): ([CheckedContinuation<Data, Error>],
                                               [AsyncStream<SessionChange>.Continuation],
                                               [AsyncThrowingStream<TurnEvent, Error>.Continuation])
        let error: SidecarError
        (waiting, subscribers, running, error) = state.withLock {
            let error = ended ?? SidecarError.sidecarTerminated(status: status, lastStderr: stderrTail)
            ended = error
            defer {
                pending.removeAll()
                changeSubscribers.removeAll()
                turns.removeAll()
            }
            return (Array(pending.values), Array(changeSubscribers.values),
                    turns.values.map(\.stream), error)
        }
        for continuation in waiting { continuation.resume(throwing: error) }
        for subscriber in subscribers { subscriber.finish() }
        for turn in running { turn.finish(throwing: error) }
    }

    // MARK: lifecycle

    /// `shutdown`, then `exit`; the child is terminated if it has not gone after `timeout`.
    public func shutdown(timeout: Duration = .seconds(5)) async {
        let _: JSONValue? = try? await call("shutdown", EmptyParams())
        try? notify("exit", EmptyParams())
        try? input.close()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if process.isRunning {
            process.terminate()
            try? await Task.sleep(for: .milliseconds(200))
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        }
        state.withLock { if ended == nil { ended = .shutDown } }
    }

    /// Kill the child at once (SIGKILL), as a crash would.
    public func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
    }
}

// MARK: envelopes

struct Request<Params: Encodable>: Encodable {
    let jsonrpc = "2.0"
    let id: Int
    let method: String
    let params: Params
}

struct Notification<Params: Encodable>: Encodable {
    let jsonrpc = "2.0"
    let method: String
    let params: Params
}

struct MessageHead: Decodable {
    let id: Int?
    let method: String?
}

struct ResponseHead: Decodable {
    struct Failure: Decodable {
        struct Details: Decodable { let kind: String? }
        let code: Int
        let message: String
        let data: Details?
    }
    let error: Failure?
}

struct ResultBody<Value: Decodable>: Decodable {
    let result: Value
}

struct NotificationBody<Params: Decodable>: Decodable {
    let params: Params
}

public struct EmptyParams: Codable, Sendable {
    public init() {}
}

struct InitializeParams: Encodable, Sendable {
    struct Client: Encodable, Sendable {
        let name: String
        let version: String
    }
    let processId: Int
    let clientInfo: Client
}

struct PromptParams: Encodable, Sendable {
    let sessionId: String
    let parts: [Part]
}
