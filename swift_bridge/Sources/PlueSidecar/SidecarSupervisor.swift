import Foundation

/// Keeps a sidecar running: hands out the live one, and relaunches it after it died,
/// waiting longer after each failed launch (backoff) up to a limit.
public actor SidecarSupervisor {
    /// What each sidecar is launched with.
    public let configuration: SidecarConfiguration
    private let firstDelay: Duration
    private let maximumDelay: Duration
    private let maximumAttempts: Int
    private var current: Sidecar?
    /// How many sidecars were launched so far.
    public private(set) var launches = 0

    /// A supervisor that launches with `configuration`, retrying a failed launch up to
    /// `maximumAttempts` times, `firstDelay` apart, doubling up to `maximumDelay`.
    public init(_ configuration: SidecarConfiguration,
                firstDelay: Duration = .milliseconds(100),
                maximumDelay: Duration = .seconds(5),
                maximumAttempts: Int = 5) {
        self.configuration = configuration
        self.firstDelay = firstDelay
        self.maximumDelay = maximumDelay
        self.maximumAttempts = maximumAttempts
    }

    /// The running sidecar, launched (again) if there is none or it has terminated.
    public func sidecar() async throws -> Sidecar {
        if let current, current.isRunning { return current }
        var delay = firstDelay
        var lastError: Error = SidecarError.launchFailed(executable: "plue-sidecar",
                                                         reason: "no launch attempted")
        for attempt in 0..<max(1, maximumAttempts) {
            if attempt > 0 {
                try await Task.sleep(for: delay)
                delay = min(delay * 2, maximumDelay)
            }
            do {
                let launched = try await Sidecar.launch(configuration)
                launches += 1
                current = launched
                return launched
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// Shut the current sidecar down.
    public func shutdown() async {
        await current?.shutdown()
        current = nil
    }
}
