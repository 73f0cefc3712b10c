"""Hostile inputs: the fuzz seeds and every committed fuzz finding, replayed through the
same harness functions the atheris targets run (tests/fuzz/harness.py), without atheris.

A finding is fixed when its input, committed under tests/fuzz/crashers/TARGET/, fails
only with a UsersnapError (or not at all) and within the timeout.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz import make_corpus
from tests.fuzz.harness import corpus_files, fuzz_image, fuzz_snap_yaml, walk_image

CRASHERS = Path(__file__).parent.parent / "fuzz" / "crashers"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("seeds")
    make_corpus.main(out)
    return corpus_files(out)


@pytest.mark.requires_mksquashfs
def test_seed_images_are_valid_snaps(seeds: list[Path]) -> None:
    """The seeds must exercise the whole reader, so each one walks and loads cleanly."""
    assert len(seeds) == len(make_corpus.VARIANTS)
    for seed in seeds:
        walk_image(seed)


@pytest.mark.timeout(60)
def test_squashfs_crashers() -> None:
    for crasher in corpus_files(CRASHERS / "squashfs"):
        fuzz_image(crasher.read_bytes())


@pytest.mark.timeout(60)
def test_snap_yaml_crashers() -> None:
    for crasher in corpus_files(CRASHERS / "snapyaml"):
        fuzz_snap_yaml(crasher.read_bytes())
