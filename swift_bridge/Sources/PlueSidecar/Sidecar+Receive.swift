import Foundation

/// The decoder for one channel, behind a lock so that the channel may deliver from any
/// (single) thread.
final class FrameReader: @unchecked Sendable {
    private let lock = NSLock()
    private var decoder: FrameDecoder

    init(maximumFrameBytes: Int) {
        decoder = FrameDecoder(maximumFrameBytes: maximumFrameBytes)
    }

    func feed(_ bytes: Data) -> [FrameEvent] { lock.withLock { decoder.feed(bytes) } }
}

extension Sidecar {
    /// Every event from now on, newest kept when the consumer falls behind
    /// `bufferingPolicy`. Each call is a new subscription; it ends with the sidecar.
    public func events(
        bufferingPolicy: AsyncStream<SidecarEvent>.Continuation.BufferingPolicy = .bufferingNewest(1024)
    ) -> AsyncStream<SidecarEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: SidecarEvent.self,
                                                            bufferingPolicy: bufferingPolicy)
        let key = UUID()
        let open = state.withLock { () -> Bool in
            guard ended == nil else { return false }
            subscribers[key] = continuation
            return true
        }
        guard open else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { self?.subscribers.removeValue(forKey: key) }
        }
        return stream
    }

    func publish(_ event: SidecarEvent) {
        if case .streamProblem(let problem) = event { configuration.log("plue-sidecar: \(problem)") }
        let streams = state.withLock { Array(subscribers.values) }
        for stream in streams { stream.yield(event) }
    }

    func receive(_ bytes: Data) {
        for event in reader.feed(bytes) {
            switch event {
            case .frame(let body):
                dispatch(body)
            case .brokenHeader(let reason, let skipped):
                publish(.streamProblem(StreamProblem(
                    kind: .brokenHeader, detail: "\(reason) (\(skipped) bytes skipped)")))
            case .oversizedFrame(let size):
                let why = "a frame of \(size) bytes, above the limit of \(configuration.maximumFrameBytes)"
                publish(.streamProblem(StreamProblem(kind: .oversizedFrame, detail: why)))
                channel.close(grace: .zero)
                failEverything(with: .protocolViolation(why), markExited: false)
            }
        }
    }

    func dispatch(_ body: Data) {
        guard let head = try? JSONDecoder().decode(MessageHead.self, from: body) else {
            undecodable(body)
            return
        }
        switch (head.method, head.id) {
        case (let method?, nil):
            route(method, body)
        case (let method?, _):
            // A request from the sidecar: protocol.md defines none.
            publish(.notification(method: method, params: nil))
        case (nil, .number(let id)?):
            if !finish(id, with: .success(body)) {
                publish(.streamProblem(StreamProblem(
                    kind: .unmatchedResponse, detail: "an answer for id \(id), which no call awaits")))
            }
        case (nil, .other?):
            publish(.streamProblem(StreamProblem(
                kind: .unmatchedResponse, detail: "an answer with an id this client never sends")))
        case (nil, .null?), (nil, nil):
            let detail = "an answer without an id"
            publish(.streamProblem(StreamProblem(kind: .unmatchedResponse, detail: detail)))
            failAllPending(head.error.map { .rpc($0.rpcError) } ?? .malformedResponse(detail))
        }
    }

    /// A body that is not JSON: fail the call whose id stands in it, else every call.
    private func undecodable(_ body: Data) {
        let shown = String(decoding: body.prefix(120), as: UTF8.self).debugDescription
        let detail = "undecodable message: \(shown)"
        publish(.streamProblem(StreamProblem(kind: .undecodableMessage, detail: detail)))
        if let id = RequestIdScanner.id(in: body.prefix(65536)),
           finish(id, with: .failure(SidecarError.malformedResponse(detail))) {
            return
        }
        failAllPending(.malformedResponse(detail))
    }

    /// For an answer no call can be matched with: the sidecar could not tell which
    /// request it answers, so no call in flight can count on an answer. They all fail
    /// now rather than at their timeouts (and may be retried).
    private func failAllPending(_ failure: SidecarError) {
        let calls = state.withLock { Array(pending.keys) }
        for id in calls { finish(id, with: .failure(failure)) }
    }

    private func route(_ method: String, _ body: Data) {
        switch method {
        case "session/didChange":
            if let change = try? JSONDecoder().decode(NotificationBody<SessionChange>.self, from: body) {
                publish(.sessionChanged(change.params))
                return
            }
        case "session/update":
            if let update = try? JSONDecoder().decode(NotificationBody<SessionUpdate>.self, from: body) {
                deliverTurnUpdate(update.params)
                publish(.sessionUpdated(update.params))
                return
            }
        default:
            let params = try? JSONDecoder().decode(OptionalParams.self, from: body).params
            publish(.notification(method: method, params: params ?? nil))
            return
        }
        publish(.streamProblem(StreamProblem(
            kind: .undecodableMessage, detail: "\(method) with params this client cannot read")))
    }
}
