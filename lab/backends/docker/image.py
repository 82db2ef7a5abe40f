"""Lab node images built from scratch, cached by content hash.

No registry can be pulled from on the lab machines, so every image is made here in two layers:

1. base  `hbl-base-<variant>:<hash>` -- a minimal Debian rootfs from `debootstrap --variant=minbase` with the
   variant's packages (`--include=`) from the machine's configured Debian mirror, then `docker import`.
   Its hash covers the debootstrap argv (suite, packages, mirror), so it is rebuilt only when those change.
2. node  `hbl-<variant>:<hash>` -- lab/images/Dockerfile on top: hbd installed from wheels built on the host
   (the build runs with networking off: no package index inside). Its hash covers the base tag, the build
   context files and the hbd source tree, so editing hbd rebuilds this thin layer only.

A second `hblab image build` with nothing changed finds both tags and costs a few docker API calls.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from lab.paths import IMAGES_DIR, PROJECT_ROOT

VARIANTS_FILE = IMAGES_DIR / "variants.yaml"
# The node layer's build context: these files plus a wheels/ directory made at build time.
CONTEXT_FILES = ("Dockerfile", "hbl-spawn")
PYPROJECT = PROJECT_ROOT / "pyproject.toml"
WHEEL_CACHE = Path("/var/cache/hblab/wheels")
LOCK_DIR = Path("/var/lock")
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
IMAGE_LABEL = "hbd.lab.image"  # not "hbd.lab": `hblab clean` must never remove the image cache
# From the lab extra, what node programs need inside a node: scapy for the attack programs run by the
# junk_flood, capture and replay faults (lab/node/flood.py, replay.py). The rest of the extra (matplotlib,
# the docker SDK) is for the host.
NODE_LAB_EXTRAS = ("scapy",)
HASH_LEN = 16
# An older image of a variant is removed only once it is this old (see _remove_stale).
STALE_AFTER_S = 3600.0

Progress = Callable[[str], None]


class ImageError(RuntimeError):
    """An image cannot be built; the message names the step and what to do."""


@dataclass(frozen=True)
class Variant:
    name: str
    packages: tuple[str, ...]


@dataclass(frozen=True)
class ImageSpec:
    suite: str
    base_packages: tuple[str, ...]
    variants: dict[str, Variant]


# ---------------------------------------------------------------------------------------------- spec


def _string_list(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ImageError(f"{where}: expected a list of package names, got {value!r}")
    return tuple(value)


def load_spec(path: Path = VARIANTS_FILE) -> ImageSpec:
    """Read lab/images/variants.yaml; errors name the file and the YAML path."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ImageError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise ImageError(f"{path}: expected a mapping at the top level")
    suite = data.get("suite")
    if not isinstance(suite, str) or not re.fullmatch(r"[a-z]+", suite):
        raise ImageError(f"{path}: suite: expected a Debian suite name like 'bookworm', got {suite!r}")
    base = _string_list(data.get("base_packages"), f"{path}: base_packages")
    raw_variants = data.get("variants")
    if not isinstance(raw_variants, dict) or not raw_variants:
        raise ImageError(f"{path}: variants: expected a mapping of variant name -> {{packages: [...]}}")
    variants: dict[str, Variant] = {}
    for name, body in raw_variants.items():
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9-]*", name):
            raise ImageError(f"{path}: variants.{name}: names are lowercase letters, digits and '-'")
        if not isinstance(body, dict) or set(body) - {"packages"}:
            raise ImageError(f"{path}: variants.{name}: expected {{packages: [...]}}, got {body!r}")
        raw_packages = body.get("packages") or []
        packages = _string_list(raw_packages, f"{path}: variants.{name}.packages") if raw_packages else ()
        variants[name] = Variant(name=name, packages=packages)
    return ImageSpec(suite=suite, base_packages=base, variants=variants)


def debian_mirror(suite: str, sources: tuple[Path, ...] = APT_SOURCES) -> str:
    """The configured Debian archive URI that serves `suite` (one-line or deb822 apt sources)."""
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            files.extend(sorted(p for p in source.iterdir() if p.suffix in (".list", ".sources")))
        elif source.is_file():
            files.append(source)
    for file in files:
        text = file.read_text(errors="replace")
        for line in text.splitlines():  # one-line format: deb [opts] URI SUITE COMPONENTS...
            fields = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
            if len(fields) >= 3 and fields[0] == "deb" and fields[2] == suite:
                return fields[1]
        for stanza in re.split(r"\n\s*\n", text):  # deb822 format: Types/URIs/Suites fields
            lines = (ln.partition(":") for ln in stanza.splitlines() if not ln.startswith("#"))
            fields_822 = {key.strip().lower(): value.split() for key, _, value in lines if value}
            if "deb" in fields_822.get("types", []) and suite in fields_822.get("suites", []):
                uris = fields_822.get("uris", [])
                if uris:
                    return uris[0]
    raise ImageError(
        f"no Debian mirror for suite {suite!r} in {', '.join(str(s) for s in sources)}; "
        "add one (e.g. 'deb http://deb.debian.org/debian bookworm main') or pass --mirror"
    )


