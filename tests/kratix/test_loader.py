"""Loading and validating Promises, Destinations and resource requests, with exact messages."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from gitbot.errors import InvalidObjects
from gitbot.kratix.loader import (
    LoadResult,
    load_objects,
    load_texts,
    parse_destination,
    parse_promise,
    parse_resource_request,
)
from gitbot.kratix.objects import Container, CRDInfo, Source
from gitbot.yamlio import load_text

# syntasso/kratix test/core/assets/promise.yaml (two resource configure pipelines), plus a request.
KRATIX_TEST_PROMISE = """\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: testbundle
spec:
  destinationSelectors:
    - matchLabels:
        environment: dev
  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      creationTimestamp: null
      name: testbundles.test.kratix.io
    spec:
      group: test.kratix.io
      names:
        kind: TestBundle
        plural: testbundles
        singular: testbundle
      scope: Namespaced
      versions:
      - name: v1alpha1
        schema:
          openAPIV3Schema:
            properties:
              spec:
                properties:
                  configMapName:
                    type: string
                  namespaceName:
                    type: string
                type: object
            type: object
        served: true
        storage: true
  workflows:
    promise:
      configure:
      - apiVersion: platform.kratix.io/v1alpha1
        kind: Pipeline
        metadata:
          name: setup-deps
        spec:
          containers:
          - image: syntasso/test-bundle-image:v0.1.0
            name: setup-deps
            command: [ "promise-configure.sh" ]
    resource:
      configure:
      - apiVersion: platform.kratix.io/v1alpha1
        kind: Pipeline
        metadata:
          name: resource-pipeline0
        spec:
          containers:
          - image: syntasso/test-bundle-image:v0.1.0
            name: pipeline0
            command: [ "resource-configure-0.sh" ]
      - apiVersion: platform.kratix.io/v1alpha1
        kind: Pipeline
        metadata:
          name: resource-pipeline1
        spec:
          containers:
          - image: syntasso/test-bundle-image:v0.1.0
            name: pipeline1
            command: [ "resource-configure-1.sh" ]
status: {}
"""

REQUEST = """\
apiVersion: test.kratix.io/v1alpha1
kind: TestBundle
metadata:
  name: example
spec:
  configMapName: cm
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def load(tmp_path: Path, *texts: str) -> LoadResult:
    """Load each text from its own file f0.yaml, f1.yaml...; problem files shown relative."""
    return load_objects([write(tmp_path, f"f{i}.yaml", text) for i, text in enumerate(texts)])


def messages(tmp_path: Path, *texts: str) -> list[str]:
    result = load(tmp_path, *texts)
    found = [*result.problems, *result.warnings]
    return [str(p).replace(f"{tmp_path}/", "") for p in found]


# A Promise whose one promise-configure pipeline has one container; `container` lines go under
# the container (from line 17), then `spec` lines go under the pipeline's spec.
def pipeline_promise(container: str = "", spec: str = "", name: str = "redis") -> str:
    head = f"""\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: {name}
spec:
  workflows:
    promise:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata:
            name: instance
          spec:
            containers:
              - name: main
                image: redis-pipeline:v1
"""
    return (
        head
        + textwrap.indent(textwrap.dedent(container), " " * 16)
        + textwrap.indent(textwrap.dedent(spec), " " * 12)
    )


C = "f0.yaml:{line}: spec.workflows.promise.configure[0].spec.containers[0]"
P = "f0.yaml:{line}: spec.workflows.promise.configure[0]"


# --- a real Promise ---------------------------------------------------------------------------


def test_kratix_test_promise_with_two_resource_pipelines(tmp_path: Path) -> None:
    other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n- a list\n"
    result = load(tmp_path, KRATIX_TEST_PROMISE, REQUEST, other)
    assert (result.problems, result.warnings) == ([], [])
    (promise,) = result.promises
    assert promise.name == "testbundle"
    assert promise.source == Source(str(tmp_path / "f0.yaml"), 1)
    assert promise.api == CRDInfo("test.kratix.io", "v1alpha1", "TestBundle", "testbundles")
    assert promise.destination_selectors == {"environment": "dev"}
    assert promise.dependencies == ()
    assert promise.reconciliation_interval is None
    assert promise.pipeline_namespace is None
    (setup,) = promise.workflows.pipelines("promise", "configure")
    assert setup.name == "setup-deps"
    assert setup.containers == (
        Container(
            name="setup-deps",
            image="syntasso/test-bundle-image:v0.1.0",
            command=("promise-configure.sh",),
        ),
    )
    resource = promise.workflows.pipelines("resource", "configure")
    assert [p.name for p in resource] == ["resource-pipeline0", "resource-pipeline1"]
    assert [p.containers[0].command for p in resource] == [
        ("resource-configure-0.sh",),
        ("resource-configure-1.sh",),
    ]
    assert promise.workflows.pipelines("resource", "delete") == ()
    assert promise.raw["status"] == {}
    assert promise.spec["api"]["spec"]["group"] == "test.kratix.io"

    (request,) = result.resources
    assert (request.promise_name, request.name, request.namespace) == (
        "testbundle",
        "example",
        "default",
    )
    assert request.raw["metadata"] == {"name": "example", "namespace": "default"}
    assert request.spec == {"configMapName": "cm"}
    assert request.source == Source(str(tmp_path / "f1.yaml"), 1)
    assert result.ignored == [
        Source(str(tmp_path / "f2.yaml"), 1),
        Source(str(tmp_path / "f2.yaml"), 5),
    ]


def test_raw_is_a_deep_copy(tmp_path: Path) -> None:
    (doc,) = load_text(KRATIX_TEST_PROMISE, "p.yaml")
    promise, warnings = parse_promise(doc)
    assert warnings == []
    doc.data["spec"]["api"]["spec"]["group"] = "changed"
    assert promise.api is not None
    assert promise.raw["spec"]["api"]["spec"]["group"] == "test.kratix.io"


def test_full_pipeline_is_modelled(tmp_path: Path) -> None:
    container = """\
        command: [sh, -c]
        args: ["echo $(A)"]
        imagePullPolicy: IfNotPresent
        env:
          - {name: A, value: x}
          - name: B
            valueFrom: {secretKeyRef: {name: creds, key: token, optional: true}}
          - name: C
            valueFrom: {configMapKeyRef: {name: cfg, key: c}}
          - name: D
            valueFrom: {fieldRef: {fieldPath: metadata.name}}
          - name: E
        envFrom:
          - {secretRef: {name: s}, prefix: S_}
          - configMapRef: {name: c, optional: false}
        volumeMounts:
          - {name: creds, mountPath: /creds, readOnly: true}
          - {name: scratch, mountPath: /scratch/, subPath: sub}
        securityContext: {runAsNonRoot: true, runAsUser: 1000, capabilities: {drop: [ALL]}}
        resources: {limits: {cpu: 500m, memory: 1Gi}, requests: {cpu: 0.1, memory: 64Mi}}
        """
    spec = """\
        volumes:
          - name: creds
            secret: {secretName: creds, defaultMode: 0400, items: [{key: a, path: dir/a}]}
          - name: scratch
            emptyDir: {}
          - name: cfg
            configMap: {name: settings}
        imagePullSecrets: [{name: registry}]
        rbac:
          serviceAccount: sa
          permissions:
            - {apiGroups: [""], verbs: [get], resources: [secrets], resourceNamespace: "*"}
        jobOptions: {backoffLimit: 2}
        nodeSelector: {disk: ssd}
        tolerations: [{key: k, operator: Exists, effect: NoSchedule}]
        restartPolicy: Never
        """
    text = pipeline_promise(container, spec).replace(
        "          metadata:\n            name: instance\n",
        "          metadata:\n            name: instance\n"
        "            labels: {team: a}\n            annotations: {note: x}\n",
    )
    result = load(tmp_path, text)
    assert result.problems == []
    assert [str(p).replace(f"{tmp_path}/", "") for p in result.warnings] == [
        "f0.yaml:29: warning: spec.workflows.promise.configure[0].spec.containers[0].env[3]."
        "valueFrom.fieldRef: not available outside Kubernetes: the container fails when run"
    ]
    (pipeline,) = result.promises[0].workflows.promise_configure
    assert (pipeline.labels, pipeline.annotations) == ({"team": "a"}, {"note": "x"})
    assert [v["name"] for v in pipeline.volumes] == ["creds", "scratch", "cfg"]
    assert pipeline.volumes[0]["secret"]["defaultMode"] == 0o400
    (main,) = pipeline.containers
    assert main.command == ("sh", "-c")
    assert main.args == ("echo $(A)",)
    assert main.image_pull_policy == "IfNotPresent"
    assert [e["name"] for e in main.env] == ["A", "B", "C", "D", "E"]
    assert main.env_from[0] == {"secretRef": {"name": "s"}, "prefix": "S_"}
    assert main.volume_mounts[1] == {"name": "scratch", "mountPath": "/scratch/", "subPath": "sub"}
    assert main.security_context == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "capabilities": {"drop": ["ALL"]},
    }
    assert main.resources == {
        "limits": {"cpu": "500m", "memory": "1Gi"},
        "requests": {"cpu": 0.1, "memory": "64Mi"},
    }


