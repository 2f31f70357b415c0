import Foundation

/// Something the sidecar sent that was not an answer to a call, or a problem with
/// what it sent.
public enum SidecarEvent: Sendable {
    /// `session/didChange`: a change is durable.
    case sessionChanged(SessionChange)
    /// `session/update`: one streamed piece of a running turn.
    case sessionUpdated(SessionUpdate)
    /// A notification this client does not know, passed through.
    case notification(method: String, params: JSONValue?)
    /// Bytes or a message that could not be used; the stream went on after it.
    case streamProblem(StreamProblem)
}

/// Input from the sidecar that was skipped, and why.
public struct StreamProblem: Sendable, Equatable, CustomStringConvertible {
    /// What kind of problem it was.
    public enum Kind: String, Sendable, Equatable {
        /// A broken header: the decoder resynchronised at the next `Content-Length:`.
        case brokenHeader
        /// A frame above `maximumFrameBytes`: the connection is ended.
        case oversizedFrame
        /// A body that is not a JSON-RPC message.
        case undecodableMessage
        /// An answer whose id is null or names no pending call.
        case unmatchedResponse
    }

    /// What kind of problem it was.
    public let kind: Kind
    /// Details for a log.
    public let detail: String

    /// A problem of `kind` with `detail`.
    public init(kind: Kind, detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// A one-line description, for logs.
    public var description: String { "\(kind.rawValue): \(detail)" }
}
