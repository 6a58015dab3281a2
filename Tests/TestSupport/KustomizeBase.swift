import Foundation

/// A kustomize base as users keep one: a Deployment `shop` with the given containers (its name is
/// deliberately not roprof's default `app`), and a kustomization.yaml listing it.
public enum KustomizeBase {
    public struct Container {
        public var name: String
        public var image: String
        /// A port published on the host (`hostPort`, `hostIP`), as podman kube play needs.
        public var loopbackPort: Int?
        public init(name: String, image: String, loopbackPort: Int? = nil) { self.name = name; self.image = image; self.loopbackPort = loopbackPort }
    }

    public static func write(_ dir: String, containers: [Container], replicas: Int = 1) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let cs = containers.map { c in
            "      - name: \(c.name)\n        image: \(c.image)\n"
                + (c.loopbackPort.map { "        ports:\n        - {containerPort: \($0), hostPort: \($0), hostIP: 127.0.0.1}\n" } ?? "")
        }.joined()
        let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: shop
        spec:
          replicas: \(replicas)
          selector:
            matchLabels: {app: shop}
          template:
            metadata:
              labels: {app: shop}
            spec:
              containers:

        """ + cs
        try deployment.write(toFile: dir + "/deployment.yaml", atomically: true, encoding: .utf8)
        try "resources:\n- deployment.yaml\n".write(toFile: dir + "/kustomization.yaml", atomically: true, encoding: .utf8)
    }
}