# ---------------------------------------------------------------------------------------------- hashes


def _digest(parts: list[bytes]) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(len(part).to_bytes(8, "big"))  # length-prefixed: no ambiguity between neighbours
        sha.update(part)
    return sha.hexdigest()[:HASH_LEN]


def _source_files() -> Iterator[Path]:
    """The files that go into the hbd wheel (hbd/, lab/, pyproject.toml), in a stable order."""
    yield PROJECT_ROOT / "pyproject.toml"
    for package in ("hbd", "lab"):
        for path in sorted((PROJECT_ROOT / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                yield path


def source_hash() -> str:
    parts: list[bytes] = []
    for path in _source_files():
        parts += [str(path.relative_to(PROJECT_ROOT)).encode(), path.read_bytes()]
    return _digest(parts)


def runtime_deps(pyproject: Path = PYPROJECT) -> tuple[str, ...]:
    """The distribution names of hbd's runtime dependencies, read from pyproject.toml's [project]
    dependencies: a dependency added there reaches the node image without another list to keep."""
    with pyproject.open("rb") as f:
        specs = tomllib.load(f)["project"]["dependencies"]
    return tuple(re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0] for spec in specs)


def node_lab_deps(pyproject: Path = PYPROJECT) -> tuple[str, ...]:
    """The lab extra's packages that node programs need (NODE_LAB_EXTRAS), as named in pyproject.toml's
    [project.optional-dependencies] lab: an extra dropped there leaves the image too."""
    with pyproject.open("rb") as f:
        specs = tomllib.load(f)["project"].get("optional-dependencies", {}).get("lab", [])
    names = (re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0] for spec in specs)
    return tuple(name for name in names if name.lower() in NODE_LAB_EXTRAS)


def dependency_pins() -> tuple[str, ...]:
    """`name==version` for hbd's runtime deps and the node programs' lab deps, pinned to the versions in the
    host venv so nodes run what the tests ran."""
    pins = []
    for name in (*runtime_deps(), *node_lab_deps()):
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError as exc:
            raise ImageError(f"{name} is not installed in this Python; install hbd's deps first") from exc
    return tuple(pins)


def debootstrap_argv(spec: ImageSpec, mirror: str, target: Path) -> list[str]:
    """The base rootfs: minbase plus the packages every node needs."""
    packages = sorted(spec.base_packages)
    return [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(packages)}",
        spec.suite,
        str(target),
        mirror,
    ]


def variant_install_argv(variant: Variant, rootfs: Path) -> list[str]:
    """The variant's own packages, installed with apt inside the new rootfs (chroot, the host's network).

    Not debootstrap --include: its one-pass installer failed here on heartbeat's dependency set
    ("Failure while installing base packages"), where apt resolves and orders them properly.
    """
    return [
        "chroot", str(rootfs), "apt-get", "install", "--yes", "--no-install-recommends",
        "-o", "Dpkg::Options::=--force-confdef", *sorted(variant.packages),
    ]  # fmt: skip


@dataclass(frozen=True)
class ImagePlan:
    """Tags for one variant, computed without building anything."""

    variant: Variant
    mirror: str
    base_tag: str
    node_tag: str


def plan(variant_name: str, spec: ImageSpec | None = None, mirror: str | None = None) -> ImagePlan:
    spec = spec or load_spec()
    if variant_name not in spec.variants:
        raise ImageError(f"unknown image variant {variant_name!r}; known: {', '.join(sorted(spec.variants))}")
    variant = spec.variants[variant_name]
    mirror = mirror or debian_mirror(spec.suite)
    # The target dir is not part of the identity of the rootfs: hash the argv with a fixed placeholder.
    recipe = debootstrap_argv(spec, mirror, Path("ROOTFS"))
    if variant.packages:
        recipe += variant_install_argv(variant, Path("ROOTFS"))
    base_hash = _digest([arg.encode() for arg in recipe])
    base_tag = f"hbl-base-{variant.name}:{base_hash}"
    node_parts = [base_tag.encode(), source_hash().encode(), *(p.encode() for p in dependency_pins())]
    node_parts += [(IMAGES_DIR / name).read_bytes() for name in CONTEXT_FILES]
    node_tag = f"hbl-{variant.name}:{_digest(node_parts)}"
    return ImagePlan(variant=variant, mirror=mirror, base_tag=base_tag, node_tag=node_tag)


