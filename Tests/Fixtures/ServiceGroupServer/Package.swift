// swift-tools-version:6.2
// A test fixture, built by the tests (not part of the StartupProbe package, so that users of the
// library never resolve swift-service-lifecycle): a Swift server whose ServiceGroup shuts down
// gracefully on SIGTERM while StartupProbe logs the signal's sender.
import PackageDescription

let package = Package(
    name: "ServiceGroupServer",
    dependencies: [
        .package(name: "StartupProbe", path: "../../.."),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "servicegroup-server",
            dependencies: [
                .product(name: "StartupProbe", package: "StartupProbe"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        )
    ]
)
