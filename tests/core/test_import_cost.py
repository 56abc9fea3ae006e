"""The core imports neither torch nor transformers: listing and validating must stay fast."""

import subprocess
import sys

HEAVY = ("torch", "transformers")


def heavy_modules_after(code: str) -> list[str]:
    script = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_import_autodeploy_is_torch_free():
    assert heavy_modules_after("import autodeploy") == []


def test_public_api_objects_are_usable_without_torch():
    code = (
        "from autodeploy import BaseTransform, TransformConfig, CachedSequenceInterface\n"
        "class C(TransformConfig):\n    x: int = 1\n"
        "class T(BaseTransform):\n    pass\n"
        "C(stage='export').model_json_schema()\n"
        "CachedSequenceInterface(max_seq_len=8)"
    )
    assert heavy_modules_after(code) == []
