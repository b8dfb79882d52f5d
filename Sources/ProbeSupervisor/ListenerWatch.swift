import CProbeExec
import ProbeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Notices when the program's process tree starts listening on a TCP port, at a cost that does
/// not grow with the program: each look is one sock_diag request per address family (the kernel
/// returns only listening sockets), and the tree's descriptors are read only when a listening
/// socket appears that was not seen before (to learn whether it is the program's). Falls back to
/// /proc/PID/net/tcp{,6} where netlink is refused.
package final class ListenerWatch {
    private let netlink: Int32
    /// Listening sockets seen that belong to someone else, and the program's own.
    private var foreign: Set<UInt64> = []
    private var ours: Set<UInt64> = []
    private var buffer = [spr_listener_t](repeating: spr_listener_t(), count: 4096)

    /// Opens the sock_diag socket (or prepares the /proc fallback).
    package init() {
        netlink = spr_sockdiag_open()
    }

    deinit {
        if netlink >= 0 { close(netlink) }
    }

    /// Every listening socket of the network namespace (probe-exec's, as a rule the program's).
    private func allListeners(namespaceOf pid: Int32) -> [Sockets.Listener] {
        guard netlink >= 0 else { return Sockets.listeners(namespaceOf: pid) }
        let count = buffer.withUnsafeMutableBufferPointer {
            spr_sockdiag_listeners(netlink, $0.baseAddress!, Int32($0.count))
        }
        guard count >= 0 else { return Sockets.listeners(namespaceOf: pid) }
        return buffer.prefix(Int(count)).map { l in
            let bytes = withUnsafeBytes(of: l.address) { Array($0) }
            return Sockets.Listener(
                address: Sockets.address(networkOrder: bytes, v6: l.family == AF_INET6),
                port: Int(l.port),
                inode: l.inode
            )
        }
    }

    /// The listening sockets of `root`'s process tree that were not reported before.
    package func newListeners(root: Int32) -> [Sockets.Listener] {
        let fresh = allListeners(namespaceOf: root).filter { !foreign.contains($0.inode) && !ours.contains($0.inode) }
        guard !fresh.isEmpty else { return [] }
        var inodes: Set<UInt64> = []
        for pid in Sockets.processTree(root) { inodes.formUnion(Sockets.socketInodes(of: pid)) }
        var result: [Sockets.Listener] = []
        for listener in fresh {
            if inodes.contains(listener.inode) {
                ours.insert(listener.inode)
                result.append(listener)
            } else {
                foreign.insert(listener.inode)
            }
        }
        return result
    }
}
