import Foundation

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// Every call into the C library that differs between macOS and Linux, behind one
/// `#if canImport(Darwin)` / `#elseif canImport(Glibc)` each. `check_platform_guards.py`
/// fails the test command when a platform-only symbol is used outside such a block.
enum Platform {
    /// Send `signal` to `pid`; errors (the process is already gone) are ignored.
    static func send(_ signal: Int32, to pid: Int32) {
        guard pid > 0 else { return }
        #if canImport(Darwin)
        _ = Darwin.kill(pid, signal)
        #elseif canImport(Glibc)
        _ = Glibc.kill(pid, signal)
        #endif
    }

    /// Whether a process with this pid exists (a zombie counts until it is reaped).
    static func processExists(_ pid: Int32) -> Bool {
        #if canImport(Darwin)
        return Darwin.kill(pid, 0) == 0 || errno == EPERM
        #elseif canImport(Glibc)
        return Glibc.kill(pid, 0) == 0 || errno == EPERM
        #endif
    }

    static let sigkill: Int32 = SIGKILL
    static let sigterm: Int32 = SIGTERM

    /// Writes to `descriptor` fail with EPIPE instead of raising SIGPIPE, without
    /// changing the signal disposition of the editor's whole process.
    ///
    /// Darwin: `F_SETNOSIGPIPE` on the pipe itself. Linux has no per-descriptor switch
    /// for pipes, so the writer thread blocks SIGPIPE in its own signal mask (see
    /// `prepareWriterThread`) and discards the pending signal after an EPIPE.
    static func disableSIGPIPE(on descriptor: Int32) {
        #if canImport(Darwin)
        _ = fcntl(descriptor, F_SETNOSIGPIPE, 1)
        #elseif canImport(Glibc)
        _ = descriptor
        #endif
    }

    /// Called once on the dedicated writer thread before its first write.
    static func prepareWriterThread() {
        #if canImport(Darwin)
        // F_SETNOSIGPIPE already covers the pipe.
        #elseif canImport(Glibc)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        #endif
    }

    /// After a write failed with EPIPE: consume the SIGPIPE left pending on this thread.
    static func discardPendingSIGPIPE() {
        #if canImport(Darwin)
        // No signal was raised.
        #elseif canImport(Glibc)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        var none = timespec(tv_sec: 0, tv_nsec: 0)
        while sigtimedwait(&set, nil, &none) == SIGPIPE {}
        #endif
    }

    /// `read(2)`, retried on EINTR. Returns 0 at EOF, -1 on error.
    static func read(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            #if canImport(Darwin)
            let count = Darwin.read(descriptor, buffer.baseAddress, buffer.count)
            #elseif canImport(Glibc)
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            #endif
            if count < 0 && errno == EINTR { continue }
            return count
        }
    }

    /// Write all of `bytes`, retried on EINTR; the errno of the failure otherwise.
    static func writeAll(_ descriptor: Int32, _ bytes: Data) -> Int32? {
        bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int32? in
            var offset = 0
            while offset < raw.count {
                #if canImport(Darwin)
                let count = Darwin.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                #elseif canImport(Glibc)
                let count = Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                #endif
                if count < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += count
            }
            return nil
        }
    }

    /// Whether `path` names an executable regular file.
    static func isExecutableFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
              !isDirectory.boolValue else { return false }
        #if canImport(Darwin)
        return Darwin.access(path, X_OK) == 0
        #elseif canImport(Glibc)
        return Glibc.access(path, X_OK) == 0
        #endif
    }

    static var brokenPipe: Int32 { EPIPE }
}