# ---------------------------------------------------------------------------------------------- build


def _docker_cli() -> str:
    cli = shutil.which("docker")
    if cli is None:
        raise ImageError("the docker client is not installed; apt-get install docker.io")
    return cli


def image_exists(tag: str) -> bool:
    result = subprocess.run(
        [_docker_cli(), "image", "inspect", "--format", "{{.Id}}", tag],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0


def _run(argv: list[str], step: str, log: Path, **kwargs: object) -> None:
    with log.open("ab") as out:
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise ImageError(f"{step} failed (exit {result.returncode}); last lines of {log}:\n{tail}")


def _install_variant_packages(variant: Variant, rootfs: Path, log: Path) -> None:
    # Package scripts must not start daemons in the build's chroot (they would run on the host's
    # network and outlive the build): policy-rc.d answering 101 is Debian's "not now".
    policy = rootfs / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
    try:
        _run(["chroot", str(rootfs), "apt-get", "update"], "apt-get update in the rootfs", log, env=env)
        _run(variant_install_argv(variant, rootfs), f"installing {variant.name}'s packages", log, env=env)
        _run(["chroot", str(rootfs), "apt-get", "clean"], "apt-get clean", log, env=env)
    finally:
        policy.unlink(missing_ok=True)
    shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)


def build_base(image: ImagePlan, spec: ImageSpec, workdir: Path, progress: Progress) -> None:
    """debootstrap the variant's rootfs into workdir and `docker import` it as image.base_tag."""
    rootfs = workdir / "rootfs"
    log = workdir / "debootstrap.log"
    argv = debootstrap_argv(spec, image.mirror, rootfs)
    progress(f"{image.base_tag}: debootstrap {spec.suite} from {image.mirror} (about a minute)")
    _run(argv, "debootstrap", log)
    if image.variant.packages:
        progress(f"{image.base_tag}: apt-get install {' '.join(image.variant.packages)} (in the rootfs)")
        _install_variant_packages(image.variant, rootfs, workdir / "apt.log")
    # apt's package cache is only weight in an image that never runs apt again.
    for cache in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        cache.unlink()
    progress(f"{image.base_tag}: docker import")
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
    try:
        _run(
            [
                _docker_cli(),
                "import",
                "--change",
                f"LABEL {IMAGE_LABEL}=base-{image.variant.name}",
                "-",
                image.base_tag,
            ],
            "docker import",
            workdir / "import.log",
            stdin=tar.stdout,
        )
    finally:
        if tar.stdout is not None:
            tar.stdout.close()
        if tar.wait() != 0:
            raise ImageError(f"tar of {rootfs} failed (exit {tar.returncode})")


def _dependency_wheels(dest: Path, log: Path) -> None:
    """Wheels of hbd's deps, downloaded once per pinned version set into WHEEL_CACHE, copied into dest."""
    pins = dependency_pins()
    cache = WHEEL_CACHE / _digest([p.encode() for p in pins])
    if not cache.is_dir() or not any(cache.glob("*.whl")):
        partial = cache.with_suffix(".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        # Nodes run Debian bookworm's python3.11 on x86_64: fetch wheels for that, whatever the host runs.
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--only-binary=:all:",
                "--python-version",
                "3.11",
                "--implementation",
                "cp",
                "--platform",
                "manylinux2014_x86_64",
                "--dest",
                str(partial),
                *pins,
            ],
            "pip download of hbd's dependencies",
            log,
        )
        shutil.rmtree(cache, ignore_errors=True)
        partial.rename(cache)
    for wheel in cache.glob("*.whl"):
        shutil.copy2(wheel, dest / wheel.name)


def _hbd_wheel(dest: Path, workdir: Path, log: Path) -> None:
    """Build the hbd wheel from a private copy of the tree (others edit it; no build/ litter in theirs)."""
    source = workdir / "source"
    source.mkdir()
    for path in _source_files():
        target = source / path.relative_to(PROJECT_ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dest), str(source)],
        "building the hbd wheel",
        log,
    )


