import Foundation

/// A session's id, `session_<13+ digits>`.
public struct SessionID: RawRepresentable, Hashable, Codable, Sendable,
    ExpressibleByStringLiteral, CustomStringConvertible
{
    /// The id as sent on the wire.
    public let rawValue: String

    /// An id from its wire form.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// An id from its wire form.
    public init(_ rawValue: String) { self.rawValue = rawValue }
    /// An id written as a literal.
    public init(stringLiteral value: String) { rawValue = value }

    /// Decodes the wire form.
    public init(from decoder: Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    /// Encodes the wire form.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// A one-line description, for logs.
    public var description: String { rawValue }
}

/// A message's id, `msg_<32 hex>`.
public struct MessageID: RawRepresentable, Hashable, Codable, Sendable,
    ExpressibleByStringLiteral, CustomStringConvertible
{
    /// The id as sent on the wire.
    public let rawValue: String

    /// An id from its wire form.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// An id from its wire form.
    public init(_ rawValue: String) { self.rawValue = rawValue }
    /// An id written as a literal.
    public init(stringLiteral value: String) { rawValue = value }

    /// Decodes the wire form.
    public init(from decoder: Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    /// Encodes the wire form.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// A one-line description, for logs.
    public var description: String { rawValue }
}
