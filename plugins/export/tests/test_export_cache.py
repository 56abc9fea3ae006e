"""The export cache: a later export of the same model loads the cached program instead.

Real parts throughout: a tiny transformers Llama with random weights, the real export, the real
cache folder in a temporary directory. Exports are the expensive part, so one module-scoped cache
holds the first (missing) export and the tests that need a hit reuse it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from autodeploy_export import export_cache  # noqa: E402
from autodeploy_export.capture import EXPORT_META_KEY, ExportOptions, export_model  # noqa: E402
from autodeploy_export.export_cache import (  # noqa: E402
    CACHE_HIT,
    CACHE_MISS,
    CACHE_OFF,
    CACHE_REBUILT,
    KEY_FILE,
    PROGRAM_FILE,
    ExportCache,
    ExportCacheWarning,
    export_key,
)
from autodeploy_export.export_transform import ExportToGM  # noqa: E402
from autodeploy_export.logits_wrapper import LogitsWrapper  # noqa: E402

from autodeploy import CachedSequenceInterface, SharedConfig  # noqa: E402
from autodeploy.testing import tiny_hf_model  # noqa: E402

pytestmark = pytest.mark.slow


def tiny_llama(seed: int = 0, **overrides):
    settings = dict(
        vocab_size=96,
        hidden_size=32,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=None,
        tie_word_embeddings=False,
    )
    return tiny_hf_model("llama", seed=seed, **{**settings, **overrides})


class SubclassedLlama(transformers.LlamaForCausalLM):
    """Same config, same weights layout, different model code (this file)."""


def interface(**limits) -> CachedSequenceInterface:
    return CachedSequenceInterface(**{"max_seq_len": 32, "max_batch_size": 4, "device": "cpu", **limits})


def outcome(gm) -> str:
    return gm.meta[EXPORT_META_KEY]["cache"]


def key_of(model, cm=None, *, switches=None, inputs=None):
    cm = cm or interface()
    examples = inputs if inputs is not None else {"input_ids": cm.example_inputs(device="cpu")["input_ids"]}
    return export_key(model, examples, {"declared": cm.dynamic_dims()}, switches or {"strict": False})


IDS = torch.tensor([[3, 14, 15, 92, 65, 35], [8, 9, 7, 9, 3, 2]])


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A cache folder holding the export of `tiny_llama()`, and the GraphModule of that first export."""
    root = tmp_path_factory.mktemp("export_cache")
    root.chmod(0o755)  # a cache shared by the users of a machine
    umask = os.umask(0o022)
    try:
        first = export_model(tiny_llama(), interface(), ExportOptions(), ExportCache(root))
    finally:
        os.umask(umask)
    return root, first


def test_a_second_export_hits_the_cache_and_gives_identical_logits(warm_cache):
    root, first = warm_cache
    assert outcome(first) == CACHE_MISS
    model = tiny_llama()
    second = export_model(model, interface(), ExportOptions(), ExportCache(root))
    assert outcome(second) == CACHE_HIT
    with torch.no_grad():
        expected = first(input_ids=IDS)
        got = second(input_ids=IDS)
        eager = model(input_ids=IDS).logits
    # the same graph on the same weights: bit for bit the same numbers
    assert torch.equal(got, expected)
    torch.testing.assert_close(got, eager, rtol=1e-5, atol=1e-5)
    # what export guarantees holds for a loaded program too: names, fake values, the input check
    assert set(second.state_dict()) == set(model.state_dict())
    assert all("val" in node.meta for node in second.graph.nodes if node.op != "output")
    assert str(second.code) == str(first.code)
    with pytest.raises(RuntimeError, match="shape"):
        second(input_ids=torch.zeros(5, 3, dtype=torch.long))  # beyond max_batch_size


def test_entries_are_as_readable_as_the_cache_folder(warm_cache):
    """Not tempfile's private 0700: another user of a shared cache can read the entries."""
    root, _ = warm_cache
    entries = [path for path in root.rglob("*") if path.is_dir()]
    assert entries and all(path.stat().st_mode & 0o777 == 0o755 for path in entries), entries


def test_a_hit_runs_on_the_weights_of_the_model_at_hand(warm_cache):
    root, _ = warm_cache
    other = tiny_llama(seed=7)  # same config and code, other weights: the same key
    gm = export_model(other, interface(), ExportOptions(), ExportCache(root))
    assert outcome(gm) == CACHE_HIT
    assert gm.get_parameter("model.layers.0.mlp.up_proj.weight") is other.model.layers[0].mlp.up_proj.weight
    with torch.no_grad():
        torch.testing.assert_close(gm(input_ids=IDS), other(input_ids=IDS).logits, rtol=1e-5, atol=1e-5)


