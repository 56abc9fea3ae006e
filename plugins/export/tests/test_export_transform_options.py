"""export_to_gm on small plain torch modules: its options, its inputs, and its errors."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from autodeploy_export.errors import ExportInputError, ModelExportError  # noqa: E402
from autodeploy_export.export_transform import ExportToGM, ExportToGMConfig  # noqa: E402

from autodeploy import CachedSequenceInterface, SharedConfig, TransformError, TransformStatus, get_history  # noqa: E402

VOCAB, HIDDEN = 16, 8


class TinyLM(torch.nn.Module):
    """A causal-LM-shaped module: ids -> embedding -> linear -> logits, head tied to the embedding."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, HIDDEN)
        self.head = torch.nn.Linear(HIDDEN, VOCAB, bias=False)
        self.head.weight = self.embed.weight
        self.register_buffer("scale", torch.full((HIDDEN,), 0.5), persistent=False)

    def forward(self, ids):  # positional, no `input_ids` keyword: the wrapper adapts
        return self.head(self.embed(ids) * self.scale)


def _export(model, **config):
    pipeline = torch.nn.Module()
    pipeline.add_module("factory_model", model)
    cm = CachedSequenceInterface(max_seq_len=16, max_batch_size=4)
    transform = ExportToGM.from_kwargs(stage="export", run_per_gm=False, **config)
    return transform(pipeline, cm, None, SharedConfig())


def test_config_keeps_autodeploys_fields_and_documents_every_field():
    config = ExportToGMConfig(stage="export")
    assert (config.strict, config.clone_state_dict, config.dynamic_batch, config.dynamic_seq) == (
        False,
        False,
        True,
        True,
    )
    assert config.unknown_fields() == []
    for name, field in ExportToGMConfig.model_fields.items():
        assert field.description, name


def test_real_weights_are_shared_by_default_and_cloned_on_request():
    model = TinyLM()
    ids = torch.randint(0, VOCAB, (3, 5))
    expected = model(ids)

    shared = _export(model).factory_model
    assert shared.get_parameter("embed.weight") is model.embed.weight

    cloned = _export(model, clone_state_dict=True).factory_model
    weight = cloned.get_parameter("embed.weight")
    assert weight is not model.embed.weight
    assert weight.data_ptr() != model.embed.weight.data_ptr()
    assert cloned.get_parameter("head.weight") is weight  # tied weights stay tied in the clone
    assert list(cloned.state_dict()) == list(model.state_dict())
    with torch.no_grad():
        model.embed.weight.zero_()  # the clone does not see changes to the eager model
    torch.testing.assert_close(cloned(ids), expected, rtol=0, atol=0)


def test_dynamic_batch_off_fixes_the_batch_to_the_example_size():
    gm = _export(TinyLM(), dynamic_batch=False).factory_model
    gm(input_ids=torch.randint(0, VOCAB, (2, 7)))  # example batch 2, any sequence length
    with pytest.raises(RuntimeError, match="shape\\[0\\]"):
        gm(input_ids=torch.randint(0, VOCAB, (3, 7)))


def test_strict_export_gives_the_same_graph_inputs_and_results():
    model = TinyLM()
    gm = _export(model, strict=True).factory_model
    ids = torch.randint(0, VOCAB, (3, 9))
    assert [n.name for n in gm.graph.find_nodes(op="placeholder")] == ["input_ids"]
    # strict export registers a tied tensor once; the export registers the other names again
    assert list(gm.state_dict()) == list(model.state_dict())
    assert gm.get_parameter("head.weight") is gm.get_parameter("embed.weight")
    torch.testing.assert_close(gm(input_ids=ids), model(ids), rtol=0, atol=0)


def test_exported_graph_takes_input_ids_by_position_or_keyword():
    model = TinyLM()
    gm = _export(model).factory_model
    ids = torch.randint(0, VOCAB, (2, 6))
    torch.testing.assert_close(gm(ids), model(ids), rtol=0, atol=0)
    torch.testing.assert_close(gm(input_ids=ids), model(ids), rtol=0, atol=0)
    with pytest.raises(Exception, match="input_ids|argument"):
        gm(ids, input_ids=ids)


def test_a_module_without_factory_model_is_exported_itself():
    model = TinyLM()
    gm = ExportToGM.from_kwargs(stage="export", run_per_gm=False)(
        model, CachedSequenceInterface(max_seq_len=16, max_batch_size=4), None, SharedConfig()
    )
    assert isinstance(gm, torch.fx.GraphModule)
    assert get_history(gm)[-1].key == "export_to_gm"


def test_an_already_exported_graph_is_skipped():
    pipeline = _export(TinyLM())
    gm = pipeline.factory_model
    pipeline = _export(gm)
    assert pipeline.factory_model is gm
    assert get_history(pipeline)[-1].status is TransformStatus.SKIPPED


class DataDependentBranch(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, HIDDEN)

    def forward(self, input_ids):
        hidden = self.embed(input_ids)
        if hidden.sum() > 0:  # export cannot follow a branch on a tensor's value
            return hidden * 2
        return hidden


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_unexportable_model_names_its_class_and_failing_line(device):
    with pytest.raises(TransformError) as caught:
        _export(DataDependentBranch().to(device))

    error = caught.value
    assert (error.key, error.stage) == ("export_to_gm", "export")
    cause = error.__cause__
    assert isinstance(cause, ModelExportError)
    assert cause.model_class == "DataDependentBranch"
    assert cause.location.startswith("test_export_transform_options.py:")
    assert "if hidden.sum() > 0:" in cause.location
    assert "data-dependent" in cause.reason
    assert "DataDependentBranch" in str(error) and "hidden.sum()" in str(error)
    assert cause.__cause__ is not None  # torch's own error is kept for --debug


class ReturnsAString(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, HIDDEN)

    def forward(self, input_ids):
        return {"text": "no logits here", "size": self.embed(input_ids).shape[0]}


def test_model_without_logits_gets_a_clear_error():
    with pytest.raises(TransformError) as caught:
        _export(ReturnsAString())
    assert isinstance(caught.value.__cause__, ExportInputError)
    assert "ReturnsAString" in str(caught.value) and "logits" in str(caught.value)
