import ProbeCore
import ProbeSupervisor

extension Diagnose {
    /// "cgroup v1 `/kubepods/x`".
    static func cgroupName(_ use: MemoryCgroupUse) -> String {
        "cgroup v\(use.cgroup.version) `\(use.cgroup.path)`"
    }

    /// A SIGKILL while the program's memory cgroup counted OOM kills: the kernel's OOM killer,
    /// stated with the limit and the peak. nil when the cgroup counted none (or is unknown).
    package static func oomKillSentence(_ report: RunFacts) -> String? {
        guard let use = report.memoryCgroup, let kills = use.oomKillsDuringRun, kills > 0 else { return nil }
        var evidence = "\(cgroupName(use)): \(kills) OOM kill\(kills == 1 ? "" : "s") during the run"
        if let peak = use.after.peakBytes { evidence += ", peak usage \(bytes(peak))" }
        guard let limit = use.after.limitBytes else {
            return "It was killed by the kernel's OOM killer (\(evidence)); its cgroup has no memory limit of its own."
        }
        return
            "It was killed by the kernel's OOM killer: the memory limit of its cgroup (\(bytes(limit))) was reached (\(evidence))."
    }

    /// OOM kills in the program's memory cgroup when the program itself did not die of SIGKILL
    /// (a process it started, for example): stated, not attributed.
    package static func oomKillsInCgroupStory(_ report: RunFacts) -> [String] {
        guard let use = report.memoryCgroup, let kills = use.oomKillsDuringRun, kills > 0 else { return [] }
        let limit = use.after.limitBytes.map { "limit \(bytes($0)), " } ?? ""
        let processes = kills == 1 ? "1 process" : "\(kills) processes"
        return [
            "The kernel's OOM killer killed \(processes) in its memory cgroup during the run (\(limit)\(cgroupName(use)))."
        ]
    }

    /// What is known about a SIGKILL that neither probe-exec nor the OOM killer is known to have
    /// sent.
    static func unattributedKillSentence(_ report: RunFacts) -> String {
        guard let use = report.memoryCgroup, use.oomKillsDuringRun != nil else {
            return
                "SIGKILL did not come through probe-exec; its memory cgroup's OOM-kill count could not be read, so whether the kernel's OOM killer sent it is not known."
        }
        return
            "SIGKILL did not come through probe-exec, and the memory cgroup it started in counted no OOM kill during the run (\(cgroupName(use))); who sent it is not known."
    }
}