def build_node(image: ImagePlan, workdir: Path, progress: Progress) -> None:
    """Build image.node_tag from lab/images/Dockerfile on image.base_tag, networking off."""
    import docker  # the SDK is a lab-only dependency: import it where it is needed
    import docker.errors

    context = workdir / "context"
    wheels = context / "wheels"
    wheels.mkdir(parents=True)
    for name in CONTEXT_FILES:
        shutil.copy2(IMAGES_DIR / name, context / name)
    progress(f"{image.node_tag}: wheels (hbd + {', '.join(dependency_pins())})")
    _dependency_wheels(wheels, workdir / "wheels.log")
    _hbd_wheel(wheels, workdir, workdir / "wheels.log")
    progress(f"{image.node_tag}: docker build on {image.base_tag}")
    client = docker.from_env()
    try:
        client.images.build(
            path=str(context),
            tag=image.node_tag,
            buildargs={"BASE": image.base_tag},
            network_mode="none",
            rm=True,
            forcerm=True,
            pull=False,
            labels={IMAGE_LABEL: image.variant.name},
        )
    except docker.errors.BuildError as exc:
        lines = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in exc.build_log)
        raise ImageError(f"docker build of {image.node_tag} failed: {exc.msg}\n{lines[-3000:]}") from exc
    except docker.errors.APIError as exc:
        raise ImageError(f"docker build of {image.node_tag} failed: {exc}") from exc
    finally:
        client.close()


@contextmanager
def _build_lock(variant: str) -> Iterator[None]:
    """One build of a variant at a time: parallel test sessions would debootstrap the same rootfs twice."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    with (LOCK_DIR / f"hbl-image-{variant}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_image(
    variant_name: str = "hbd",
    *,
    force: bool = False,
    mirror: str | None = None,
    progress: Progress = lambda _line: None,
) -> str:
    """The node image tag for `variant_name`, building whatever layer is missing (or both with force)."""
    spec = load_spec()
    image = plan(variant_name, spec, mirror)
    with _build_lock(variant_name):
        need_base = force or not image_exists(image.base_tag)
        need_node = need_base or force or not image_exists(image.node_tag)
        if not need_node:
            progress(f"{image.node_tag}: cached")
            return image.node_tag
        workdir = Path(tempfile.mkdtemp(prefix="hbl-build-", dir="/var/tmp"))
        try:
            if need_base:
                build_base(image, spec, workdir, progress)
            else:
                progress(f"{image.base_tag}: cached")
            build_node(image, workdir, progress)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        _remove_stale(image)
    progress(f"{image.node_tag}: built")
    return image.node_tag


def _remove_stale(image: ImagePlan) -> None:
    """Drop older images of this variant (each hbd edit makes a node image, each recipe change a base).

    Node images first, so their old bases are no longer needed; `docker image rm` refuses an image a
    container still uses, which is what we want for a run in progress. An image younger than
    STALE_AFTER_S is kept: another session may have found it a moment ago and not yet started its
    containers (removing it then failed that session with ImageNotFound).
    """
    now = time.time()
    for keep in (image.node_tag, image.base_tag):
        repo = keep.split(":", 1)[0]
        listing = subprocess.run(
            [_docker_cli(), "image", "ls", "--format", "{{.Repository}}:{{.Tag}}\t{{.CreatedAt}}", repo],
            capture_output=True,
            text=True,
            check=False,
        )
        for tag in stale_tags(listing.stdout, keep, now):
            subprocess.run([_docker_cli(), "image", "rm", tag], capture_output=True, check=False)


def stale_tags(listing: str, keep: str, now: float) -> list[str]:
    """The tags of `docker image ls` lines (TAG<TAB>CREATED) to remove: not `keep`, and older than
    STALE_AFTER_S. A creation time that does not parse keeps the image (never remove on a guess)."""
    stale: list[str] = []
    for line in listing.splitlines():
        tag, _, created = line.partition("\t")
        if not tag or tag == keep:
            continue
        try:
            born = datetime.strptime(created.strip()[:25], "%Y-%m-%d %H:%M:%S %z").timestamp()
        except ValueError:
            continue
        if now - born > STALE_AFTER_S:
            stale.append(tag)
    return stale


# ---------------------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `hblab image`: build [VARIANT...] [--force] [--mirror URI] | list."""
    parser.add_argument("action", choices=("build", "list"), help="build images (cached) or list their tags")
    parser.add_argument("variants", nargs="*", help="image variants (default: all in variants.yaml)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the tags exist")
    parser.add_argument("--mirror", help="Debian mirror URI (default: the one in /etc/apt/sources*)")


def main_image(args: argparse.Namespace) -> int:
    """`hblab image build|list`; needs a running engine (lab.backends.docker.dockerd starts one when root)."""
    from lab.backends.docker import dockerd

    try:
        spec = load_spec()
        names = args.variants or sorted(spec.variants)
        if args.action == "list":
            for name in names:
                image = plan(name, spec, args.mirror)
                state = "built" if image_exists(image.node_tag) else "missing"
                print(f"{name:12} {image.node_tag:36} {state}")
            return 0
        dockerd.ensure_running()
        for name in names:
            ensure_image(name, force=args.force, mirror=args.mirror, progress=print)
    except (ImageError, dockerd.DockerdError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