# --- files and documents ----------------------------------------------------------------------


def test_syntax_error_in_one_file_does_not_stop_the_others(tmp_path: Path) -> None:
    result = load(tmp_path, "a: [1\n", KRATIX_TEST_PROMISE, "x: 1\nx: 2\n")
    assert [str(p).replace(f"{tmp_path}/", "") for p in result.problems] == [
        "f0.yaml:2: invalid YAML: did not find expected ',' or ']' "
        "(while parsing a flow sequence at line 1)",
        "f2.yaml:2: duplicate key 'x'",
    ]
    assert [p.name for p in result.promises] == ["testbundle"]


def test_missing_file(tmp_path: Path) -> None:
    result = load_objects([tmp_path / "nope.yaml"])
    assert [str(p) for p in result.problems] == [
        f"{tmp_path}/nope.yaml:1: cannot read file: No such file or directory"
    ]


def test_other_kratix_versions_are_ignored_with_a_warning(tmp_path: Path) -> None:
    text = "# x\napiVersion: platform.kratix.io/v1beta1\nkind: Promise\nmetadata: {name: a}\n"
    result = load(tmp_path, text, "apiVersion: platform.kratix.io/v1alpha1\nkind: Work\n")
    assert [str(p).replace(f"{tmp_path}/", "") for p in result.warnings] == [
        "f0.yaml:2: warning: apiVersion: apiVersion 'platform.kratix.io/v1beta1' is not "
        "platform.kratix.io/v1alpha1; document ignored"
    ]
    assert result.promises == []
    assert len(result.ignored) == 2


# --- Promise ----------------------------------------------------------------------------------


def test_promise_metadata(tmp_path: Path) -> None:
    no_metadata = "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\n"
    bad = """\
        apiVersion: platform.kratix.io/v1alpha1
        kind: Promise
        metadata:
          name: Redis_DB
          labels:
            kratix.io/paused: true
            "bad key!": x
            tier: "-x"
        specs: {}
        """
    assert messages(tmp_path, no_metadata, bad) == [
        "f0.yaml:1: required key 'metadata' is missing",
        "f1.yaml:4: metadata.name: invalid name 'Redis_DB': use lowercase letters, digits, '-' "
        "and '.', starting and ending with a letter or digit",
        'f1.yaml:6: metadata.labels["kratix.io/paused"]: expected a string, got a boolean; '
        'quote it: "true"',
        "f1.yaml:7: metadata.labels[\"bad key!\"]: invalid label key 'bad key!'",
        "f1.yaml:8: metadata.labels.tier: invalid label value '-x': at most 63 letters, digits, "
        "'-', '_' and '.', starting and ending with a letter or digit",
        "f1.yaml:9: warning: specs: unknown field, dropped as the Kubernetes API server does",
    ]


def test_minimal_promise_and_unknown_spec_keys_warn(tmp_path: Path) -> None:
    text = """\
        apiVersion: platform.kratix.io/v1alpha1
        kind: Promise
        metadata: {name: only-deps}
        spec:
          dependencies:
            - {apiVersion: v1, kind: Namespace, metadata: {name: ns}}
          healthChecks: {}
        """
    result = load(tmp_path, text)
    assert [str(p).replace(f"{tmp_path}/", "") for p in result.warnings] == [
        "f0.yaml:7: warning: spec.healthChecks: unknown field, dropped as the Kubernetes API "
        "server does"
    ]
    (promise,) = result.promises
    assert promise.api is None
    assert promise.dependencies == (
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}},
    )


def test_dependencies_must_be_objects(tmp_path: Path) -> None:
    text = """\
        apiVersion: platform.kratix.io/v1alpha1
        kind: Promise
        metadata: {name: p}
        spec:
          dependencies:
            - {kind: Namespace}
            - just text
          requiredPromises:
            - {version: v1}
        """
    assert messages(tmp_path, text) == [
        "f0.yaml:7: spec.dependencies[1]: expected a mapping, got a string",
        "f0.yaml:9: warning: spec.requiredPromises[0]: a requirement without a name is never "
        "met: the Promise stays unavailable",
    ]


def test_destination_selectors_squash_earlier_wins(tmp_path: Path) -> None:
    text = """\
        apiVersion: platform.kratix.io/v1alpha1
        kind: Promise
        metadata: {name: p}
        spec:
          destinationSelectors:
            - matchLabels: {env: dev, zone: a}
            - matchLabels: {env: prod, tier: web}
          scheduling:
            - target: {matchLabels: {zone: b, old: "yes"}}
        """
    result = load(tmp_path, text)
    (promise,) = result.promises
    assert promise.destination_selectors == {"env": "dev", "zone": "a", "tier": "web"}
    # The pre-2023 `scheduling` is not in Kratix's CRD any more: dropped, not honoured.
    assert [str(p).replace(f"{tmp_path}/", "") for p in result.warnings] == [
        "f0.yaml:8: warning: spec.scheduling: unknown field, dropped as the Kubernetes API "
        "server does"
    ]


def test_destination_selector_errors(tmp_path: Path) -> None:
    text = """\
        apiVersion: platform.kratix.io/v1alpha1
        kind: Promise
        metadata: {name: p}
        spec:
          destinationSelectors:
            - matchLabels: {enabled: true}
              matchExpressions: []
            - [env]
            - matchLabels: {"bad key!": x}
        """
    assert messages(tmp_path, text) == [
        "f0.yaml:6: spec.destinationSelectors[0].matchLabels.enabled: expected a string, got a "
        'boolean; quote it: "true"',
        "f0.yaml:8: spec.destinationSelectors[1]: expected a mapping, got a list",
        "f0.yaml:7: warning: spec.destinationSelectors[0].matchExpressions: unknown field, "
        "dropped as the Kubernetes API server does",
        # Kratix's CRD takes any string map (promises.yaml: additionalProperties: string).
        'f0.yaml:9: warning: spec.destinationSelectors[2].matchLabels["bad key!"]: \'bad key!: '
        "x' is not a valid label: no Destination can match it",
    ]


def crd_promise(crd_spec: str, name: str = "things.example.com") -> str:
    return f"""\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata: {{name: p}}
spec:
  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {{name: {name}}}
    spec:
""" + textwrap.indent(textwrap.dedent(crd_spec), " " * 6)


GOOD_CRD = """\
    group: example.com
    names: {kind: Thing, plural: things}
    scope: Namespaced
    versions:
      - {name: v1alpha1, served: true}
      - {name: v1, served: true, storage: true}
    """


