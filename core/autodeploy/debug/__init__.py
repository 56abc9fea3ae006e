"""Per-transform debugging: pipeline observers that watch a run transform by transform.

- `LogitsBisector` compares the module's logits with the eager model's after every transform and
  names the first transform after which they differ beyond a tolerance (``run --bisect``).
- `GraphDumper` writes each GraphModule's code after every transform (``run --dump-graphs DIR``).

Both are plain objects with lifecycle hook implementations: register them on a `PluginHost`
(``host.register(observer)``) before the pipeline runs. Importing this package does not import torch.
"""

from .bisect import BisectStep, LogitsBisector
from .graph_dumps import GraphDumper

__all__ = ["BisectStep", "GraphDumper", "LogitsBisector"]
