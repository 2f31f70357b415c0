import Foundation

/// Mirrors of the wire types in protocol.md. Times are milliseconds since the epoch.
public struct ShareInfo: Codable, Sendable, Equatable {
    public let url: String
    public let secret: String
    public let createdAt: Int64
    public let expiresAt: Int64?
}

public struct SessionInfo: Codable, Sendable, Equatable {
    public let id: String
    public let parentId: String?
    public let title: String
    public let createdAt: Int64
    public let updatedAt: Int64
    public let messageCount: Int
    public let isAborted: Bool
    public let abortedAt: Int64?
    public let share: ShareInfo?
}

public struct SessionPage: Codable, Sendable {
    public let sessions: [SessionInfo]
    public let nextCursor: String?
}

public enum Role: String, Codable, Sendable {
    case user, assistant, system
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

public struct Message: Codable, Sendable, Equatable {
    public let id: String
    public let sessionId: String
    public let seq: Int
    public let role: Role
    public let parts: [Part]
    public let createdAt: Int64
    public let completedAt: Int64?
    public let status: String
    public let error: String?
}

public struct MessagePage: Codable, Sendable {
    public let messages: [Message]
    public let nextAfterSeq: Int?
}

public enum StopReason: String, Codable, Sendable {
    case endTurn = "end_turn"
    case aborted
    case error
}

public struct PromptResult: Codable, Sendable {
    public let userMessageId: String
    public let assistantMessageId: String
    public let stopReason: StopReason
}

public struct AbortResult: Codable, Sendable {
    public let sessionId: String
    public let cancelled: Int
}

/// `session/didChange`: sent after a change is durable.
public struct SessionChange: Codable, Sendable {
    public let change: String
    public let sessionId: String
    public let session: SessionInfo?
}

/// `session/update`: one streamed piece of a running turn.
public struct SessionUpdate: Codable, Sendable {
    public let sessionId: String
    public let messageId: String
    public let seq: Int
    public let delta: Part
}

/// What a `prompt` stream yields: the streamed pieces, then how the turn ended.
public enum TurnEvent: Sendable {
    case update(SessionUpdate)
    case finished(PromptResult)
}