def test_crd_storage_version_is_the_resource_gvk(tmp_path: Path) -> None:
    (promise,) = load(tmp_path, crd_promise(GOOD_CRD)).promises
    assert promise.api == CRDInfo("example.com", "v1", "Thing", "things")
    assert promise.api.api_version == "example.com/v1"
    first = GOOD_CRD.replace(", storage: true", "")
    (promise,) = load(tmp_path, crd_promise(first)).promises
    assert promise.api is not None
    assert promise.api.version == "v1alpha1"


def test_crd_must_be_namespaced(tmp_path: Path) -> None:
    cluster = GOOD_CRD.replace("scope: Namespaced", "scope: Cluster")
    missing = GOOD_CRD.replace("scope: Namespaced", "")
    assert messages(tmp_path, crd_promise(cluster), crd_promise(missing)) == [
        "f0.yaml:12: spec.api.spec.scope: must be a namespaced CRD (scope: Namespaced), "
        "got 'Cluster'",
        "f1.yaml:9: spec.api.spec: required key 'scope' is missing",
    ]


def test_crd_errors(tmp_path: Path) -> None:
    crd = """\
        names: {kind: Thing}
        scope: Namespaced
        versions:
          - {served: true}
          - {name: v2, storage: true}
          - {name: v3, storage: true}
        """
    wrong_kind = (
        crd_promise(GOOD_CRD)
        .replace("kind: CustomResourceDefinition", "kind: CRD")
        .replace("apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1")
    )
    assert messages(tmp_path, crd_promise(crd), crd_promise(GOOD_CRD, "wrong"), wrong_kind) == [
        "f0.yaml:9: spec.api.spec: required key 'group' is missing",
        "f0.yaml:10: spec.api.spec.names: required key 'plural' is missing",
        "f0.yaml:13: spec.api.spec.versions[0]: required key 'name' is missing",
        "f0.yaml:12: spec.api.spec.versions: only one version may have storage: true, "
        "found ['v2', 'v3']",
        "f1.yaml:8: spec.api.metadata.name: must be '<plural>.<group>' "
        "('things.example.com'), got 'wrong'",
        "f2.yaml:6: warning: spec.api.apiVersion: 'apiextensions.k8s.io/v1beta1' is ignored: "
        "Kratix creates the API as an apiextensions.k8s.io/v1 CustomResourceDefinition",
        "f2.yaml:7: warning: spec.api.kind: 'CRD' is ignored: Kratix creates the API as an "
        "apiextensions.k8s.io/v1 CustomResourceDefinition",
    ]


def test_crd_api_version_and_kind_are_kratix_s_own(tmp_path: Path) -> None:
    """Kratix decodes spec.api into an apiextensions/v1 CRD and creates it with the typed
    client, which sets apiVersion and kind itself (api/v1alpha1/promise_types.go GetAPI,
    internal/webhook/v1alpha1/promise_webhook.go validateCRD): another value still works."""
    older = crd_promise(GOOD_CRD).replace("apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1")
    (promise,) = load(tmp_path, older).promises
    assert promise.api == CRDInfo("example.com", "v1", "Thing", "things")
    # An embedded resource still needs both (x-kubernetes-embedded-resource).
    missing = crd_promise(GOOD_CRD).replace("    apiVersion: apiextensions.k8s.io/v1\n", "")
    assert messages(tmp_path, missing) == [
        "f0.yaml:5: spec.api: required key 'apiVersion' is missing"
    ]


def test_crd_without_versions(tmp_path: Path) -> None:
    crd = "group: a.io\nnames: {kind: A, plural: as}\nscope: Namespaced\nversions: []\n"
    assert messages(tmp_path, crd_promise(crd, "as.a.io")) == [
        "f0.yaml:13: spec.api.spec.versions: must list at least one version"
    ]


def test_workflow_config(tmp_path: Path) -> None:
    def promise(config: str) -> str:
        return (
            "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\nmetadata: {name: p}\n"
            f"spec:\n  workflows:\n    config:\n{textwrap.indent(config, '      ')}"
        )

    good = load(tmp_path, promise("reconciliationInterval: 1h30m\npipelineNamespace: jobs\n"))
    (loaded,) = good.promises
    assert loaded.reconciliation_interval == timedelta(hours=1, minutes=30)
    assert loaded.pipeline_namespace == "jobs"
    assert messages(
        tmp_path,
        promise("reconciliationInterval: 30s\n"),
        promise("reconciliationInterval: 1d\npipelineNamespace: Jobs\nretries: 3\n"),
        promise("reconciliationInterval: 60\n"),
    ) == [
        "f0.yaml:7: spec.workflows.config.reconciliationInterval: must be at least 1m0s, got '30s'",
        "f1.yaml:8: spec.workflows.config.pipelineNamespace: invalid name 'Jobs': use at most 63 "
        "lowercase letters, digits and '-', starting and ending with a letter or digit",
        "f1.yaml:7: spec.workflows.config.reconciliationInterval: invalid duration '1d': unknown "
        "unit 'd' (use ns, us, ms, s, m or h, like 1h30m)",
        "f2.yaml:7: spec.workflows.config.reconciliationInterval: expected a string, got an "
        'integer; quote it: "60"',
        "f1.yaml:9: warning: spec.workflows.config.retries: unknown field, dropped as the "
        "Kubernetes API server does",
    ]


def test_reconciliation_interval_annotation(tmp_path: Path) -> None:
    """`kratix.io/reconciliation-interval` overrides the Promise's interval; Kratix's webhook
    refuses a bad or sub-minute value (promiserevision_webhook.go
    validateReconciliationIntervalAnnotation)."""

    def promise(annotation: str, config: str = "") -> str:
        return (
            "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\nmetadata:\n  name: p\n"
            f"  annotations: {{kratix.io/reconciliation-interval: {annotation}}}\n"
            f"spec: {{workflows: {{config: {{{config}}}}}}}\n"
        )

    (loaded,) = load(tmp_path, promise('"2h"', "reconciliationInterval: 1h")).promises
    assert loaded.reconciliation_interval == timedelta(hours=2)
    assert messages(tmp_path, promise("30s"), promise("soon"), promise('"-5m"')) == [
        'f0.yaml:5: metadata.annotations["kratix.io/reconciliation-interval"]: must be at '
        "least 1m0s, got '30s'",
        'f1.yaml:5: metadata.annotations["kratix.io/reconciliation-interval"]: invalid '
        "duration 'soon': expected a number (use ns, us, ms, s, m or h, like 1h30m)",
        'f2.yaml:5: metadata.annotations["kratix.io/reconciliation-interval"]: must be at '
        "least 1m0s, got '-5m'",
    ]


def test_workflow_keys(tmp_path: Path) -> None:
    text = """\
        apiVersion: platform.kratix.io/v1alpha1
        kind: Promise
        metadata: {name: p}
        spec:
          workflows:
            resources: {}
            promise:
              configure: {}
              update: []
            resource:
              configure: []
        """
    assert messages(tmp_path, text) == [
        "f0.yaml:8: spec.workflows.promise.configure: expected a list, got a mapping",
        "f0.yaml:6: warning: spec.workflows.resources: unknown field, dropped as the Kubernetes "
        "API server does",
        "f0.yaml:9: warning: spec.workflows.promise.update: unknown field, dropped as the "
        "Kubernetes API server does",
        "f0.yaml:10: warning: spec.workflows.resource: resource workflows never run: the "
        "Promise has no spec.api",
    ]


def test_only_the_first_delete_pipeline_is_kept(tmp_path: Path) -> None:
    text = pipeline_promise().replace("configure:", "delete:") + textwrap.indent(
        textwrap.dedent(
            """\
            - apiVersion: platform.kratix.io/v1alpha1
              kind: Pipeline
              metadata: {name: second}
              spec: {containers: [{name: c, image: i}]}
            """
        ),
        " " * 8,
    )
    result = load(tmp_path, text)
    assert [str(p).replace(f"{tmp_path}/", "") for p in result.warnings] == [
        "f0.yaml:17: warning: spec.workflows.promise.delete[1]: only the first delete pipeline "
        "is used; 'second' is ignored"
    ]
    assert [p.name for p in result.promises[0].workflows.promise_delete] == ["instance"]


