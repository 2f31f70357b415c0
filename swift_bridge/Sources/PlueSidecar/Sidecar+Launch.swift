import Foundation

extension Sidecar {
    /// Spawn the sidecar and perform `initialize` with this process's pid.
    /// Fails with `.launchFailed` (naming the executable) when it cannot be found or
    /// started, or does not answer `initialize` within `launchTimeout`; the child is
    /// then ended.
    public static func launch(_ configuration: SidecarConfiguration = SidecarConfiguration())
        async throws -> Sidecar
    {
        let (channel, executable) = try spawn(configuration)
        return try await connect(over: channel, configuration: configuration, executable: executable)
    }

    /// Initialize a sidecar over an existing channel (a fake one in tests).
    public static func connect(over channel: any SidecarChannel,
                               configuration: SidecarConfiguration = SidecarConfiguration())
        async throws -> Sidecar
    {
        try await connect(over: channel, configuration: configuration, executable: "the sidecar")
    }

    /// `launch`, blocking the calling thread (for the C API).
    package static func launchBlocking(_ configuration: SidecarConfiguration) throws -> Sidecar {
        let (channel, executable) = try spawn(configuration)
        let sidecar = Sidecar(configuration: configuration, channel: channel)
        do {
            let _: JSONValue = try sidecar.callBlocking("initialize", initializeParams,
                                                        timeout: configuration.launchTimeout)
            return sidecar
        } catch {
            throw launchFailure(error, sidecar: sidecar, executable: executable)
        }
    }

    /// A new sidecar with the same configuration (after this one terminated).
    public func relaunched() async throws -> Sidecar {
        try await Sidecar.launch(configuration)
    }

    private static func connect(over channel: any SidecarChannel,
                                configuration: SidecarConfiguration,
                                executable: String) async throws -> Sidecar {
        let sidecar = Sidecar(configuration: configuration, channel: channel)
        do {
            let _: JSONValue = try await sidecar.call("initialize", initializeParams,
                                                      timeout: configuration.launchTimeout)
            return sidecar
        } catch {
            throw launchFailure(error, sidecar: sidecar, executable: executable)
        }
    }

    private static func spawn(_ configuration: SidecarConfiguration) throws -> (ProcessChannel, String) {
        let command = configuration.resolvedCommand()
        let environment = ProcessInfo.processInfo.environment
            .merging(configuration.environment) { _, new in new }
        let name = command.first ?? ""
        let executable = try ExecutableResolver.resolve(name, path: environment["PATH"])
        var arguments = Array(command.dropFirst()) + configuration.arguments
        if let dataDirectory = configuration.dataDirectory {
            arguments += ["--data-dir", dataDirectory]
        }
        let channel = try ProcessChannel(executable: executable, arguments: arguments,
                                         environment: environment, log: configuration.log)
        return (channel, executable)
    }

    private static var initializeParams: InitializeParams {
        InitializeParams(processId: Int(ProcessInfo.processInfo.processIdentifier),
                         clientInfo: .init(name: "PlueSidecar", version: "1"))
    }

    /// End the child and say why the launch failed. Cancellation stays cancellation.
    private static func launchFailure(_ error: Error, sidecar: Sidecar, executable: String) -> Error {
        sidecar.channel.close(grace: .zero)
        sidecar.failEverything(with: .shutDown, markExited: false)
        switch error {
        case let error as SidecarError:
            switch error {
            case .timedOut:
                return SidecarError.launchFailed(
                    executable: executable,
                    reason: "no answer to initialize within \(sidecar.configuration.launchTimeout)")
            case .sidecarTerminated(let status, let lines):
                let shown = status.map(String.init) ?? "unknown"
                return SidecarError.launchFailed(
                    executable: executable,
                    reason: "exited (status \(shown)) before answering initialize: "
                        + lines.suffix(5).joined(separator: " | "))
            default:
                return SidecarError.launchFailed(executable: executable, reason: "\(error)")
            }
        default:
            return error
        }
    }
}
