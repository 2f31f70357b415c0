import Foundation

/// An identifier the sidecar hands out: a string on the wire, a type of its own here,
/// so that a session id is never passed where a message id belongs.
public protocol WireIdentifier: RawRepresentable, Hashable, Codable, Sendable,
    ExpressibleByStringLiteral, CustomStringConvertible where RawValue == String
{
    /// An id from its wire form.
    init(rawValue: String)
}

extension WireIdentifier {
    /// An id from its wire form.
    public init(_ rawValue: String) { self.init(rawValue: rawValue) }
    /// An id written as a literal.
    public init(stringLiteral value: String) { self.init(rawValue: value) }

    /// Decodes the wire form.
    public init(from decoder: Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    /// Encodes the wire form.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// A one-line description, for logs.
    public var description: String { rawValue }
}

/// A session's id, `session_<13 to 32 digits>`.
public struct SessionID: WireIdentifier {
    /// The id as sent on the wire.
    public let rawValue: String

    /// An id from its wire form.
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// A message's id, `msg_<32 hex>`.
public struct MessageID: WireIdentifier {
    /// The id as sent on the wire.
    public let rawValue: String

    /// An id from its wire form.
    public init(rawValue: String) { self.rawValue = rawValue }
}
