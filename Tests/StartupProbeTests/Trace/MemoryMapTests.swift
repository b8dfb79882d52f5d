import ProbeCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Which file a mapping is: read from /proc/PID/maps, and what tells a prepared image from the one
/// the exit stop finds.
@Suite struct MemoryMapTests {
    @Test func eachFileMappingNamesItsDeviceAndInode() throws {
        let map = MemoryMap(pid: getpid())
        let files = map.regions.filter { $0.path.hasPrefix("/") && !$0.path.hasSuffix(" (deleted)") }
        try #require(!files.isEmpty)
        for region in files.prefix(20) {
            var info = stat()
            guard stat(region.path, &info) == 0 else { continue }
            #expect(region.inode == UInt64(info.st_ino), "\(region.path)")
            // glibc's dev_t encoding of major and minor (gnu_dev_major, gnu_dev_minor).
            let dev = UInt64(info.st_dev)
            let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
            let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
            #expect(region.device == major << 32 | minor, "\(region.path)")
        }
    }

    @Test func aFileReplacedAtTheSamePathAndPlaceIsAnotherFile() throws {
        // dlclose, a new build renamed over the library, dlopen at the same address: the exit stop
        // must not take the prepared image's table and build-id for it.
        let map = MemoryMap(pid: getpid())
        #expect(map.sameFiles(as: map))
        var replaced = map
        let index = try #require(replaced.regions.firstIndex { $0.path.hasPrefix("/") && $0.executable })
        replaced.regions[index].inode &+= 1
        #expect(!map.sameFiles(as: replaced))
        var anonymous = map
        anonymous.regions.append(
            MemoryMap.Region(start: 1 << 40, end: (1 << 40) + 4096, fileOffset: 0, path: "", executable: false)
        )
        #expect(map.sameFiles(as: anonymous), "memory that is no file's does not count")
    }
}
