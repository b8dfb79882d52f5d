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

    /// The listening sockets of `root`'s process tree that were not reported before. A look costs
    /// the sock_diag requests and a pass over their inodes; addresses are formatted, and the tree's
    /// descriptors read, only for a listening socket not seen before.
    package func newListeners(root: Int32) -> [Sockets.Listener] {
        // A program that is gone (reaped) has no descriptors to match: nothing to ask the kernel.
        guard kill(root, 0) == 0 || errno == EPERM else { return [] }
        guard netlink >= 0 else { return fallback(root: root) }
        let count = buffer.withUnsafeMutableBufferPointer {
            spr_sockdiag_listeners(netlink, $0.baseAddress!, Int32($0.count))
        }
        guard count >= 0 else { return fallback(root: root) }
        let unseen = (0..<Int(count)).filter { !foreign.contains(buffer[$0].inode) && !ours.contains(buffer[$0].inode) }
        guard !unseen.isEmpty else { return [] }
        let mine = treeSockets(root)
        var fresh: [Sockets.Listener] = []
        for index in unseen {
            let l = buffer[index]
            guard mine.contains(l.inode) else {
                foreign.insert(l.inode)
                continue
            }
            ours.insert(l.inode)
            // Formatted only for the program's own (the first look sees every listener on the host).
            let bytes = withUnsafeBytes(of: l.address) { Array($0) }
            fresh.append(
                Sockets.Listener(
                    address: Sockets.address(networkOrder: bytes, v6: l.family == AF_INET6),
                    port: Int(l.port),
                    inode: l.inode
                )
            )
        }
        return fresh
    }

    /// Without netlink: /proc/PID/net/tcp{,6}.
    private func fallback(root: Int32) -> [Sockets.Listener] {
        classify(
            Sockets.listeners(namespaceOf: root).filter { !foreign.contains($0.inode) && !ours.contains($0.inode) },
            root: root
        )
    }

    /// Which of `fresh` belong to `root`'s tree (read from its descriptors), remembered either way.
    private func classify(_ fresh: [Sockets.Listener], root: Int32) -> [Sockets.Listener] {
        guard !fresh.isEmpty else { return [] }
        let inodes = treeSockets(root)
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

    /// The socket inodes open in `root`'s process tree.
    private func treeSockets(_ root: Int32) -> Set<UInt64> {
        var inodes: Set<UInt64> = []
        for pid in Sockets.processTree(root) { inodes.formUnion(Sockets.socketInodes(of: pid)) }
        return inodes
    }
}
