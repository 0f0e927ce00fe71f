"""A resource pipeline written with the Kratix Python SDK, as its own examples are."""

import kratix_sdk as ks

sdk = ks.KratixSDK()
resource = sdk.read_resource_input()
name = resource.get_value("metadata.name")
size = resource.get_value("spec.size")

sdk.write_output(
    "configmap.yaml",
    f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  size: {size}\n".encode(),
)

published = ks.Status()
published.set("phase", "provisioning")
published.set("published", True)
sdk.publish_status(resource, published)

final = ks.Status()
final.set("message", f"{name} is {size}")
sdk.write_status(final)
print("published status for", name)
