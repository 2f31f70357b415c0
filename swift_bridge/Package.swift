// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "PlueBridge",
    products: [
        .library(name: "PlueSidecar", targets: ["PlueSidecar"]),
        .library(name: "PlueCoreCompat", targets: ["PlueCoreCompat"]),
    ],
    dependencies: [],
    targets: [
        .target(name: "PlueSidecar"),
        .target(name: "CPlueCore"),
        .target(name: "PlueCoreCompat", dependencies: ["PlueSidecar", "CPlueCore"]),
        .testTarget(
            name: "PlueSidecarTests",
            dependencies: ["PlueSidecar", "PlueCoreCompat", "CPlueCore"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
