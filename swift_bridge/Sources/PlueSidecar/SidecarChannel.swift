import Foundation

/// How a channel ended.
public struct ChannelEnd: Sendable, Equatable {
    /// The child's exit status (for a signal, 128 + its number); `nil` when unknown.
    public var status: Int32?
    /// The last lines the child wrote to stderr, oldest first.
    public var lastStderr: [String]

    /// A channel end with `status` and the child's last stderr lines.
    public init(status: Int32?, lastStderr: [String] = []) {
        self.status = status
        self.lastStderr = lastStderr
    }
}

/// The byte transport under a `Sidecar`: the child's pipes in production
/// (`ProcessChannel`), an in-memory fake in tests.
///
/// A channel must never call back on Swift's cooperative thread pool while a caller
/// waits for it, and `send` must never block its caller.
public protocol SidecarChannel: AnyObject, Sendable {
    /// The child's pid, when there is a child process.
    var processIdentifier: Int32? { get }

    /// Start delivering: `receive` gets every chunk the child writes, in order, and
    /// `ended` is called once, after the last chunk. Both run on a thread the channel
    /// owns (`ended` on the caller of `start` when the child had already ended). Never
    /// blocking. Called once.
    func start(receive: @escaping @Sendable (Data) -> Void,
               ended: @escaping @Sendable (ChannelEnd) -> Void)

    /// Queue `bytes` for the child. Never blocks; bytes sent after the child is gone
    /// are dropped (the caller learns of it through `ended`).
    func send(_ bytes: Data)

    /// Close the child's input after what was queued: the sidecar exits at EOF.
    func closeInput()

    /// Close the input, then make sure the child is gone: SIGTERM after `grace`,
    /// SIGKILL after twice `grace`. Returns at once.
    func close(grace: Duration)

    /// End the child at once (SIGKILL), as a crash would.
    func kill()
}
