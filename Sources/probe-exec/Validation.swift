import ArgumentParser
import ProbeCore
import ProbeDiagnosis
import ProbeReport
import ProbeSupervisor
import ProbeTrace
import ProbeTracing

/// Turns an ``OptionRules`` finding into ArgumentParser's usage error.
enum Validation {
    /// Throws a ValidationError with `problem`, when there is one.
    static func check(_ problem: String?) throws {
        if let problem { throw ValidationError(problem) }
    }
}
