import Foundation

/// How to launch and talk to a sidecar.
public struct SidecarConfiguration: Sendable {
    /// The command to run. `nil`: `$PLUE_SIDECAR` (a command line, split on spaces) if
    /// set, else `plue-sidecar` from `PATH`. The executable is resolved before launch.
    public var command: [String]?
    /// Extra arguments after the command.
    public var arguments: [String]
    /// Passed as `--data-dir`; `nil` lets the sidecar choose.
    public var dataDirectory: String?
    /// Added to this process's environment.
    public var environment: [String: String]
    /// How long one call may take before it fails with `.timedOut`.
    public var callTimeout: Duration
    /// How long the sidecar may take to answer `initialize` before the launch fails
    /// and the child is ended.
    public var launchTimeout: Duration
    /// The largest frame accepted from the sidecar; a larger one ends the connection
    /// with `.protocolViolation` (its bytes would otherwise stall the reader).
    public var maximumFrameBytes: Int
    /// Receives the sidecar's stderr, line by line, and reports of skipped input.
    public var log: @Sendable (String) -> Void

    /// A configuration; every argument has a default.
    public init(
        command: [String]? = nil,
        arguments: [String] = [],
        dataDirectory: String? = nil,
        environment: [String: String] = [:],
        callTimeout: Duration = .seconds(30),
        launchTimeout: Duration = .seconds(15),
        maximumFrameBytes: Int = 256 * 1024 * 1024,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.command = command
        self.arguments = arguments
        self.dataDirectory = dataDirectory
        self.environment = environment
        self.callTimeout = callTimeout
        self.launchTimeout = launchTimeout
        self.maximumFrameBytes = maximumFrameBytes
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