def test_duplicate_pipeline_names(tmp_path: Path) -> None:
    text = pipeline_promise() + textwrap.indent(
        textwrap.dedent(
            """\
            - apiVersion: platform.kratix.io/v1alpha1
              kind: Pipeline
              metadata: {name: instance}
              spec: {containers: [{name: c, image: i}]}
            """
        ),
        " " * 8,
    )
    assert messages(tmp_path, text) == [
        "f0.yaml:19: spec.workflows.promise.configure[1].metadata.name: duplicate pipeline "
        "name 'instance'"
    ]


def test_pipeline_id_at_most_60_characters(tmp_path: Path) -> None:
    # "<promise>-promise-configure-instance": 60 characters pass, 61 fail.
    ok = "p" * (60 - len("-promise-configure-instance"))
    assert load(tmp_path, pipeline_promise(name=ok)).problems == []
    long = ok + "x"
    assert messages(tmp_path, pipeline_promise(name=long)) == [
        f"f0.yaml:12: spec.workflows.promise.configure[0].metadata.name: pipeline id "
        f"'{long}-promise-configure-instance' is 61 characters; Kratix allows at most 60"
    ]


def test_pipeline_envelope(tmp_path: Path) -> None:
    text = """\
        apiVersion: platform.kratix.io/v1alpha1
        kind: Promise
        metadata: {name: p}
        spec:
          workflows:
            promise:
              configure:
                - apiVersion: platform.kratix.io/v1beta1
                  kind: Job
                  metadata: {name: Bad, uid: x, owner: me}
                  spec: {containers: [], hostNetwork: true}
                  status: {}
                - kind: Pipeline
                  spec: {containers: [{name: a, image: b}]}
                - apiVersion: platform.kratix.io/v1alpha1
                  kind: Pipeline
                  metadata: {name: x}
                - pipeline
        """
    path = "f0.yaml:{}: spec.workflows.promise.configure"
    assert messages(tmp_path, text) == [
        f"{path.format(12)}[0].status: unknown key 'status' (allowed: apiVersion, kind, "
        "metadata, spec)",
        f"{path.format(8)}[0].apiVersion: must be 'platform.kratix.io/v1alpha1', got "
        "'platform.kratix.io/v1beta1'",
        f"{path.format(9)}[0].kind: must be 'Pipeline', got 'Job'",
        f"{path.format(10)}[0].metadata.name: invalid pipeline name 'Bad': use at most 63 "
        "lowercase letters, digits and '-', starting and ending with a letter or digit",
        f"{path.format(10)}[0].metadata.owner: unknown key 'owner' (allowed: annotations, "
        "creationTimestamp, deletionGracePeriodSeconds, deletionTimestamp, finalizers, "
        "generateName, generation, labels, managedFields, name, namespace, ownerReferences, "
        "resourceVersion, selfLink, uid)",
        f"{path.format(11)}[0].spec.hostNetwork: unknown key 'hostNetwork' (allowed: "
        "containers, imagePullSecrets, jobOptions, nodeSelector, rbac, restartPolicy, "
        "tolerations, volumes)",
        f"{path.format(11)}[0].spec.containers: must list at least one container",
        f"{path.format(13)}[1]: required key 'apiVersion' is missing",
        f"{path.format(13)}[1]: required key 'metadata' is missing",
        f"{path.format(15)}[2]: required key 'spec' is missing",
        f"{path.format(18)}[3]: expected a mapping, got a string",
    ]


def test_pipeline_metadata_is_standard_object_metadata(tmp_path: Path) -> None:
    """Kratix decodes a Pipeline into a struct embedding metav1.ObjectMeta, unknown fields
    disallowed (api/v1alpha1/pipeline_types.go PipelinesFromUnstructured): every ObjectMeta
    field is accepted with its Go type, as `kubectl ... -o yaml` writes them."""
    metadata = """\
          metadata:
            name: instance
            creationTimestamp: null
            namespace: default
            labels: {team: data}
            annotations: {example.com/owner: data-team}
            generation: 1
            uid: 0b0e6f5e-1111-2222-3333-444455556666
            resourceVersion: "42"
            finalizers: [kratix.io/x]
            ownerReferences:
              - {apiVersion: v1, kind: ConfigMap, name: c, uid: u, controller: true}
            managedFields:
              - {manager: kubectl, operation: Apply, fieldsType: FieldsV1, fieldsV1: {f:x: {}}}
"""
    text = pipeline_promise().replace("          metadata:\n            name: instance\n", metadata)
    result = load(tmp_path, text)
    assert [str(p) for p in [*result.problems, *result.warnings]] == []
    (pipeline,) = result.promises[0].workflows.promise_configure
    assert (pipeline.labels, pipeline.annotations) == (
        {"team": "data"},
        {"example.com/owner": "data-team"},
    )
    wrong = (
        metadata.replace("generation: 1", "generation: one")
        .replace("creationTimestamp: null", "creationTimestamp: yesterday")
        .replace("controller: true", "controller: yes-please")
        .replace("data-team}", "data-team, bad key: x}")
    )
    broken = pipeline_promise().replace("          metadata:\n            name: instance\n", wrong)
    meta = "f0.yaml:{}: spec.workflows.promise.configure[0].metadata"
    assert messages(tmp_path, broken) == [
        f"{meta.format(17)}.generation: expected an integer, got a string",
        f"{meta.format(13)}.creationTimestamp: expected an RFC 3339 time like "
        "2024-01-31T12:00:00Z, got 'yesterday'",
        f"{meta.format(22)}.ownerReferences[0].controller: expected a boolean, got a string",
        f"{meta.format(16)}.annotations[\"bad key\"]: invalid annotation key 'bad key'",
    ]


def test_unknown_container_key(tmp_path: Path) -> None:
    assert messages(tmp_path, pipeline_promise("workingDir: /src\n")) == [
        f"{C.format(line=17)}.workingDir: unknown key 'workingDir' (allowed: args, command, "
        "env, envFrom, image, imagePullPolicy, name, resources, securityContext, volumeMounts)"
    ]


def test_container_name_and_image(tmp_path: Path) -> None:
    no_image = pipeline_promise().replace("                image: redis-pipeline:v1\n", "")
    list_image = pipeline_promise().replace("image: redis-pipeline:v1", "image: [a, b]")
    empty_image = pipeline_promise().replace("image: redis-pipeline:v1", "image:")
    bad_name = pipeline_promise().replace("name: main", "name: Main")
    assert messages(tmp_path, no_image, list_image, empty_image, bad_name) == [
        "f0.yaml:15: spec.workflows.promise.configure[0].spec.containers[0]: required key "
        "'image' is missing",
        "f1.yaml:16: spec.workflows.promise.configure[0].spec.containers[0].image: expected a "
        "string, got a list",
        "f2.yaml:16: spec.workflows.promise.configure[0].spec.containers[0].image: must not be "
        "empty",
        "f3.yaml:15: spec.workflows.promise.configure[0].spec.containers[0].name: invalid "
        "container name 'Main': use at most 63 lowercase letters, digits and '-', starting and "
        "ending with a letter or digit",
    ]


def test_duplicate_container_names(tmp_path: Path) -> None:
    text = pipeline_promise().replace(
        "                image: redis-pipeline:v1\n",
        "                image: redis-pipeline:v1\n              - {name: main, image: b}\n",
    )
    assert messages(tmp_path, text) == [
        "f0.yaml:17: spec.workflows.promise.configure[0].spec.containers[1].name: duplicate "
        "container name 'main'"
    ]


def test_command_and_args_are_lists_of_strings(tmp_path: Path) -> None:
    assert messages(tmp_path, pipeline_promise("command: sh -c\nargs: [-c, 1, yes]\n")) == [
        f"{C.format(line=17)}.command: expected a list, got a string",
        f'{C.format(line=18)}.args[1]: expected a string, got an integer; quote it: "1"',
        f'{C.format(line=18)}.args[2]: expected a string, got a boolean; quote it: "yes"',
    ]


