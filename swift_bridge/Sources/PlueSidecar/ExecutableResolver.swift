import Foundation

/// Finds the sidecar's executable before anything is spawned, so that a missing one
/// fails with one `SidecarError.launchFailed` that names it.
enum ExecutableResolver {
    /// The absolute path of `name`: itself when it contains a `/`, else the first
    /// match in `path` (a `PATH` value).
    static func resolve(_ name: String, path: String?) throws -> String {
        if name.isEmpty {
            throw SidecarError.launchFailed(executable: name, reason: "the command is empty")
        }
        if name.contains("/") {
            guard Platform.isExecutableFile(name) else {
                throw SidecarError.launchFailed(executable: name, reason: "no executable file there")
            }
            return name
        }
        let directories = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        for directory in directories where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if Platform.isExecutableFile(candidate) { return candidate }
        }
        throw SidecarError.launchFailed(executable: name, reason: "not found on PATH")
    }
}
