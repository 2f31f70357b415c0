import Foundation

public struct SidecarConfiguration: Sendable {
    /// The command to run. `nil`: `$PLUE_SIDECAR` (a command line, split on spaces) if set,
    /// else `plue-sidecar` from `PATH`.
    public var command: [String]?
    /// Extra arguments after the command.
    public var arguments: [String]
    /// Passed as `--data-dir`; `nil` lets the sidecar choose.
    public var dataDirectory: String?
    /// Added to this process's environment.
    public var environment: [String: String]
    /// How long one call may take before it fails with `.timedOut`.
    public var callTimeout: Duration
    /// Receives the sidecar's stderr, line by line.
    public var log: @Sendable (String) -> Void

    public init(
        command: [String]? = nil,
        arguments: [String] = [],
        dataDirectory: String? = nil,
        environment: [String: String] = [:],
        callTimeout: Duration = .seconds(30),
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.command = command
        self.arguments = arguments
        self.dataDirectory = dataDirectory
        self.environment = environment
        self.callTimeout = callTimeout
        self.log = log
    }

    func resolvedCommand() -> [String] {
        if let command { return command }
        if let fromEnvironment = ProcessInfo.processInfo.environment["PLUE_SIDECAR"],
           !fromEnvironment.isEmpty {
            return fromEnvironment.split(separator: " ").map(String.init)
        }
        return ["plue-sidecar"]
    }
}
