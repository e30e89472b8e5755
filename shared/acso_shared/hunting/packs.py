"""Community rule packs: a SigmaHQ release (or any tree of Sigma rules) as a folder, zip or tar.

`read_pack` lists the YAML files of a folder or archive (without extracting it: members are read
one at a time, within size bounds, and paths never leave the archive); `import_pack` sorts each
file into one result:

- `imported`: a CloudTrail rule that compiles (its lint findings come with it);
- `skipped`: a rule for another log source (`logsource` other than product aws / service
  cloudtrail), with the reason; SigmaHQ releases hold thousands of those;
- `failed`: a CloudTrail rule that does not compile, with the engine's code and message.

The pack's version is the release's `version.txt` when it has one (SigmaHQ release archives
do), else the one the caller gives, else `unversioned`.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import BaseModel, Field

from acso_shared.errors import AcsoError, Invalid
from acso_shared.hunting.compiler import CompiledRule, compile_rule
from acso_shared.hunting.lint import LintFinding, lint_text

MAX_RULE_BYTES = 256 * 1024
MAX_PACK_FILES = 20_000
MAX_PACK_BYTES = 256 * 1024 * 1024  # uncompressed YAML read from one archive
_YAML = (".yml", ".yaml")


class ImportOutcome(StrEnum):
    IMPORTED = "imported"
    SKIPPED = "skipped"
    FAILED = "failed"


class RuleImportResult(BaseModel):
    """What became of one file of a pack."""

    file: str
    outcome: ImportOutcome
    rule_id: str | None = None
    title: str | None = None
    code: str | None = Field(default=None, description="Why it was skipped or failed")
    message: str | None = None
    lint: list[LintFinding] = Field(default_factory=list)


@dataclass(slots=True)
class PackContents:
    """The YAML files of a pack, keyed by their path inside it."""

    version: str | None
    files: dict[str, str] = field(default_factory=dict)
    unreadable: list[RuleImportResult] = field(default_factory=list)


@dataclass(slots=True)
class ImportedRule:
    """A rule of the pack that compiled."""

    file: str
    text: str
    compiled: CompiledRule


@dataclass(slots=True)
class PackImport:
    """The outcome of sorting a pack."""

    version: str
    results: list[RuleImportResult]
    rules: list[ImportedRule]

    @property
    def counts(self) -> dict[str, int]:
        counts = {o.value: 0 for o in ImportOutcome}
        for result in self.results:
            counts[result.outcome.value] += 1
        return counts


def read_pack(source: Path | bytes) -> PackContents:
    """The YAML files of a folder, a zip or a (gzipped) tar; `Invalid("pack_invalid")` otherwise."""
    if isinstance(source, Path):
        if source.is_dir():
            return _from_entries(_folder_entries(source))
        if not source.is_file():
            raise Invalid("pack_invalid", f"{source} is neither a folder nor an archive")
        data = source.read_bytes()
    else:
        data = source
    if not data:
        raise Invalid("pack_invalid", "the pack is empty")
    if zipfile.is_zipfile(io.BytesIO(data)):
        return _from_entries(_zip_entries(data))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            return _from_entries(_tar_entries(archive))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise Invalid("pack_invalid", "the pack is not a zip or tar archive (nor a folder)") from err


Entry = tuple[str, int, Any]  # path inside the pack, size, reader returning bytes


def _folder_entries(root: Path) -> Iterator[Entry]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and (path.suffix in _YAML or path.name == "version.txt"):
            yield path.relative_to(root).as_posix(), path.stat().st_size, path.read_bytes


def _zip_entries(data: bytes) -> Iterator[Entry]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                yield info.filename, info.file_size, lambda info=info: archive.read(info)


def _tar_entries(archive: tarfile.TarFile) -> Iterator[Entry]:
    for member in archive:
        if member.isfile():

            def read(member: tarfile.TarInfo = member) -> bytes:
                handle = archive.extractfile(member)
                return handle.read() if handle is not None else b""

            yield member.name, member.size, read


def _from_entries(entries: Iterator[Entry]) -> PackContents:
    contents = PackContents(version=None)
    total = 0
    for name, size, read in entries:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts:
            continue  # never trust archive paths; nothing is extracted anyway
        if path.name == "version.txt" and contents.version is None:
            if size <= 256:
                contents.version = read().decode("utf-8", "replace").strip() or None
            continue
        if path.suffix not in _YAML:
            continue
        if len(contents.files) + len(contents.unreadable) >= MAX_PACK_FILES:
            raise Invalid("pack_too_large", f"the pack holds more than {MAX_PACK_FILES} rule files")
        if size > MAX_RULE_BYTES:
            contents.unreadable.append(_failed(name, "sigma_invalid", f"the file is over {MAX_RULE_BYTES} bytes"))
            continue
        total += size
        if total > MAX_PACK_BYTES:
            raise Invalid("pack_too_large", f"the pack's rule files exceed {MAX_PACK_BYTES} bytes")
        try:
            contents.files[str(path)] = read().decode("utf-8")
        except UnicodeDecodeError:
            contents.unreadable.append(_failed(name, "sigma_invalid", "the file is not UTF-8 text"))
    return contents


def _failed(file: str, code: str, message: str) -> RuleImportResult:
    return RuleImportResult(file=file, outcome=ImportOutcome.FAILED, code=code, message=message)


def cloudtrail_logsource(text: str) -> str | None:
    """None for a CloudTrail rule (or text that does not parse: compiling says why), else why it is skipped."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except yaml.YAMLError:
        return None
    sources = [d.get("logsource") for d in documents if "logsource" in d]
    for source in sources:
        if not isinstance(source, dict):
            return None
        product = str(source.get("product") or "").lower()
        service = str(source.get("service") or "").lower()
        if product != "aws" or service not in ("", "cloudtrail"):
            return (
                f"logsource product={source.get('product')!r} service={source.get('service')!r} "
                f"category={source.get('category')!r}: only AWS CloudTrail rules are imported"
            )
    return None


def import_pack(contents: PackContents, *, version: str | None = None) -> PackImport:
    """Sort every file of a pack into imported, skipped or failed (see the module docstring)."""
    results = list(contents.unreadable)
    rules: list[ImportedRule] = []
    seen: dict[str, str] = {}
    for file, text in sorted(contents.files.items()):
        reason = cloudtrail_logsource(text)
        if reason is not None:
            results.append(
                RuleImportResult(
                    file=file, outcome=ImportOutcome.SKIPPED, code="logsource_not_cloudtrail", message=reason
                )
            )
            continue
        try:
            compiled = compile_rule(text)
        except AcsoError as err:
            results.append(_failed(file, err.code, err.message))
            continue
        if compiled.meta.id in seen:
            results.append(
                _failed(file, "rule_exists", f"rule id {compiled.meta.id} is also in {seen[compiled.meta.id]}")
            )
            continue
        seen[compiled.meta.id] = file
        results.append(
            RuleImportResult(
                file=file,
                outcome=ImportOutcome.IMPORTED,
                rule_id=compiled.meta.id,
                title=compiled.meta.title,
                lint=lint_text(text),
            )
        )
        rules.append(ImportedRule(file=file, text=text, compiled=compiled))
    return PackImport(version=contents.version or version or "unversioned", results=results, rules=rules)
