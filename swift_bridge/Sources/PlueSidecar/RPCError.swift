import Foundation

/// The JSON-RPC error codes of protocol.md, with their minus signs. Switch on it;
/// `.other` keeps any code this client does not know.
public enum RPCErrorCode: Sendable, Hashable {
    case parseError, invalidRequest, methodNotFound, invalidParams, internalError
    case serverNotInitialized, requestCancelled
    /// -32802: a request the sidecar ended (by `session/abort` or a delete), not the client.
    case serverCancelled
    case sessionNotFound, parentNotFound, sessionBusy, shareNotFound, storageFull
    case storageUnavailable, messageNotFound, sessionReadOnly, unknownRunner
    /// A code protocol.md does not define.
    case other(Int)

    private static let known: [(RPCErrorCode, Int)] = [
        (.parseError, -32700), (.invalidRequest, -32600), (.methodNotFound, -32601),
        (.invalidParams, -32602), (.internalError, -32603), (.serverNotInitialized, -32002),
        (.requestCancelled, -32800), (.serverCancelled, -32802), (.sessionNotFound, -32010), (.parentNotFound, -32011),
        (.sessionBusy, -32012), (.shareNotFound, -32013), (.storageFull, -32014),
        (.storageUnavailable, -32015), (.messageNotFound, -32016), (.sessionReadOnly, -32017),
        (.unknownRunner, -32018),
    ]

    /// The case for a numeric code.
    public init(rawValue: Int) {
        self = Self.known.first { $0.1 == rawValue }?.0 ?? .other(rawValue)
    }

    /// The numeric code on the wire.
    public var rawValue: Int {
        if case .other(let code) = self { return code }
        return Self.known.first { $0.0 == self }!.1
    }
}

/// An error answer from the sidecar, with everything it said.
public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The error's code.
    public let code: RPCErrorCode
    /// Human-readable text; match on `code` and `kind`, never on this.
    public let message: String
    /// `error.data`, as sent (`kind`, `field`, `reason`, `errors`...).
    public let data: JSONValue?

    /// An error with `code`, `message` and `data`.
    public init(code: RPCErrorCode, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// `data.kind`, e.g. `session_not_found`.
    public var kind: String? { data?["kind"]?.stringValue }
    /// `data.field`: the dotted path of the invalid param.
    public var field: String? { data?["field"]?.stringValue }
    /// `data.reason`, e.g. `locked` or `aborted`.
    public var reason: String? { data?["reason"]?.stringValue }

    /// A one-line description, for logs.
    public var description: String { "\(code.rawValue) \(kind ?? "unknown"): \(message)" }
}
