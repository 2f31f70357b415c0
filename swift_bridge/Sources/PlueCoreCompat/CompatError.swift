import Foundation
import PlueSidecar

/// Errors of the C layer itself, before the sidecar is asked.
enum CompatError: Error, CustomStringConvertible {
    case invalidArgument(String)
    case notInitialized

    var description: String {
        switch self {
        case .invalidArgument(let what): return "invalid argument: \(what)"
        case .notInitialized: return "not initialized: call plue_init first"
        }
    }
}

/// The calling thread's last error. Per thread, as the seed asks ("thread-local
/// storage for errors"): one thread's success never erases another's failure.
enum ThreadError {
    private static let key = "PlueCoreCompat.lastError"

    static func record(_ error: Error?) {
        Thread.current.threadDictionary[key] = error.map(describe)
    }

    static func current() -> String? {
        Thread.current.threadDictionary[key] as? String
    }

    /// What the C caller reads: the code's kind and the sidecar's words, and where the
    /// sidecar is stricter than the seed, that it is.
    static func describe(_ error: Error) -> String {
        guard let rpc = (error as? SidecarError)?.rpcError else { return "\(error)" }
        var text = "\(rpc.kind ?? "error") (\(rpc.code.rawValue)): \(rpc.message)"
        if rpc.code == .invalidParams && rpc.field == "title" {
            text += " (the sidecar limits titles to 200 characters after trimming;"
                + " the seed had no limit)"
        }
        return text
    }
}
