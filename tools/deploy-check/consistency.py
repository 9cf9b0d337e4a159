"""Cross-file checks over one kustomize build: what no per-file schema can see.

`generic_problems` knows Kubernetes only (names, labels, ports, env and volume references,
KEDA's references); `timbre_problems` knows what Timbre's pods need. Each returns a list of
sentences, empty when all is well.
"""
from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import urlparse, unquote

from kustomize import Resource, containers, pod_spec

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
SELECTOR_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
VAR_REFERENCE = re.compile(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")

KEDA_GROUP = "keda.sh/v1alpha1"
SCALED_OBJECT_FIELDS = {"scaleTargetRef", "pollingInterval", "cooldownPeriod", "initialCooldownPeriod",
                        "idleReplicaCount", "minReplicaCount", "maxReplicaCount", "fallback", "advanced", "triggers"}
TRIGGER_AUTH_FIELDS = {"podIdentity", "secretTargetRef", "env", "configMapTargetRef", "hashiCorpVault",
                       "azureKeyVault", "awsSecretManager", "gcpSecretManager", "boundServiceAccountToken"}
TRIGGER_FIELDS = {"type", "name", "metadata", "authenticationRef", "metricType", "useCachedMetrics"}


class Index:
    def __init__(self, resources: list[Resource]):
        self.resources = resources
        self.by_key: dict[tuple[str, str, str], Resource] = {r.key(): r for r in resources}

    def get(self, kind: str, namespace: str | None, name: str) -> Resource | None:
        return self.by_key.get((kind, namespace or "", name))

    def of_kind(self, *kinds: str) -> list[Resource]:
        return [r for r in self.resources if r.kind in kinds]

    def keys_of(self, kind: str, namespace: str | None, name: str) -> set[str] | None:
        resource = self.get(kind, namespace, name)
        if resource is None:
            return None
        document = resource.document
        fields = ("data", "stringData") if kind == "Secret" else ("data", "binaryData")
        return {k for f in fields for k in (document.get(f) or {})}


def template_labels(resource: Resource) -> dict:
    document = resource.document
    if document.get("kind") == "Pod":
        return (document.get("metadata") or {}).get("labels") or {}
    spec = document.get("spec") or {}
    if document.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def env_value(index: Index, resource: Resource, container: dict, name: str) -> str | None:
    """The literal value an env var of `container` gets (following ConfigMap references)."""
    for entry in container.get("env") or []:
        if entry.get("name") != name:
            continue
        if "value" in entry:
            return str(entry["value"])
        ref = (entry.get("valueFrom") or {}).get("configMapKeyRef")
        if ref:
            configmap = index.get("ConfigMap", resource.namespace, ref.get("name", ""))
            if configmap:
                return (configmap.document.get("data") or {}).get(ref.get("key"))
        ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            secret = index.get("Secret", resource.namespace, ref.get("name", ""))
            if secret:
                return (secret.document.get("stringData") or {}).get(ref.get("key"))
    return None


def expanded_args(index: Index, resource: Resource, container: dict) -> list[str]:
    """`args` with $(VAR) replaced as the kubelet does (unknown references stay as written)."""
    def replace(match):
        value = env_value(index, resource, container, match.group(1))
        return value if value is not None else match.group(0)
    return [VAR_REFERENCE.sub(replace, str(a)) for a in (container.get("args") or [])]


def _probe_port_problems(where: str, probe: dict, ports: list[dict]) -> list[str]:
    problems = []
    for handler in ("httpGet", "tcpSocket", "grpc"):
        if handler not in (probe or {}):
            continue
        port = probe[handler].get("port")
        if isinstance(port, str) and not port.isdigit():
            if port not in {p.get("name") for p in ports}:
                problems.append(f"{where}: port {port!r} is not a named port of the container "
                                f"(names: {sorted(p.get('name') for p in ports if p.get('name'))})")
        elif int(port) not in {p.get("containerPort") for p in ports}:
            problems.append(f"{where}: port {port} is not a containerPort of the container")
    return problems


def generic_problems(resources: list[Resource]) -> list[str]:
    index = Index(resources)
    problems: list[str] = []
    used_keys: dict[tuple[str, str, str], set[str]] = defaultdict(set)   # (kind, ns, name) → keys used
    used_whole: set[tuple[str, str, str]] = set()                         # envFrom / volumes: every key
    used_claims: set[tuple[str, str]] = set()

    namespaces = {r.name for r in index.of_kind("Namespace")}
    for resource in resources:
        if resource.namespace and resource.namespace not in namespaces:
            problems.append(f"{resource}: namespace {resource.namespace} is not created by this build")
        if not resource.name:
            problems.append(f"{resource.source}: a {resource.kind} without metadata.name")

    for resource in index.of_kind(*WORKLOAD_KINDS):
        ns = resource.namespace
        spec = pod_spec(resource.document) or {}
        labels = template_labels(resource)
        where = f"{resource}"
        if resource.kind in SELECTOR_KINDS:
            selector = (resource.document.get("spec") or {}).get("selector") or {}
            if set(selector) - {"matchLabels"}:
                problems.append(f"{where}: only selector.matchLabels is checked; use it alone")
            if not selects(selector.get("matchLabels") or {}, labels):
                problems.append(f"{where}: selector {selector.get('matchLabels')} does not match the pod labels {labels}")
        for constraint in spec.get("topologySpreadConstraints") or []:
            selector = (constraint.get("labelSelector") or {}).get("matchLabels") or {}
            if not selects(selector, labels):
                problems.append(f"{where}: topologySpreadConstraints selector {selector} does not select its own pods")
        if resource.kind in ("Job", "CronJob") and spec.get("restartPolicy") not in ("Never", "OnFailure"):
            problems.append(f"{where}: a Job's pods need restartPolicy Never or OnFailure")

        claim_templates = {((t.get("metadata") or {}).get("name")) for t in
                           (resource.document.get("spec") or {}).get("volumeClaimTemplates") or []}
        volumes = spec.get("volumes") or []
        volume_names = [v.get("name") for v in volumes]
        for name in {n for n in volume_names if volume_names.count(n) > 1}:
            problems.append(f"{where}: volume {name} is defined twice")
        mounted: set[str] = set()
        for volume in volumes:
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"].get("claimName")
                used_claims.add((ns or "", claim))
                if index.get("PersistentVolumeClaim", ns, claim) is None:
                    problems.append(f"{where}: volume {volume['name']} claims {claim}, which this build does not define")
            if "configMap" in volume:
                ref = volume["configMap"]
                used_whole.add(("ConfigMap", ns or "", ref.get("name")))
                if not ref.get("optional") and index.get("ConfigMap", ns, ref.get("name")) is None:
                    problems.append(f"{where}: volume {volume['name']}: no ConfigMap {ref.get('name')}")
            if "secret" in volume:
                ref = volume["secret"]
                used_whole.add(("Secret", ns or "", ref.get("secretName")))
                if not ref.get("optional") and index.get("Secret", ns, ref.get("secretName")) is None:
                    problems.append(f"{where}: volume {volume['name']}: no Secret {ref.get('secretName')}")

        for container in containers(resource.document):
            cwhere = f"{where} container {container.get('name')}"
            if not container.get("image"):
                problems.append(f"{cwhere}: no image")
            ports = container.get("ports") or []
            port_names = [p.get("name") for p in ports if p.get("name")]
            for name in {n for n in port_names if port_names.count(n) > 1}:
                problems.append(f"{cwhere}: port name {name} is used twice")
            for name in port_names:
                if len(name) > 15:
                    problems.append(f"{cwhere}: port name {name} is longer than 15 characters")
            for probe_name in ("startupProbe", "livenessProbe", "readinessProbe"):
                if probe_name in container:
                    problems += _probe_port_problems(f"{cwhere} {probe_name}", container[probe_name], ports)
            for hook_name, hook in (container.get("lifecycle") or {}).items():
                problems += _probe_port_problems(f"{cwhere} {hook_name}", hook, ports)

            resources_spec = container.get("resources") or {}
            for need in ("requests.cpu", "requests.memory", "limits.memory"):
                section, key = need.split(".")
                if key not in (resources_spec.get(section) or {}):
                    problems.append(f"{cwhere}: no resources.{need}")

            defined: list[str] = []
            for source in container.get("envFrom") or []:
                for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if field in source:
                        ref = source[field]
                        used_whole.add((kind, ns or "", ref.get("name")))
                        keys = index.keys_of(kind, ns, ref.get("name"))
                        if keys is None and not ref.get("optional"):
                            problems.append(f"{cwhere}: envFrom names {kind} {ref.get('name')}, which this build does not define")
                        defined += [source.get("prefix", "") + k for k in (keys or set())]
            env_names = []
            for entry in container.get("env") or []:
                name = entry.get("name")
                env_names.append(name)
                for reference in VAR_REFERENCE.findall(str(entry.get("value", ""))):
                    if reference not in defined:
                        problems.append(f"{cwhere}: env {name} refers to $({reference}), not defined before it")
                value_from = entry.get("valueFrom") or {}
                for kind, field in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    if field not in value_from:
                        continue
                    ref = value_from[field]
                    used_keys[(kind, ns or "", ref.get("name"))].add(ref.get("key"))
                    keys = index.keys_of(kind, ns, ref.get("name"))
                    if ref.get("optional"):
                        continue
                    if keys is None:
                        problems.append(f"{cwhere}: env {name} reads {kind} {ref.get('name')}, which this build does not define")
                    elif ref.get("key") not in keys:
                        problems.append(f"{cwhere}: env {name} reads key {ref.get('key')!r} of {kind} {ref.get('name')}, "
                                        f"which has {sorted(keys)}")
                defined.append(name)
            for name in {n for n in env_names if env_names.count(n) > 1}:
                problems.append(f"{cwhere}: env {name} is set twice")
            for field in ("command", "args"):
                for word in container.get(field) or []:
                    for reference in VAR_REFERENCE.findall(str(word)):
                        if reference not in defined:
                            problems.append(f"{cwhere}: {field} refers to $({reference}), which is not in its environment "
                                            "(the kubelet would pass it literally)")
            for mount in container.get("volumeMounts") or []:
                mounted.add(mount.get("name"))
                if mount.get("name") not in volume_names and mount.get("name") not in claim_templates:
                    problems.append(f"{cwhere}: volumeMount {mount.get('name')} names no volume of the pod "
                                    f"(volumes: {sorted(n for n in volume_names if n)})")
            paths = [m.get("mountPath") for m in container.get("volumeMounts") or []]
            for path in {p for p in paths if paths.count(p) > 1}:
                problems.append(f"{cwhere}: two volumes are mounted at {path}")
        for name in set(volume_names) - mounted:
            problems.append(f"{where}: volume {name} is mounted by no container")
        for name in claim_templates - mounted:
            problems.append(f"{where}: volumeClaimTemplate {name} is mounted by no container")

    workloads = index.of_kind(*WORKLOAD_KINDS)
    for service in index.of_kind("Service"):
        spec = service.document.get("spec") or {}
        selector = spec.get("selector") or {}
        selected = [w for w in workloads if w.namespace == service.namespace and selects(selector, template_labels(w))]
        if not selected:
            problems.append(f"{service}: selector {selector} selects no pods of this build")
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            for workload in selected:
                ports = [p for c in containers(workload.document) for p in (c.get("ports") or [])]
                if isinstance(target, str) and not target.isdigit():
                    found = [p for p in ports if p.get("name") == target]
                else:
                    found = [p for p in ports if p.get("containerPort") == int(target)]
                if not found:
                    problems.append(f"{service}: port {port.get('name') or port.get('port')} targets {target!r}, "
                                    f"which {workload} does not expose (ports: "
                                    f"{[(p.get('name'), p.get('containerPort')) for p in ports]})")
                elif port.get("protocol", "TCP") != found[0].get("protocol", "TCP"):
                    problems.append(f"{service}: port {target} protocol differs from {workload}'s")

    for budget in index.of_kind("PodDisruptionBudget"):
        selector = ((budget.document.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if not any(w.namespace == budget.namespace and selects(selector, template_labels(w)) for w in workloads):
            problems.append(f"{budget}: selector {selector} selects no pods of this build")

    for statefulset in index.of_kind("StatefulSet"):
        name = (statefulset.document.get("spec") or {}).get("serviceName")
        service = index.get("Service", statefulset.namespace, name or "")
        if service is None:
            problems.append(f"{statefulset}: serviceName {name} is not a Service of this build")
        else:
            if (service.document.get("spec") or {}).get("clusterIP") != "None":
                problems.append(f"{statefulset}: its governing Service {name} should be headless (clusterIP: None)")
            if not selects((service.document.get("spec") or {}).get("selector") or {}, template_labels(statefulset)):
                problems.append(f"{statefulset}: its Service {name} does not select its pods")

    for claim in index.of_kind("PersistentVolumeClaim"):
        if (claim.namespace or "", claim.name) not in used_claims:
            problems.append(f"{claim}: no pod uses this claim")
        if not ((claim.document.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage"):
            problems.append(f"{claim}: no resources.requests.storage")

    problems += keda_problems(index, used_keys)

    for kind in ("ConfigMap", "Secret"):
        for resource in index.of_kind(kind):
            key = (kind, resource.namespace or "", resource.name)
            if key in used_whole:
                continue
            unused = (index.keys_of(kind, resource.namespace, resource.name) or set()) - used_keys.get(key, set())
            if unused:
                problems.append(f"{resource}: keys no pod reads: {sorted(unused)}")
    return problems


def keda_problems(index: Index, used_keys) -> list[str]:
    """KEDA's CRDs have no schema in kubernetes-validate: check their shape and references."""
    problems = []
    for resource in index.of_kind("ScaledObject", "TriggerAuthentication"):
        document = resource.document
        if document.get("apiVersion") != KEDA_GROUP:
            problems.append(f"{resource}: apiVersion should be {KEDA_GROUP}")
        spec = document.get("spec")
        if not isinstance(spec, dict):
            problems.append(f"{resource}: spec must be a mapping")
            continue
        allowed = SCALED_OBJECT_FIELDS if resource.kind == "ScaledObject" else TRIGGER_AUTH_FIELDS
        if set(spec) - allowed:
            problems.append(f"{resource}: unknown spec fields {sorted(set(spec) - allowed)}")
        if set(document) - {"apiVersion", "kind", "metadata", "spec"}:
            problems.append(f"{resource}: unknown top-level fields {sorted(set(document) - {'apiVersion', 'kind', 'metadata', 'spec'})}")

    for auth in index.of_kind("TriggerAuthentication"):
        for ref in (auth.document.get("spec") or {}).get("secretTargetRef") or []:
            if set(ref) != {"parameter", "name", "key"}:
                problems.append(f"{auth}: secretTargetRef entries need exactly parameter, name and key")
            used_keys[("Secret", auth.namespace or "", ref.get("name"))].add(ref.get("key"))
            keys = index.keys_of("Secret", auth.namespace, ref.get("name", ""))
            if keys is None:
                problems.append(f"{auth}: secretTargetRef names Secret {ref.get('name')}, which this build does not define")
            elif ref.get("key") not in keys:
                problems.append(f"{auth}: secretTargetRef reads key {ref.get('key')!r} of Secret {ref.get('name')}, which has {sorted(keys)}")

    for scaled in index.of_kind("ScaledObject"):
        spec = scaled.document.get("spec") or {}
        target = spec.get("scaleTargetRef") or {}
        kind = target.get("kind", "Deployment")
        if index.get(kind, scaled.namespace, target.get("name", "")) is None:
            problems.append(f"{scaled}: scaleTargetRef {kind}/{target.get('name')} is not in this build")
        low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high):
            problems.append(f"{scaled}: minReplicaCount {low} / maxReplicaCount {high} must be integers, min ≤ max")
        for number in ("pollingInterval", "cooldownPeriod"):
            if number in spec and not (isinstance(spec[number], int) and spec[number] > 0):
                problems.append(f"{scaled}: {number} must be a positive integer")
        triggers = spec.get("triggers") or []
        if not triggers:
            problems.append(f"{scaled}: no triggers")
        for trigger in triggers:
            if set(trigger) - TRIGGER_FIELDS:
                problems.append(f"{scaled}: unknown trigger fields {sorted(set(trigger) - TRIGGER_FIELDS)}")
            metadata = trigger.get("metadata") or {}
            for key, value in metadata.items():
                if not isinstance(value, str):
                    problems.append(f"{scaled}: trigger metadata {key} must be a string (KEDA's metadata is map[string]string)")
            auth_name = (trigger.get("authenticationRef") or {}).get("name")
            auth_kind = (trigger.get("authenticationRef") or {}).get("kind", "TriggerAuthentication")
            auth = index.get(auth_kind, scaled.namespace, auth_name) if auth_name else None
            if auth_name and auth is None:
                problems.append(f"{scaled}: authenticationRef {auth_kind}/{auth_name} is not in this build")
            if trigger.get("type") == "postgresql":
                if not metadata.get("query"):
                    problems.append(f"{scaled}: the postgresql trigger has no query")
                try:
                    if float(metadata.get("targetQueryValue", "0")) <= 0:
                        raise ValueError
                except ValueError:
                    problems.append(f"{scaled}: the postgresql trigger needs a positive targetQueryValue")
                parameters = {r.get("parameter") for r in ((auth.document.get("spec") or {}).get("secretTargetRef") or [])} if auth else set()
                if "connection" not in parameters and "connectionFromEnv" not in metadata and "host" not in metadata and "host" not in parameters:
                    problems.append(f"{scaled}: the postgresql trigger has no connection (authenticationRef with a "
                                    "`connection` parameter, connectionFromEnv, or host/port/…)")
    return problems


def timbre_containers(index: Index):
    """(resource, container) for every container that runs the Timbre image."""
    for resource in index.of_kind(*WORKLOAD_KINDS):
        for container in containers(resource.document):
            image = container.get("image", "")
            if image.split("@")[0].split(":")[0].rsplit("/", 1)[-1] == "timbre":
                yield resource, container


def mount_of(resource: Resource, container: dict, path: str):
    """The (volume, mount) mounted at `path` in `container`, or (None, None)."""
    spec = pod_spec(resource.document) or {}
    for mount in container.get("volumeMounts") or []:
        if mount.get("mountPath") == path:
            volume = next((v for v in spec.get("volumes") or [] if v.get("name") == mount.get("name")), None)
            return volume, mount
    return None, None


def timbre_problems(resources: list[Resource], image: dict, cli: dict[str, set[str]] | None,
                    keda_query: str) -> list[str]:
    """What Timbre's pods need. `image` holds the Dockerfile's facts (uid, port, home); `cli`
    the long options of each subcommand from `timbre SUB --help` (None: no binary to ask)."""
    index = Index(resources)
    problems: list[str] = []
    api = [r for r in index.of_kind("Deployment") if r.name == "timbre-api"]
    worker = [r for r in index.of_kind("Deployment") if r.name == "timbre-worker"]
    migrate = [r for r in index.of_kind("Job") if r.name == "timbre-migrate"]
    for found, what in ((api, "Deployment timbre-api"), (worker, "Deployment timbre-worker"), (migrate, "Job timbre-migrate")):
        if len(found) != 1:
            problems.append(f"the build has no {what}")
    if problems:
        return problems

    music_paths: set[str] = set()
    home_claims: set[str] = set()
    for resource, container in timbre_containers(index):
        where = f"{resource} container {container.get('name')}"
        spec = pod_spec(resource.document) or {}
        context = {**(spec.get("securityContext") or {}), **(container.get("securityContext") or {})}
        if context.get("runAsNonRoot") is not True:
            problems.append(f"{where}: runAsNonRoot is not true")
        if context.get("runAsUser") != image["uid"]:
            problems.append(f"{where}: runAsUser {context.get('runAsUser')} is not the image's user {image['uid']}")
        database = [e for e in container.get("env") or [] if e.get("name") == "TIMBRE_DATABASE_URL"]
        ref = ((database[0].get("valueFrom") or {}).get("secretKeyRef") or {}) if database else {}
        if not ref:
            problems.append(f"{where}: TIMBRE_DATABASE_URL must come from a Secret (without it each pod would "
                            "start its own embedded PostgreSQL)")
        elif ref.get("optional"):
            problems.append(f"{where}: the TIMBRE_DATABASE_URL Secret must not be optional")
        if any(e.get("name") == "TIMBRE_HOME" for e in container.get("env") or []):
            problems.append(f"{where}: sets TIMBRE_HOME; the checks assume the image's {image['home']}")

        arguments = expanded_args(index, resource, container)
        if not arguments:
            problems.append(f"{where}: no args (the image would run `timbre serve` with its defaults)")
            continue
        command = arguments[0] if arguments[0] != "db" else "db " + (arguments[1] if len(arguments) > 1 else "")
        if cli is not None:
            known = cli.get(command)
            if known is None:
                problems.append(f"{where}: `timbre {command}` is not a timbre subcommand")
            else:
                for argument in arguments:
                    if argument.startswith("--") and argument.split("=", 1)[0] not in known:
                        problems.append(f"{where}: `timbre {command}` has no option {argument.split('=', 1)[0]}")
        if command in ("serve", "worker"):
            volume, mount = mount_of(resource, container, image["home"])
            if volume is None or "persistentVolumeClaim" not in volume:
                problems.append(f"{where}: no PersistentVolumeClaim mounted at TIMBRE_HOME ({image['home']})")
            else:
                home_claims.add(volume["persistentVolumeClaim"]["claimName"])
            music = [(v, m) for m in container.get("volumeMounts") or []
                     for v in [next((v for v in spec.get("volumes") or [] if v.get("name") == m.get("name")), None)]
                     if v and m.get("name") and "music" in m.get("name")]
            if len(music) != 1:
                problems.append(f"{where}: expected one music volume mount (a volume named *music*)")
            else:
                volume, mount = music[0]
                music_paths.add(mount.get("mountPath"))
                if mount.get("readOnly") is not True:
                    problems.append(f"{where}: the music library must be mounted readOnly")
                claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
                pvc = index.get("PersistentVolumeClaim", resource.namespace, claim or "")
                if pvc and "ReadOnlyMany" not in ((pvc.document.get("spec") or {}).get("accessModes") or []):
                    problems.append(f"{pvc}: the music claim should be ReadOnlyMany")

    if len(music_paths) > 1:
        problems.append(f"the music library is mounted at different paths {sorted(music_paths)}: tracks are stored "
                        "by absolute path, so every pod must see the same one")
    for claim in home_claims:
        pvc = index.get("PersistentVolumeClaim", api[0].namespace, claim)
        if pvc and "ReadWriteMany" not in ((pvc.document.get("spec") or {}).get("accessModes") or []):
            problems.append(f"{pvc}: shared by API pods and workers on any node, it must be ReadWriteMany")
    if len(home_claims) > 1:
        problems.append(f"API pods and workers mount different TIMBRE_HOME claims {sorted(home_claims)}: "
                        "retrained model files must be visible to all")

    # The API Deployment.
    deployment = api[0]
    spec = deployment.document["spec"]
    container = containers(deployment.document)[-1]
    arguments = expanded_args(index, deployment, container)
    if (spec.get("replicas") or 1) < 2:
        problems.append(f"{deployment}: replicas should be at least 2")
    if arguments[:1] != ["serve"]:
        problems.append(f"{deployment}: should run `timbre serve`")
    for required in ("--workers=0", "--host=0.0.0.0"):
        if required not in arguments:
            problems.append(f"{deployment}: args should include {required}")
    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
    serve_port = next((int(a.split("=", 1)[1]) for a in arguments if a.startswith("--port=")), 8000)
    if ports.get("http") != serve_port:
        problems.append(f"{deployment}: containerPort http {ports.get('http')} is not the port serve listens on ({serve_port})")
    if serve_port != image["port"]:
        problems.append(f"{deployment}: serve listens on {serve_port}, the image EXPOSEs {image['port']}")
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        got = ((container.get(probe) or {}).get("httpGet") or {}).get("path")
        if got != path:
            problems.append(f"{deployment}: {probe} should GET {path} (has {got})")
    grace = (spec["template"]["spec"]).get("terminationGracePeriodSeconds", 30)
    pre_stop = ((container.get("lifecycle") or {}).get("preStop") or {}).get("exec", {}).get("command", [])
    sleep = int(pre_stop[1]) if pre_stop[:1] == ["sleep"] and len(pre_stop) > 1 else 0
    if grace < sleep + 10 + 5:
        problems.append(f"{deployment}: terminationGracePeriodSeconds {grace} < preStop {sleep} s + serve's 10 s for "
                        "requests in flight + 5 s to close")

    # The workers.
    deployment = worker[0]
    container = containers(deployment.document)[-1]
    if expanded_args(index, deployment, container)[:1] != ["worker"]:
        problems.append(f"{deployment}: should run `timbre worker`")
    lease = float(env_value(index, deployment, container, "TIMBRE_WORKER_LEASE") or 60)
    grace = deployment.document["spec"]["template"]["spec"].get("terminationGracePeriodSeconds", 30)
    if grace <= lease:
        problems.append(f"{deployment}: terminationGracePeriodSeconds {grace} should be longer than a batch, "
                        f"and so than the lease ({lease:g} s)")

    # The migration.
    container = containers(migrate[0].document)[-1]
    if expanded_args(index, migrate[0], container) != ["db", "migrate"]:
        problems.append(f"{migrate[0]}: should run `timbre db migrate`")

    # KEDA, where the build has it.
    for scaled in index.of_kind("ScaledObject"):
        target = (scaled.document.get("spec") or {}).get("scaleTargetRef", {}).get("name")
        if target != "timbre-worker":
            problems.append(f"{scaled}: should scale timbre-worker (scales {target})")
        for trigger in scaled.document["spec"].get("triggers") or []:
            if trigger.get("type") == "postgresql" and trigger.get("metadata", {}).get("query") != keda_query:
                problems.append(f"{scaled}: the query should be the tagging queue's depth: {keda_query}")

    problems += database_url_problems(index)
    return problems


def database_url_problems(index: Index) -> list[str]:
    """Where the build runs its own PostgreSQL, the URL in the database Secret must reach it."""
    problems = []
    statefulsets = [s for s in index.of_kind("StatefulSet")
                    if any("postgres" in (c.get("image") or "") for c in containers(s.document))]
    if not statefulsets:
        return problems
    secret = index.get("Secret", statefulsets[0].namespace, "timbre-database")
    url = ((secret.document.get("stringData") or {}) if secret else {}).get("TIMBRE_DATABASE_URL", "")
    parsed = urlparse(url)
    if parsed.scheme not in ("postgresql", "postgres"):
        return [f"Secret timbre-database: TIMBRE_DATABASE_URL {url!r} is not a postgresql:// URL"]
    for statefulset in statefulsets:
        container = next(c for c in containers(statefulset.document) if "postgres" in c.get("image", ""))
        want = {name: env_value(index, statefulset, container, name) for name in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")}
        got = {"POSTGRES_USER": unquote(parsed.username or ""), "POSTGRES_PASSWORD": unquote(parsed.password or ""),
               "POSTGRES_DB": parsed.path.lstrip("/")}
        for key in want:
            if want[key] is not None and want[key] != got[key]:
                problems.append(f"Secret timbre-database: the URL's {key.split('_')[1].lower()} {got[key]!r} is not "
                                f"{statefulset}'s {key} {want[key]!r}")
        host = (parsed.hostname or "").split(".")
        service = index.get("Service", statefulset.namespace, host[0])
        if service is None or not selects((service.document.get("spec") or {}).get("selector") or {}, template_labels(statefulset)):
            problems.append(f"Secret timbre-database: host {parsed.hostname} is not a Service selecting {statefulset}")
        else:
            if len(host) > 1 and host[1] != statefulset.namespace:
                problems.append(f"Secret timbre-database: host {parsed.hostname} names namespace {host[1]}, the Service is in {statefulset.namespace}")
            ports = [p.get("port") for p in (service.document.get("spec") or {}).get("ports") or []]
            if (parsed.port or 5432) not in ports:
                problems.append(f"Secret timbre-database: port {parsed.port or 5432} is not a port of {service} ({ports})")
    return problems
