"""A compound Promise modelled on kratix-marketplace's app-as-a-service (shared by tests and
bench/): an `app` request's first pipeline schedules a Database and a Cache request to the
platform Destination (`platform/` with selector `environment: platform`), its second pipeline
polls both with kubectl through the platform API and writes `retryAfter` until both are Ready.
"""

from __future__ import annotations

import json

BUSYBOX = "docker.io/library/busybox:latest"
PLATFORM_CONFIG = "platformDestinations:\n  matchLabels: {environment: platform}\n"
DESTINATIONS = """\
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata:
  name: platform
  labels: {environment: platform}
spec:
  path: platform
  strictMatchLabels: true
  stateStoreRef: {kind: GitStateStore, name: default}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata:
  name: worker
  labels: {environment: dev}
spec:
  path: worker
  stateStoreRef: {kind: GitStateStore, name: default}
"""


def crd(group: str, kind: str, plural: str) -> str:
    return f"""\
  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: {plural}.{group}
    spec:
      group: {group}
      names:
        kind: {kind}
        plural: {plural}
      scope: Namespaced
      versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              properties:
                spec:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
"""


def pipeline(name: str, image: str, script: str, rbac: str = "") -> str:
    return f"""\
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata:
            name: {name}
          spec:
{rbac}            containers:
              - name: main
                image: {image}
                imagePullPolicy: IfNotPresent
                command: [sh, -c, {json.dumps(script)}]
                resources:
                  limits: {{cpu: "1", memory: 1Gi}}
"""


def promise(name: str, api: str, configure: str, delete: str = "") -> str:
    text = f"""\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: {name}
spec:
  destinationSelectors:
    - matchLabels: {{environment: dev}}
{api}  workflows:
    resource:
      configure:
{configure}"""
    if delete:
        text += f"      delete:\n{delete}"
    return text


def leaf(name: str, group: str, kind: str, plural: str) -> str:
    """A Promise whose requests become Ready at once; its delete pipeline says it ran."""
    configure = (
        "echo 'phase: Ready' > /kratix/metadata/status.yaml; "
        'echo "$KRATIX_OBJECT_NAME" > /kratix/output/' + name + ".txt"
    )
    delete = 'echo "deleted $KRATIX_OBJECT_NAME"'
    return promise(
        name,
        crd(group, kind, plural),
        pipeline("main", BUSYBOX, configure),
        pipeline("main", BUSYBOX, delete),
    )


EMIT = """\
set -e; n=$KRATIX_OBJECT_NAME; mkdir -p /kratix/output/platform
if grep -q 'fail: true' /kratix/input/object.yaml; then echo "asked to fail" >&2; exit 3; fi
printf 'apiVersion: db.gitbot.dev/v1\\nkind: Database\\n' > /kratix/output/platform/database.yaml
printf 'metadata:\\n  name: %s-db\\nspec: {size: 1}\\n' $n >> /kratix/output/platform/database.yaml
if ! grep -q 'cache: false' /kratix/input/object.yaml; then
printf 'apiVersion: cache.gitbot.dev/v1\\nkind: Cache\\n' > /kratix/output/platform/cache.yaml
printf 'metadata:\\n  name: %s-cache\\nspec: {}\\n' $n >> /kratix/output/platform/cache.yaml
fi
printf -- '- directory: platform\\n  matchLabels: {environment: platform}\\n' \
  > /kratix/metadata/destination-selectors.yaml
echo "app $n" > /kratix/output/app.txt
"""
WAIT = """\
set -e; n=$KRATIX_OBJECT_NAME
db=$(kubectl get databases.db.gitbot.dev $n-db -o jsonpath='{.status.phase}' || true)
cache=Ready
if ! grep -q 'cache: false' /kratix/input/object.yaml; then
  cache=$(kubectl get caches.cache.gitbot.dev $n-cache -o jsonpath='{.status.phase}' || true)
fi
if [ "$db" = Ready ] && [ "$cache" = Ready ]; then
  echo "children: ready" > /kratix/metadata/status.yaml
  echo "database $db, cache $cache" > /kratix/output/ready.txt
else
  printf 'retryAfter: 10m\\nmessage: waiting for children\\n' \
    > /kratix/metadata/workflow-control.yaml
fi
"""
APP_RBAC = """\
            rbac:
              permissions:
                - apiGroups: [db.gitbot.dev, cache.gitbot.dev]
                  resources: [databases, caches]
                  verbs: [get, list]
"""


def compound_files(kube_image: str) -> dict[str, str]:
    """The source repository's files: config, Destinations, three Promises, one app request."""
    app = promise(
        "app",
        crd("app.gitbot.dev", "App", "apps"),
        pipeline("emit", BUSYBOX, EMIT) + pipeline("wait", kube_image, WAIT, APP_RBAC),
    )
    return {
        ".gitbot.yaml": PLATFORM_CONFIG,
        "destinations.yaml": DESTINATIONS,
        "app.yaml": app,
        "database.yaml": leaf("database", "db.gitbot.dev", "Database", "databases"),
        "cache.yaml": leaf("cache", "cache.gitbot.dev", "Cache", "caches"),
        "requests.yaml": app_request("web"),
    }


def app_request(name: str, cache: bool = True, fail: bool = False) -> str:
    spec = (
        "{"
        + ", ".join([*([] if cache else ["cache: false"]), *(["fail: true"] if fail else [])])
        + "}"
    )
    return f"apiVersion: app.gitbot.dev/v1\nkind: App\nmetadata:\n  name: {name}\nspec: {spec}\n"