def test_image_pull_policy(tmp_path: Path) -> None:
    assert messages(tmp_path, pipeline_promise("imagePullPolicy: Sometimes\n")) == [
        f"{C.format(line=17)}.imagePullPolicy: must be one of Always, IfNotPresent, Never, "
        "got 'Sometimes'"
    ]


def test_env_errors(tmp_path: Path) -> None:
    container = """\
        env:
          - value: x
          - {name: 1A, value: 3}
          - name: B
            value: x
            valueFrom: {secretKeyRef: {name: s, key: k}}
          - name: C
            valueFrom:
              secretKeyRef: {name: s}
              configMapKeyRef: {name: c, key: k, optional: "no"}
          - name: D
            valueFrom: {resourceFieldRef: {resource: limits.cpu}}
        """
    env = C.format(line="{line}") + ".env"
    warn = env.replace(": spec.", ": warning: spec.")
    assert messages(tmp_path, pipeline_promise(container)) == [
        f"{env.format(line=18)}[0]: required key 'name' is missing",
        f"{env.format(line=19)}[1].name: invalid environment variable name '1A': use letters, "
        "digits, '_', '-' and '.', not starting with a digit",
        f'{env.format(line=19)}[1].value: expected a string, got an integer; quote it: "3"',
        f"{env.format(line=20)}[2]: set either value or valueFrom, not both",
        f"{env.format(line=24)}[3].valueFrom: must set exactly one of configMapKeyRef, "
        "fieldRef, resourceFieldRef, secretKeyRef, found configMapKeyRef and secretKeyRef",
        f"{env.format(line=26)}[3].valueFrom.configMapKeyRef.optional: expected a boolean, got "
        "a string",
        f"{env.format(line=25)}[3].valueFrom.secretKeyRef: required key 'key' is missing",
        f"{warn.format(line=28)}[4].valueFrom.resourceFieldRef: not available outside "
        "Kubernetes: the container fails when run",
    ]


def test_every_kubernetes_volume_and_env_source_is_accepted(tmp_path: Path) -> None:
    """Kratix's webhook dry-runs the pipeline's Job, so any corev1 volume source, env source and
    mount field the API server takes is accepted; those gitbot cannot provide are warned of."""
    container = """\
        env:
          - name: CPU
            valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}
        volumeMounts:
          - {name: cache, mountPath: /cache, mountPropagation: HostToContainer}
          - {name: scratch, mountPath: /s, subPathExpr: $(POD), recursiveReadOnly: Disabled}
        """
    spec = """\
        volumes:
          - {name: cache, persistentVolumeClaim: {claimName: cache}}
          - {name: scratch, emptyDir: {}}
          - {name: info, downwardAPI: {items: [{path: l, fieldRef: {fieldPath: metadata.name}}]}}
        """
    result = load(tmp_path, pipeline_promise(container, spec))
    assert result.problems == []
    where = "f0.yaml:{}: warning: spec.workflows.promise.configure[0].spec"
    assert [str(p).replace(f"{tmp_path}/", "") for p in result.warnings] == [
        f"{where.format(24)}.volumes[0].persistentVolumeClaim: gitbot cannot provide a "
        "persistentVolumeClaim volume outside Kubernetes: a container that mounts it fails when "
        "run",
        f"{where.format(26)}.volumes[2].downwardAPI: gitbot cannot provide a downwardAPI volume "
        "outside Kubernetes: a container that mounts it fails when run",
        f"{where.format(19)}.containers[0].env[0].valueFrom.resourceFieldRef: not available "
        "outside Kubernetes: the container fails when run",
        f"{where.format(22)}.containers[0].volumeMounts[1].subPathExpr: not available outside "
        "Kubernetes: the container fails when run",
    ]


def test_env_from_errors(tmp_path: Path) -> None:
    container = """\
        envFrom:
          - {prefix: A_}
          - {secretRef: {optional: true}, configMapRef: {name: c}}
        """
    env = C.format(line="{line}") + ".envFrom"
    assert messages(tmp_path, pipeline_promise(container)) == [
        f"{env.format(line=18)}[0]: must set exactly one of configMapRef, secretRef, found none",
        f"{env.format(line=19)}[1]: must set exactly one of configMapRef, secretRef, found "
        "configMapRef and secretRef",
        f"{env.format(line=19)}[1].secretRef: required key 'name' is missing",
    ]


def test_volume_mount_errors(tmp_path: Path) -> None:
    container = """\
        volumeMounts:
          - {name: missing, mountPath: /data}
          - {name: data, mountPath: relative}
          - {name: data, mountPath: /kratix/output/}
          - {name: data, mountPath: /a, subPath: ../up}
          - {name: data, mountPath: /a/, readOnly: "yes"}
          - {mountPath: /b}
        """
    spec = "volumes:\n  - {name: data, emptyDir: {}}\n"
    mounts = C.format(line="{line}") + ".volumeMounts"
    assert messages(tmp_path, pipeline_promise(container, spec)) == [
        f"{mounts.format(line=18)}[0].name: no volume named 'missing' in the pipeline's "
        "spec.volumes",
        f"{mounts.format(line=19)}[1].mountPath: mountPath must be an absolute path, got "
        "'relative'",
        f"{mounts.format(line=20)}[2].mountPath: '/kratix/output' is mounted by Kratix; choose "
        "another mountPath",
        f"{mounts.format(line=21)}[3].subPath: subPath must be a relative path without '..', "
        "got '../up'",
        f"{mounts.format(line=22)}[4].mountPath: duplicate mountPath '/a'",
        f"{mounts.format(line=22)}[4].readOnly: expected a boolean, got a string",
        f"{mounts.format(line=23)}[5]: required key 'name' is missing",
    ]


def test_volume_errors(tmp_path: Path) -> None:
    spec = """\
        volumes:
          - {name: a, emptyDir: {}}
          - {name: a, emptyDir: {}}
          - {name: b}
          - {name: c, emptyDir: {}, secret: {secretName: s}}
          - {name: d, hostPath: {path: /}}
          - {name: e, secret: {defaultMode: 1000, items: [{key: k, path: ../x}]}}
          - {name: f, configMap: {name: c, items: [{path: /abs, mode: "0644"}]}}
          - {name: shared-output, emptyDir: {}}
        """
    vol = P.format(line="{line}") + ".spec.volumes"
    warned = vol.replace(": spec.", ": warning: spec.")
    assert messages(tmp_path, pipeline_promise("", spec)) == [
        f"{vol.format(line=19)}[1].name: duplicate volume name 'a'",
        f"{vol.format(line=20)}[2]: must set exactly one volume source (secret, configMap, "
        "emptyDir, or another of Kubernetes' VolumeSource), found none",
        f"{vol.format(line=21)}[3]: must set exactly one volume source (secret, configMap, "
        "emptyDir, or another of Kubernetes' VolumeSource), found emptyDir and secret",
        f"{vol.format(line=23)}[5].secret: required key 'secretName' is missing",
        f"{vol.format(line=23)}[5].secret.defaultMode: must be between 0 and 0777 (511), got 1000",
        f"{vol.format(line=23)}[5].secret.items[0].path: path must be a relative path without "
        "'..', got '../x'",
        f"{vol.format(line=24)}[6].configMap.items[0]: required key 'key' is missing",
        f"{vol.format(line=24)}[6].configMap.items[0].path: path must be a relative path "
        "without '..', got '/abs'",
        f"{vol.format(line=24)}[6].configMap.items[0].mode: expected an integer, got a string",
        f"{vol.format(line=25)}[7].name: volume name 'shared-output' is used by Kratix",
        f"{warned.format(line=22)}[4].hostPath: gitbot cannot provide a hostPath volume outside "
        "Kubernetes: a container that mounts it fails when run",
    ]


