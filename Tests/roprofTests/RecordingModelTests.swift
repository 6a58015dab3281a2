import Foundation
import Testing
@testable import TraceModel

@Suite struct RecordingModelTests {
    @Test func placeholderCompiles() { #expect(Recording.currentVersion == 1) }
}
