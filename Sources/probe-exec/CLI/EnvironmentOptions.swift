import ProbeCore

/// The run options read from the environment, so that an image's `ENTRYPOINT` can be tuned at deploy
/// time without a rebuild (as tini's `TINI_SUBREAPER`): each option of ``RunOptions`` has one variable,
/// ``RunOption/environmentVariable``, read only when the command line does not give the option (the
/// command line wins). An empty variable counts as unset.
///
/// A flag's variable turns it on with `1`, `true`, `yes` or `on` and off with `0`, `false`, `no` or
/// `off` (which matters for a flag on by default, `PROBE_EXEC_SUBREAPER=0`); an option with a value takes the value, and a repeatable one (`-e`, `--map-signal`) a
/// comma-separated list. Both parsers call ``apply(to:except:environment:)`` after reading the command
/// line; it reads one variable per option (no Foundation: it is on the fast path).
enum EnvironmentOptions {
    /// What turns a flag on.
    static let onWords = ["1", "true", "yes", "on"]
    /// What leaves a flag off.
    static let offWords = ["0", "false", "no", "off"]

    /// The process's value of the variable `name`; nil when it is unset or empty.
    @Sendable static func process(_ name: String) -> String? {
        ProcessEnvironment.value(of: name)
    }

    /// Whether the process's environment holds a variable that may set an option: one named
    /// `PROBE_EXEC_…` other than the trace directory's. Without one, ``apply(to:except:environment:)``
    /// has nothing to read, and the option table (each option's names, variable and rules) is
    /// not built at that start.
    static var processMaySetOptions: Bool {
        ProcessEnvironment.hasName(withPrefix: "PROBE_EXEC_", except: ["PROBE_EXEC_TRACE_DIR"])
    }

    /// Sets, from `environment`, every option that the command line did not give; `given` holds the
    /// first names (``RunOption/names``) of those it gave. Returns the first variable that holds a value
    /// its option does not accept, as a sentence; nil when all are accepted (or unset).
    static func apply(
        to arguments: inout EntrypointArguments,
        except given: [String],
        environment: (String) -> String?
    ) -> String? {
        // `-s` and `--no-subreaper` set one thing: either given, the command line has decided it.
        let pair = [RunOptions.subreaper.names[0], RunOptions.noSubreaper.names[0]]
        let given = given.contains(where: pair.contains) ? given + pair : given
        for option in RunOptions.all where !given.contains(option.names[0]) {
            guard let value = environment(option.environmentVariable), !value.isEmpty else { continue }
            if let problem = apply(option, value: value, to: &arguments) { return problem }
        }
        return nil
    }

    /// Sets `option` from its variable's `value`; the problem, as a sentence naming the variable, when the
    /// value is not accepted.
    static func apply(_ option: RunOption, value: String, to arguments: inout EntrypointArguments) -> String? {
        let variable = option.environmentVariable
        guard let valueName = option.valueName else {
            let word = value.lowercased()
            if onWords.contains(word) {
                _ = option.apply(&arguments, "")
                return nil
            }
            if offWords.contains(word) {
                option.unset?(&arguments)  // a flag on by default is turned off
                return nil
            }
            return "\(variable)=\(value): \(option.longName) is a flag; its variable takes 1 or 0 (true or false)"
        }
        let values = option.repeatable ? items(value) : [value]
        for item in values where !option.apply(&arguments, item) {
            let list = option.repeatable ? " (a comma-separated list)" : ""
            return "\(variable)=\(value): not a \(option.longName) \(valueName)\(list): \(item)"
        }
        return nil
    }

    /// `"1, 143"` → `["1", "143"]`: the items of a comma-separated list, without surrounding blanks.
    static func items(_ list: String) -> [String] {
        list.split(separator: ",").map { item in
            String(item.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
        }.filter { !$0.isEmpty }
    }
}