def test_pod_option_errors(tmp_path: Path) -> None:
    spec = """\
        imagePullSecrets: [{}]
        rbac:
          serviceAccount: [x]
          permissions: [{apiGroups: [""], resources: [pods]}]
        jobOptions: {backoffLimit: -1}
        nodeSelector: {ssd: true}
        restartPolicy: Always
        """
    sp = P.format(line="{line}") + ".spec"
    assert messages(tmp_path, pipeline_promise("", spec)) == [
        f"{sp.format(line=17)}.imagePullSecrets[0]: required key 'name' is missing",
        f"{sp.format(line=19)}.rbac.serviceAccount: expected a string, got a list",
        f"{sp.format(line=20)}.rbac.permissions[0]: required key 'verbs' is missing",
        f"{sp.format(line=21)}.jobOptions.backoffLimit: must not be negative, got -1",
        f"{sp.format(line=22)}.nodeSelector.ssd: expected a string, got a boolean; quote it: "
        '"true"',
        f"{sp.format(line=23)}.restartPolicy: must be one of OnFailure, Never, got 'Always'",
    ]


def test_security_context_and_resources(tmp_path: Path) -> None:
    container = """\
        securityContext: {privileged: "true", runAsUser: root, hostPID: true}
        resources: {limits: {cpu: lots, memory: [1]}, requests: {}, minimum: {}}
        """
    assert messages(tmp_path, pipeline_promise(container)) == [
        f"{C.format(line=17)}.securityContext.hostPID: unknown key 'hostPID' (allowed: "
        "allowPrivilegeEscalation, appArmorProfile, capabilities, privileged, procMount, "
        "readOnlyRootFilesystem, runAsGroup, runAsNonRoot, runAsUser, seLinuxOptions, "
        "seccompProfile, windowsOptions)",
        f"{C.format(line=17)}.securityContext.privileged: expected a boolean, got a string",
        f"{C.format(line=17)}.securityContext.runAsUser: expected an integer, got a string",
        f"{C.format(line=18)}.resources.minimum: unknown key 'minimum' (allowed: claims, "
        "limits, requests)",
        f"{C.format(line=18)}.resources.limits.cpu: invalid quantity 'lots' (like 100m, 0.5 or "
        "128Mi)",
        f"{C.format(line=18)}.resources.limits.memory: expected a quantity like 100m or 128Mi, "
        "got a list",
    ]


def test_parse_promise_raises_with_every_problem() -> None:
    text = pipeline_promise("workingDir: /x\nports: []\n")
    (doc,) = load_text(text, "p.yaml")
    with pytest.raises(InvalidObjects) as info:
        parse_promise(doc)
    assert [p.line for p in info.value.problems] == [17, 18]
    assert (
        str(info.value)
        .splitlines()[1]
        .startswith(
            "p.yaml:18: spec.workflows.promise.configure[0].spec.containers[0].ports: unknown key"
        )
    )


def test_duplicate_promises_and_apis(tmp_path: Path) -> None:
    other = crd_promise(GOOD_CRD).replace("name: p}", "name: q}")
    assert messages(tmp_path, crd_promise(GOOD_CRD), crd_promise(GOOD_CRD), other) == [
        "f1.yaml:3: metadata.name: duplicate Promise 'p' (also at f0.yaml:1)",
        "f2.yaml:1: spec.api: Promise 'p' (f0.yaml:1) already provides kind Thing "
        "in example.com/v1",
    ]


# --- resource requests ------------------------------------------------------------------------


def test_requests_of_known_promises(tmp_path: Path) -> None:
    (promise,) = load(tmp_path, KRATIX_TEST_PROMISE).promises
    path = write(tmp_path, "r.yaml", REQUEST.replace("name: example", "name: a\n  namespace: t"))
    result = load_objects([path], known_promises=[promise])
    (request,) = result.resources
    assert (request.name, request.namespace, request.raw["metadata"]["namespace"]) == (
        "a",
        "t",
        "t",
    )
    assert load_objects([path]).ignored == [Source(path, 1)]


def test_request_errors(tmp_path: Path) -> None:
    long = "a" * 64
    bad = REQUEST.replace("name: example", f"name: {long}\n  namespace: Team_A") + "status: 3\n"
    no_spec = "apiVersion: test.kratix.io/v1alpha1\nkind: TestBundle\nmetadata: {name: b}\n"
    not_a_map = no_spec + "spec: [1]\n"
    assert messages(tmp_path, KRATIX_TEST_PROMISE, bad, not_a_map) == [
        f"f1.yaml:4: metadata.name: name '{long}' is 64 characters; at most 63 allowed",
        "f1.yaml:5: metadata.namespace: invalid namespace 'Team_A': use at most 63 lowercase "
        "letters, digits and '-', starting and ending with a letter or digit",
        "f2.yaml:4: spec: expected a mapping, got a list",
    ]
    (request,) = load(tmp_path, KRATIX_TEST_PROMISE, no_spec).resources
    assert request.spec == {}
    assert "spec" not in request.raw


def test_duplicate_requests(tmp_path: Path) -> None:
    explicit = REQUEST.replace("name: example", "name: example\n  namespace: default")
    assert messages(tmp_path, KRATIX_TEST_PROMISE, REQUEST, explicit) == [
        "f2.yaml:4: metadata.name: duplicate TestBundle 'default/example' (also at f1.yaml:1)"
    ]


def test_requests_of_an_invalid_promise_are_not_silently_ignored(tmp_path: Path) -> None:
    broken = KRATIX_TEST_PROMISE.replace("name: setup-deps\n", "name: Setup\n", 1)
    result = load(tmp_path, broken, REQUEST)
    assert [str(p).replace(f"{tmp_path}/", "") for p in result.problems][1:] == [
        "f1.yaml:1: not loaded: its Promise 'testbundle' has errors"
    ]
    assert (result.promises, result.resources, result.ignored) == ([], [], [])


def test_versions_and_kinds_a_promise_does_not_serve_are_errors(tmp_path: Path) -> None:
    """The API server answers only for what a CRD serves: `kubectl apply` fails with the REST
    mapper's `no matches for kind ... in version ...`; other groups stay ignored."""
    other_version = REQUEST.replace("v1alpha1", "v1alpha9")
    other_kind = REQUEST.replace("kind: TestBundle", "kind: testbundle")
    both = other_version.replace("kind: TestBundle", "kind: Bundle")
    config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
    other_group = REQUEST.replace("test.kratix.io", "other.kratix.io")
    texts = (KRATIX_TEST_PROMISE, other_version, other_kind, both, config_map, other_group)
    result = load(tmp_path, *texts)
    serves = "Promise 'testbundle' (f0.yaml:1) serves kind TestBundle in test.kratix.io/v1alpha1"
    assert [str(p).replace(f"{tmp_path}/", "") for p in result.problems] == [
        f'f1.yaml:1: apiVersion: no matches for kind "TestBundle" in version '
        f'"test.kratix.io/v1alpha9": {serves}',
        f'f2.yaml:2: kind: no matches for kind "testbundle" in version '
        f'"test.kratix.io/v1alpha1": {serves}',
        f'f3.yaml:1: apiVersion: no matches for kind "Bundle" in version '
        f'"test.kratix.io/v1alpha9": {serves}',
    ]
    assert result.resources == []
    assert result.ignored == [Source(str(tmp_path / f"f{i}.yaml"), 1) for i in (4, 5)]


def test_a_served_version_other_than_the_storage_version_is_ignored_with_a_warning(
    tmp_path: Path,
) -> None:
    request = "apiVersion: example.com/v1alpha1\nkind: Thing\nmetadata: {name: a}\n"
    result = load(tmp_path, crd_promise(GOOD_CRD), request)
    assert messages(tmp_path, crd_promise(GOOD_CRD), request) == [
        "f1.yaml:1: warning: apiVersion: version v1alpha1 of Thing is served, but gitbot reads "
        "requests at the storage version example.com/v1 only; document ignored"
    ]
    assert (result.problems, result.resources) == ([], [])
    assert result.ignored == [Source(str(tmp_path / "f1.yaml"), 1)]


