import Foundation

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

struct CancelParams: Encodable, Sendable {
    let id: Int
}

/// A message's id, told apart from a missing one.
enum MessageId: Decodable, CustomStringConvertible {
    case number(Int)
    case null
    case other

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let number = try? container.decode(Int.self) {
            self = .number(number)
        } else {
            self = .other
        }
    }

    var description: String {
        switch self {
        case .number(let id): return "\(id)"
        case .null: return "null"
        case .other: return "not an integer"
        }
    }
}

/// The first decoding pass: enough to route a message.
struct MessageHead: Decodable {
    let id: MessageId?
    let method: String?
    let error: WireError?

    private enum Keys: String, CodingKey { case id, method, error }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        id = container.contains(.id) ? try container.decode(MessageId.self, forKey: .id) : nil
        method = try? container.decodeIfPresent(String.self, forKey: .method)
        error = try? container.decodeIfPresent(WireError.self, forKey: .error)
    }
}

struct WireError: Decodable {
    let code: Int
    let message: String
    let data: JSONValue?

    var rpcError: RPCError {
        RPCError(code: RPCErrorCode(rawValue: code), message: message, data: data)
    }
}

struct ResponseHead: Decodable {
    let error: WireError?
}

struct ResultBody<Value: Decodable>: Decodable {
    let result: Value
}

struct NotificationBody<Params: Decodable>: Decodable {
    let params: Params
}

struct OptionalParams: Decodable {
    let params: JSONValue?
}

/// Params for methods that take none.
public struct EmptyParams: Codable, Sendable {
    /// No params.
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
    let sessionId: SessionID
    let parts: [Part]
}
