import Foundation

/// Finds the top-level `"id"` of a JSON object from its first bytes, like the
/// sidecar's `find_request_id`: for answers that cannot be decoded whole.
enum RequestIdScanner {
    static func id(in bytes: Data) -> Int? {
        let text = Array(String(decoding: bytes, as: UTF8.self).utf8)
        var depth = 0
        var index = 0
        var expectingKey = false
        while index < text.count {
            let char = text[index]
            if char == UInt8(ascii: "\"") {
                guard let end = stringEnd(text, from: index) else { return nil }
                if depth == 1 && expectingKey && Array(text[(index + 1)..<end]) == Array("id".utf8) {
                    return integer(after: end + 1, in: text)
                }
                expectingKey = false
                index = end + 1
                continue
            }
            switch char {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectingKey = char == UInt8(ascii: "{") && depth == 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 1 { expectingKey = true }
            default:
                break
            }
            index += 1
        }
        return nil
    }

    private static func stringEnd(_ text: [UInt8], from start: Int) -> Int? {
        var index = start + 1
        while index < text.count {
            if text[index] == UInt8(ascii: "\\") { index += 2; continue }
            if text[index] == UInt8(ascii: "\"") { return index }
            index += 1
        }
        return nil
    }

    private static func integer(after start: Int, in text: [UInt8]) -> Int? {
        var index = start
        let space: Set<UInt8> = [32, 9, 10, 13]
        while index < text.count && space.contains(text[index]) { index += 1 }
        guard index < text.count && text[index] == UInt8(ascii: ":") else { return nil }
        index += 1
        while index < text.count && space.contains(text[index]) { index += 1 }
        var digits = ""
        while index < text.count, text[index] >= 48 && text[index] <= 57, digits.count < 18 {
            digits.append(Character(UnicodeScalar(text[index])))
            index += 1
        }
        return Int(digits)
    }
}
