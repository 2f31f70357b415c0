import Foundation

/// Error codes of protocol.md, with their minus signs.
public enum ErrorCode {
    public static let parseError = -32700
    public static let invalidRequest = -32600
    public static let methodNotFound = -32601
    public static let invalidParams = -32602
    public static let internalError = -32603
    public static let serverNotInitialized = -32002
    public static let requestCancelled = -32800
    public static let sessionNotFound = -32010
    public static let parentNotFound = -32011
    public static let sessionBusy = -32012
    public static let shareNotFound = -32013
    public static let storageFull = -32014
    public static let storageUnavailable = -32015
    public static let messageNotFound = -32016
    public static let sessionReadOnly = -32017
    public static let unknownRunner = -32018
}

public enum SidecarError: Error, Sendable, CustomStringConvertible {
    /// The sidecar answered with a JSON-RPC error; `kind` is its `data.kind`.
    case rpc(code: Int, kind: String, message: String)
    /// The process ended; pending and later calls fail with this until relaunched.
    case sidecarTerminated(status: Int32, lastStderr: [String])
    case timedOut(method: String)
    case launchFailed(String)
    case malformedResponse(String)
    case shutDown

    public var description: String {
        switch self {
        case .rpc(let code, let kind, let message): return "\(code) \(kind): \(message)"
        case .sidecarTerminated(let status, let lines):
            return "sidecar terminated (status \(status)): \(lines.suffix(5).joined(separator: " | "))"
        case .timedOut(let method): return "\(method) timed out"
        case .launchFailed(let why): return "could not launch the sidecar: \(why)"
        case .malformedResponse(let why): return "malformed response: \(why)"
        case .shutDown: return "the sidecar was shut down"
        }
    }

    public var code: Int? {
        if case .rpc(let code, _, _) = self { return code }
        return nil
    }

    public var kind: String? {
        if case .rpc(_, let kind, _) = self { return kind }
        return nil
    }
}
