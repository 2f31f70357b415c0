import Foundation
import XCTest
@testable import PlueSidecar

final class FrameDecoderTests: XCTestCase {
    private func frames(_ events: [FrameEvent]) -> [String] {
        events.compactMap {
            guard case .frame(let body) = $0 else { return nil }
            return String(decoding: body, as: UTF8.self)
        }
    }

    private func problems(_ events: [FrameEvent]) -> [FrameEvent] {
        events.filter { if case .frame = $0 { return false } else { return true } }
    }

    func testSplitsPartialAndCoalescedFramesByBytes() {
        let bodies = ["{}", "{\"t\":\"héllo 🌍\"}", "[1]"]
        var stream = Data()
        for body in bodies { stream.append(FrameDecoder.frame(Data(body.utf8))) }
        for chunkSize in [1, 2, 7, 64, stream.count] {
            var decoder = FrameDecoder()
            var received: [FrameEvent] = []
            var offset = 0
            while offset < stream.count {
                let end = min(offset + chunkSize, stream.count)
                received += decoder.feed(stream[offset..<end])
                offset = end
            }
            XCTAssertEqual(frames(received), bodies, "chunks of \(chunkSize)")
            XCTAssertEqual(decoder.buffered, 0)
        }
    }

    func testHeaderNameIsCaseInsensitiveAndOtherHeadersAreIgnored() {
        var decoder = FrameDecoder()
        let events = decoder.feed(Data("content-length: 2\r\nContent-Type: x\r\n\r\n{}".utf8))
        XCTAssertEqual(events, [.frame(Data("{}".utf8))])
    }

    /// Each row: input, the bodies that must come out, and how many problems are reported.
    func testBrokenHeadersResyncAtTheNextContentLengthLikeTheSidecar() {
        let table: [(String, [String], Int)] = [
            ("Content-Length: -1\r\n\r\nContent-Length: 2\r\n\r\n{}", ["{}"], 1),
            ("Content-Length: abc\r\n\r\nContent-Length: 2\r\n\r\n{}", ["{}"], 1),
            ("Content-Length: 1e3\r\n\r\nContent-Length: 2\r\n\r\n{}", ["{}"], 1),
            ("Content-Length: \r\n\r\nContent-Length: 2\r\n\r\n{}", ["{}"], 1),
            ("garbage\r\n\r\nContent-Length: 2\r\n\r\n{}", ["{}"], 1),
            ("a stray print()\nContent-Length: 2\r\n\r\n{}", ["{}"], 1),
            ("Content-Type: x\r\n\r\nContent-Length: 2\r\n\r\n{}", ["{}"], 1),
            ("Content-Length: 2\n\n{}Content-Length: 3\r\n\r\n[1]", ["[1]"], 1),
            ("Content-Length: 2\r\nno colon here\r\n\r\n{}Content-Length: 2\r\n\r\n[]", ["[]"], 1),
            ("\r\n\r\nContent-Length: 2\r\n\r\n{}", ["{}"], 1),
            ("CONTENT-LENGTH:2\r\n\r\n{}", ["{}"], 0),
            ("Content-Length:   2 \t\r\n\r\n{}", ["{}"], 0),
        ]
        for (input, bodies, problemCount) in table {
            for chunkSize in [1, 3, input.utf8.count] {
                var decoder = FrameDecoder()
                var events: [FrameEvent] = []
                let bytes = Array(input.utf8)
                var offset = 0
                while offset < bytes.count {
                    let end = min(offset + chunkSize, bytes.count)
                    events += decoder.feed(bytes[offset..<end])
                    offset = end
                }
                XCTAssertEqual(frames(events), bodies, "\(input.debugDescription) by \(chunkSize)")
                if chunkSize == input.utf8.count {
                    XCTAssertEqual(problems(events).count, problemCount, "\(input.debugDescription)")
                }
            }
        }
    }

    func testAHeaderWithoutItsBlankLineIsDroppedAfterEightKibibytes() {
        var decoder = FrameDecoder()
        let events = decoder.feed(Data(repeating: UInt8(ascii: "x"), count: 9000))
        guard case .brokenHeader(_, let skipped)? = events.first else {
            return XCTFail("no broken header reported: \(events)")
        }
        XCTAssertGreaterThan(skipped, 8000)
        XCTAssertLessThan(decoder.buffered, 20)
    }

    func testAnOversizedFrameIsReportedAtOnceAndSkippedWithoutBeingBuffered() {
        var decoder = FrameDecoder(maximumFrameBytes: 10)
        var events = decoder.feed(Data("Content-Length: 20\r\n\r\n0123456789".utf8))
        XCTAssertEqual(events, [.oversizedFrame(size: 20)])
        XCTAssertEqual(decoder.buffered, 0)
        events = decoder.feed(Data("0123456789Content-Length: 2\r\n\r\n{}".utf8))
        XCTAssertEqual(events, [.frame(Data("{}".utf8))])
    }

    func testAnAbsurdLengthNeitherTrapsNorWaitsForItsBytes() {
        for length in ["4611686018427387904", "99999999999999999999999999"] {
            var decoder = FrameDecoder()
            let events = decoder.feed(Data("Content-Length: \(length)\r\n\r\n{}".utf8))
            guard case .oversizedFrame(let size)? = events.first else {
                return XCTFail("\(length): \(events)")
            }
            XCTAssertGreaterThan(size, decoder.maximumFrameBytes)
            XCTAssertEqual(decoder.buffered, 0)
        }
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
