import Foundation

/// Everything a call on a `Sidecar` can fail with (besides `CancellationError`).
public enum SidecarError: Error, Sendable, CustomStringConvertible {
    /// The sidecar answered with a JSON-RPC error.
    case rpc(RPCError)
    /// The process ended; pending and later calls fail with this until relaunched.
    case sidecarTerminated(status: Int32?, lastStderr: [String])
    /// No answer within the call's timeout.
    case timedOut(method: String)
    /// The sidecar could not be launched: missing executable, spawn failure, or no
    /// answer to `initialize` (the child is then ended).
    case launchFailed(executable: String, reason: String)
    /// An answer that could not be decoded as this call's result.
    case malformedResponse(String)
    /// The child broke the protocol so badly the stream cannot be trusted (e.g. a
    /// frame above the size limit); the child is ended.
    case protocolViolation(String)
    /// `shutdown()` was called.
    case shutDown

    /// A one-line description, for logs.
    public var description: String {
        switch self {
        case .rpc(let error): return error.description
        case .sidecarTerminated(let status, let lines):
            let shown = status.map(String.init) ?? "unknown"
            return "sidecar terminated (status \(shown)): \(lines.suffix(5).joined(separator: " | "))"
        case .timedOut(let method): return "\(method) timed out"
        case .launchFailed(let executable, let reason):
            return "could not launch \(executable): \(reason)"
        case .malformedResponse(let why): return "malformed response: \(why)"
        case .protocolViolation(let why): return "protocol violation by the sidecar: \(why)"
        case .shutDown: return "the sidecar was shut down"
        }
    }

    /// The RPC error, when the sidecar answered with one.
    public var rpcError: RPCError? {
        if case .rpc(let error) = self { return error }
        return nil
    }

    /// The RPC error code, when the sidecar answered with an error.
    public var code: RPCErrorCode? { rpcError?.code }

    /// The RPC error's `data.kind`, when the sidecar answered with an error.
    public var kind: String? { rpcError?.kind }
}