def test_meta_weights_export_is_cached_too(tmp_path):
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(tiny_llama().config)
    first = export_model(model, interface(), ExportOptions(), ExportCache(tmp_path))
    second = export_model(model, interface(), ExportOptions(), ExportCache(tmp_path))
    assert (outcome(first), outcome(second)) == (CACHE_MISS, CACHE_HIT)
    assert all(tensor.is_meta for tensor in second.parameters())


def test_every_key_field_changes_the_key():
    model = tiny_llama()
    base = key_of(model)
    assert base == key_of(tiny_llama(seed=3))  # weights are not part of it
    changed = {
        "model config": key_of(tiny_llama(rope_theta=5000.0)),
        "model code": key_of(SubclassedLlama(model.config)),
        "dtype": key_of(tiny_llama().to(torch.float64)),
        "export switches": key_of(model, switches={"strict": True}),
        "dynamic dims": key_of(model, interface(max_seq_len=48)),
        "example input names": key_of(
            model, inputs={"input_ids": IDS, "position_ids": torch.arange(6).expand(2, 6).contiguous()}
        ),
    }
    for what, key in changed.items():
        assert key != base, what
    digests = {export_cache.key_digest(key) for key in [base, *changed.values()]}
    assert len(digests) == len(changed) + 1


def test_library_versions_are_part_of_the_key(monkeypatch):
    model = tiny_llama()
    base = key_of(model)
    for distribution in ("torch", "transformers", "autodeploy-plugin-export"):
        real = export_cache._version
        monkeypatch.setattr(
            export_cache, "_version", lambda name, d=distribution, r=real: "0.0.0" if name == d else r(name)
        )
        assert key_of(model) != base, distribution
        monkeypatch.setattr(export_cache, "_version", real)


def test_a_changed_key_misses(warm_cache, tmp_path):
    root, _ = warm_cache
    scratch = tmp_path / "cache"
    shutil.copytree(root, scratch)
    gm = export_model(tiny_llama(), interface(), ExportOptions(dynamic_batch=False), ExportCache(scratch))
    assert outcome(gm) == CACHE_MISS
    assert len(list((scratch / export_cache.CACHE_SUBDIR).iterdir())) == 2


def damage_entry(entry, damage: str) -> None:
    program, manifest_path = entry / PROGRAM_FILE, entry / KEY_FILE
    manifest = json.loads(manifest_path.read_text())
    if damage == "flipped bytes":
        data = bytearray(program.read_bytes())
        data[len(data) // 2] ^= 0xFF
        program.write_bytes(bytes(data))
    elif damage == "stale key":
        manifest["key"]["versions"]["torch"] = "1.0"
        manifest_path.write_text(json.dumps(manifest))
    elif damage == "garbage with a matching checksum":
        program.write_bytes(b"not a pickle")
        manifest["program_sha256"] = hashlib.sha256(b"not a pickle").hexdigest()
        manifest_path.write_text(json.dumps(manifest))
    else:
        program.unlink()


def live_tensors(model):
    wrapper = LogitsWrapper(model)
    return {**dict(wrapper.named_buffers(remove_duplicate=False)), **dict(wrapper.named_parameters())}


@pytest.mark.parametrize(
    "damage", ["flipped bytes", "stale key", "garbage with a matching checksum", "missing program"]
)
def test_a_damaged_or_stale_entry_is_never_used_and_is_removed_with_a_warning(warm_cache, tmp_path, damage):
    root, _ = warm_cache
    scratch = tmp_path / "cache"
    shutil.copytree(root, scratch)
    (entry,) = (scratch / export_cache.CACHE_SUBDIR).iterdir()
    key = json.loads((entry / KEY_FILE).read_text())["key"]
    damage_entry(entry, damage)
    with pytest.warns(ExportCacheWarning, match="damaged or stale"):
        found = ExportCache(scratch).lookup(key, live_tensors(tiny_llama()))
    assert (found.program, found.outcome) == (None, CACHE_REBUILT)
    assert list((scratch / export_cache.CACHE_SUBDIR).iterdir()) == []


def test_a_corrupted_entry_is_rebuilt_and_then_hit(warm_cache, tmp_path):
    root, first = warm_cache
    scratch = tmp_path / "cache"
    shutil.copytree(root, scratch)
    (entry,) = (scratch / export_cache.CACHE_SUBDIR).iterdir()
    damage_entry(entry, "flipped bytes")
    with pytest.warns(ExportCacheWarning, match="damaged or stale"):
        rebuilt = export_model(tiny_llama(), interface(), ExportOptions(), ExportCache(scratch))
    assert outcome(rebuilt) == CACHE_REBUILT
    with torch.no_grad():
        assert torch.equal(rebuilt(input_ids=IDS), first(input_ids=IDS))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExportCacheWarning)
        again = export_model(tiny_llama(), interface(), ExportOptions(), ExportCache(scratch))
    assert outcome(again) == CACHE_HIT
    leftovers = [path.name for path in (scratch / export_cache.CACHE_SUBDIR).iterdir() if path.name.startswith(".")]
    assert leftovers == []


