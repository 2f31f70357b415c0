import Foundation
import XCTest
@testable import PlueSidecar

/// An in-memory `SidecarChannel`: records what the client writes and delivers what a
/// test makes the "child" say, on its own serial queue (as a real channel's reader
/// thread would).
final class FakeChannel: SidecarChannel, @unchecked Sendable {
    private let lock = NSCondition()
    private let delivery = DispatchQueue(label: "fake-channel")
    private var receive: (@Sendable (Data) -> Void)?
    private var ended: (@Sendable (ChannelEnd) -> Void)?
    private var decoder = FrameDecoder()
    private var messages: [JSONValue] = []
    private(set) var inputClosed = false
    private(set) var closedWithGrace = false
    /// Answers each request the client writes; the default answers `initialize` only.
    var respond: @Sendable (FakeChannel, JSONValue) -> Void = { channel, message in
        if message["method"]?.stringValue == "initialize", let id = message.requestId {
            channel.answer(id, result: .object(["protocolVersion": .number(1)]))
        }
    }

    var processIdentifier: Int32? { nil }

    func start(receive: @escaping @Sendable (Data) -> Void,
               ended: @escaping @Sendable (ChannelEnd) -> Void) {
        lock.withLock {
            self.receive = receive
            self.ended = ended
        }
    }

    func send(_ bytes: Data) {
        let decoded: [JSONValue] = lock.withLock {
            decoder.feed(bytes).compactMap { event in
                guard case .frame(let body) = event else { return nil }
                return try? JSONDecoder().decode(JSONValue.self, from: body)
            }
        }
        lock.withLock {
            messages += decoded
            lock.broadcast()
        }
        for message in decoded { respond(self, message) }
    }

    func closeInput() { lock.withLock { inputClosed = true; lock.broadcast() } }

    func close(grace: Duration) {
        lock.withLock {
            inputClosed = true
            closedWithGrace = true
            lock.broadcast()
        }
    }

    func kill() { end(status: 137) }

    /// Make the child write `bytes`.
    func deliver(_ bytes: Data) {
        let receive = lock.withLock { self.receive }
        delivery.async { receive?(bytes) }
    }

    /// Make the child write `text` as raw bytes.
    func deliver(_ text: String) { deliver(Data(text.utf8)) }

    /// Make the child write `body` as one frame.
    func deliverFrame(_ body: String) { deliver(FrameDecoder.frame(Data(body.utf8))) }

    /// Answer request `id` with `result`.
    func answer(_ id: Int, result: JSONValue) {
        let encoded = (try? JSONEncoder().encode(result)) ?? Data("null".utf8)
        deliverFrame("{\"jsonrpc\":\"2.0\",\"id\":\(id),\"result\":\(String(decoding: encoded, as: UTF8.self))}")
    }

    /// Make the child exit.
    func end(status: Int32) {
        let ended = lock.withLock { self.ended }
        delivery.async { ended?(ChannelEnd(status: status)) }
    }

    /// The first message written with `method` that `matches`, waiting up to `seconds`.
    func waitForMessage(_ method: String, seconds: TimeInterval = 5,
                        where matches: (JSONValue) -> Bool = { _ in true }) -> JSONValue? {
        let deadline = Date().addingTimeInterval(seconds)
        return lock.withLock {
            while true {
                if let found = messages.first(where: {
                    $0["method"]?.stringValue == method && matches($0)
                }) {
                    return found
                }
                if !lock.wait(until: deadline) { return nil }
            }
        }
    }

    /// Whether the client closed the channel, waiting up to five seconds.
    func waitUntilClosed() -> Bool {
        let deadline = Date().addingTimeInterval(5)
        return lock.withLock {
            while !closedWithGrace {
                if !lock.wait(until: deadline) { return closedWithGrace }
            }
            return true
        }
    }
}

/// A sidecar connected to a fake channel that answers `initialize`.
func fakeSidecar(_ channel: FakeChannel = FakeChannel(),
                 callTimeout: Duration = .seconds(30)) async throws -> (Sidecar, FakeChannel) {
    let sidecar = try await Sidecar.connect(
        over: channel, configuration: SidecarConfiguration(callTimeout: callTimeout))
    return (sidecar, channel)
}

/// Run `body` and fail unless it ends within `limit`.
func within<T: Sendable>(_ limit: Duration, file: StaticString = #filePath, line: UInt = #line,
                         _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let started = ContinuousClock.now
    let value = try await body()
    let took = ContinuousClock.now - started
    if took > limit {
        XCTFail("took \(took), more than \(limit)", file: file, line: line)
    }
    return value
}


extension JSONValue {
    /// A request's integer `id`.
    var requestId: Int? {
        guard case .number(let id)? = self["id"] else { return nil }
        return Int(exactly: id)
    }
}
