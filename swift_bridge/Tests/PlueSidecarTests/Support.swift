import Foundation
import XCTest
@testable import PlueSidecar

/// A fresh data directory per test, and a sidecar launched on it.
func temporaryDirectory() -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("plue-swift-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func launchSidecar(dataDirectory: String = temporaryDirectory(),
                   arguments: [String] = []) async throws -> Sidecar {
    try await Sidecar.launch(SidecarConfiguration(
        arguments: arguments, dataDirectory: dataDirectory, callTimeout: .seconds(20)
    ))
}

/// Fails the test unless `body` throws a sidecar error with `code`.
func assertFails<T>(with code: RPCErrorCode, _ body: () async throws -> T,
                    file: StaticString = #filePath, line: UInt = #line) async {
    do {
        _ = try await body()
        XCTFail("expected error \(code)", file: file, line: line)
    } catch let error as SidecarError {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
    } catch {
        XCTFail("unexpected \(error)", file: file, line: line)
    }
}