def test_storing_an_entry_that_another_run_stored_first_keeps_the_first(warm_cache, tmp_path):
    root, _ = warm_cache
    scratch = tmp_path / "cache"
    shutil.copytree(root, scratch)
    (entry,) = (scratch / export_cache.CACHE_SUBDIR).iterdir()
    before = (entry / PROGRAM_FILE).stat().st_mtime_ns
    key = json.loads((entry / KEY_FILE).read_text())["key"]
    found = ExportCache(scratch).lookup(key, live_tensors(tiny_llama()))
    assert found.outcome == CACHE_HIT
    # a second run that exported at the same time stores the same key: the first entry stays
    assert ExportCache(scratch).store(key, found.program) == entry
    assert (entry / PROGRAM_FILE).stat().st_mtime_ns == before
    assert sorted(path.name for path in (scratch / export_cache.CACHE_SUBDIR).iterdir()) == [entry.name]


def test_the_transform_caches_only_with_a_cache_dir_and_notes_a_hit(warm_cache):
    root, _ = warm_cache

    def run(shared_config):
        pipeline = torch.nn.Module()
        pipeline.add_module("factory_model", tiny_llama())
        transform = ExportToGM.from_kwargs(stage="export", run_per_gm=False)
        result = transform(pipeline, interface(), None, shared_config)
        return result, transform.last_record

    without, record = run(SharedConfig())
    assert outcome(without.factory_model) == CACHE_OFF and record.notes == []
    with_cache, record = run(SharedConfig(cache_dir=str(root)))
    assert outcome(with_cache.factory_model) == CACHE_HIT
    assert record.notes == ["cache hit"]


def test_only_the_newest_entries_are_kept(tmp_path):
    cache = ExportCache(tmp_path)
    for index in range(5):
        entry = cache.root / f"entry{index}"
        entry.mkdir(parents=True)
        (entry / KEY_FILE).write_text("{}")
        os.utime(entry / KEY_FILE, (1000 + index, 1000 + index))
    (cache.root / ".entry9.partial-1-x").mkdir()  # another run writing: not an entry
    removed = cache.prune(keep=2, spare=cache.root / "entry0")
    assert sorted(path.name for path in removed) == ["entry1", "entry2"]
    assert sorted(path.name for path in cache.root.iterdir()) == [".entry9.partial-1-x", "entry0", "entry3", "entry4"]


class _RunsACommand:
    """Pickles as a call of `os.system`: what a hostile entry in a shared cache would hold."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def hostile_pickle(kind: str, marker) -> bytes:
    import pickle

    if kind == "os.system":
        return pickle.dumps({"format": 1, "program": _RunsACommand(f"touch {marker}")})
    # a module that would write the marker when imported: the global names it without calling it
    return b"chostile_cache_module\nanything\n."  # protocol 0: GLOBAL, STOP


@pytest.mark.parametrize("kind", ["os.system", "import of another module"])
def test_an_entry_that_would_run_code_is_refused_without_running_it(warm_cache, tmp_path, monkeypatch, kind):
    """The cache folder may be shared: an entry written by someone else never runs their code."""
    root, _ = warm_cache
    scratch = tmp_path / "cache"
    shutil.copytree(root, scratch)
    (entry,) = (scratch / export_cache.CACHE_SUBDIR).iterdir()
    key = json.loads((entry / KEY_FILE).read_text())["key"]
    marker = tmp_path / "code-ran"
    module_dir = tmp_path / "modules"
    module_dir.mkdir()
    (module_dir / "hostile_cache_module.py").write_text(f"open({str(marker)!r}, 'w').close()\nanything = 1\n")
    monkeypatch.syspath_prepend(str(module_dir))
    data = hostile_pickle(kind, marker)
    (entry / PROGRAM_FILE).write_bytes(data)
    manifest = json.loads((entry / KEY_FILE).read_text())
    manifest["program_sha256"] = hashlib.sha256(data).hexdigest()  # checksums do not help here
    (entry / KEY_FILE).write_text(json.dumps(manifest))

    expected = f"{os.system.__module__}.system" if kind == "os.system" else "hostile_cache_module.anything"
    with pytest.warns(ExportCacheWarning, match=f"damaged or stale.*{expected}.*never holds"):
        found = ExportCache(scratch).lookup(key, live_tensors(tiny_llama()))
    assert (found.program, found.outcome) == (None, CACHE_REBUILT)
    assert not marker.exists()
    assert "hostile_cache_module" not in __import__("sys").modules
