import Foundation

/// What the decoder found in the bytes fed to it.
public enum FrameEvent: Sendable, Equatable {
    /// A complete body.
    case frame(Data)
    /// Bytes that did not form a valid header; `skipped` bytes were dropped to reach
    /// the next `Content-Length:` header.
    case brokenHeader(reason: String, skipped: Int)
    /// A header announced a body larger than the limit. Reported as soon as the header
    /// is read; the body's bytes are then skipped without being buffered.
    case oversizedFrame(size: Int)
}

/// Splits a byte stream into `Content-Length` framed bodies: a pure function of the
/// bytes fed so far, which never blocks, never traps and never throws.
///
/// Its rules are those of the sidecar's own splitter (`plue_sidecar/rpc/framing.py`):
/// headers end with `\r\n\r\n`; every header line is `Name: value`; `Content-Length`
/// (any case) is required and is ASCII digits only; a header block longer than 8 KiB,
/// a malformed line, a missing or non-numeric length is reported as `.brokenHeader`
/// and the decoder resynchronises at the next `Content-Length:` after the start of the
/// bad bytes. A length above `maximumFrameBytes` is reported and its body skipped.
public struct FrameDecoder: Sendable {
    /// The longest header block accepted, as in the sidecar.
    public static let maximumHeaderBytes = 8192
    private static let separator: [UInt8] = Array("\r\n\r\n".utf8)
    private static let lengthName = "content-length"
    private static let lengthMarker: [UInt8] = Array("content-length:".utf8)

    /// Bodies above this many bytes are skipped and reported as `.oversizedFrame`.
    public let maximumFrameBytes: Int
    private var buffer: [UInt8] = []
    private var head = 0
    private var bodyLength: Int?
    private var skipRemaining = 0

    /// A decoder that accepts bodies up to `maximumFrameBytes` (default 256 MiB).
    public init(maximumFrameBytes: Int = 256 * 1024 * 1024) {
        self.maximumFrameBytes = maximumFrameBytes
    }

    /// Bytes held while waiting for the rest of a frame.
    public var buffered: Int { buffer.count - head }

    /// Append `bytes` and return every event they complete, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [FrameEvent] {
        var incoming = Array(bytes)
        var events: [FrameEvent] = []
        if skipRemaining > 0 {
            let taken = min(skipRemaining, incoming.count)
            skipRemaining -= taken
            incoming.removeFirst(taken)
        }
        buffer.append(contentsOf: incoming)
        while skipRemaining == 0 {
            if let length = bodyLength {
                guard buffered >= length else { break }
                events.append(.frame(Data(buffer[head..<(head + length)])))
                head += length
                bodyLength = nil
            } else if buffered == 0 || !readHeader(&events) {
                break
            }
        }
        compact()
        return events
    }

    /// One frame, header and body, as written to the sidecar.
    public static func frame(_ body: Data) -> Data {
        var data = Data("Content-Length: \(body.count)\r\n\r\n".utf8)
        data.append(body)
        return data
    }

    /// Parse one header block; false when more bytes are needed.
    private mutating func readHeader(_ events: inout [FrameEvent]) -> Bool {
        guard let end = findSeparator(from: head) else {
            if buffered > Self.maximumHeaderBytes {
                resync(&events, reason: "header too long or missing its blank line")
                return true
            }
            return false
        }
        switch Self.contentLength(buffer[head..<end]) {
        case .failure(let problem):
            resync(&events, reason: problem.reason)
        case .success(let length):
            head = end + Self.separator.count
            if length > maximumFrameBytes {
                events.append(.oversizedFrame(size: length))
                let taken = min(length, buffered)
                head += taken
                skipRemaining = length - taken
            } else {
                bodyLength = length
            }
        }
        return true
    }

    /// Drop bytes up to the next `Content-Length:` after the first buffered byte.
    private mutating func resync(_ events: inout [FrameEvent], reason: String) {
        let skipped: Int
        if let next = findMarker(from: head + 1) {
            skipped = next - head
        } else {
            // Keep a tail that may be the start of a header still arriving.
            skipped = max(1, buffered - Self.lengthName.utf8.count)
        }
        head += skipped
        events.append(.brokenHeader(reason: reason, skipped: skipped))
    }

    private mutating func compact() {
        if head == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.count <= 1 << 20)
            head = 0
        } else if head > 65536 && head * 2 > buffer.count {
            buffer.removeFirst(head)
            head = 0
        }
    }

    private func findSeparator(from start: Int) -> Int? {
        let needle = Self.separator
        let last = buffer.count - needle.count
        guard last >= start else { return nil }
        var index = start
        while index <= last {
            if buffer[index] == needle[0] && buffer[index + 1] == needle[1]
                && buffer[index + 2] == needle[2] && buffer[index + 3] == needle[3] {
                return index
            }
            index += 1
        }
        return nil
    }

    private func findMarker(from start: Int) -> Int? {
        let marker = Self.lengthMarker
        guard buffer.count - marker.count >= start else { return nil }
        var index = start
        while index <= buffer.count - marker.count {
            var matched = true
            for offset in 0..<marker.count where Self.lowered(buffer[index + offset]) != marker[offset] {
                matched = false
                break
            }
            if matched { return index }
            index += 1
        }
        return nil
    }

    private static func lowered(_ byte: UInt8) -> UInt8 {
        (byte >= 65 && byte <= 90) ? byte + 32 : byte
    }

    struct HeaderProblem: Error { let reason: String }

    private static func contentLength(_ block: ArraySlice<UInt8>) -> Result<Int, HeaderProblem> {
        var length: Int?
        for line in split(block) {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                  line[line.startIndex..<colon].allSatisfy(isNameByte),
                  !line.contains(UInt8(ascii: "\n")) else {
                let shown = String(decoding: line.prefix(80), as: UTF8.self)
                return .failure(HeaderProblem(reason: "malformed header line \(shown.debugDescription)"))
            }
            let name = String(decoding: line[line.startIndex..<colon].map(lowered), as: UTF8.self)
            let value = trimmed(line[(colon + 1)...])
            guard name == lengthName else { continue }
            guard !value.isEmpty, value.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                let shown = String(decoding: value.prefix(40), as: UTF8.self)
                return .failure(HeaderProblem(reason: "invalid Content-Length \(shown.debugDescription)"))
            }
            length = value.reduce(0) { total, digit in
                let (times, overflow1) = total.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(Int(digit - 48))
                return overflow1 || overflow2 ? Int.max : sum
            }
        }
        guard let length else { return .failure(HeaderProblem(reason: "no Content-Length header")) }
        return .success(length)
    }

    private static func split(_ block: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = block.startIndex
        var index = block.startIndex
        while index < block.endIndex {
            if block[index] == 13 && index + 1 < block.endIndex && block[index + 1] == 10 {
                lines.append(block[start..<index])
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        lines.append(block[start..<block.endIndex])
        return lines
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
            || byte == UInt8(ascii: "-")
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == 32 || first == 9 { slice = slice.dropFirst() }
        while let last = slice.last, last == 32 || last == 9 { slice = slice.dropLast() }
        return slice
    }
}
