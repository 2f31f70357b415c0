import Foundation
import XCTest
@testable import PlueSidecar

final class FrameDecoderTests: XCTestCase {
    func testSplitsPartialAndCoalescedFramesByBytes() {
        let bodies = ["{}", "{\"t\":\"héllo 🌍\"}", "[1]"].map { Data($0.utf8) }
        var stream = Data()
        for body in bodies { stream.append(FrameDecoder.frame(body)) }
        for chunkSize in [1, 2, 7, 64, stream.count] {
            var decoder = FrameDecoder()
            var received: [Data] = []
            var offset = 0
            while offset < stream.count {
                let end = min(offset + chunkSize, stream.count)
                received += decoder.feed(stream[offset..<end])
                offset = end
            }
            XCTAssertEqual(received, bodies, "chunks of \(chunkSize)")
        }
    }

    func testHeaderNameIsCaseInsensitiveAndOtherHeadersAreIgnored() {
        var decoder = FrameDecoder()
        let frames = decoder.feed(Data("content-length: 2\r\nContent-Type: x\r\n\r\n{}".utf8))
        XCTAssertEqual(frames, [Data("{}".utf8)])
    }

    func testABrokenHeaderIsSkipped() {
        var decoder = FrameDecoder()
        let frames = decoder.feed(Data("garbage\r\n\r\nContent-Length: 2\r\n\r\n{}".utf8))
        XCTAssertEqual(frames, [Data("{}".utf8)])
    }

    func testPartsRoundTripThroughJSON() throws {
        let parts: [Part] = [
            .text("a"), .reasoning("b"),
            .toolCall(callId: "c", name: "n", input: .object(["k": .array([.number(1), .null])])),
            .toolResult(callId: "c", output: .string("ok"), isError: false),
            .file(uri: "file:///a", mimeType: "text/plain"),
        ]
        let decoded = try JSONDecoder().decode([Part].self, from: JSONEncoder().encode(parts))
        XCTAssertEqual(decoded, parts)
    }
}
