"""`kustomize build`, by hand, for the subset of kustomize that deploy/kubernetes uses.

Supported fields: resources (files and folders holding a kustomization, no URLs), namespace,
patches (strategic merge, by path, targeting one resource by kind and name), images. Any other
field is an error, so that nothing is silently left out of what the checks see.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass

import yaml

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_FIELDS = {"apiVersion", "kind", "namespace", "resources", "patches", "images"}

# Kinds that take no namespace (those a Timbre deployment could plausibly contain).
CLUSTER_SCOPED = {
    "Namespace", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "PriorityClass", "ClusterTriggerAuthentication",
}

POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


class BuildError(Exception):
    pass


@dataclass
class Resource:
    document: dict
    source: str  # the file it came from, relative to the repository

    @property
    def kind(self) -> str:
        return self.document.get("kind", "")

    @property
    def name(self) -> str:
        return (self.document.get("metadata") or {}).get("name", "")

    @property
    def namespace(self) -> str | None:
        return (self.document.get("metadata") or {}).get("namespace")

    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace or "", self.name)

    def __repr__(self) -> str:
        return f"{self.kind}/{self.name} ({self.source})"


def find_kustomization(folder: str) -> str | None:
    for name in KUSTOMIZATION_NAMES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def load_documents(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [d for d in yaml.safe_load_all(handle) if d is not None]


def pod_spec(document: dict) -> dict | None:
    kind = document.get("kind")
    spec = document.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind in POD_TEMPLATE_KINDS:
        return (spec.get("template") or {}).get("spec")
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
    return None


def containers(document: dict) -> list[dict]:
    spec = pod_spec(document) or {}
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def strategic_merge(base, patch):
    """Strategic merge as kustomize does it for the shapes used here: maps merge key by key
    (null deletes), lists of maps with a `name` merge by name, other lists are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if (isinstance(base, list) and isinstance(patch, list) and base and patch
            and all(isinstance(x, dict) and "name" in x for x in base + patch)):
        merged = [copy.deepcopy(x) for x in base]
        for item in patch:
            for index, existing in enumerate(merged):
                if existing["name"] == item["name"]:
                    merged[index] = strategic_merge(existing, item)
                    break
            else:
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(patch)


def _api_group(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def build(folder: str, root: str, seen: tuple[str, ...] = ()) -> list[Resource]:
    """The resources `kustomize build folder` would print, in order. `root` is the repository
    (for naming sources)."""
    folder = os.path.normpath(folder)
    # As kustomize: a kustomization may not include a folder that contains one being built
    # (so overlays/ cannot sit inside the base they include).
    for visited in seen:
        if visited == folder or visited.startswith(folder + os.sep):
            raise BuildError(f"{os.path.relpath(folder, root)} contains {os.path.relpath(visited, root)}, which includes it: "
                             "kustomize refuses this cycle (put the base in a folder of its own)")
    path = find_kustomization(folder)
    if path is None:
        raise BuildError(f"{os.path.relpath(folder, root)}: no kustomization.yaml")
    relative = os.path.relpath(path, root)
    documents = load_documents(path)
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise BuildError(f"{relative}: expected one YAML document")
    kustomization = documents[0]
    if kustomization.get("apiVersion") != "kustomize.config.k8s.io/v1beta1" or kustomization.get("kind") != "Kustomization":
        raise BuildError(f"{relative}: apiVersion/kind must be kustomize.config.k8s.io/v1beta1 Kustomization")
    unknown = set(kustomization) - SUPPORTED_FIELDS
    if unknown:
        raise BuildError(f"{relative}: fields this check does not implement: {', '.join(sorted(unknown))}")

    resources: list[Resource] = []
    for entry in kustomization.get("resources") or []:
        if not isinstance(entry, str) or "://" in entry or entry.startswith("github.com/"):
            raise BuildError(f"{relative}: resource {entry!r} is not a local path")
        target = os.path.normpath(os.path.join(folder, entry))
        if os.path.isdir(target):
            resources.extend(build(target, root, seen + (folder,)))
        elif os.path.isfile(target):
            for document in load_documents(target):
                if not isinstance(document, dict):
                    raise BuildError(f"{os.path.relpath(target, root)}: a document is not a mapping")
                resources.append(Resource(document, os.path.relpath(target, root)))
        else:
            raise BuildError(f"{relative}: resource {entry} does not exist")

    for entry in kustomization.get("patches") or []:
        if not isinstance(entry, dict) or set(entry) - {"path", "target"} or "path" not in entry:
            raise BuildError(f"{relative}: only `patches: - path: FILE` (optionally with a target) is supported")
        patch_path = os.path.normpath(os.path.join(folder, entry["path"]))
        if not os.path.isfile(patch_path):
            raise BuildError(f"{relative}: patch {entry['path']} does not exist")
        for patch in load_documents(patch_path):
            target = entry.get("target") or {}
            kind = target.get("kind", patch.get("kind"))
            name = target.get("name", (patch.get("metadata") or {}).get("name"))
            group = _api_group(patch.get("apiVersion", ""))
            matches = [r for r in resources if r.kind == kind and r.name == name
                       and _api_group(r.document.get("apiVersion", "")) == group]
            if len(matches) != 1:
                raise BuildError(f"{os.path.relpath(patch_path, root)}: patch targets {kind}/{name}, "
                                 f"which matches {len(matches)} resources")
            matches[0].document = strategic_merge(matches[0].document, patch)
            matches[0].source += f" + {os.path.relpath(patch_path, root)}"

    namespace = kustomization.get("namespace")
    if namespace:
        for resource in resources:
            if resource.kind not in CLUSTER_SCOPED:
                resource.document.setdefault("metadata", {})["namespace"] = namespace

    for image in kustomization.get("images") or []:
        if not isinstance(image, dict) or "name" not in image or set(image) - {"name", "newName", "newTag", "digest"}:
            raise BuildError(f"{relative}: images entries take name, newName, newTag, digest")
        used = False
        for resource in resources:
            for container in containers(resource.document):
                current = container.get("image", "")
                bare = current.split("@")[0]
                repository = bare.rsplit(":", 1)[0] if ":" in bare.split("/")[-1] else bare
                if repository != image["name"]:
                    continue
                used = True
                tag = bare[len(repository) + 1:] if len(bare) > len(repository) else ""
                new = image.get("newName", repository)
                if image.get("digest"):
                    new += "@" + image["digest"]
                elif image.get("newTag") or tag:
                    new += ":" + str(image.get("newTag") or tag)
                container["image"] = new
        if not used:
            raise BuildError(f"{relative}: images entry {image['name']} matches no container")

    keys = [r.key() for r in resources]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise BuildError(f"{relative}: resources defined twice: {duplicates}")
    return resources


def referenced_files(folder: str) -> set[str]:
    """Every file a kustomization (and the ones it includes) names: itself, resources, patches."""
    folder = os.path.normpath(folder)
    path = find_kustomization(folder)
    if path is None:
        return set()
    files = {os.path.normpath(path)}
    kustomization = load_documents(path)[0]
    for entry in kustomization.get("resources") or []:
        target = os.path.normpath(os.path.join(folder, entry))
        files |= referenced_files(target) if os.path.isdir(target) else {target}
    for entry in kustomization.get("patches") or []:
        files.add(os.path.normpath(os.path.join(folder, entry["path"])))
    return files
