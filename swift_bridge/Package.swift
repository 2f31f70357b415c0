// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "PlueBridge",
    // Duration and the Clock API need macOS 13.
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "PlueSidecar", targets: ["PlueSidecar"]),
        // The seed's C API: the symbols (PlueCoreCompat) and their header (CPlueCore).
        .library(name: "PlueCoreCompat", targets: ["PlueCoreCompat", "CPlueCore"]),
    ],
    dependencies: [],
    targets: [
        .target(name: "PlueSidecar"),
        .target(name: "CPlueCore"),
        .target(name: "PlueCoreCompat", dependencies: ["PlueSidecar", "CPlueCore"]),
        // The seed's flow as a C caller writes it, against plue_core.h only.
        .target(
            name: "SeedFlowC",
            dependencies: ["CPlueCore"],
            path: "Tests/SeedFlowC",
            cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Werror"])]
        ),
        .testTarget(
            name: "PlueSidecarTests",
            dependencies: ["PlueSidecar", "PlueCoreCompat", "CPlueCore", "SeedFlowC"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
