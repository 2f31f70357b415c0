import Foundation

// Mirrors of the wire types in protocol.md. Times are milliseconds since the epoch.

/// A live share of a session.
public struct ShareInfo: Codable, Sendable, Equatable {
    /// The share base URL followed by the secret.
    public let url: String
    /// 32 random bytes, base64url without padding.
    public let secret: String
    /// When the share was made (ms).
    public let createdAt: Int64
    /// When the share stops resolving (ms); `nil`: never.
    public let expiresAt: Int64?

    /// A share with every field given.
    public init(url: String, secret: String, createdAt: Int64, expiresAt: Int64?) {
        self.url = url
        self.secret = secret
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// One session's metadata.
public struct SessionInfo: Codable, Sendable, Equatable {
    /// The session's id.
    public let id: SessionID
    /// The session it branched from.
    public let parentId: SessionID?
    /// 1..200 characters.
    public let title: String
    /// Creation time (ms).
    public let createdAt: Int64
    /// Last change of the session or its history (ms).
    public let updatedAt: Int64
    /// Number of stored messages.
    public let messageCount: Int
    /// Set by `abort`, cleared when the next turn starts.
    public let isAborted: Bool
    /// Time of the last abort (ms).
    public let abortedAt: Int64?
    /// The live share, if any.
    public let share: ShareInfo?

    /// A session with every field given.
    public init(id: SessionID, parentId: SessionID?, title: String, createdAt: Int64,
                updatedAt: Int64, messageCount: Int, isAborted: Bool, abortedAt: Int64?,
                share: ShareInfo?) {
        self.id = id
        self.parentId = parentId
        self.title = title
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.messageCount = messageCount
        self.isAborted = isAborted
        self.abortedAt = abortedAt
        self.share = share
    }
}

/// One page of `session/list`.
public struct SessionPage: Codable, Sendable, Equatable {
    /// Newest `updatedAt` first.
    public let sessions: [SessionInfo]
    /// Pass back to get the next page; `nil`: no more.
    public let nextCursor: String?

    /// A page with its sessions and cursor.
    public init(sessions: [SessionInfo], nextCursor: String?) {
        self.sessions = sessions
        self.nextCursor = nextCursor
    }
}

/// Who wrote a message.
public enum Role: String, Codable, Sendable {
    case user, assistant, system
}

/// How a stored message ended.
public enum MessageStatus: String, Codable, Sendable {
    case complete, aborted, error
}

/// One piece of a message, told apart on the wire by `type`.
public enum Part: Codable, Sendable, Equatable {
    case text(String)
    case reasoning(String)
    case toolCall(callId: String, name: String, input: JSONValue)
    case toolResult(callId: String, output: JSONValue, isError: Bool)
    case file(uri: String, mimeType: String)

    private enum Keys: String, CodingKey {
        case type, text, callId, name, input, output, isError, uri, mimeType
    }

    /// Decodes the wire form.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        switch try c.decode(String.self, forKey: .type) {
        case "text": self = .text(try c.decode(String.self, forKey: .text))
        case "reasoning": self = .reasoning(try c.decode(String.self, forKey: .text))
        case "toolCall":
            self = .toolCall(callId: try c.decode(String.self, forKey: .callId),
                             name: try c.decode(String.self, forKey: .name),
                             input: try c.decodeIfPresent(JSONValue.self, forKey: .input) ?? .null)
        case "toolResult":
            self = .toolResult(callId: try c.decode(String.self, forKey: .callId),
                               output: try c.decodeIfPresent(JSONValue.self, forKey: .output) ?? .null,
                               isError: try c.decodeIfPresent(Bool.self, forKey: .isError) ?? false)
        case "file":
            self = .file(uri: try c.decode(String.self, forKey: .uri),
                         mimeType: try c.decode(String.self, forKey: .mimeType))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c,
                                                   debugDescription: "unknown part type \(other)")
        }
    }

    /// Encodes the wire form.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch self {
        case .text(let text):
            try c.encode("text", forKey: .type)
            try c.encode(text, forKey: .text)
        case .reasoning(let text):
            try c.encode("reasoning", forKey: .type)
            try c.encode(text, forKey: .text)
        case .toolCall(let callId, let name, let input):
            try c.encode("toolCall", forKey: .type)
            try c.encode(callId, forKey: .callId)
            try c.encode(name, forKey: .name)
            try c.encode(input, forKey: .input)
        case .toolResult(let callId, let output, let isError):
            try c.encode("toolResult", forKey: .type)
            try c.encode(callId, forKey: .callId)
            try c.encode(output, forKey: .output)
            try c.encode(isError, forKey: .isError)
        case .file(let uri, let mimeType):
            try c.encode("file", forKey: .type)
            try c.encode(uri, forKey: .uri)
            try c.encode(mimeType, forKey: .mimeType)
        }
    }
}

