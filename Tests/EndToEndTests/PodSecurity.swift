import Foundation
@testable import Emitters
@testable import Hardening

/// The restricted Pod Security Standard, as the tests apply it: the library's own checker
/// (Hardening.PodSecurityStandards), one line per violation.
enum RestrictedPSS {
    static func violations(_ yaml: String) throws -> [String] {
        let (v, workloads) = try PodSecurityStandards.check(yaml)
        return workloads.isEmpty ? ["no workload in the manifest"] : v.map(\.line)
    }
}