def test_parse_resource_request() -> None:
    (promise_doc,) = load_text(KRATIX_TEST_PROMISE, "p.yaml")
    promise, _ = parse_promise(promise_doc)
    (doc,) = load_text(REQUEST, "r.yaml")
    request = parse_resource_request(doc, promise)
    assert request.promise_name == "testbundle"
    (bad,) = load_text("kind: TestBundle\nmetadata: {labels: {a: 1}}\n", "r.yaml")
    with pytest.raises(InvalidObjects) as info:
        parse_resource_request(bad, promise)
    assert [str(p) for p in info.value.problems] == [
        "r.yaml:2: metadata: required key 'name' is missing",
        'r.yaml:2: metadata.labels.a: expected a string, got an integer; quote it: "1"',
    ]


# --- Destination ------------------------------------------------------------------------------

STORE = "stateStoreRef: {kind: GitStateStore, name: default}\n"


def destination(spec: str = "path: worker-1\n", name: str = "worker-1", store: str = STORE) -> str:
    """A Destination; `spec` lines go under `spec` (line 7 on), then the stateStoreRef."""
    text = (
        "apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\n"
        f"metadata:\n  name: {name}\n  labels: {{env: dev}}\n"
    )
    return text + "spec:\n" + textwrap.indent(textwrap.dedent(spec) + store, "  ")


def test_destination_defaults(tmp_path: Path) -> None:
    (dest,) = load(tmp_path, destination()).destinations
    assert dest.name == "worker-1"
    assert dest.labels == {"env": "dev"}
    assert dest.path == "worker-1"
    assert dest.filepath_mode == "nestedByMetadata"
    assert dest.aggregated_filename == "aggregated.yaml"
    assert dest.strict_match_labels is False
    assert dest.init_workloads is True
    assert dest.cleanup == "none"
    assert dest.state_store_ref == ("GitStateStore", "default")
    assert dest.source == Source(str(tmp_path / "f0.yaml"), 1)


@pytest.mark.parametrize("cleanup", ["none", "all"])
def test_destination_cleanup(tmp_path: Path, cleanup: str) -> None:
    """Kratix's `spec.cleanup` enum (api/v1alpha1/destination_types.go): none or all."""
    (dest,) = load(tmp_path, destination(f"path: d\ncleanup: {cleanup}\n")).destinations
    assert dest.cleanup == cleanup
    assert messages(tmp_path, destination("path: d\ncleanup: some\n")) == [
        "f0.yaml:8: spec.cleanup: must be one of none, all, got 'some'"
    ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/clusters/dev/", "clusters/dev"), (".", ""), ("/", ""), ("./a//b", "a/b"), ("a/../b", "b")],
)
def test_destination_path(tmp_path: Path, path: str, expected: str) -> None:
    (dest,) = load(tmp_path, destination(f"path: {path}\n")).destinations
    assert dest.path == expected


def test_destination_settings(tmp_path: Path) -> None:
    spec = """\
        path: clusters/platform
        strictMatchLabels: true
        filepath: {mode: aggregatedYAML, filename: /all/in-one.yaml}
        initWorkloads: {enabled: false}
        cleanup: all
        """
    store = "stateStoreRef: {kind: BucketStateStore, name: minio}\n"
    (dest,) = load(tmp_path, destination(spec, store=store)).destinations
    assert (dest.path, dest.strict_match_labels, dest.init_workloads, dest.cleanup) == (
        "clusters/platform",
        True,
        False,
        "all",
    )
    assert (dest.filepath_mode, dest.aggregated_filename) == ("aggregatedYAML", "all/in-one.yaml")
    assert dest.state_store_ref == ("BucketStateStore", "minio")


def test_destination_webhook_rules(tmp_path: Path) -> None:
    """Kratix's Destination webhook (internal/webhook/v1alpha1/destination_webhook.go) and CRD:
    `path` required and not empty, `stateStoreRef` required with a known kind and a name."""
    no_spec = destination().split("spec:")[0]
    assert messages(
        tmp_path,
        no_spec,
        destination("strictMatchLabels: true\n", store=""),
        destination('path: ""\n', store="stateStoreRef: {kind: S3StateStore}\n"),
    ) == [
        "f0.yaml:1: required key 'spec' is missing",
        "f1.yaml:6: spec: required key 'path' is missing",
        "f1.yaml:6: spec: required key 'stateStoreRef' is missing",
        "f2.yaml:7: spec.path: must not be empty",
        "f2.yaml:8: spec.stateStoreRef.kind: must be one of BucketStateStore, GitStateStore, "
        "got 'S3StateStore'",
        "f2.yaml:8: spec.stateStoreRef: required key 'name' is missing",
    ]


def test_destination_path_clashes(tmp_path: Path) -> None:
    """Same path in the same state store: refused by Kratix's webhook. Same folder in two state
    stores: refused by gitbot, which writes both into one state repository."""
    other_store = "stateStoreRef: {kind: GitStateStore, name: other}\n"
    assert messages(
        tmp_path,
        destination("path: shared\n", name="a"),
        destination("path: shared\n", name="b"),
        destination("path: shared/\n", name="c"),
        destination("path: /shared\n", name="d", store=other_store),
        destination("path: elsewhere\n", name="e", store=other_store),
    ) == [
        "f1.yaml:7: spec.path: destination path 'shared' already exists for state store "
        "'default' (Destination 'a', f0.yaml:1)",
        "f3.yaml:7: spec.path: path '/shared' is also Destination 'a''s (f0.yaml:1) in state "
        "store 'default'; gitbot writes every state store into one state repository, so their "
        "files would mix",
    ]


def test_destination_errors(tmp_path: Path) -> None:
    spec = """\
        path: ../outside
        strictMatchLabels: "yes"
        filepath: {mode: flat, filename: ../up.yaml}
        initWorkloads: {enabled: 1}
        """
    dest = destination(spec, name="Worker").replace("{env: dev}", "{env: [dev]}")
    assert messages(tmp_path, dest, destination("path: d\nfilepath: {filename: x.yaml}\n")) == [
        "f0.yaml:4: metadata.name: invalid name 'Worker': use lowercase letters, digits, '-' and "
        "'.', starting and ending with a letter or digit",
        "f0.yaml:5: metadata.labels.env: expected a string, got a list",
        "f0.yaml:7: spec.path: path must stay inside the state store, got '../outside'",
        "f0.yaml:9: spec.filepath.mode: must be one of nestedByMetadata, none, aggregatedYAML, "
        "got 'flat'",
        "f0.yaml:9: spec.filepath.filename: filename must name a file inside the "
        "Destination's path, got '../up.yaml'",
        "f0.yaml:8: spec.strictMatchLabels: expected a boolean, got a string",
        "f0.yaml:10: spec.initWorkloads.enabled: expected a boolean, got an integer",
        "f1.yaml:8: warning: spec.filepath.filename: filename is only used with mode "
        "aggregatedYAML",
    ]


def test_destination_unknown_fields_are_dropped_with_a_warning(tmp_path: Path) -> None:
    """Kratix's Destination CRD is structural: the API server prunes what it does not list."""
    text = destination("path: d\ncluster: kind\nfilepath: {mode: none, flat: true}\n")
    text = text.replace("metadata:\n", "metadata:\n  creationTimestamp: null\n  colour: red\n")
    result = load(tmp_path, text + "extra: 1\n")
    assert [str(p).replace(f"{tmp_path}/", "") for p in result.warnings] == [
        "f0.yaml:13: warning: extra: unknown field, dropped as the Kubernetes API server does",
        "f0.yaml:5: warning: metadata.colour: unknown field, dropped as the Kubernetes API "
        "server does",
        "f0.yaml:10: warning: spec.cluster: unknown field, dropped as the Kubernetes API server "
        "does",
        "f0.yaml:11: warning: spec.filepath.flat: unknown field, dropped as the Kubernetes API "
        "server does",
    ]
    assert [d.filepath_mode for d in result.destinations] == ["none"]