/// One stored message.
public struct Message: Codable, Sendable, Equatable {
    /// The message's id.
    public let id: MessageID
    /// The session it belongs to.
    public let sessionId: SessionID
    /// 1, 2, 3... within the session: the only order of messages.
    public let seq: Int
    /// Who wrote it.
    public let role: Role
    /// Its content.
    public let parts: [Part]
    /// Creation time (ms).
    public let createdAt: Int64
    /// Completion time (ms).
    public let completedAt: Int64?
    /// How it ended.
    public let status: MessageStatus
    /// Why a turn failed (status `error`).
    public let error: String?

    /// A message with every field given.
    public init(id: MessageID, sessionId: SessionID, seq: Int, role: Role, parts: [Part],
                createdAt: Int64, completedAt: Int64?, status: MessageStatus, error: String?) {
        self.id = id
        self.sessionId = sessionId
        self.seq = seq
        self.role = role
        self.parts = parts
        self.createdAt = createdAt
        self.completedAt = completedAt
        self.status = status
        self.error = error
    }
}

/// One page of `message/list`.
public struct MessagePage: Codable, Sendable, Equatable {
    /// In `seq` order.
    public let messages: [Message]
    /// The `afterSeq` of the next page; `nil`: no more.
    public let nextAfterSeq: Int?

    /// A page with its messages and next position.
    public init(messages: [Message], nextAfterSeq: Int?) {
        self.messages = messages
        self.nextAfterSeq = nextAfterSeq
    }
}

/// How a turn ended.
public enum StopReason: String, Codable, Sendable {
    case endTurn = "end_turn"
    case aborted
    case error
}

/// The answer to `session/prompt`.
public struct PromptResult: Codable, Sendable, Equatable {
    /// The stored user message.
    public let userMessageId: MessageID
    /// The stored assistant message.
    public let assistantMessageId: MessageID
    /// How the turn ended.
    public let stopReason: StopReason

    /// A result with every field given.
    public init(userMessageId: MessageID, assistantMessageId: MessageID, stopReason: StopReason) {
        self.userMessageId = userMessageId
        self.assistantMessageId = assistantMessageId
        self.stopReason = stopReason
    }
}

/// The answer to `session/abort`.
public struct AbortResult: Codable, Sendable, Equatable {
    /// The session aborted.
    public let sessionId: SessionID
    /// How many requests it ended.
    public let cancelled: Int

    /// A result with every field given.
    public init(sessionId: SessionID, cancelled: Int) {
        self.sessionId = sessionId
        self.cancelled = cancelled
    }
}

/// What kind of change `session/didChange` reports.
public enum SessionChangeKind: String, Codable, Sendable {
    case created, updated, deleted, aborted, shared, unshared
}

/// `session/didChange`: sent after a change is durable.
public struct SessionChange: Codable, Sendable, Equatable {
    /// What changed.
    public let change: SessionChangeKind
    /// The session that changed.
    public let sessionId: SessionID
    /// The session after the change; `nil` for `deleted`.
    public let session: SessionInfo?

    /// A change with every field given.
    public init(change: SessionChangeKind, sessionId: SessionID, session: SessionInfo?) {
        self.change = change
        self.sessionId = sessionId
        self.session = session
    }
}

/// `session/update`: one streamed piece of a running turn.
public struct SessionUpdate: Codable, Sendable, Equatable {
    /// The session the turn runs in.
    public let sessionId: SessionID
    /// The assistant message being streamed.
    public let messageId: MessageID
    /// That message's `seq`.
    public let seq: Int
    /// The new piece.
    public let delta: Part

    /// An update with every field given.
    public init(sessionId: SessionID, messageId: MessageID, seq: Int, delta: Part) {
        self.sessionId = sessionId
        self.messageId = messageId
        self.seq = seq
        self.delta = delta
    }
}

/// What a `prompt` stream yields: the streamed pieces, then how the turn ended.
public enum TurnEvent: Sendable {
    /// One streamed piece.
    case update(SessionUpdate)
    /// The turn's answer; the stream ends after it.
    case finished(PromptResult)
}
