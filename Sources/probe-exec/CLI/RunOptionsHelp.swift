/// The run options as `probe-exec --help` lists them, read from ``RunOptions``: the top-level help
/// shows them although they belong to the default subcommand (ArgumentParser lists only `run`'s own
/// help), each with the environment variable that sets it too.
enum RunOptionsHelp {
    /// Lines are kept below this width, so ArgumentParser does not wrap them again at 80 columns.
    static let width = 78
    /// The indentation of the help sentences under an option's names.
    static let indent = 8

    /// The section: one entry per option, `-o, --trace FILE  $PROBE_EXEC_TRACE_FILE` and its help below.
    static var section: String {
        var lines = [
            "RUN OPTIONS (each also set by the variable shown, when not given; the command",
            "line wins):",
        ]
        for option in RunOptions.all {
            let spelling = option.names.joined(separator: ", ") + (option.valueName.map { " " + $0 } ?? "")
            lines.append("  \(spelling)  $\(option.environmentVariable)")
            lines += wrap(option.helpWithDefault, width: width - indent).map {
                String(repeating: " ", count: indent) + $0
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `text` in lines of at most `width` characters, broken at spaces.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }
}
