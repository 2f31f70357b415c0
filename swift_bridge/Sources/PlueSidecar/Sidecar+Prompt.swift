import Foundation

/// The running turn of each session. A token lets a finished turn unregister only
/// itself, never the next one.
final class TurnTable: @unchecked Sendable {
    typealias Stream = AsyncThrowingStream<TurnEvent, Error>.Continuation
    private let lock = NSLock()
    private var turns: [String: (token: UUID, stream: Stream)] = [:]

    func register(_ sessionId: String, _ stream: Stream) -> UUID {
        let token = UUID()
        lock.withLock { turns[sessionId] = (token, stream) }
        return token
    }

    func remove(_ sessionId: String, _ token: UUID) {
        lock.withLock {
            if turns[sessionId]?.token == token { turns.removeValue(forKey: sessionId) }
        }
    }

    func stream(for sessionId: String) -> Stream? { lock.withLock { turns[sessionId]?.stream } }
}

extension Sidecar {
    /// Run a turn: the streamed updates, then `.finished` with the stop reason.
    /// Ending the consumer of the stream (cancelling its task, or breaking out of its
    /// loop) aborts the turn: `$/cancelRequest` is sent for it.
    public func prompt(sessionId: SessionID, parts: [Part],
                       timeout: Duration? = nil) -> AsyncThrowingStream<TurnEvent, Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: TurnEvent.self)
        let session = sessionId.rawValue
        let token = turns.register(session, continuation)
        let ticket = CallTicket()
        continuation.onTermination = { [weak self] termination in
            guard case .cancelled = termination, let id = ticket.cancel() else { return }
            self?.cancel(id)
        }
        do {
            let id = try start("session/prompt", PromptParams(sessionId: sessionId, parts: parts),
                               timeout: timeout ?? configuration.callTimeout) { [self] result in
                turns.remove(session, token)
                do {
                    let finished: PromptResult = try Self.decodeResult(result.get())
                    continuation.yield(.finished(finished))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            if !ticket.register(id) { cancel(id) }
        } catch {
            turns.remove(session, token)
            continuation.finish(throwing: error)
        }
        return stream
    }

    func deliverTurnUpdate(_ update: SessionUpdate) {
        turns.stream(for: update.sessionId.rawValue)?.yield(.update(update))
    }
}
