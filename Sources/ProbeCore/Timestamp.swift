#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// UTC time stamps formatted without Foundation.
package enum Timestamp {
    /// `2026-11-25T14:55:37.123Z`
    package static func iso8601(realtimeNanoseconds ns: Int64) -> String {
        let (date, time, millis) = parts(ns)
        return "\(date)T\(time).\(pad(millis, 3))Z"
    }

    /// `20261125T145537.123Z`, for file names.
    package static func compactUTC(realtimeNanoseconds ns: Int64) -> String {
        let (date, time, millis) = parts(ns)
        return date.replacingDashes() + "T" + time.replacingColons() + ".\(pad(millis, 3))Z"
    }

    private static func parts(_ ns: Int64) -> (String, String, Int) {
        let (year, month, day, secondOfDay) = civil(secondsSinceEpoch: ns / 1_000_000_000)
        let date = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
        let time = "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
        return (date, time, Int((ns % 1_000_000_000) / 1_000_000))
    }

    /// The UTC calendar date of a time, by arithmetic (days from civil, Howard Hinnant's
    /// algorithm): glibc's gmtime_r reads /etc/localtime on first use, which costs seven system
    /// calls on every start of probe-exec for a time zone a UTC time stamp never needs.
    package static func civil(secondsSinceEpoch seconds: Int64) -> (year: Int, month: Int, day: Int, secondOfDay: Int) {
        let days = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let secondOfDay = Int(seconds - Int64(days) * 86_400)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day, secondOfDay)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

extension String {
    fileprivate func replacingDashes() -> String { String(self.filter { $0 != "-" }) }
    fileprivate func replacingColons() -> String { String(self.filter { $0 != ":" }) }
}