def test_duplicate_destinations_and_parse_destination(tmp_path: Path) -> None:
    assert messages(tmp_path, destination(), destination()) == [
        "f1.yaml:4: metadata.name: duplicate Destination 'worker-1' (also at f0.yaml:1)"
    ]
    (doc,) = load_text(destination("path: x\n"), "d.yaml")
    assert parse_destination(doc).path == "x"
    (bad,) = load_text(destination("path: 3\n"), "d.yaml")
    with pytest.raises(InvalidObjects) as info:
        parse_destination(bad)
    assert str(info.value) == (
        'd.yaml:7: spec.path: expected a string, got an integer; quote it: "3"'
    )


def test_a_loaded_promise_replaces_a_known_one(tmp_path: Path) -> None:
    (known,) = load(tmp_path, KRATIX_TEST_PROMISE).promises
    renamed = KRATIX_TEST_PROMISE.replace("name: testbundle\n", "name: other\n", 1)
    v2 = KRATIX_TEST_PROMISE.replace("- name: v1alpha1", "- name: v2")
    request_v2 = REQUEST.replace("v1alpha1", "v2")
    paths = [write(tmp_path, "p.yaml", v2), write(tmp_path, "r.yaml", request_v2)]
    result = load_objects(paths, known_promises=[known])
    assert result.problems == []
    assert [r.promise_name for r in result.resources] == ["testbundle"]
    clash = load_objects([write(tmp_path, "o.yaml", renamed)], known_promises=[known])
    assert [str(p).replace(f"{tmp_path}/", "") for p in clash.problems] == [
        "o.yaml:1: spec.api: Promise 'testbundle' (f0.yaml:1) already provides kind TestBundle "
        "in test.kratix.io/v1alpha1"
    ]
    assert clash.promises == []


# --- kind: List -------------------------------------------------------------------------------


def test_list_objects_are_flattened_as_kubectl_apply_does(tmp_path: Path) -> None:
    """`kubectl apply -f` applies each item of a `kind: List` (or a typed `...List`)."""
    listed = textwrap.indent(KRATIX_TEST_PROMISE, "  ").replace("  apiVersion:", "- apiVersion:", 1)
    text = (
        "apiVersion: v1\nkind: List\nmetadata: {}\nitems:\n"
        + listed
        + "- apiVersion: platform.kratix.io/v1alpha1\n  kind: DestinationList\n  items:\n"
        + textwrap.indent(destination("path: nested\n"), "    ").replace("    api", "  - api", 1)
        + textwrap.indent(REQUEST, "  ").replace("  apiVersion:", "- apiVersion:", 1)
    )
    result = load(tmp_path, text)
    assert result.problems == []
    assert [p.name for p in result.promises] == ["testbundle"]
    assert [(d.name, d.path) for d in result.destinations] == [("worker-1", "nested")]
    assert [(r.name, r.source.line) for r in result.resources] == [("example", 85)]
    # The same for a source commit's files (gitbot reconcile).
    from_commit = load_texts({"all.yaml": text})
    assert (len(from_commit.promises), len(from_commit.resources)) == (1, 1)
    broken = text.replace("path: nested", "path: 7")
    assert messages(tmp_path, broken) == [
        'f0.yaml:83: spec.path: expected a string, got an integer; quote it: "7"'
    ]


def test_crd_names_are_checked_as_the_api_server_does(tmp_path: Path) -> None:
    """apiextensions' ValidateCustomResourceDefinitionNames, run when Kratix's webhook dry-runs
    the CRD: DNS-1035 labels (a kind and listKind lower-cased); the name is `<plural>.<group>`,
    and no invalid name is ever suggested."""
    names = (
        "names: {kind: my_redis, plural: Redii, singular: Redis, listKind: my_redis,\n"
        "        shortNames: [rd, 1r], categories: [all, -x]}"
    )
    bad_names = GOOD_CRD.replace("names: {kind: Thing, plural: things}", names)
    bad_group = GOOD_CRD.replace("group: example.com", "group: example")
    mixed_case = GOOD_CRD.replace("kind: Thing", "kind: RedisCluster, listKind: RedisClusters")
    result = load(
        tmp_path,
        crd_promise(bad_names, "redii.example.com"),
        crd_promise(bad_group, "things.example.com"),
        crd_promise(mixed_case),
    )
    label = (
        "be at most 63 lowercase letters, digits and '-', starting with a letter and ending "
        "with a letter or digit"
    )
    names_at = "f0.yaml:11: spec.api.spec.names"
    assert [str(p).replace(f"{tmp_path}/", "") for p in result.problems] == [
        f"{names_at}.plural: invalid plural 'Redii': must {label}",
        f"{names_at}.kind: invalid kind 'my_redis': may have mixed case, but otherwise must "
        f"{label}",
        f"{names_at}.singular: invalid singular 'Redis': must {label}",
        f"{names_at}.listKind: invalid listKind 'my_redis': may have mixed case, but otherwise "
        f"must {label}",
        f"{names_at}.listKind: kind and listKind may not be the same",
        f"f0.yaml:12: spec.api.spec.names.shortNames[1]: invalid short name '1r': must {label}",
        f"f0.yaml:12: spec.api.spec.names.categories[1]: invalid category '-x': must {label}",
        "f0.yaml:8: spec.api.metadata.name: must be '<plural>.<group>', got 'redii.example.com'",
        "f1.yaml:10: spec.api.spec.group: group 'example' must be a domain with at least one dot",
        "f1.yaml:8: spec.api.metadata.name: must be '<plural>.<group>', got 'things.example.com'",
    ]
    (promise,) = result.promises
    assert promise.api == CRDInfo("example.com", "v1", "RedisCluster", "things")


BINDINGS = """\
apiVersion: platform.kratix.io/v1alpha1
kind: ResourceBinding
metadata:
  name: one-app-1a2b3
  namespace: team
  labels: {kratix.io/promise-name: app, kratix.io/resource-name: one}
spec:
  version: v1.0.0
  promiseRef: {name: app}
  resourceRef: {name: one, namespace: team, generation: 2}
---
apiVersion: platform.kratix.io/v1alpha1
kind: ResourceBinding
metadata:
  name: again
  namespace: team
  labels: {kratix.io/promise-name: app, kratix.io/resource-name: one}
spec: {version: latest, promiseRef: {name: app}, resourceRef: {name: one, namespace: team}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: ResourceBinding
metadata: {name: unlabelled}
spec:
  version: 2
  promiseRef: {}
  resourceRef: {name: two, extra: x}
"""


def test_resource_bindings_are_read_as_kratix_finds_and_checks_them(tmp_path: Path) -> None:
    # Fields from config/crd/bases/platform.kratix.io_resourcebindings.yaml; a request's binding
    # is found by its labels, and two for one request are refused (findResourceBinding).
    result = load(tmp_path, BINDINGS)
    ((binding,), file) = result.bindings, str(tmp_path / "f0.yaml")
    assert (binding.name, binding.namespace, binding.version) == ("one-app-1a2b3", "team", "v1.0.0")
    assert (binding.promise, binding.resource, binding.source) == ("app", "one", Source(file, 1))
    assert [str(p) for p in result.problems] == [
        f"{file}:17: metadata.labels: found multiple ResourceBindings for Resource one in "
        f"namespace team (also one-app-1a2b3 at {file}:1); there should be one ResourceBinding "
        "per Resource",
        f'{file}:24: spec.version: expected a string, got an integer; quote it: "2"',
        f"{file}:25: spec.promiseRef: required key 'name' is missing",
        f"{file}:26: spec.resourceRef: required key 'namespace' is missing",
    ]
    assert [str(p) for p in result.warnings] == [
        f"{file}:26: warning: spec.resourceRef.extra: unknown field, dropped as the Kubernetes "
        "API server does",
        f"{file}:22: warning: metadata.labels: no kratix.io/promise-name or "
        "kratix.io/resource-name label: Kratix finds a request's ResourceBinding by these labels, "
        "so this one binds no request",
    ]
