#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// UTC time stamps formatted without Foundation.
public enum Timestamp {
    /// `2026-11-25T14:55:37.123Z`
    public static func iso8601(realtimeNanoseconds ns: Int64) -> String {
        let (date, time, millis) = parts(ns)
        return "\(date)T\(time).\(pad(millis, 3))Z"
    }

    /// `20261125T145537.123Z`, for file names.
    public static func compactUTC(realtimeNanoseconds ns: Int64) -> String {
        let (date, time, millis) = parts(ns)
        return date.replacingDashes() + "T" + time.replacingColons() + ".\(pad(millis, 3))Z"
    }

    private static func parts(_ ns: Int64) -> (String, String, Int) {
        var seconds = time_t(ns / 1_000_000_000)
        var tm = tm()
        gmtime_r(&seconds, &tm)
        let date = "\(pad(Int(tm.tm_year) + 1900, 4))-\(pad(Int(tm.tm_mon) + 1, 2))-\(pad(Int(tm.tm_mday), 2))"
        let time = "\(pad(Int(tm.tm_hour), 2)):\(pad(Int(tm.tm_min), 2)):\(pad(Int(tm.tm_sec), 2))"
        return (date, time, Int((ns % 1_000_000_000) / 1_000_000))
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
