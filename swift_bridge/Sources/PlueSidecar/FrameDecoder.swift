import Foundation

/// Splits a byte stream into `Content-Length` framed bodies. Tolerates partial and
/// coalesced reads; lengths are bytes. Bad headers are skipped up to the next
/// `Content-Length:` header, as the sidecar itself does.
public struct FrameDecoder: Sendable {
    private var buffer = [UInt8]()
    private static let separator: [UInt8] = Array("\r\n\r\n".utf8)
    private static let lengthName: [UInt8] = Array("content-length".utf8)

    public init() {}

    /// Append `bytes` and return every body they complete, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Data] {
        buffer.append(contentsOf: bytes)
        var bodies: [Data] = []
        while let end = Self.find(Self.separator, in: buffer) {
            guard let length = Self.contentLength(in: buffer[..<end]) else {
                buffer.removeFirst(end + Self.separator.count)
                continue
            }
            let start = end + Self.separator.count
            guard buffer.count - start >= length else { break }
            bodies.append(Data(buffer[start..<(start + length)]))
            buffer.removeFirst(start + length)
        }
        return bodies
    }

    /// One frame, header and body, as written to the sidecar.
    public static func frame(_ body: Data) -> Data {
        var data = Data("Content-Length: \(body.count)\r\n\r\n".utf8)
        data.append(body)
        return data
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var index = 0
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0] && Array(haystack[index..<(index + needle.count)]) == needle {
                return index
            }
            index += 1
        }
        return nil
    }

    private static func contentLength(in header: ArraySlice<UInt8>) -> Int? {
        let text = String(decoding: header, as: UTF8.self)
        for line in text.components(separatedBy: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { return nil }
            if parts[0].lowercased() == "content-length" {
                return Int(parts[1].trimmingCharacters(in: .whitespaces))
            }
        }
        return nil
    }
}
